"""Gradients of pooling layers on NHWC arrays, in any float dtype (PyTorch's semantics).

The forward passes are the inference engine's separable ones
(:func:`helpers.engine.pooling.pool_windows`); backward visits a window one tap at a
time: tap ``(a, b)`` of every window is one strided slice of the padded input. Max
pooling sends each output's gradient to the first position of its window (row-major
tap order, as PyTorch) that holds the maximum; average pooling spreads it over the
window, divided by PyTorch's divisor.

Examples
--------
>>> import numpy as np
>>> dy = np.ones((1, 1, 1, 1))                       # one 2x2 window over a 2x2 input
>>> avg_pool_backward(dy, (1, 2, 2, 1), (2, 2), (2, 2), (0, 0))[0, :, :, 0].tolist()
[[0.25, 0.25], [0.25, 0.25]]
"""

from __future__ import annotations

import numpy as np

from helpers.engine.nhwc import tap_slices
from helpers.engine.pooling import avg_pool_divisor, padded_size, pool_padded, pool_windows

__all__ = ["max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
           "global_avg_pool_backward"]


def _pooled(x, kernel, stride, padding, out_hw, op):
    """:func:`helpers.engine.pooling.pool_windows` over the whole batch, in ``x``'s dtype."""
    n, _, w, c = x.shape
    rows = np.empty((n, out_hw[0], w, c), dtype=x.dtype)
    return pool_windows(x, kernel, stride, -padding[0], -padding[1], (1, 1), rows,
                        np.empty((n, *out_hw, c), dtype=x.dtype), op)


def max_pool_forward(x, kernel, stride, padding, out_hw):
    """Max pooling in any float dtype (PyTorch semantics); the cache is ``x`` and the output."""
    return _pooled(x, kernel, stride, padding, out_hw, np.maximum)


def max_pool_backward(dy, x, y, kernel, stride, padding):
    """Max pooling's input gradient: each output's gradient goes to the first position
    of its window (in row-major tap order, as PyTorch) that holds the maximum."""
    out_hw = dy.shape[1:3]
    (ph, pw), (h, w) = padding, x.shape[1:3]
    xp = pool_padded(x, kernel, stride, padding, out_hw, -np.inf)
    dxp = np.zeros_like(xp)
    unclaimed = np.ones(dy.shape, dtype=bool)
    for _, _, rows, cols in tap_slices(kernel, stride, out_hw):
        hit = (xp[:, rows, cols] == y) & unclaimed
        dxp[:, rows, cols] += np.where(hit, dy, 0)
        unclaimed &= ~hit
    return np.ascontiguousarray(dxp[:, ph:ph + h, pw:pw + w])


def avg_pool_forward(x, kernel, stride, padding, out_hw, count_include_pad=True):
    """Average pooling in any float dtype (PyTorch's divisor rules)."""
    total = _pooled(x, kernel, stride, padding, out_hw, np.add)
    return total / avg_pool_divisor(x.shape[1:3], kernel, stride, padding, out_hw, count_include_pad, x.dtype)


def avg_pool_backward(dy, x_shape, kernel, stride, padding, count_include_pad=True):
    """Average pooling's input gradient: each output's gradient, divided by its
    window's divisor, is added to every position of the window."""
    out_hw = dy.shape[1:3]
    (ph, pw), (h, w) = padding, x_shape[1:3]
    hp, wp = padded_size((h, w), kernel, stride, padding, out_hw)
    share = dy / avg_pool_divisor((h, w), kernel, stride, padding, out_hw, count_include_pad, dy.dtype)
    dxp = np.zeros((dy.shape[0], hp, wp, dy.shape[3]), dtype=dy.dtype)
    for _, _, rows, cols in tap_slices(kernel, stride, out_hw):
        dxp[:, rows, cols] += share
    return np.ascontiguousarray(dxp[:, ph:ph + h, pw:pw + w])


def global_avg_pool_backward(dy, x_shape):
    """Every position of a channel gets ``1/(H W)`` of the channel's gradient."""
    n, h, w, c = x_shape
    return np.broadcast_to((dy / (h * w))[:, None, None, :], x_shape).copy()
