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

__all__ = ["TPU_ROWS", "TPU_COLS", "TPU_CLOCK_HZ", "TPU_WEIGHT_BYTES_PER_S", "TPU_SOURCE",
           "tiles", "utilisation", "balance_reuse", "min_square_side"]

TPU_ROWS = TPU_COLS = 256
TPU_CLOCK_HZ = 700e6
TPU_WEIGHT_BYTES_PER_S = 34e9
TPU_SOURCE = ("Jouppi et al., 'In-Datacenter Performance Analysis of a Tensor Processing Unit', "
              "ISCA 2017: 256x256 = 65,536 8-bit MACs (abstract, section 2); Table 2: 700 MHz "
              "clock, 34 GB/s memory bandwidth")


def _positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def tiles(rows, cols, array_rows=TPU_ROWS, array_cols=TPU_COLS):
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


def utilisation(rows, cols, array_rows=TPU_ROWS, array_cols=TPU_COLS):
    """Fraction of the array's cells holding a useful weight, over all tiles (exact)."""
    return Fraction(rows * cols, tiles(rows, cols, array_rows, array_cols) * array_rows * array_cols)


def balance_reuse(macs_per_cycle=TPU_ROWS * TPU_COLS, clock_hz=TPU_CLOCK_HZ,
                  weight_bytes_per_s=TPU_WEIGHT_BYTES_PER_S, bytes_per_weight=1):
    """Uses of each fetched weight at which compute and weight bandwidth balance.

    ``macs_per_cycle * clock_hz`` MACs per second against
    ``weight_bytes_per_s / bytes_per_weight`` weights per second.
    """
    return macs_per_cycle * clock_hz * bytes_per_weight / weight_bytes_per_s


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
