r"""Published hardware figures, stated once, each with its source.

A :class:`Machine` is what the roofline model needs: peak compute
(operations/s, 2 per MAC) and memory bandwidth (bytes/s). :mod:`helpers.roofline`
computes with these; notebooks state the same figures as givens and a test ties
the two together.

Examples
--------
>>> TPU_V1.peak / TPU_V1.bandwidth > HASWELL.peak / HASWELL.bandwidth
True
>>> round(65_536 * 2 * 700e6 / TPU_V1.peak, 3)     # the paper rounds 91.75 Tops/s to 92
0.997
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Machine", "JOUPPI_2017", "TPU_V1", "HASWELL"]

JOUPPI_2017 = ("Jouppi et al., 'In-Datacenter Performance Analysis of a Tensor Processing Unit', "
               "ISCA 2017")


@dataclass(frozen=True)
class Machine:
    """Peak compute (operations/s, 2 per MAC) and memory bandwidth (bytes/s)."""

    name: str
    peak: float
    bandwidth: float
    source: str


TPU_V1 = Machine(
    "TPU v1 (8-bit)", 92e12, 34e9,
    f"{JOUPPI_2017}: abstract (65,536 8-bit MACs, 92 TeraOps/s) and Table 2 (700 MHz clock, "
    "34 GB/s weight memory bandwidth)")
"""TPU v1: 65,536 MACs x 2 ops x 700 MHz = 91.75 Tops/s (the paper rounds to 92)."""

HASWELL = Machine(
    "Haswell CPU (fp32)", 1.3e12, 51e9,
    f"{JOUPPI_2017}, Table 2: Intel Haswell E5-2699 v3 server, "
    "1.3 TFLOPS/s floating point, 51 GB/s memory bandwidth")
"""A server CPU of the TPU v1's era, from the same table."""
