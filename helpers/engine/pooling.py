"""Pooling, local response normalisation and space-to-depth for :mod:`helpers.engine`
(NHWC, float32), each split between threads by images (:func:`helpers.engine.threads.split`).
"""

from __future__ import annotations

import numpy as np

from helpers.engine.buffers import new_output, workspace
from helpers.engine.nhwc import _windows, pad_nhwc
from helpers.engine.threads import split

__all__ = ["avg_pool", "local_response_norm", "max_pool", "space_to_depth"]


def _pool_padded(x, kernel, stride, padding, out_hw, fill, key):
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    need_h, need_w = (oh - 1) * sh + kh, (ow - 1) * sw + kw
    extra_h = max(0, need_h - (x.shape[1] + 2 * ph))
    extra_w = max(0, need_w - (x.shape[2] + 2 * pw))
    return pad_nhwc(x, ph, ph + extra_h, pw, pw + extra_w, fill, key=key)


def _pool_reduce(xp, kernel, stride, out_hw, op, out):
    """``out`` = ``op`` over the ``kernel`` window of ``xp`` (undilated), one shifted slice at a time."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    np.copyto(out, xp[:, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw])
    for a in range(kh):
        for b in range(kw):
            if a or b:
                op(out, xp[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw], out=out)
    return out


def max_pool(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling (PyTorch semantics, ``ceil_mode`` included via ``out_hw``)."""
    return _batched(x, out_hw, lambda part, thread, out: _max_pool(part, kernel, stride, padding, dilation,
                                                                   out_hw, out, f"pool_pad{thread}"))


def _batched(x, out_hw, one, step=4):
    """Apply ``one(images, thread, out)`` to the batch, split between threads
    (see :func:`helpers.engine.threads.split`), ``step`` images at a time (so that
    temporaries stay small and in cache); ``one`` writes the images' results into
    ``out``, a slice of the returned array."""
    y = new_output((x.shape[0], *out_hw, x.shape[3]))

    def part(thread, i, j):
        for k in range(i, j, step):
            one(x[k:min(j, k + step)], thread, y[k:min(j, k + step)])
    split(x.shape[0], part)
    return y


def _max_pool(x, kernel, stride, padding, dilation, out_hw, out, key):
    if dilation != (1, 1):
        xp = _pool_padded(x, tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)), stride,
                          padding, out_hw, -np.inf, key)
        win = _windows(xp, *kernel, stride, dilation, *out_hw)
        return win.max(axis=(3, 4), out=out)
    xp = _pool_padded(x, kernel, stride, padding, out_hw, -np.inf, key)
    return _pool_reduce(xp, kernel, stride, out_hw, np.maximum, out)


def avg_pool(x, kernel, stride, padding, out_hw, count_include_pad=True):
    """Average pooling with PyTorch's divisor rules (padding, ``ceil_mode`` overhang)."""
    h, w = x.shape[1:3]
    (ph, pw) = padding
    xp_h, xp_w = (max(h + 2 * ph, (n - 1) * s + k) for n, s, k, h, ph in
                  ((out_hw[0], stride[0], kernel[0], h, ph), (out_hw[1], stride[1], kernel[1], w, pw)))
    rows, cols = np.zeros(xp_h, np.float32), np.zeros(xp_w, np.float32)
    if count_include_pad:
        rows[:h + 2 * ph], cols[:w + 2 * pw] = 1, 1
    else:
        rows[ph:ph + h], cols[pw:pw + w] = 1, 1
    count = np.outer(_window_sums(rows, kernel[0], stride[0], out_hw[0]),
                     _window_sums(cols, kernel[1], stride[1], out_hw[1]))[None, :, :, None]

    def one(part, thread, out):
        xp = _pool_padded(part, kernel, stride, padding, out_hw, 0.0, f"pool_pad{thread}")
        _pool_reduce(xp, kernel, stride, out_hw, np.add, out)
        out /= count
    return _batched(x, out_hw, one)


def _window_sums(mask, k, s, n):
    return np.array([mask[i * s:i * s + k].sum() for i in range(n)], dtype=np.float32)


def local_response_norm(x, size, alpha, beta, k):
    """Cross-channel LRN as ``torch.nn.LocalResponseNorm`` (channels are the last axis),
    split between threads like the convolutions."""
    return _batched(x, x.shape[1:3], lambda part, thread, out: _lrn(part, size, alpha, beta, k, thread, out))


def _lrn(x, size, alpha, beta, k, thread, out):
    """One thread's share of :func:`local_response_norm`, written into ``out``.

    ``b_c = a_c / (k + alpha/size * sum of a^2 over channels c - size//2 .. c + (size-1)//2)^beta``;
    the window sum is ``size`` shifted slices of the zero-padded squares, added in place.
    """
    c = x.shape[-1]
    before = size // 2
    sq = workspace(f"lrn_sq{thread}", x.shape[:-1] + (c + size - 1,))
    sq[..., :before], sq[..., before + c:] = 0.0, 0.0
    np.square(x, out=sq[..., before:before + c])
    window = workspace(f"lrn_window{thread}", x.shape)
    np.copyto(window, sq[..., 0:c])
    for shift in range(1, size):
        window += sq[..., shift:shift + c]
    window *= alpha / size
    window += k
    if beta == 0.75:                          # t^0.75 = sqrt(t) * sqrt(sqrt(t)): no pow()
        np.sqrt(window, out=window)
        root = np.sqrt(window, out=sq[..., :c])          # the squares are no longer needed
        window *= root
    else:
        window **= beta
    return np.divide(x, window, out=out)


def space_to_depth(x, block):
    """NHWC space-to-depth; channel order (row offset, column offset, channel)."""
    n, h, w, c = x.shape
    tiles = x.reshape(n, h // block, block, w // block, block, c)
    y = new_output((n, h // block, w // block, block * block * c))
    np.copyto(y.reshape(n, h // block, w // block, block, block, c), tiles.transpose(0, 1, 3, 2, 4, 5))
    return y
