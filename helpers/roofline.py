r"""Arithmetic intensity and the roofline model.

Arithmetic intensity is work per unit of data moved. For a GEMM
:math:`(M \times K)\cdot(K \times N)` it is
:math:`I = MNK / (MK + KN + MN)` MACs per element, or
:math:`2MNK / (b\,(MK + KN + MN))` FLOPs per byte for :math:`b`-byte elements
(each element read or written once: the best case, with perfect reuse).

The roofline model (Williams, Waterman & Patterson, CACM 2009) bounds the
throughput of a kernel of intensity :math:`I` (FLOPs/byte) on a machine with
peak compute :math:`\pi` and memory bandwidth :math:`\beta`:
:math:`P(I) = \min(\pi, \beta I)`. The *ridge point* :math:`\pi/\beta` is the
intensity at which a kernel stops being memory bound.

Examples
--------
>>> gemm_intensity(1024, 1024, 1024)   # MACs per element, exact
Fraction(1024, 3)
>>> round(float(flops_per_byte(1024, 1024, 1024)), 2)
170.67
>>> round(ridge(TPU_V1))
2706
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from helpers.formulas import conv2d_elems, flops, gemm_elems, gemm_macs
from helpers.machines import HASWELL, TPU_V1, Machine  # noqa: F401  (re-exported: rooflines to compute with)

__all__ = ["Machine", "TPU_V1", "HASWELL", "gemm_intensity", "flops_per_byte", "attainable",
           "ridge", "layer_intensity"]


def gemm_intensity(M, N, K):
    """MACs per element moved for a GEMM (exact: a Fraction for ints, a sympy
    expression for symbols)."""
    macs, elems = gemm_macs(M, N, K), gemm_elems(M, N, K)
    if isinstance(macs, int) and isinstance(elems, int):
        return Fraction(macs, elems)
    return macs / elems


def flops_per_byte(M, N, K, bytes_per_elem=4):
    """FLOPs per byte moved for a GEMM with ``bytes_per_elem``-byte elements."""
    return flops(gemm_intensity(M, N, K)) / bytes_per_elem


def attainable(machine, intensity):
    """Roofline bound ``min(peak, bandwidth * intensity)`` (ops/s); arrays welcome."""
    bound = np.minimum(machine.peak, machine.bandwidth * np.asarray(intensity, dtype=float))
    return float(bound) if bound.ndim == 0 else bound


def ridge(machine):
    """Intensity (ops/byte) where the memory roof meets the compute roof."""
    return machine.peak / machine.bandwidth


def layer_intensity(layer, input_shape, batch=1, bytes_per_elem=4):
    """FLOPs per byte of a convolution or dense layer on a batch: its FLOPs over the
    bytes of its input, its output and its weights, each moved once.

    Examples
    --------
    >>> from helpers.layers import Conv2d, Linear
    >>> round(layer_intensity(Linear(4096), (4096,), batch=1), 2)
    0.5
    >>> round(layer_intensity(Conv2d(256, 3, padding=1), (256, 56, 56)), 1)
    421.3
    """
    from helpers.layers import Conv2d, Linear
    out = layer.output_shape(input_shape)
    if isinstance(layer, Conv2d):
        kh, kw = layer.kernel_pair
        elems = conv2d_elems(input_shape[1] * batch, input_shape[2], out[1] * batch, out[2],
                             input_shape[0], out[0], kh, kw, layer.groups)
    elif isinstance(layer, Linear):
        elems = gemm_elems(out[0], batch, input_shape[0])
    else:
        raise ValueError(f"layer_intensity covers Conv2d and Linear, not {layer.kind}")
    return flops(layer.macs(input_shape) * batch) / (elems * bytes_per_elem)
