import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tests/reference.py


@pytest.fixture
def torch():
    """PyTorch on one thread (a thread team on a loaded 2-core machine mostly waits: one
    tiny avg_pool2d took 12 ms on two threads, 4 us on one, timed once each while the
    suite ran beside benchmarks, 2026-11-22); skips where it is not installed."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)
