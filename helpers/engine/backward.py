"""Gradients of the layers a small ResNet uses, on NHWC arrays (no autograd framework):
convolution, dense layers, ReLU and the loss here; batch norm in
:mod:`helpers.engine.backward_norm`, pooling in :mod:`helpers.engine.backward_pool`.

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
  space and transposed in channels: the same MACs, gathered instead of
  scattered, and (ungrouped) the patches of ``dY`` it gathers give the weight
  gradient too.

So a convolution's backward costs twice its forward, minus the input
gradient where no earlier layer needs it (the network's first layer). The
patches are not kept between forward and backward: backward gathers them
again, so that training keeps one tensor per layer rather than one ``K_h K_w``
times larger. Each layer runs on the calling thread, in blocks of images whose
patch matrix fits ``kernels.BLOCK_BYTES``, with the BLAS's own threads for the
GEMMs: training's layers are small (ResNet-20 on 8 x 8 digits), and handing a
share to another Python thread, as the inference engine's pipelines do, cost
more than it saved: commit f2c677a records a hand-over to another Python thread at
60-220 us on the 2-core VM it was written on (a later measurement of whole layers:
:data:`helpers.engine.threads.PIPELINES_FROM_MACS`). Commit 6d4e67a removed the pipelines
from training together with other backward changes (one patch matrix of ``dy`` for both
gradients, the ``Q^T X`` orientation), so the training step's 42.8 against 38.5 ms at
batch 64 it records is for all of them, not for the pipelines alone. Every GEMM adds its
``m * k * n`` to ``macs``, the list the caller passes, so the count is what was
performed, not what a formula predicts.
"""

from __future__ import annotations

import numpy as np

from helpers.engine import kernels, weights
from helpers.engine.backward_norm import channel_sums
from helpers.engine.buffers import workspace
from helpers.engine.nhwc import _windows, pad_nhwc, tap_slices
from helpers.formulas import dilated_extent, gemm_macs

__all__ = ["conv2d_forward", "conv2d_backward", "linear_forward", "linear_backward", "relu_backward",
           "softmax_cross_entropy"]


def _scratch(key, shape, dtype):
    """A reused float32 workspace, or fresh memory for other dtypes."""
    if dtype == np.float32:
        return workspace(f"train_{key}", shape)
    return np.empty(shape, dtype=dtype)


def _padded(x, pads):
    """``x`` with zeros around it. For float32, in a workspace kept per padded image shape
    and padding, into which only the inside is ever copied: a fresh workspace is a new
    memory map, all zeros, so its border stays zero and copying the inside is the whole
    cost. Writing the border each time made the copy 1.6 to 2.6 times slower (a batch
    of 128 8 x 8 x 16 images padded by 1: ``nhwc.pad_nhwc`` with ``border=True``
    against ``border=False``, float32; timeit, best of 9 interleaved rounds, three runs
    on the 2-core AMD EPYC VM this project is developed on, 2026-11-22, beside other
    work). Other dtypes (the float64 tests) get fresh padded copies."""
    (top, bottom), (left, right) = pads
    if x.dtype != np.float32:
        return pad_nhwc(x, top, bottom, left, right)
    _, h, w, c = x.shape
    key = f"train_padded_{(h + top + bottom, w + left + right, c)}_{pads}"   # images of one shape: one layout
    return pad_nhwc(x, top, bottom, left, right, key=key, border=False)


def _patch_blocks(xp, n, kernel, stride, dilation, out_hw, c_g, groups):
    """The patch matrices (im2col) of the padded NHWC batch ``xp``, block by block of images
    (each block's patches fit ``kernels.BLOCK_BYTES``) and group by group: yields
    ``(first, last, g, cols)``, ``cols`` the ``((last - first) H_out W_out, K_h K_w C_g)``
    patches of images ``[first, last)`` for group ``g``, in one reused workspace (valid
    until the next item)."""
    (kh, kw), (oh, ow) = kernel, out_hw
    k = kh * kw * c_g
    step = kernels.items_per_block(n, oh * ow * k * xp.itemsize, kernels.BLOCK_BYTES)
    for first in range(0, n, step):
        last = min(n, first + step)
        cols = _scratch("cols", ((last - first) * oh * ow, k), xp.dtype)
        windows = _windows(xp[first:last], kh, kw, stride, dilation, oh, ow)
        for g in range(groups):
            np.copyto(cols.reshape(last - first, oh, ow, kh, kw, c_g), windows[..., g * c_g:(g + 1) * c_g])
            yield first, last, g, cols


