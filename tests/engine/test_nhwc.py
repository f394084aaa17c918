"""The engine's shared NHWC helpers against definitions written out index by index:
window taps, layer output sizes, PyTorch's flatten order, the pooling padded size and
divisor, the Winograd tile count."""

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers.engine import winograd
from helpers.engine.nhwc import flatten_nhwc, output_hw, tap_slices, unflatten_nhwc
from helpers.engine.pooling import avg_pool_divisor, padded_size
from helpers.layers import AvgPool2d, Conv2d, MaxPool2d

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@settings(max_examples=40, deadline=None)
@given(pairs, pairs, pairs, st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_tap_slices_read_the_window_positions(kernel, stride, dilation, out_hw):
    """Tap (a, b) of window (i, j) is padded element (a D_h + i S_h, b D_w + j S_w)."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    hp, wp = dh * (kh - 1) + sh * (oh - 1) + 1, dw * (kw - 1) + sw * (ow - 1) + 1
    xp = np.arange(2 * hp * wp * 3).reshape(2, hp, wp, 3)
    taps = list(tap_slices(kernel, stride, out_hw, dilation))
    assert [(a, b) for a, b, _, _ in taps] == list(itertools.product(range(kh), range(kw)))
    for a, b, rows, cols in taps:
        expected = np.empty((2, oh, ow, 3), dtype=xp.dtype)
        for i, j in itertools.product(range(oh), range(ow)):
            expected[:, i, j] = xp[:, a * dh + i * sh, b * dw + j * sw]
        np.testing.assert_array_equal(xp[:, rows, cols], expected)


def test_output_hw_reads_nhwc():
    """A rectangular input, so that rows and columns (or channels) cannot be swapped:
    (H + 2P - D(K - 1) - 1) // S + 1 with H = 17, W = 10, K = 3, S = 2, P = 1."""
    x_shape = (2, 17, 10, 5)
    assert output_hw(Conv2d(4, 3, stride=2, padding=1), x_shape, "c") == ((17 + 2 - 3) // 2 + 1, (10 + 2 - 3) // 2 + 1)
    assert output_hw(MaxPool2d(3, 2, ceil_mode=True), x_shape, "p") == (8, 5)       # ceil(14/2)+1, ceil(7/2)+1
    with pytest.raises(ValueError):                                                 # 5 channels: not the columns
        output_hw(Conv2d(4, 3, groups=2), x_shape, "c")


def test_flatten_nhwc_is_torch_order():
    """Flattening an NHWC batch gives the rows ``x.reshape(N, -1)`` gives in NCHW."""
    nchw = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    nhwc = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(flatten_nhwc(nhwc), nchw.reshape(2, -1))
    out = np.empty((2, 60), np.float32)
    assert flatten_nhwc(nhwc, out) is out
    np.testing.assert_array_equal(out, nchw.reshape(2, -1))
    back = unflatten_nhwc(nchw.reshape(2, -1), nhwc.shape)
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, nhwc)
    rows = nchw.reshape(2, -1)
    assert flatten_nhwc(rows) is rows and unflatten_nhwc(rows, rows.shape) is rows


def _torch_divisor(h, k, s, p, o, count_include_pad):
    """PyTorch's avg_pool2d divisor along one axis, window by window (its C++ loop):
    the window clipped to the padded input, then, without count_include_pad, to the input."""
    out = []
    for i in range(o):
        start, end = i * s - p, min(i * s - p + k, h + p)
        if not count_include_pad:
            start, end = max(start, 0), min(end, h)
        out.append(end - start)
    return np.array(out)


def _rows_used(n, k, s, p, o):
    """One past the last row a pooling's padded input must have, row by row: the rows it holds
    (``p`` zeros, the ``n`` input rows, ``p`` zeros) and every row read (tap ``a`` of window
    ``i`` reads row ``i s + a``)."""
    held = list(range(p + n + p))
    read = [i * s + a for i in range(o) for a in range(k)]
    return max(held + read) + 1


# (input rows, kernel, stride, padding, output rows, padded rows), each worked by hand
PADDED = [(6, 3, 2, 0, 3, 7),     # ceil_mode: windows on rows 0-2, 2-4, 4-6; row 6 is past the input
          (6, 3, 2, 1, 3, 8),     # 1 + 6 + 1 rows held; windows 0-2, 2-4, 4-6 stay inside them
          (6, 3, 2, 1, 4, 9),     # ceil_mode: a fourth window, rows 6-8
          (5, 2, 2, 0, 2, 5),     # windows 0-1, 2-3; row 4 is never read but is held
          (5, 2, 2, 0, 3, 6),     # ceil_mode: a third window, rows 4-5
          (1, 1, 3, 0, 1, 1)]


@pytest.mark.parametrize("rows, cols", list(zip(PADDED, PADDED[::-1], strict=True)))
def test_padded_size_worked_by_hand(rows, cols):
    """Rows and columns from different cases, so that the two axes cannot be swapped."""
    (h, kh, sh, ph, oh, hp), (w, kw, sw, pw, ow, wp) = rows, cols
    assert padded_size((h, w), (kh, kw), (sh, sw), (ph, pw), (oh, ow)) == (hp, wp)
    assert (_rows_used(h, kh, sh, ph, oh), _rows_used(w, kw, sw, pw, ow)) == (hp, wp)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2),
       st.booleans(), st.booleans())
def test_padded_size_and_divisor_against_definition(h, w, k, s, p, ceil, include_pad):
    assume(2 * p <= k and min(h, w) + 2 * p >= k)      # PyTorch's own limits
    layer = AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
    oh, ow = output_hw(layer, (1, h, w, 1), "pool")
    assert padded_size((h, w), (k, k), (s, s), (p, p), (oh, ow)) == (_rows_used(h, k, s, p, oh),
                                                                      _rows_used(w, k, s, p, ow))
    expected = np.outer(_torch_divisor(h, k, s, p, oh, include_pad), _torch_divisor(w, k, s, p, ow, include_pad))
    got = avg_pool_divisor((h, w), (k, k), (s, s), (p, p), (oh, ow), include_pad, np.float64)
    assert got.shape == (1, oh, ow, 1) and got.dtype == np.float64
    np.testing.assert_array_equal(got[0, :, :, 0], expected)


@pytest.mark.parametrize("batch, out_hw", [(1, (1, 1)), (3, (7, 8)), (2, (56, 55))])
def test_tile_count_covers_the_output(batch, out_hw):
    """Count the 2x2 tiles whose top-left corner is inside the output."""
    corners = [(i, j) for i in range(0, out_hw[0], 2) for j in range(0, out_hw[1], 2)]
    assert winograd.tile_count(batch, out_hw) == batch * len(corners)
    assert winograd.tile_grid(out_hw) == (len(range(0, out_hw[0], 2)), len(range(0, out_hw[1], 2)))
