"""Gradients of pooling layers on NHWC arrays, in any float dtype (PyTorch's semantics).

A pooling window is visited one tap at a time: tap ``(a, b)`` of every window is
one strided slice of the padded input, so forward and backward are ``K_h K_w``
slice operations each. Max pooling sends each output's gradient to the first
position of its window (row-major tap order, as PyTorch) that holds the maximum;
average pooling spreads it over the window, divided by PyTorch's divisor.

Examples
--------
>>> import numpy as np
>>> dy = np.ones((1, 1, 1, 1))                       # one 2x2 window over a 2x2 input
>>> avg_pool_backward(dy, (1, 2, 2, 1), (2, 2), (2, 2), (0, 0))[0, :, :, 0].tolist()
[[0.25, 0.25], [0.25, 0.25]]
"""

from __future__ import annotations

import numpy as np

from helpers.engine import kernels

__all__ = ["max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
           "global_avg_pool_backward"]


def _taps(kernel, stride, out_hw):
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    for a in range(kh):
        for b in range(kw):
            yield (slice(None), slice(a, a + sh * (oh - 1) + 1, sh), slice(b, b + sw * (ow - 1) + 1, sw))


def _padded_size(x_shape, kernel, stride, padding, out_hw):
    return tuple(max(size + 2 * p, (o - 1) * s + k) for size, k, s, p, o in
                 zip(x_shape[1:3], kernel, stride, padding, out_hw, strict=True))


def max_pool_forward(x, kernel, stride, padding, out_hw):
    """Max pooling in any float dtype (PyTorch semantics); the cache is ``x`` and the output."""
    hp, wp = _padded_size(x.shape, kernel, stride, padding, out_hw)
    (ph, pw), (h, w) = padding, x.shape[1:3]
    xp = kernels.pad_nhwc(x, ph, hp - h - ph, pw, wp - w - pw, -np.inf)
    taps = _taps(kernel, stride, out_hw)
    y = xp[next(taps)].copy()
    for tap in taps:
        np.maximum(y, xp[tap], out=y)
    return y


def max_pool_backward(dy, x, y, kernel, stride, padding):
    """Max pooling's input gradient: each output's gradient goes to the first position
    of its window (in row-major tap order, as PyTorch) that holds the maximum."""
    out_hw = dy.shape[1:3]
    hp, wp = _padded_size(x.shape, kernel, stride, padding, out_hw)
    (ph, pw), (h, w) = padding, x.shape[1:3]
    xp = kernels.pad_nhwc(x, ph, hp - h - ph, pw, wp - w - pw, -np.inf)
    dxp = np.zeros_like(xp)
    unclaimed = np.ones(dy.shape, dtype=bool)
    for tap in _taps(kernel, stride, out_hw):
        hit = (xp[tap] == y) & unclaimed
        dxp[tap] += np.where(hit, dy, 0)
        unclaimed &= ~hit
    return np.ascontiguousarray(dxp[:, ph:ph + h, pw:pw + w])


def _divisor(x_shape, kernel, stride, padding, out_hw, count_include_pad, dtype):
    """Each average-pooling window's divisor (PyTorch's rules), ``(1, oh, ow, 1)``."""
    hp, wp = _padded_size(x_shape, kernel, stride, padding, out_hw)
    (ph, pw), (h, w) = padding, x_shape[1:3]
    ones = np.zeros((1, hp, wp, 1), dtype=dtype)
    if count_include_pad:
        ones[:, :h + 2 * ph, :w + 2 * pw] = 1
    else:
        ones[:, ph:ph + h, pw:pw + w] = 1
    return sum(ones[tap] for tap in _taps(kernel, stride, out_hw))


def avg_pool_forward(x, kernel, stride, padding, out_hw, count_include_pad=True):
    """Average pooling in any float dtype (PyTorch's divisor rules)."""
    hp, wp = _padded_size(x.shape, kernel, stride, padding, out_hw)
    (ph, pw), (h, w) = padding, x.shape[1:3]
    xp = kernels.pad_nhwc(x, ph, hp - h - ph, pw, wp - w - pw, 0.0)
    total = sum(xp[tap] for tap in _taps(kernel, stride, out_hw))
    return total / _divisor(x.shape, kernel, stride, padding, out_hw, count_include_pad, x.dtype)


def avg_pool_backward(dy, x_shape, kernel, stride, padding, count_include_pad=True):
    """Average pooling's input gradient: each output's gradient, divided by its
    window's divisor, is added to every position of the window."""
    out_hw = dy.shape[1:3]
    hp, wp = _padded_size(x_shape, kernel, stride, padding, out_hw)
    (ph, pw), (h, w) = padding, x_shape[1:3]
    share = dy / _divisor(x_shape, kernel, stride, padding, out_hw, count_include_pad, dy.dtype)
    dxp = np.zeros((dy.shape[0], hp, wp, dy.shape[3]), dtype=dy.dtype)
    for tap in _taps(kernel, stride, out_hw):
        dxp[tap] += share
    return np.ascontiguousarray(dxp[:, ph:ph + h, pw:pw + w])


def global_avg_pool_backward(dy, x_shape):
    """Every position of a channel gets ``1/(H W)`` of the channel's gradient."""
    n, h, w, c = x_shape
    return np.broadcast_to((dy / (h * w))[:, None, None, :], x_shape).copy()