def conv2d_forward(x, weight, bias, stride, pads, dilation, groups, out_hw, macs):
    """Convolution of NHWC ``x`` with a torch-layout ``weight``; returns ``y`` (NHWC).

    The cache for :func:`conv2d_backward` is ``x`` itself (the caller keeps it).
    """
    n, (oh, ow) = x.shape[0], out_hw
    c_out, c_g, kh, kw = weight.shape
    co_g, k = c_out // groups, kh * kw * c_g
    xp = _padded(x, pads)
    y = np.empty((n, oh, ow, c_out), dtype=x.dtype)
    rows = y.reshape(n * oh * ow, c_out)
    mats = [weights.filter_matrix(weight, g, groups) for g in range(groups)]
    for first, last, g, cols in _patch_blocks(xp, n, (kh, kw), stride, dilation, out_hw, c_g, groups):
        target = rows[first * oh * ow:last * oh * ow, g * co_g:(g + 1) * co_g]
        if groups == 1:
            np.matmul(cols, mats[0], out=target)
        else:
            target[...] = cols @ mats[g]
        macs.append(gemm_macs(len(cols), co_g, k))
    if bias is not None:
        y += bias
    return y


def conv2d_backward(dy, x, weight, has_bias, stride, pads, dilation, groups, need_dx, macs):
    """Gradients of a convolution: ``(dx or None, dweight, dbias or None)``.

    ``x`` is the forward input (NHWC), ``dy`` the output gradient (NHWC).
    The input gradient of a stride-1 convolution whose output keeps the input's
    size is itself a convolution, of ``dy`` with the filter flipped in space and
    transposed in channels: its patch matrix ``Q`` (of ``dy``) gives both
    gradients, ``dx = Q W_flipped`` and the weight gradient ``Q^T X`` (with ``X``
    the input's rows: tap ``(a, b)`` of ``Q`` meets tap ``(K_h-1-a, K_w-1-b)``
    of the filter), so that backward gathers one patch matrix, not two (ungrouped
    convolutions). Other convolutions gather the input's patches ``P`` for
    ``dW = P^T dY`` and, where the input needs a gradient, multiply ``dY W^T`` and
    add the columns back (col2im).
    """
    as_conv = need_dx and stride == (1, 1) and dy.shape[1:3] == x.shape[1:3]
    if as_conv and groups == 1:
        dx, dweight = _backward_from_dy_patches(dy, x, weight, pads, dilation, macs)
    else:
        dx, dweight = _backward_from_input_patches(dy, x, weight, stride, pads, dilation, groups, need_dx,
                                                   as_conv, macs)
    dbias = channel_sums(dy.reshape(-1, dy.shape[-1])) if has_bias else None
    return dx, dweight, dbias


def _flipped_pads(weight, pads, dilation):
    """Padding of ``dy`` for the input gradient of a stride-1 convolution as a convolution."""
    (top, bottom), (left, right) = pads
    span_h, span_w = (dilated_extent(k, d) - 1 for k, d in zip(weight.shape[2:], dilation, strict=True))
    return (span_h - top, span_h - bottom), (span_w - left, span_w - right)


def _flipped(weight, groups):
    """The filter flipped in space and transposed in channels, group by group (torch layout)."""
    co_g = weight.shape[0] // groups
    return np.ascontiguousarray(np.concatenate(
        [weight[g * co_g:(g + 1) * co_g, :, ::-1, ::-1].transpose(1, 0, 2, 3) for g in range(groups)]))


def _add(total, part):
    """``total + part`` in place, or ``part`` itself for the first block."""
    if total is None:
        return part
    total += part
    return total


