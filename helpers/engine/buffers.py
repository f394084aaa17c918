"""Memory the engine keeps between forward passes: named workspaces and a pool of
activation buffers (float32, anonymous memory maps).

Reusing the same memory avoids a fresh allocation, and its page faults, for
every layer of every pass. Each buffer is a memory map of its own: unlike
``np.empty``, whose memory may come from malloc's heap and stay there after
it is freed (fragmenting it as buffers grow), a map is returned to the system
as soon as its array is dropped.

Examples
--------
>>> pool = ActivationPool()
>>> a = pool.take((2, 3))
>>> pool.release(a)
>>> b = pool.take((3, 2))          # the same memory again
>>> bool(np.shares_memory(a, b)), pool.held_bytes()
(True, 24)
"""

from __future__ import annotations

import mmap
from math import prod

import numpy as np

__all__ = [
    "DTYPE",
    "POOL",
    "ActivationPool",
    "new_output",
    "outputs_into",
    "release_workspace",
    "retain_freed_memory",
    "workspace",
    "workspace_bytes_held",
]

DTYPE = np.dtype(np.float32)
"""The element type of every workspace and activation buffer."""

_BUFFERS = {}


def _mapped(size):
    """``size`` float32 values in an anonymous memory map of their own."""
    if size == 0:
        return np.empty(0, dtype=DTYPE)
    return np.frombuffer(mmap.mmap(-1, DTYPE.itemsize * size), dtype=DTYPE)


def workspace(key, shape):
    """A float32 array of ``shape`` carved from a buffer kept between calls.

    Buffers only grow; ``release_workspace`` frees them. Threads must use
    different keys (the pipelines add their number).
    """
    size = prod(shape)
    buf = _BUFFERS.get(key)
    if buf is None or buf.size < size:
        _BUFFERS.pop(key, None)
        buf = _BUFFERS[key] = _mapped(size)
    return buf[:size].reshape(shape)


_ZEROS = np.empty(0, dtype=DTYPE)


def zeros(n):
    """``n`` float32 zeros, read-only: a slice of one anonymous memory map of its own that is
    never written (grown when too short, freed by :func:`release_workspace`). Its pages all
    map the kernel's shared zero page, so they take no resident memory, whatever ``malloc``
    is set to (:func:`retain_freed_memory`).

    >>> z = zeros(3)
    >>> z.tolist(), z.flags.writeable
    ([0.0, 0.0, 0.0], False)
    """
    global _ZEROS
    if len(_ZEROS) < n:
        size = max(n, 2 * len(_ZEROS))
        # private: reading a shared anonymous map would give each page memory of its own
        _ZEROS = np.frombuffer(mmap.mmap(-1, DTYPE.itemsize * size, flags=mmap.MAP_PRIVATE), dtype=DTYPE)
        _ZEROS.flags.writeable = False
    return _ZEROS[:n]


def workspace_bytes_held():
    """Bytes of the named workspaces."""
    return sum(b.nbytes for b in _BUFFERS.values())


def release_workspace():
    """Free the cached workspaces, activation buffers and :func:`zeros`; return the bytes
    they held (the zeros hold none)."""
    global _ZEROS
    held = workspace_bytes_held() + POOL.held_bytes()
    _BUFFERS.clear()
    POOL.clear()
    _ZEROS = np.empty(0, dtype=DTYPE)
    return held


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3        # glibc's <malloc.h>


def retain_freed_memory(trim=1 << 30, mmap_threshold=32 << 20):
    """Ask the C library's ``malloc`` to keep freed memory for reuse instead of giving it
    back to the system: the heap is trimmed only above ``trim`` free bytes, and only
    blocks above ``mmap_threshold`` get maps of their own (glibc's ``mallopt``).

    A training step allocates arrays of the same sizes step after step; returned
    to the system, their pages fault in again each time (zeroed by the kernel). A
    ResNet-20 step at batch 64 (``train.gradients`` and ``SGD.step`` on random 1 x 8 x 8
    float32 images; ``resource.getrusage``'s ``ru_minflt`` over 30 steps after 5, a fresh
    process each way, on the 2-core AMD EPYC VM this project is developed on, 2026-11-22)
    took 675 page faults with glibc's defaults and 4 with this setting (583 and 6 with one
    BLAS thread). Commit f2c677a, which added it, recorded 840 and 3 and a step about
    13 % faster; step times measured beside other work (one BLAS thread, best of 30
    steps, three processes each way: 24.0-25.7 ms with it, 25.1-26.6 ms without) differ
    by less than their noise. Process-wide and lasting (the
    process keeps its peak heap; a later call sets new values). Returns whether both
    were set: ``False`` where ``mallopt`` is missing (not glibc) or native calls are
    refused (a sandbox). Tested in ``tests/engine/test_buffers.py`` (in a subprocess).
    """
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
        return mallopt(_M_TRIM_THRESHOLD, trim) == 1 and mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
    except Exception:        # noqa: BLE001 - no ctypes, no mallopt, or a sandbox refusing native calls
        return False


def _address(a):
    return a.__array_interface__["data"][0]


class ActivationPool:
    """Activation buffers reused between layers and passes.

    ``take(shape)`` hands out the smallest free buffer that holds ``shape``;
    if none does, the largest free one is replaced by a bigger one (so the
    pool holds as many buffers as were ever in use at once, each as large as
    the largest activation it held), and only if none is free is a buffer
    added. ``release(array)`` gives a buffer back (arrays that do not start
    a buffer, such as slices, are ignored); ``release_all`` ends a pass.
    """

    def __init__(self):
        self.buffers, self.free, self.addresses = [], set(), []

    def take(self, shape):
        size = prod(shape)
        fits = [i for i in self.free if self.buffers[i].size >= size]
        if fits:
            index = min(fits, key=lambda i: self.buffers[i].size)
        else:
            if self.free:
                index = max(self.free, key=lambda i: self.buffers[i].size)
                self.buffers[index] = None                  # drop the old map before making the new one
            else:
                index = len(self.buffers)
                self.buffers.append(None)
                self.addresses.append(None)
            try:
                self.buffers[index] = _mapped(size)
            except BaseException:
                self.buffers[index], self.addresses[index] = _mapped(0), None   # an empty slot, not a hole
                raise
            self.addresses[index] = _address(self.buffers[index]) if size else None
        self.free.discard(index)
        return self.buffers[index][:size].reshape(shape)

    def release(self, array):
        address = _address(array)
        if address in self.addresses:
            self.free.add(self.addresses.index(address))

    def release_all(self):
        self.free = set(range(len(self.buffers)))

    def held_bytes(self):
        return sum(b.nbytes for b in self.buffers)

    def clear(self):
        self.buffers, self.free, self.addresses = [], set(), []


POOL = ActivationPool()
"""The engine's activation buffers (one forward pass at a time)."""

_OUTPUT = None


def new_output(shape):
    """A layer's result array: fresh memory, or a buffer chosen by :func:`outputs_into`."""
    return np.empty(shape, dtype=DTYPE) if _OUTPUT is None else _OUTPUT(shape)


class outputs_into:
    """Context manager: layer results are allocated by ``allocate(shape)`` inside it
    (the engine uses it to take them from :data:`POOL`)."""

    def __init__(self, allocate):
        self.allocate = allocate

    def __enter__(self):
        global _OUTPUT
        self.saved, _OUTPUT = _OUTPUT, self.allocate
        return self

    def __exit__(self, *exc):
        global _OUTPUT
        _OUTPUT = self.saved
        return False
