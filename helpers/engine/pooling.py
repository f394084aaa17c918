"""Pooling, local response normalisation and space-to-depth for :mod:`helpers.engine`
(NHWC, float32), each split between threads by images (:func:`helpers.engine.threads.split`).
"""

from __future__ import annotations

import numpy as np

from helpers.engine.buffers import new_output, workspace
from helpers.engine.nhwc import _windows, pad_nhwc, tap_slices
from helpers.engine.threads import split

__all__ = ["avg_pool", "avg_pool_divisor", "local_response_norm", "max_pool", "padded_size", "pool_padded",
           "reduce_windows", "space_to_depth"]


def padded_size(x_hw, kernel, stride, padding, out_hw):
    """Rows and columns of a pooling input once padded: ``padding`` on each side, and
    on the bottom and right whatever the last window (``ceil_mode``) hangs over.

    Notes
    -----
    ``max(H + 2 P, (H_out - 1) S + K)`` per axis (``K`` the dilated extent
    for a dilated window).

    Examples
    --------
    >>> padded_size((6, 6), (3, 3), (2, 2), (0, 0), (3, 3))   # ceil_mode: 3 windows need 7
    (7, 7)
    >>> padded_size((6, 6), (3, 3), (2, 2), (1, 1), (3, 3))   # padding covers them
    (8, 8)
    """
    return tuple(max(n + 2 * p, (o - 1) * s + k)
                 for n, k, s, p, o in zip(x_hw, kernel, stride, padding, out_hw, strict=True))


def pool_padded(x, kernel, stride, padding, out_hw, fill, key=None):
    """NHWC ``x`` padded with ``fill`` to :func:`padded_size` (in workspace ``key`` if
    given, else in ``x``'s dtype; ``x`` itself if no padding is needed)."""
    (h, w), (ph, pw) = x.shape[1:3], padding
    hp, wp = padded_size((h, w), kernel, stride, padding, out_hw)
    return pad_nhwc(x, ph, hp - h - ph, pw, wp - w - pw, fill, key=key)


def reduce_windows(xp, kernel, stride, out_hw, op, out):
    """``out`` = ``op`` over the ``kernel`` window of the padded ``xp`` (undilated), one
    tap (:func:`helpers.engine.nhwc.tap_slices`) at a time; ``op`` is a ufunc such as
    ``np.maximum`` or ``np.add``.

    Examples
    --------
    >>> xp = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> reduce_windows(xp, (2, 2), (2, 2), (2, 2), np.maximum, np.empty((1, 2, 2, 1)))[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    taps = tap_slices(kernel, stride, out_hw)
    _, _, rows, cols = next(taps)
    np.copyto(out, xp[:, rows, cols])
    for _, _, rows, cols in taps:
        op(out, xp[:, rows, cols], out=out)
    return out


def avg_pool_divisor(x_hw, kernel, stride, padding, out_hw, count_include_pad=True, dtype=np.float32):
    """Each average-pooling window's divisor, PyTorch's rules, shaped ``(1, H_out, W_out, 1)``.

    The divisor counts the window's positions inside the input, and with
    ``count_include_pad`` those in the padding too, but never those that hang over
    the padded input (``ceil_mode``'s last window).

    Examples
    --------
    >>> avg_pool_divisor((4, 4), (3, 3), (2, 2), (0, 0), (2, 2))[0, :, :, 0].tolist()   # ceil_mode
    [[9.0, 6.0], [6.0, 4.0]]
    >>> avg_pool_divisor((3, 3), (2, 2), (2, 2), (1, 1), (2, 2), False)[0, :, :, 0].tolist()
    [[1.0, 2.0], [2.0, 4.0]]
    """
    (h, w), (ph, pw) = x_hw, padding
    hp, wp = padded_size(x_hw, kernel, stride, padding, out_hw)
    counted = np.zeros((1, hp, wp, 1), dtype=dtype)
    if count_include_pad:
        counted[:, :h + 2 * ph, :w + 2 * pw] = 1
    else:
        counted[:, ph:ph + h, pw:pw + w] = 1
    return reduce_windows(counted, kernel, stride, out_hw, np.add, np.empty((1, *out_hw, 1), dtype=dtype))


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
        xp = pool_padded(x, tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)), stride,
                         padding, out_hw, -np.inf, key)
        win = _windows(xp, *kernel, stride, dilation, *out_hw)
        return win.max(axis=(3, 4), out=out)
    xp = pool_padded(x, kernel, stride, padding, out_hw, -np.inf, key)
    return reduce_windows(xp, kernel, stride, out_hw, np.maximum, out)


def avg_pool(x, kernel, stride, padding, out_hw, count_include_pad=True):
    """Average pooling with PyTorch's divisor rules (padding, ``ceil_mode`` overhang)."""
    count = avg_pool_divisor(x.shape[1:3], kernel, stride, padding, out_hw, count_include_pad)

    def one(part, thread, out):
        xp = pool_padded(part, kernel, stride, padding, out_hw, 0.0, f"pool_pad{thread}")
        reduce_windows(xp, kernel, stride, out_hw, np.add, out)
        out /= count
    return _batched(x, out_hw, one)


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
