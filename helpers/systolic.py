r"""A weight-stationary systolic array, as in Google's TPU v1.

The array has :math:`R \times C` multiply-accumulate cells. A weight matrix of
``rows x cols`` (input depth :math:`\times` output depth for a 1x1
convolution or a dense layer) is held in the cells, one weight each, and
activations stream through. A matrix larger than the array is split into
:math:`\lceil rows/R \rceil \cdot \lceil cols/C \rceil` tiles, each loaded in
turn; the fraction of cells doing useful work is

.. math:: u = \frac{rows \cdot cols}{\lceil rows/R \rceil \lceil cols/C \rceil\, R C}.

(Pipeline fill and drain, which cost about :math:`R + C` cycles per tile, are
ignored: they vanish for long activation streams.)

Each weight fetched from memory is used once per activation vector that
streams past it, so compute and weight bandwidth balance when the reuse
:math:`B` satisfies :math:`B \cdot \text{weights/s} = \text{MACs/s}`.

The array's figures (geometry, clock, bandwidth, source) are stated once, in
:mod:`helpers.machines`; every function here takes the array as an argument and
defaults to the TPU v1's.

Examples
--------
>>> utilisation(3, 48)
Fraction(9, 4096)
>>> round(balance_reuse())
1349
>>> min_square_side(1400)
38
"""

from __future__ import annotations

from fractions import Fraction
from math import isqrt

from helpers.machines import TPU_V1_ARRAY

__all__ = ["tiles", "utilisation", "balance_reuse", "min_square_side"]


def _positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def tiles(rows, cols, array_rows=TPU_V1_ARRAY.rows, array_cols=TPU_V1_ARRAY.cols):
    """Number of array-sized tiles a ``rows x cols`` weight matrix needs.

    Examples
    --------
    >>> tiles(256, 256), tiles(257, 256), tiles(600, 1000)
    (1, 2, 12)
    """
    for name, value in (("rows", rows), ("cols", cols), ("array_rows", array_rows),
                        ("array_cols", array_cols)):
        _positive(name, value)
    return -(-rows // array_rows) * -(-cols // array_cols)


def utilisation(rows, cols, array_rows=TPU_V1_ARRAY.rows, array_cols=TPU_V1_ARRAY.cols):
    """Fraction of the array's cells holding a useful weight, over all tiles (exact)."""
    return Fraction(rows * cols, tiles(rows, cols, array_rows, array_cols) * array_rows * array_cols)


def balance_reuse(array=TPU_V1_ARRAY):
    r"""Uses of each fetched weight at which compute and weight bandwidth balance.

    The array does ``array.macs_per_s`` MACs per second; memory delivers
    ``array.weight_bytes_per_s / array.bytes_per_weight`` weights per second. A weight
    used :math:`B` times keeps the array busy for :math:`B` MACs, so the two rates
    match when :math:`B = \text{MACs/s} / \text{weights/s}`.

    Examples
    --------
    >>> from helpers.machines import SystolicArray
    >>> balance_reuse(SystolicArray("toy", 4, 4, 1e9, 8e9, 2, "a made-up array"))
    4.0
    """
    return array.macs_per_s * array.bytes_per_weight / array.weight_bytes_per_s


def min_square_side(reuse):
    """Smallest ``n`` with ``n * n >= reuse``: the side of the smallest square image
    whose positions give each weight ``reuse`` uses at batch 1 (for a 1x1 kernel).

    Examples
    --------
    >>> min_square_side(1369), min_square_side(1369.5)
    (37, 38)
    """
    if reuse <= 0:
        raise ValueError(f"reuse must be positive, got {reuse!r}")
    n = isqrt(int(reuse))
    while n * n < reuse:
        n += 1
    return n