def _backward_from_dy_patches(dy, x, weight, pads, dilation, macs):
    """``(dx, dweight)`` of an ungrouped stride-1 same-size convolution from one patch
    matrix ``Q`` of ``dy``: ``dx = Q W_flipped``, ``dW`` from ``Q^T X``."""
    n, h, w, c = x.shape
    c_out, _, kh, kw = weight.shape
    k = kh * kw * c_out
    flipped = _flipped(weight, 1)
    w_mat = weights.filter_matrix(flipped, 0, 1)                    # (kh kw C_out, C)
    dyp = _padded(dy, _flipped_pads(weight, pads, dilation))
    dx = np.empty(x.shape, dtype=x.dtype)                   # C order, whatever x's strides
    dx_rows, x_rows = dx.reshape(n * h * w, c), x.reshape(n * h * w, c)
    g = None
    for first, last, _, q in _patch_blocks(dyp, n, (kh, kw), (1, 1), dilation, (h, w), c_out, 1):
        rows = slice(first * h * w, last * h * w)
        np.matmul(q, w_mat, out=dx_rows[rows])
        g = _add(g, q.T @ x_rows[rows])     # X^T Q: 1.09-1.50x as long (ResNet-20's shapes, 2 threads, 2026-11-22)
        macs.extend([gemm_macs(len(q), c, k), gemm_macs(c, k, len(q))])
    dweight = np.ascontiguousarray(g.reshape(kh, kw, c_out, c)[::-1, ::-1].transpose(2, 3, 0, 1))
    return dx, dweight


def _backward_from_input_patches(dy, x, weight, stride, pads, dilation, groups, need_dx, as_conv, macs):
    """``(dx or None, dweight)`` from the input's patches ``P``: ``dW = P^T dY``; ``dx`` as
    a convolution of ``dy`` (``as_conv``) or by ``dY W^T`` and col2im."""
    n, h, w, _ = x.shape
    c_out, c_g, kh, kw = weight.shape
    oh, ow = out_hw = dy.shape[1:3]
    co_g, k = c_out // groups, kh * kw * c_g
    (top, bottom), (left, right) = pads
    xp = _padded(x, pads)
    scatter = need_dx and not as_conv
    dxp = np.zeros((n, h + top + bottom, w + left + right, x.shape[3]), dtype=x.dtype) if scatter else None
    mats = [weights.filter_matrix(weight, g, groups) for g in range(groups)]
    dy_rows = dy.reshape(n * oh * ow, c_out)
    sums = [None] * groups
    for first, last, g, cols in _patch_blocks(xp, n, (kh, kw), stride, dilation, out_hw, c_g, groups):
        d = dy_rows[first * oh * ow:last * oh * ow, g * co_g:(g + 1) * co_g]
        sums[g] = _add(sums[g], cols.T @ d)
        macs.append(gemm_macs(k, co_g, len(cols)))
        if scatter:
            np.matmul(d, mats[g].T, out=cols)                # the patches are no longer needed
            macs.append(gemm_macs(len(cols), k, co_g))
            _scatter(cols, dxp[first:last], kh, kw, stride, dilation, out_hw, g, c_g)
    dweight = np.concatenate([weights.torch_filter(s.reshape(kh, kw, c_g, co_g)) for s in sums])
    dx = None
    if as_conv:
        dx = conv2d_forward(dy, _flipped(weight, groups), None, (1, 1), _flipped_pads(weight, pads, dilation),
                            dilation, groups, x.shape[1:3], macs)
    elif scatter:
        dx = np.ascontiguousarray(dxp[:, top:top + h, left:left + w])
    return dx, dweight


def _scatter(dcols, dxp, kh, kw, stride, dilation, out_hw, g, c_g):
    """col2im: add each patch column back to the input position it was gathered from."""
    taps = dcols.reshape(dxp.shape[0], *out_hw, kh, kw, c_g)
    for a, b, rows, cols in tap_slices((kh, kw), stride, out_hw, dilation):
        dxp[:, rows, cols, g * c_g:(g + 1) * c_g] += taps[:, :, :, a, b]


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


def relu_backward(dy, y):
    """``dy`` where the ReLU's output ``y`` is positive, else 0: ``dy`` times the mask,
    several times faster than ``np.where(y > 0, dy, 0)``: 3 to 15 times by shape on
    ResNet-20's ReLU outputs at batch 64 and 128, least for 64 channels of 2 x 2, most
    for 16 channels of 8 x 8 (float32; timeit, best of 9 interleaved rounds, three runs
    on the 2-core AMD EPYC VM this project is developed on, 2026-11-22, beside other
    work). One difference from PyTorch: a NaN in ``dy`` stays NaN where
    the mask is 0 (by then the loss is NaN too)."""
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
