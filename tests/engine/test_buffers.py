"""Process-wide allocator setting for training: freed memory is kept for the next step."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STEPS = """
import resource, sys
import numpy as np
from helpers.engine.buffers import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def step():                       # ten 1 MiB arrays, all freed at the end, like a training step
    arrays = [np.ones(1 << 18, np.float32) for _ in range(10)]
    return sum(float(a[0]) for a in arrays)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}     # glibc's defaults
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True,
                          cwd=ROOT, env=env)                      # where ``helpers`` is importable
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and ru_minflt in pages")
def test_retained_memory_is_reused_without_page_faults():
    pages = 20 * 10 * (1 << 20) // 4096            # every page of every step, if none were reused
    assert _faults("default") > pages // 2         # glibc returns the freed top of its heap
    assert _faults("retain") < pages // 50


@pytest.mark.parametrize("warm", [False, True])
def test_a_failed_allocation_leaves_the_pool_usable(monkeypatch, warm):
    """A map that cannot be made (out of memory) raises, and the pool goes on working
    afterwards: an empty pool and one that has served a pass alike."""
    import numpy as np

    from helpers.engine import buffers
    pool = buffers.ActivationPool()
    if warm:
        pool.release(pool.take((4,)))
    real = buffers._mapped

    def refuse(size):
        if size > 100:
            raise OSError(12, "Cannot allocate memory")
        return real(size)
    monkeypatch.setattr(buffers, "_mapped", refuse)
    with pytest.raises(OSError):
        pool.take((1000,))
    pool.release_all()
    a = pool.take((8,))
    a[:] = 1.0
    pool.release(a)
    assert np.shares_memory(pool.take((8,)), a) and pool.held_bytes() >= a.nbytes
