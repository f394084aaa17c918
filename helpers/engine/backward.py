"""Gradients of the layers a small ResNet uses, on NHWC arrays (no autograd framework).

Each layer kind has a training-mode forward that returns what its backward
needs, and a backward that maps the gradient of the loss with respect to the
layer's output, ``dy``, to the gradients of its input and parameters. Arrays
are channels last, ``(N, H, W, C)``, like the inference engine; any float
dtype works (float64 for the finite-difference tests, float32 to train).

Convolution is lowered to GEMMs exactly as in inference (im2col, columns in
(row tap, column tap, channel) order): with ``P`` the patch matrix of a block
of images and ``W`` the filter as a ``(K_h K_w C_in/g, C_out/g)`` matrix,

- forward: ``Y = P W``                     (M x K x C_out MACs),
- weight gradient: ``dW = P^T dY``         (K x M x C_out MACs, the same),
- input gradient: ``dP = dY W^T``, then each column of ``dP`` is added back
  to the input position it was gathered from (col2im; M x C_out x K MACs).
  Where the stride is 1 and the output keeps the input's size, the same
  gradient is computed as a convolution of ``dY`` with the filter flipped in
  space and transposed in channels: the same MACs, gathered instead of scattered.

So a convolution's backward costs twice its forward, minus the input
gradient where no earlier layer needs it (the network's first layer). The
patches are not kept between forward and backward: backward gathers them
again from the layer's input, so that training keeps one tensor per layer
rather than one ``K_h K_w`` times larger. Images are split between threads
(:func:`helpers.engine.kernels.pipelines`, one per core, each with a single-threaded
GEMM) in blocks whose patch matrix fits a core's cache; every GEMM adds its
``m * k * n`` to ``macs``, the list the caller passes, so the count is what was
performed, not what a formula predicts.
"""

from __future__ import annotations

import numpy as np

from helpers.engine import kernels
from helpers.formulas import gemm_macs

__all__ = ["conv2d_forward", "conv2d_backward", "linear_forward", "linear_backward", "channel_sums", "widened",
           "batch_norm_forward", "batch_norm_backward", "relu_backward", "softmax_cross_entropy"]


def _scratch(key, shape, dtype):
    """A reused float32 workspace, or fresh memory for other dtypes."""
    if dtype == np.float32:
        return kernels.workspace(f"train_{key}", shape)
    return np.empty(shape, dtype=dtype)


def _filter_matrix(weight, g, groups):
    """Group ``g``'s filter as a ``(K_h K_w C_g, C_out/g)`` matrix (im2col column order)."""
    c_out, c_g, kh, kw = weight.shape
    co_g = c_out // groups
    return weight[g * co_g:(g + 1) * co_g].transpose(2, 3, 1, 0).reshape(kh * kw * c_g, co_g)


def _padded(x, pads):
    """``x`` padded (in a reused workspace if float32: the padded copy lives only during one call)."""
    return kernels.pad_nhwc(x, *pads[0], *pads[1], key="train_padded" if x.dtype == np.float32 else None)


def _blocks(n, per_image, start=0, stop=None):
    """``(first, last)`` image ranges of ``[start, stop)`` whose patches fit ``kernels.BLOCK_BYTES``."""
    stop = n if stop is None else stop
    step = kernels.items_per_block(stop - start, per_image, kernels.BLOCK_BYTES)
    return [(i, min(stop, i + step)) for i in range(start, stop, step)]


def _conv_geometry(x_shape, weight, stride, pads, dilation, out_hw):
    n, h, w, c = x_shape
    c_out, c_g, kh, kw = weight.shape
    (top, bottom), (left, right) = pads
    padded = (n, h + top + bottom, w + left + right, c)
    return n, c_g, kh, kw, out_hw, padded


def _gather(xp, first, last, kh, kw, stride, dilation, out_hw, g, c_g, cols):
    """Patches of images ``[first, last)`` for group ``g`` into ``cols`` ``(rows, kh*kw*c_g)``."""
    oh, ow = out_hw
    windows = kernels._windows(xp[first:last], kh, kw, stride, dilation, oh, ow)
    np.copyto(cols.reshape(last - first, oh, ow, kh, kw, c_g), windows[..., g * c_g:(g + 1) * c_g])


