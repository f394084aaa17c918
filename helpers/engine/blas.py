"""The BLAS library numpy calls: its thread count, and single-threaded sections.

The engine runs its convolutions as independent pipelines, one per BLAS thread
(one per core by default), each gathering patches and calling a single-threaded
GEMM on its own rows; for that it switches OpenBLAS to one thread for the
duration of a layer. The switch goes through OpenBLAS's ``*_set_num_threads``,
found with ``ctypes`` in the library numpy has loaded. Where that is impossible
(another BLAS, no ``/proc``, or a sandbox that refuses to load native
libraries), the functions here give ``None`` and the engine falls back to one
pipeline that uses the BLAS's own threads.

Examples
--------
>>> with single_threaded() as cores:
...     cores is None or cores >= 1
True
"""

from __future__ import annotations

import contextlib

__all__ = ["threads", "single_threaded"]

_NAMES = [(f"{prefix}_get_num_threads{suffix}", f"{prefix}_set_num_threads{suffix}")
          for prefix in ("scipy_openblas", "openblas") for suffix in ("64_", "")]
_FUNCTIONS = None


def _functions():
    """``(get, set)`` of the OpenBLAS numpy loaded, or ``(None, None)``; looked up once."""
    global _FUNCTIONS
    if _FUNCTIONS is None:
        _FUNCTIONS = (None, None)
        try:
            import ctypes
            with open("/proc/self/maps") as maps:
                libs = sorted({line.split()[-1] for line in maps
                               if "openblas" in line.lower() and ".so" in line})
            for lib in libs:
                handle = ctypes.CDLL(lib)
                for get, put in _NAMES:
                    if hasattr(handle, get) and hasattr(handle, put):
                        _FUNCTIONS = (getattr(handle, get), getattr(handle, put))
                        return _FUNCTIONS
        except Exception:        # noqa: BLE001 - no /proc, no ctypes, or a sandbox refusing dlopen
            pass
    return _FUNCTIONS


def threads():
    """The number of threads OpenBLAS uses, or ``None`` if it cannot be read."""
    get, _ = _functions()
    return None if get is None else int(get())


@contextlib.contextmanager
def single_threaded():
    """Run the block with a single-threaded BLAS; yields the number of threads it had
    (how many single-threaded callers the cores can take), or ``None`` if it cannot
    be switched.

    The setting is process-wide: meant for a section in which this process's
    own threads are the only BLAS callers (each then gets one core).
    """
    get, put = _functions()
    if put is None:
        yield None
        return
    before = int(get())
    put(1)
    try:
        yield before
    finally:
        put(before)
