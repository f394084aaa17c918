"""NHWC array helpers shared by the engine's kernels: padding, and the view of every
sliding window of a batch (no copy).

>>> x = np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1)
>>> pad_nhwc(x, 1, 0, 0, 1)[0, :, :, 0].tolist()
[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [2.0, 3.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from helpers.engine.buffers import workspace

__all__ = ["pad_nhwc"]


def pad_nhwc(x, top, bottom, left, right, value=0.0, key=None):
    """``x`` with rows/columns of ``value`` added (a copy, in workspace ``key`` if
    given; ``x`` itself if there is no padding)."""
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    shape = (n, h + top + bottom, w + left + right, c)
    out = workspace(key, shape) if key else np.empty(shape, dtype=x.dtype)
    out[:, :top], out[:, top + h:] = value, value
    out[:, top:top + h, :left], out[:, top:top + h, left + w:] = value, value
    out[:, top:top + h, left:left + w] = x
    return out


def _windows(xp, kh, kw, stride, dilation, oh, ow):
    """View ``(N, oh, ow, kh, kw, C)`` of every window of the padded input."""
    sn, sh, sw, sc = xp.strides
    (s_h, s_w), (d_h, d_w) = stride, dilation
    return as_strided(xp, (xp.shape[0], oh, ow, kh, kw, xp.shape[3]),
                      (sn, s_h * sh, s_w * sw, d_h * sh, d_w * sw, sc), writeable=False)
