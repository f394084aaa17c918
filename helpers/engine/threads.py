"""Threads: the BLAS library's thread count, single-threaded sections, and the
engine's pipelines (one per core) that use them.

The engine runs its convolutions as independent pipelines, one per BLAS thread
(one per core by default), each gathering patches and calling a single-threaded
GEMM on its own rows (:func:`pipelines`); for that it switches OpenBLAS to one
thread for the duration of a layer. The switch goes through OpenBLAS's ``*_set_num_threads``,
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

__all__ = ["PIPELINES_FROM_MACS", "on_calling_thread", "pipelines", "segments", "single_threaded", "split", "threads"]

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


PIPELINES_FROM_MACS = 120_000_000
"""From this many MACs per convolution or dense layer (the mean over a pass), a forward pass
(:func:`helpers.engine.forward.forward`) runs its layers as pipelines; below it, on the
calling thread with the BLAS's own threads (:func:`on_calling_thread`). Handing half of a
layer to the other pipeline cost 110-170 us on the 2-core VM this was tuned on:
a single-threaded matmul took 0.43-0.44 ms, and :func:`pipelines` running one such matmul
on each of two threads took 0.55-0.60 ms (hand-over and running side by side together;
medians of 400 calls timed with ``time.perf_counter``, a short Python loop between calls,
2026-11-22), which small layers do not pay back. Measured side by side in one process
(:func:`helpers.engine.turns.in_turns`, 20-60 timed passes of ``forward`` each with the
threshold set either way, the zoo's seeded weights; calling thread / pipelines): ResNet-50 at batch 1
(76 M MACs per layer) 0.89 and 0.97, at batch 2 (151 M) 1.05; AlexNet at batch 2 (284 M)
1.12; VGG-16 at batch 1 (967 M) 1.13; AlexNet at batch 1 (142 M) 0.90. Re-measured after
the engine's ReLU and bias changes (same day, 10-20 rounds in turns): ResNet-50 at batch 1
0.91, at batch 2 1.03; AlexNet at batch 1 0.93. So AlexNet at batch 1 alone would be
better off on the calling thread. The threshold is not raised for it because notebook 10
profiles AlexNet at batches 1, 2, 4 and 8 one after the other, and a pass that switches from
the calling thread to the pipelines pays for the switch: after a multi-threaded GEMM,
OpenBLAS's threads keep polling a core for about 0.1 s (their ``THREAD_TIMEOUT``, see
:data:`helpers.engine.turns.SETTLE_S`), and pipelines running in that time share a core with
them. AlexNet at batch 2 run right after batch 1 took 1.58 times as long (the median of 12
per-round ratios, each round after a 0.3 s pause; medians 87.3 and 53.7 ms) with the
threshold at 146 M (batch 1 on the calling thread) as at 120 M (both on the pipelines),
2026-11-22; a
196 x 1024 x 256 GEMM split between the pipelines took 1.23 ms right after multi-threaded
GEMMs and 0.69 ms after a 0.3 s pause. (Any threshold puts some model's batch 1 and batch 2
on different sides: ResNet-50's 76 and 151 M straddle this one.) The boundary is not sharp."""

_CALLING_THREAD = False


@contextlib.contextmanager
def on_calling_thread(enabled=True):
    """Inside (if ``enabled``), :func:`pipelines` and :func:`split` run all their work on the
    calling thread, the GEMMs with the BLAS's own threads: for work too small to pay for
    handing half of each layer to another thread (see :data:`PIPELINES_FROM_MACS`).
    Process-wide, like the BLAS setting.

    >>> seen = []
    >>> with on_calling_thread():
    ...     split(4, lambda part, i, j: seen.append((part, i, j)), parts=2)
    >>> seen
    [(0, 0, 4)]
    """
    global _CALLING_THREAD
    saved, _CALLING_THREAD = _CALLING_THREAD, enabled
    try:
        yield
    finally:
        _CALLING_THREAD = saved


def pipelines(total, work):
    """Run ``work(pipeline, start, stop)`` over ``range(total)`` split into one part per
    BLAS thread, each part on its own thread with a single-threaded BLAS (so that each
    GEMM keeps one core and its own cache); or the whole range on this thread, with
    the BLAS's own threads, where the BLAS cannot be switched, there is one item, or
    inside :func:`on_calling_thread`."""
    if total < 2 or _CALLING_THREAD:
        work(0, 0, total)
        return
    with single_threaded() as cores:
        if cores:
            split(total, work, cores)
            return
    work(0, 0, total)


def segments(start, stop, per_image):
    """Split the flattened row range ``[start, stop)`` of a batch with ``per_image`` rows
    per image into ``(image, first row, end row, offset)`` pieces within single images
    (``offset``: rows before the piece in the range).

    >>> list(segments(3, 9, 4))
    [(0, 3, 4, 0), (1, 0, 4, 1), (2, 0, 1, 5)]
    """
    offset = 0
    while start < stop:
        image, row = divmod(start, per_image)
        end = min(per_image, row + stop - start)
        yield image, row, end, offset
        offset += end - row
        start += end - row


_POOL = None
"""``(size, executor)`` shared by the kernels, created on first use."""


def split(n, work, parts=None):
    """Run ``work(part, start, stop)`` over ``parts`` near-equal pieces of ``range(n)``
    (default: one per BLAS thread, else two): the first piece on this thread, the others
    on threads of a shared pool (numpy releases the GIL in copies, ufuncs and GEMMs).
    Working on the calling thread instead of waiting saves a hand-over per layer.

    >>> seen = []
    >>> split(7, lambda part, i, j: seen.append((part, i, j)), parts=3)
    >>> sorted(seen)
    [(0, 0, 2), (1, 2, 4), (2, 4, 7)]
    """
    global _POOL
    parts = 1 if _CALLING_THREAD else max(1, min(n, parts or threads() or 2))
    if parts == 1:
        work(0, 0, n)
        return
    if _POOL is None or _POOL[0] < parts - 1:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = (parts - 1, ThreadPoolExecutor(parts - 1, thread_name_prefix="workbook-kernel"))
    bounds = [n * p // parts for p in range(parts + 1)]
    done = [_POOL[1].submit(work, p, bounds[p], bounds[p + 1]) for p in range(1, parts)]
    try:
        work(0, bounds[0], bounds[1])
    finally:
        for future in done:
            future.result()
