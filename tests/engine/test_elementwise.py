"""The engine's in-place ReLU and bias addition against plain numpy written element by
element: every layout they take a faster path for (contiguous, rows of a wider array,
a row count that the bias tile does not divide, another dtype)."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.engine import buffers, elementwise


def _values(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[::7] = -0.0
    x.flat[::11] = np.nan
    return x


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.integers(1, 40), st.integers(0, 5), st.booleans())
def test_relu_is_max_with_zero_in_every_layout(rows, cols, skip, in_place):
    """Contiguous, a column slice of a wider array, and a strided view: ``max(x, 0)`` with
    NaN kept as NaN, into ``x`` itself or into another array."""
    rng = np.random.default_rng(rows * 100 + cols)
    for layout in (lambda a: a, lambda a: a[:, skip:], lambda a: a[::2, ::2]):
        x = layout(_values(rng, (rows, cols + skip)))                  # fresh values for each layout
        expected = np.array([[v if np.isnan(v) else max(v, 0.0) for v in row] for row in x], np.float32)
        before = x.copy()
        out = x if in_place else np.empty_like(x)
        got = elementwise.relu(x, None if in_place else out)
        assert got is out
        np.testing.assert_array_equal(got, expected)
        if not in_place:
            np.testing.assert_array_equal(x, before)          # the input untouched


def test_relu_keeps_other_dtypes_and_never_writes_its_zeros():
    x = np.array([-2.0, 3.0], np.float64)
    got = elementwise.relu(x)
    assert got is x and got.dtype == np.float64 and x.tolist() == [0.0, 3.0]
    y = np.full((1000, 300), -1.0, np.float32)
    elementwise.relu(y)
    zeros = buffers.zeros(y.size)
    assert not zeros.flags.writeable and not zeros.any() and not y.any()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/pagemap")
def test_the_zeros_hold_no_memory_of_their_own_even_when_malloc_keeps_memory():
    """After a ReLU over 16 MB, in a fresh process whose malloc keeps 32 MB of freed, written
    memory (``retain_freed_memory``), no page of the zeros it compared with is memory of its
    own (present and mapped by this process alone, bits 63 and 56 of ``/proc/self/pagemap``):
    they are never-written private pages. Zeros from ``np.zeros`` would reuse the freed heap
    memory and write it; a shared map's pages would each become memory of their own when read."""
    code = """
import struct
import numpy as np
from helpers.engine import buffers, elementwise
buffers.retain_freed_memory()
junk = np.ones(8_000_000, np.float32)
del junk
y = np.full(4_000_000, -1.0, np.float32)
elementwise.relu(y)
z = buffers.zeros(y.size)
first = z.__array_interface__["data"][0] // 4096
last = (z.__array_interface__["data"][0] + z.nbytes - 1) // 4096
with open("/proc/self/pagemap", "rb") as pagemap:
    pagemap.seek(8 * first)
    entries = struct.unpack(f"{last - first + 1}Q", pagemap.read(8 * (last - first + 1)))
print(sum(e >> 63 & 1 and e >> 56 & 1 for e in entries), len(entries))
"""
    own, pages = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         check=True).stdout.split())
    assert pages >= 3900 and own == 0, f"{own} of the zeros' {pages} pages are memory of their own"


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([1, 3, 64, 256, 20_000]))
def test_add_bias_adds_each_channel_to_every_row(rows, channels):
    """Rows that the tiled bias divides, rows left over, a bias wider than the tile."""
    rows = 1 + rows % max(1, 300_000 // channels)            # at most ~300 K values
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, channels)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    expected = x.copy()
    for r in range(rows):
        expected[r] = expected[r] + bias
    got = elementwise.add_bias(x, bias)
    assert got is x
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("view", [np.s_[:, 6:], np.s_[::2, :]])
def test_add_bias_on_a_view_changes_only_the_view(view):
    """Rows enough to be tiled (3000 of 70 or 64 values): a view cannot be reshaped into
    long rows without a copy, and a bias added to a copy would be lost."""
    base = np.zeros((3000, 70), np.float32)
    rows = base[view]
    elementwise.add_bias(rows, np.arange(rows.shape[1], dtype=np.float32))
    expected = np.zeros((3000, 70), np.float32)
    expected[view] = np.arange(rows.shape[1], dtype=np.float32)
    np.testing.assert_array_equal(base, expected)
