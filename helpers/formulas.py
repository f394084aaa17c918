"""Scalar cost formulas, written once for ints, numpy arrays and sympy symbols.

Every function here uses only ``+ - * //`` (and a multiplication by a
boolean flag), so the same definition gives an exact Python ``int`` for
integer arguments, an elementwise result for numpy integer arrays, and a
symbolic expression for sympy integer symbols (see :mod:`helpers.symbols`).
That is how the notebooks' symbolic derivations and the numeric tables are
guaranteed to use one formula.

The counting conventions are stated in :mod:`helpers.conventions`.
"""

from __future__ import annotations

from helpers.conventions import BYTES_PER_ELEM, FLOPS_PER_MAC

__all__ = [
    "dilated_extent",
    "output_size",
    "pool_output_size",
    "same_padding",
    "conv2d_params",
    "conv2d_macs",
    "conv2d_elems",
    "linear_params",
    "linear_macs",
    "gemm_macs",
    "gemm_elems",
    "to_bytes",
    "flops",
]


def dilated_extent(kernel_size, dilation=1):
    r"""Positions a window spans along one axis: its taps and the gaps between them.

    Parameters
    ----------
    kernel_size : int, ndarray or sympy expression
        Taps :math:`F` along the axis.
    dilation : int, ndarray or sympy expression, optional
        Spacing :math:`D` between neighbouring taps (1: no gaps).

    Returns
    -------
    int, ndarray or sympy expression
        :math:`D(F - 1) + 1`: the first tap, then :math:`F - 1` steps of :math:`D`.

    Notes
    -----
    A 3-tap kernel with dilation 2 reads positions 0, 2 and 4, so it spans
    :math:`2 \cdot 2 + 1 = 5`; without dilation the extent is the kernel size.

    Examples
    --------
    >>> dilated_extent(3, 2), dilated_extent(11)
    (5, 11)
    >>> from helpers.symbols import F, D
    >>> dilated_extent(F, D)
    D*(F - 1) + 1
    """
    return dilation * (kernel_size - 1) + 1


def output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    r"""Output length of a convolution or pooling window along one axis.

    Parameters
    ----------
    size : int, ndarray or sympy expression
        Input length :math:`L` (rows or columns).
    kernel_size : int, ndarray or sympy expression
        Window length :math:`F`.
    stride : int, ndarray or sympy expression, optional
        Step :math:`S` between windows.
    padding : int, tuple of two, ndarray or sympy expression, optional
        Zeros added on *each* side (:math:`P`), or a ``(before, after)`` pair
        for asymmetric padding.
    dilation : int, ndarray or sympy expression, optional
        Spacing :math:`D` between kernel taps.

    Returns
    -------
    int, ndarray or sympy expression
        :math:`M = \lfloor (L + P_b + P_a - D(F-1) - 1) / S \rfloor + 1`,
        the same floor rule as PyTorch's ``Conv2d``.

    Notes
    -----
    With symmetric padding this is the familiar
    :math:`\lfloor (L + 2P - D(F-1) - 1)/S \rfloor + 1`; for AlexNet's first
    layer, :math:`\lfloor (227 - 11)/4 \rfloor + 1 = 55`.

    Examples
    --------
    >>> output_size(227, 11, stride=4)
    55
    >>> output_size(32, 3, padding=1)
    32
    >>> output_size(8, 4, padding=(1, 2))
    8
    >>> from helpers.symbols import L, F, S, P
    >>> output_size(L, F, S, P)
    floor((-F + L + 2*P)/S) + 1
    """
    before, after = _pair(padding)
    return (size + before + after - dilated_extent(kernel_size, dilation)) // stride + 1


