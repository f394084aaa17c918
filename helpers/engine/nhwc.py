"""NHWC array helpers shared by the engine's kernels and its training pass: padding,
the view of every sliding window of a batch (no copy), the slices of one window tap,
a layer's output size for an NHWC input, and PyTorch's flatten order.

>>> x = np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1)
>>> pad_nhwc(x, 1, 0, 0, 1)[0, :, :, 0].tolist()
[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [2.0, 3.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from helpers.engine.buffers import workspace

__all__ = ["flatten_nhwc", "output_hw", "pad_nhwc", "tap_slices", "unflatten_nhwc"]


def pad_nhwc(x, top, bottom, left, right, value=0.0, key=None, border=True):
    """``x`` with rows/columns of ``value`` added (a copy, in workspace ``key`` if
    given; ``x`` itself if there is no padding). ``border=False`` copies the inside only,
    for a workspace whose border already holds ``value`` (one that only ever receives
    insides of this shape: a fresh workspace is all zeros)."""
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    shape = (n, h + top + bottom, w + left + right, c)
    out = workspace(key, shape) if key else np.empty(shape, dtype=x.dtype)
    if border:
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


def tap_slices(kernel, stride, out_hw, dilation=(1, 1)):
    """Each tap of a sliding window, as the rows and columns it reads in every window.

    Parameters
    ----------
    kernel, stride, dilation : tuple of int
        ``(K_h, K_w)``, ``(S_h, S_w)``, ``(D_h, D_w)``.
    out_hw : tuple of int
        ``(H_out, W_out)``, the number of window positions.

    Yields
    ------
    a, b : int
        The tap's row and column in the kernel (row-major order).
    rows, cols : slice
        So that ``xp[:, rows, cols]`` is the ``(N, H_out, W_out, C)`` view of tap ``(a, b)``
        of every window of the padded NHWC input ``xp``.

    Notes
    -----
    Tap :math:`(a, b)` of window :math:`(i, j)` reads padded row :math:`a D_h + i S_h` and
    column :math:`b D_w + j S_w`: for fixed :math:`(a, b)`, rows :math:`a D_h` to
    :math:`a D_h + S_h (H_{out} - 1)` in steps of :math:`S_h`. A pooling or col2im loop over
    the taps is :math:`K_h K_w` strided slice operations.

    Examples
    --------
    >>> xp = np.arange(16.0).reshape(1, 4, 4, 1)          # 2x2 windows, stride 2
    >>> [(a, b, xp[:, rows, cols][0, :, :, 0].tolist())
    ...  for a, b, rows, cols in tap_slices((2, 2), (2, 2), (2, 2))][:2]
    [(0, 0, [[0.0, 2.0], [8.0, 10.0]]), (0, 1, [[1.0, 3.0], [9.0, 11.0]])]
    >>> [rows for _, _, rows, _ in tap_slices((2, 1), (1, 1), (3, 3), dilation=(2, 1))]
    [slice(0, 3, 1), slice(2, 5, 1)]
    """
    (kh, kw), (sh, sw), (oh, ow), (dh, dw) = kernel, stride, out_hw, dilation
    for a in range(kh):
        for b in range(kw):
            yield (a, b, slice(a * dh, a * dh + sh * (oh - 1) + 1, sh),
                   slice(b * dw, b * dw + sw * (ow - 1) + 1, sw))


def output_hw(layer, x_shape, name):
    """``(H_out, W_out)`` of a spatial layer spec for an NHWC input of shape ``x_shape``.

    The specs speak PyTorch's ``(C, H, W)``; ``name`` is used in their errors.

    Examples
    --------
    >>> from helpers.layers import Conv2d
    >>> output_hw(Conv2d(8, 3, stride=2, padding=1), (5, 32, 30, 3), "conv1")
    (16, 15)
    """
    _, h, w, c = x_shape
    return tuple(layer.output_shape((c, h, w), name)[1:])


def flatten_nhwc(x, out=None):
    """An NHWC batch ``(N, H, W, C)`` as ``(N, C H W)`` rows in PyTorch's flatten order
    (channel, then row, then column), written into ``out`` if given; an ``x`` that is not
    4-D is returned as it is.

    Examples
    --------
    >>> x = np.arange(8).reshape(1, 2, 2, 2)           # x[0, h, w, c] = 4h + 2w + c
    >>> flatten_nhwc(x).tolist()                        # channel 0 first: 0, 2, 4, 6
    [[0, 2, 4, 6, 1, 3, 5, 7]]
    >>> bool((unflatten_nhwc(flatten_nhwc(x), x.shape) == x).all())
    True
    """
    if x.ndim != 4:
        return x
    n, h, w, c = x.shape
    if out is None:
        out = np.empty((n, c * h * w), dtype=x.dtype)
    np.copyto(out.reshape(n, c, h, w), x.transpose(0, 3, 1, 2))
    return out


def unflatten_nhwc(rows, x_shape):
    """The inverse of :func:`flatten_nhwc`: ``(N, C H W)`` rows (a gradient, say) back
    to a contiguous NHWC array of ``x_shape``; rows for an ``x_shape`` that is not 4-D are returned as
    they are."""
    if len(x_shape) != 4:
        return rows
    n, h, w, c = x_shape
    return np.ascontiguousarray(rows.reshape(n, c, h, w).transpose(0, 2, 3, 1))