def conv2d_forward(x, weight, bias, stride, pads, dilation, groups, out_hw, macs):
    """Convolution of NHWC ``x`` with a torch-layout ``weight``; returns ``y`` (NHWC).

    The cache for :func:`conv2d_backward` is ``x`` itself (the caller keeps it).
    """
    n, c_g, kh, kw, (oh, ow), _ = _conv_geometry(x.shape, weight, stride, pads, dilation, out_hw)
    c_out = weight.shape[0]
    co_g, k = c_out // groups, kh * kw * c_g
    xp = _padded(x, pads)
    y = np.empty((n, oh, ow, c_out), dtype=x.dtype)
    rows = y.reshape(n * oh * ow, c_out)
    mats = [_filter_matrix(weight, g, groups) for g in range(groups)]
    per_image = oh * ow * k * x.itemsize

    def work(thread, start, stop):
        for first, last in _blocks(n, per_image, start, stop):
            m = (last - first) * oh * ow
            cols = _scratch(f"cols{thread}", (m, k), x.dtype)
            for g in range(groups):
                _gather(xp, first, last, kh, kw, stride, dilation, (oh, ow), g, c_g, cols)
                target = rows[first * oh * ow:last * oh * ow, g * co_g:(g + 1) * co_g]
                if groups == 1:
                    np.matmul(cols, mats[0], out=target)
                else:
                    target[...] = cols @ mats[g]
                macs.append(gemm_macs(m, co_g, k))
    kernels.pipelines(n, work, macs=gemm_macs(n * oh * ow, c_out, k))
    if bias is not None:
        y += bias
    return y


def conv2d_backward(dy, x, weight, has_bias, stride, pads, dilation, groups, need_dx, macs):
    """Gradients of a convolution: ``(dx or None, dweight, dbias or None)``.

    ``x`` is the forward input (NHWC), ``dy`` the output gradient (NHWC).
    Each thread accumulates the weight gradient of its images in its own
    matrix. The input gradient of a stride-1 convolution whose output keeps the
    input's size is itself a convolution, of ``dy`` with the filter flipped in
    space and transposed in channels (same MACs, no scatter); other
    convolutions multiply ``dY W^T`` and add the columns back (col2im).
    """
    n, c_g, kh, kw, out_hw, padded = _conv_geometry(x.shape, weight, stride, pads, dilation, dy.shape[1:3])
    oh, ow = out_hw
    c_out = weight.shape[0]
    co_g, k = c_out // groups, kh * kw * c_g
    xp = _padded(x, pads)
    as_conv = need_dx and stride == (1, 1) and out_hw == x.shape[1:3]
    scatter = need_dx and not as_conv
    dxp = np.zeros(padded, dtype=x.dtype) if scatter else None
    mats = [_filter_matrix(weight, g, groups) for g in range(groups)]
    dy_rows = dy.reshape(n * oh * ow, c_out)
    parts = {}
    per_image = oh * ow * k * x.itemsize

    def work(thread, start, stop):
        acc = parts.setdefault(thread, np.zeros((groups, k, co_g), dtype=x.dtype))
        tmp = np.empty((k, co_g), dtype=x.dtype)
        for first, last in _blocks(n, per_image, start, stop):
            m = (last - first) * oh * ow
            cols = _scratch(f"cols{thread}", (m, k), x.dtype)
            for g in range(groups):
                d = dy_rows[first * oh * ow:last * oh * ow, g * co_g:(g + 1) * co_g]
                _gather(xp, first, last, kh, kw, stride, dilation, out_hw, g, c_g, cols)
                np.matmul(cols.T, d, out=tmp)
                acc[g] += tmp
                macs.append(gemm_macs(k, co_g, m))
                if scatter:
                    np.matmul(d, mats[g].T, out=cols)            # the patches are no longer needed
                    macs.append(gemm_macs(m, k, co_g))
                    _scatter(cols, dxp[first:last], kh, kw, stride, dilation, out_hw, g, c_g)
    kernels.pipelines(n, work, macs=gemm_macs(n * oh * ow, c_out, k) * (2 if scatter else 1))
    dw_mats = sum(parts[t] for t in sorted(parts))      # a fixed order: reproducible sums
    dweight = np.concatenate([dw_mats[g].reshape(kh, kw, c_g, co_g).transpose(3, 2, 0, 1)
                              for g in range(groups)])
    dbias = dy_rows.sum(axis=0) if has_bias else None
    dx = None
    if as_conv:
        flipped = np.concatenate([weight[g * co_g:(g + 1) * co_g, :, ::-1, ::-1].transpose(1, 0, 2, 3)
                                  for g in range(groups)])
        (top, bottom), (left, right) = pads
        (dh, dw) = dilation
        span_h, span_w = dh * (kh - 1), dw * (kw - 1)
        dx = conv2d_forward(dy, np.ascontiguousarray(flipped), None, (1, 1),
                            ((span_h - top, span_h - bottom), (span_w - left, span_w - right)),
                            dilation, groups, x.shape[1:3], macs)
    elif scatter:
        (top, _), (left, _) = pads
        h, w = x.shape[1:3]
        dx = np.ascontiguousarray(dxp[:, top:top + h, left:left + w])
    return dx, dweight, dbias


def _scatter(dcols, dxp, kh, kw, stride, dilation, out_hw, g, c_g):
    """col2im: add each patch column back to the input position it was gathered from."""
    (oh, ow), (sh, sw), (dh, dw) = out_hw, stride, dilation
    taps = dcols.reshape(dxp.shape[0], oh, ow, kh, kw, c_g)
    for a in range(kh):
        for b in range(kw):
            dxp[:, a * dh:a * dh + sh * (oh - 1) + 1:sh, b * dw:b * dw + sw * (ow - 1) + 1:sw,
                g * c_g:(g + 1) * c_g] += taps[:, :, :, a, b]