def pool_output_size(size, kernel_size, stride, padding=0, dilation=1,
                     ceil_mode=False):
    """Output length of a pooling window, PyTorch's rule including ``ceil_mode``.

    Parameters
    ----------
    size, kernel_size, stride, padding, dilation
        As in :func:`output_size` (``padding`` symmetric here).
    ceil_mode : bool, optional
        Round the window count up instead of down; as in PyTorch, a last
        window that would start in the right padding is dropped.

    Returns
    -------
    int
        Output length; below 1 when no window is left (PyTorch refuses
        those, and so do the pooling specs).

    Notes
    -----
    With ``ceil_mode`` a window may hang over the end of the padded input by
    less than a stride, as long as it starts inside the input or the left
    padding: a 3-wide, stride-2 window on an input of 2 gives one output.

    Examples
    --------
    >>> pool_output_size(55, 3, 2)
    27
    >>> pool_output_size(112, 3, 2, ceil_mode=True)
    56
    >>> pool_output_size(6, 2, 2, padding=1, ceil_mode=True)
    4
    >>> pool_output_size(2, 3, 2, ceil_mode=True), pool_output_size(2, 3, 2)
    (1, 0)
    """
    if not ceil_mode:
        return output_size(size, kernel_size, stride, padding, dilation)
    span = size + 2 * padding - dilated_extent(kernel_size, dilation)
    out = -((-span) // stride) + 1
    # PyTorch: the last window must start inside the input or left padding.
    if (out - 1) * stride >= size + padding:
        out = out - 1
    return out


def same_padding(kernel_size, dilation=1):
    """Zeros to add before and after so that a stride-1 output keeps its size.

    Parameters
    ----------
    kernel_size : int or sympy expression
        Window length :math:`F`.
    dilation : int or sympy expression, optional
        Spacing between taps.

    Returns
    -------
    tuple
        ``(before, after)`` with ``before + after = D(F - 1)``; when the total
        is odd (even :math:`F`), the extra zero goes *after*, as PyTorch's
        ``padding="same"`` does.

    Examples
    --------
    >>> same_padding(3), same_padding(5), same_padding(1), same_padding(4)
    ((1, 1), (2, 2), (0, 0), (1, 2))
    """
    total = dilated_extent(kernel_size, dilation) - 1
    return total // 2, total - total // 2


def conv2d_params(in_channels, out_channels, kernel_h, kernel_w, groups=1,
                  bias=True):
    r"""Learned values of a 2-D convolution: weights plus optional bias.

    Notes
    -----
    :math:`C_{out} \cdot (C_{in}/g) \cdot K_h K_w + C_{out}` (bias). AlexNet's
    first layer: :math:`96 \cdot 3 \cdot 11 \cdot 11 + 96 = 34{,}944`.

    Examples
    --------
    >>> conv2d_params(3, 96, 11, 11)
    34944
    >>> conv2d_params(96, 256, 5, 5, groups=2)
    307456
    """
    return out_channels * (in_channels // groups) * kernel_h * kernel_w + out_channels * bias


def conv2d_macs(out_h, out_w, in_channels, out_channels, kernel_h, kernel_w,
                groups=1):
    r"""Multiply-accumulates of a 2-D convolution for one image.

    Notes
    -----
    :math:`H_{out} W_{out} \cdot C_{out} \cdot (C_{in}/g) \cdot K_h K_w`: every
    output value is a dot product of length :math:`(C_{in}/g) K_h K_w`.
    The bias add is not counted.

    Examples
    --------
    >>> conv2d_macs(55, 55, 3, 96, 11, 11)
    105415200
    >>> from helpers.symbols import M_r, M_c, N_i, N_o, F_r, F_c
    >>> conv2d_macs(M_r, M_c, N_i, N_o, F_r, F_c)
    F_c*F_r*M_c*M_r*N_i*N_o
    """
    return out_h * out_w * out_channels * (in_channels // groups) * kernel_h * kernel_w


def conv2d_elems(in_h, in_w, out_h, out_w, in_channels, out_channels, kernel_h, kernel_w,
                 groups=1):
    r"""Elements a convolution moves if each is read or written once: input, output, weights.

    Notes
    -----
    :math:`C_{in} H W + C_{out} H_{out} W_{out} + C_{out} (C_{in}/g) K_h K_w`
    (bias not counted). VGG-16's ``conv3_2``:
    :math:`256 \cdot 56^2 \cdot 2 + 256^2 \cdot 9 = 2{,}195{,}456`.

    Examples
    --------
    >>> conv2d_elems(56, 56, 56, 56, 256, 256, 3, 3)
    2195456
    >>> from helpers.symbols import L_r, L_c, M_r, M_c, N_i, N_o, F_r, F_c
    >>> conv2d_elems(L_r, L_c, M_r, M_c, N_i, N_o, F_r, F_c)
    F_c*F_r*N_i*N_o + L_c*L_r*N_i + M_c*M_r*N_o
    """
    return (in_channels * in_h * in_w + out_channels * out_h * out_w
            + out_channels * (in_channels // groups) * kernel_h * kernel_w)


def linear_params(in_features, out_features, bias=True):
    """Learned values of a dense layer: ``in * out`` weights plus ``out`` biases.

    Examples
    --------
    >>> linear_params(9216, 4096)
    37752832
    """
    return in_features * out_features + out_features * bias


def linear_macs(in_features, out_features):
    """Multiply-accumulates of a dense layer for one input vector.

    Examples
    --------
    >>> linear_macs(4096, 1000)
    4096000
    """
    return in_features * out_features


def gemm_macs(M, N, K):
    """Multiply-accumulates of an ``M x K`` by ``K x N`` matrix product.

    Examples
    --------
    >>> gemm_macs(2, 3, 4)
    24
    >>> from helpers.symbols import M, N, K
    >>> gemm_macs(M, N, K)
    K*M*N
    """
    return M * N * K


def gemm_elems(M, N, K):
    """Elements read and written by a matrix product: both inputs and the output.

    Examples
    --------
    >>> gemm_elems(2, 3, 4)
    26
    >>> from helpers.symbols import M, N, K
    >>> gemm_elems(M, N, K)
    K*M + K*N + M*N
    """
    return M * K + K * N + M * N


def to_bytes(elems, bytes_per_elem=BYTES_PER_ELEM):
    """Bytes taken by ``elems`` values of ``bytes_per_elem`` bytes each (fp32: 4).

    Examples
    --------
    >>> to_bytes(290400)
    1161600
    >>> to_bytes(290400, bytes_per_elem=2)
    580800
    """
    return elems * bytes_per_elem


def flops(macs):
    """Floating-point operations for ``macs`` multiply-accumulates (two each).

    Examples
    --------
    >>> flops(105415200)
    210830400
    """
    return FLOPS_PER_MAC * macs


def _pair(value):
    """``(before, after)`` from an int/symbol or a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"padding pair must have two values, got {value!r}")
        return value[0], value[1]
    return value, value
