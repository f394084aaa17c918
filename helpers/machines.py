r"""Hardware figures, stated once: published ones with their sources, and this
machine's cache sizes, read from the operating system at run time.

Two kinds of description:

- :class:`Machine` is a roofline: peak compute (operations/s, 2 per MAC) and
  memory bandwidth (bytes/s). :mod:`helpers.roofline` computes with it.
- :class:`SystolicArray` is a weight-stationary MAC array: its geometry, clock
  and weight-memory bandwidth. :mod:`helpers.systolic` computes with it.

Examples
--------
>>> TPU_V1_ARRAY.cells, TPU_V1_ARRAY.macs_per_s
(65536, 45875200000000.0)
>>> round(TPU_V1.peak / HASWELL.peak)
71
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "SystolicArray", "JOUPPI_2017", "TPU_V1_ARRAY", "TPU_V1", "HASWELL", "cache_bytes"]

JOUPPI_2017 = ("Jouppi et al., 'In-Datacenter Performance Analysis of a Tensor Processing Unit', "
               "ISCA 2017")


@dataclass(frozen=True)
class Machine:
    """A roofline: peak compute (operations/s, 2 per MAC) and memory bandwidth (bytes/s)."""

    name: str
    peak: float
    bandwidth: float
    source: str


@dataclass(frozen=True)
class SystolicArray:
    """A weight-stationary array of ``rows x cols`` MAC cells: each cell holds one weight
    and does one MAC per clock cycle; weights arrive at ``weight_bytes_per_s``."""

    name: str
    rows: int
    cols: int
    clock_hz: float
    weight_bytes_per_s: float
    bytes_per_weight: int
    source: str

    @property
    def cells(self):
        """Number of MAC cells."""
        return self.rows * self.cols

    @property
    def macs_per_s(self):
        """MACs per second with every cell busy."""
        return self.cells * self.clock_hz


TPU_V1_ARRAY = SystolicArray(
    "TPU v1 matrix unit", 256, 256, 700e6, 34e9, 1,
    f"{JOUPPI_2017}: 256x256 = 65,536 8-bit MACs (abstract, section 2); "
    "Table 2: 700 MHz clock, 34 GB/s memory bandwidth (weights are 8-bit)")
"""The TPU v1's matrix unit."""

TPU_V1 = Machine(
    "TPU v1 (8-bit)", 92e12, TPU_V1_ARRAY.weight_bytes_per_s,
    f"{JOUPPI_2017}: abstract and Table 2 (92 TeraOps/s peak, 34 GB/s memory bandwidth)")
"""TPU v1 as a roofline: 65,536 MACs x 2 ops x 700 MHz = 91.75 Tops/s, which the paper
rounds to 92."""

HASWELL = Machine(
    "Haswell CPU (fp32)", 1.3e12, 51e9,
    f"{JOUPPI_2017}, Table 2: Intel Haswell E5-2699 v3 server, "
    "1.3 TFLOPS/s floating point, 51 GB/s memory bandwidth")
"""A server CPU of the TPU v1's era, from the same table."""

_SYSFS = Path("/sys/devices/system/cpu")


def _size_bytes(text):
    """``"1024K"`` -> 1048576 (sysfs writes sizes with a K, M or G suffix)."""
    text = text.strip()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale > 1 else text) * scale


def cache_bytes(level, cpu=0, root=_SYSFS):
    """Size in bytes of the data (or unified) cache at ``level`` seen by ``cpu``, as
    Linux reports it in ``/sys/devices/system/cpu/cpuN/cache``; None where that is not
    available (another OS, a container without sysfs).

    Examples
    --------
    >>> cache_bytes(2, root="/no/such/sysfs") is None
    True
    """
    folder = Path(root) / f"cpu{cpu}" / "cache"
    try:
        for index in sorted(folder.glob("index*")):
            kind = (index / "type").read_text().strip()
            if int((index / "level").read_text()) == level and kind in ("Data", "Unified"):
                return _size_bytes((index / "size").read_text())
    except (OSError, ValueError):
        return None
    return None