def linear_forward(x, weight, bias, macs):
    """``x @ weight.T + bias`` for ``x`` ``(N, in)``; the cache is ``x``."""
    y = x @ weight.T
    macs.append(gemm_macs(x.shape[0], weight.shape[0], x.shape[1]))
    if bias is not None:
        y += bias
    return y


def linear_backward(dy, x, weight, has_bias, need_dx, macs):
    """``(dx or None, dweight, dbias or None)`` of a dense layer."""
    dweight = dy.T @ x
    macs.append(gemm_macs(dy.shape[1], x.shape[1], dy.shape[0]))
    dx = None
    if need_dx:
        dx = dy @ weight
        macs.append(gemm_macs(dy.shape[0], weight.shape[1], dy.shape[1]))
    return dx, dweight, (dy.sum(axis=0) if has_bias else None)


def channel_sums(rows):
    """Per-channel sums of an ``(M, C)`` array: one BLAS matrix-vector product
    (numpy's ``sum(axis=0)`` runs a short inner loop per row, several times slower
    on a few channels).

    >>> channel_sums(np.arange(6.0).reshape(3, 2)).tolist()
    [6.0, 9.0]
    """
    return np.ones(rows.shape[0], dtype=rows.dtype) @ rows


def widened(rows, *vectors, width=1024):
    """``rows`` ``(M, C)`` viewed as ``(M / k, k C)``, and each per-channel vector repeated
    ``k`` times to match, with ``k C`` near ``width``: elementwise operations with
    per-channel vectors then run long inner loops (on 16 channels, about twice as fast).

    >>> wide, (v,) = widened(np.zeros((4, 2)), np.array([1.0, 2.0]), width=4)
    >>> wide.shape, v.tolist()
    ((2, 4), [1.0, 2.0, 1.0, 2.0])
    """
    m, c = rows.shape
    k = max(1, min(m, width // c))
    while m % k:
        k -= 1
    return rows.reshape(m // k, k * c), [np.tile(v, k) for v in vectors]


def batch_norm_forward(x, gamma, beta, eps):
    """Training-mode batch norm over ``(N, H, W)`` per channel.

    Returns ``(y, mean, var, inv_std)``: the caller keeps ``x``, ``mean`` and
    ``inv_std`` for the backward pass and updates running statistics with ``var``.
    """
    c = x.shape[-1]
    rows = x.reshape(-1, c)
    m = rows.shape[0]
    mean = channel_sums(rows) / m
    wide, (wide_mean,) = widened(rows, mean)
    y = wide - wide_mean
    var = channel_sums((y * y).reshape(-1, c)) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    _, (scale, shift) = widened(rows, gamma * inv_std, beta)
    y *= scale
    y += shift
    return y.reshape(x.shape), mean, var, inv_std


def batch_norm_backward(dy, x, mean, inv_std, gamma):
    """``(dx, dgamma, dbeta)`` of training-mode batch norm.

    With :math:`\\hat x = (x - \\mu)/\\sigma` over the :math:`M = NHW` values of
    a channel: :math:`d\\beta = \\sum dy`, :math:`d\\gamma = \\sum dy\\,\\hat x`,
    :math:`dx = \\frac{\\gamma}{\\sigma}\\,(dy - d\\beta/M - \\hat x\\, d\\gamma/M)`.
    """
    c = x.shape[-1]
    rows, d = x.reshape(-1, c), dy.reshape(-1, c)
    m = rows.shape[0]
    wide, (wide_mean, wide_inv_std) = widened(rows, mean, inv_std)
    xhat = wide - wide_mean
    xhat *= wide_inv_std
    dbeta = channel_sums(d)
    dx = d.reshape(xhat.shape) * xhat
    dgamma = channel_sums(dx.reshape(-1, c))
    scale = gamma * inv_std
    _, (gain, shift) = widened(rows, scale * dgamma / -m, scale * dbeta / -m)
    xhat *= gain
    xhat += shift
    _, (wide_scale,) = widened(rows, scale)
    np.multiply(d.reshape(xhat.shape), wide_scale, out=dx)
    dx += xhat
    return dx.reshape(x.shape), dgamma, dbeta


def relu_backward(dy, y):
    """``dy`` where the ReLU's output ``y`` is positive, else 0."""
    return np.multiply(dy, y > 0, dtype=dy.dtype)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of ``logits`` ``(N, classes)`` against integer ``labels``,
    and its gradient with respect to the logits: ``(softmax - one_hot) / N``.

    Examples
    --------
    >>> loss, grad = softmax_cross_entropy(np.zeros((1, 4)), np.array([2]))   # uniform: log 4
    >>> round(loss, 4), grad.tolist()
    (1.3863, [[0.25, 0.25, -0.75, 0.25]])
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    n = logits.shape[0]
    loss = -log_p[np.arange(n), labels].mean()
    grad = np.exp(log_p)
    grad[np.arange(n), labels] -= 1
    grad /= n
    return float(loss), grad.astype(logits.dtype, copy=False)
