r"""Convolution lowered to matrix multiplication (GEMM), small and readable.

Shapes follow the exercises: input :math:`N_i \times L_r \times L_c`, filter
:math:`N_o \times N_i \times F_r \times F_c`, output
:math:`N_o \times M_r \times M_c`.

- :func:`conv2d_direct`: the definition, as loops (the reference).
- :func:`conv2d_shifted_gemms`: a sum of :math:`F_r F_c` GEMMs, each
  :math:`(N_o \times N_i) \cdot (N_i \times M_r M_c)` on a shifted view of the
  input: no copy of the input bigger than the input itself.
- :func:`im2col` and :func:`conv2d_im2col`: one GEMM
  :math:`(N_o \times N_i F_r F_c) \cdot (N_i F_r F_c \times M_r M_c)` on the
  "lowered" input matrix, whose columns are the receptive-field patches;
  about :math:`F_r F_c / S^2` times bigger than the input.

All take ``stride``, ``padding`` (per side) and ``dilation`` as ints, and
``groups`` where it applies.

Examples
--------
>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 4, 4)
>>> im2col(x, 3).shape                   # (N_i F_r F_c, M_r M_c)
(9, 4)
>>> w = np.ones((1, 1, 3, 3))
>>> conv2d_im2col(x, w)[0]
array([[45., 54.],
       [81., 90.]])
"""

from __future__ import annotations

import numpy as np

from helpers.formulas import output_size

__all__ = ["im2col", "conv2d_direct", "conv2d_im2col", "conv2d_shifted_gemms", "lowered_shapes"]


def _pad(x, padding):
    return np.pad(x, ((0, 0), (padding, padding), (padding, padding))) if padding else x


def _out_hw(x, kh, kw, stride, padding, dilation):
    oh = output_size(x.shape[1], kh, stride, padding, dilation)
    ow = output_size(x.shape[2], kw, stride, padding, dilation)
    if oh < 1 or ow < 1:
        raise ValueError(f"kernel {kh}x{kw} (dilation {dilation}) does not fit the padded "
                         f"input {x.shape[1] + 2 * padding}x{x.shape[2] + 2 * padding}")
    return oh, ow


def _shifted(xp, a, b, oh, ow, stride, dilation):
    """The input values that kernel tap (a, b) meets, as a (C, oh, ow) view."""
    r0, c0 = a * dilation, b * dilation
    return xp[:, r0: r0 + stride * (oh - 1) + 1: stride, c0: c0 + stride * (ow - 1) + 1: stride]


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Lower a ``(C, H, W)`` input to the ``(C*kh*kw, oh*ow)`` patch matrix.

    Row ``c*kh*kw + a*kw + b`` holds, for every output position, the input
    value under kernel tap ``(a, b)`` of channel ``c`` (the order of
    ``w.reshape(N_o, -1)``).
    """
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    oh, ow = _out_hw(x, kh, kw, stride, padding, dilation)
    xp = _pad(x, padding)
    cols = np.empty((x.shape[0], kh, kw, oh * ow), dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            cols[:, a, b] = _shifted(xp, a, b, oh, ow, stride, dilation).reshape(x.shape[0], -1)
    return cols.reshape(-1, oh * ow)


def _grouped(x, w, groups, one_group):
    c_in, c_out = x.shape[0], w.shape[0]
    if c_in % groups or c_out % groups or w.shape[1] * groups != c_in:
        raise ValueError(f"channels do not split into {groups} groups: input {c_in}, "
                         f"filter {tuple(w.shape)}")
    gi, go = c_in // groups, c_out // groups
    return np.concatenate([one_group(x[g * gi:(g + 1) * gi], w[g * go:(g + 1) * go])
                           for g in range(groups)])


def conv2d_im2col(x, w, stride=1, padding=0, dilation=1, groups=1):
    """Convolution as one GEMM per group: ``w.reshape(N_o, -1) @ im2col(x)``."""
    kh, kw = w.shape[2:]
    oh, ow = _out_hw(x, kh, kw, stride, padding, dilation)

    def one(xg, wg):
        return (wg.reshape(wg.shape[0], -1) @ im2col(xg, (kh, kw), stride, padding, dilation)
                ).reshape(-1, oh, ow)
    return _grouped(x, w, groups, one)


def conv2d_shifted_gemms(x, w, stride=1, padding=0, dilation=1, groups=1):
    """Convolution as a sum of ``F_r*F_c`` GEMMs ``W[:, :, a, b] @ X_shifted(a, b)``."""
    kh, kw = w.shape[2:]
    oh, ow = _out_hw(x, kh, kw, stride, padding, dilation)

    def one(xg, wg):
        xp = _pad(xg, padding)
        out = np.zeros((wg.shape[0], oh * ow), dtype=np.result_type(xg, wg))
        for a in range(kh):
            for b in range(kw):
                out += wg[:, :, a, b] @ _shifted(xp, a, b, oh, ow, stride, dilation).reshape(xg.shape[0], -1)
        return out.reshape(-1, oh, ow)
    return _grouped(x, w, groups, one)


def conv2d_direct(x, w, stride=1, padding=0, dilation=1, groups=1):
    """The definition, one multiply-accumulate at a time (tiny inputs only)."""
    kh, kw = w.shape[2:]
    oh, ow = _out_hw(x, kh, kw, stride, padding, dilation)

    def one(xg, wg):
        xp = _pad(xg, padding)
        out = np.zeros((wg.shape[0], oh, ow), dtype=np.result_type(xg, wg))
        for o in range(wg.shape[0]):
            for i in range(oh):
                for j in range(ow):
                    for c in range(xg.shape[0]):
                        for a in range(kh):
                            for b in range(kw):
                                out[o, i, j] += wg[o, c, a, b] * xp[c, i * stride + a * dilation,
                                                                    j * stride + b * dilation]
        return out
    return _grouped(x, w, groups, one)


def lowered_shapes(in_channels, out_channels, kernel_h, kernel_w, out_h, out_w):
    """BLAS ``(M, N, K)`` of the two lowerings (works on ints and symbols).

    Returns
    -------
    dict
        ``"shifted"``: one of the ``kernel_h*kernel_w`` GEMMs,
        ``(N_o, M_r M_c, N_i)``; ``"im2col"``: the single GEMM,
        ``(N_o, M_r M_c, N_i F_r F_c)``.

    Examples
    --------
    >>> lowered_shapes(3, 96, 11, 11, 55, 55)
    {'shifted': (96, 3025, 3), 'im2col': (96, 3025, 363)}
    """
    n = out_h * out_w
    return {"shifted": (out_channels, n, in_channels),
            "im2col": (out_channels, n, in_channels * kernel_h * kernel_w)}
