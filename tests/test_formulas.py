"""Scalar formulas against brute force: sliding windows, multiply-counting loops,
actual weight arrays, PyTorch's own pooling sizes, and their symbolic twins."""

import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from helpers import formulas as f
from helpers.layers import AvgPool2d, Conv2d, Linear, MaxPool2d
from helpers.symbols import D, F, L, P, S
from reference.conv import naive_conv_counting
from reference.pooling import window_starts

DATA = Path(__file__).parent / "data"


@st.composite
def window_cases(draw):
    k = draw(st.integers(1, 5))
    d = draw(st.integers(1, 3))
    p = draw(st.integers(0, 3))
    s = draw(st.integers(1, 4))
    size = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 20))
    return size, k, s, p, d


def test_dilated_extent_is_the_span_of_the_taps():
    for k in range(1, 8):
        for d in range(1, 5):
            taps = np.arange(k) * d                       # tap offsets within the window
            assert f.dilated_extent(k, d) == taps[-1] - taps[0] + 1
            assert f.dilated_extent(F, D).subs({F: k, D: d}) == taps[-1] + 1      # the symbolic form too


@given(window_cases())
def test_output_size_matches_sliding_windows(case):
    size, k, s, p, d = case
    x = np.pad(np.arange(size), p)
    span = d * (k - 1) + 1
    windows = sliding_window_view(x, span)[::s]          # every window start, stepped
    assert f.output_size(size, k, s, p, d) == windows.shape[0]


@given(window_cases(), st.integers(0, 3))
def test_asymmetric_padding_matches_sliding_windows(case, extra):
    size, k, s, p, d = case
    x = np.pad(np.arange(size), (p, p + extra))
    if x.size < d * (k - 1) + 1:
        return
    assert f.output_size(size, k, s, (p, p + extra), d) == sliding_window_view(x, d * (k - 1) + 1)[::s].shape[0]


def test_pool_sizes_match_pytorch():
    table = json.loads((DATA / "torch_pool_sizes.json").read_text())
    assert len(table["rows"]) > 500
    for size, k, s, p, ceil, out in table["rows"]:
        assert f.pool_output_size(size, k, s, p, 1, bool(ceil)) == out, (size, k, s, p, ceil)


def pool_cases():
    """Every pooling geometry on one axis up to size 8, kernel 6, stride 4, dilation 3, with
    PyTorch's padding limit (at most half the kernel), both rounding modes."""
    return [(size, k, s, p, d, ceil) for size in range(1, 9) for k in range(1, 7) for s in range(1, 5)
            for p in range(k // 2 + 1) for d in (1, 2, 3) for ceil in (False, True)]


def pool_spec_size(layer, size):
    """The spec's output width for a 1 x 1 x size input, 0 if it refuses the input."""
    try:
        return layer.output_shape((1, 1, size))[2]
    except ValueError:
        return 0


def test_pool_sizes_count_the_windows():
    """pool_output_size and the pooling specs against the windows enumerated one by one
    (tests/reference/pooling.py), including ceil_mode windows larger than the padded
    input (one output) and inputs no window fits (refused)."""
    for size, k, s, p, d, ceil in pool_cases():
        windows = len(window_starts(size, k, s, p, ceil, d))
        assert max(f.pool_output_size(size, k, s, p, d, ceil), 0) == windows, (size, k, s, p, d, ceil)
        specs = [MaxPool2d((1, k), (1, s), (0, p), ceil, dilation=(1, d))]
        specs += [AvgPool2d((1, k), (1, s), (0, p), ceil)] if d == 1 else []
        assert [pool_spec_size(spec, size) for spec in specs] == [windows] * len(specs), (size, k, s, p, d, ceil)


def test_pool_sizes_and_refusals_match_pytorch(torch):
    """The pooling specs against PyTorch's own max and average pooling on the same grid: the
    same output width, and a refusal exactly where PyTorch raises."""
    tf = torch.nn.functional

    def torch_size(fn, size, **kwargs):
        try:
            return fn(torch.zeros(1, 1, 1, size), **kwargs).shape[-1]
        except RuntimeError:
            return 0
    for size, k, s, p, d, ceil in pool_cases():
        geometry = dict(kernel_size=(1, k), stride=(1, s), padding=(0, p), ceil_mode=ceil)
        assert pool_spec_size(MaxPool2d(**geometry, dilation=(1, d)), size) == \
            torch_size(tf.max_pool2d, size, dilation=(1, d), **geometry), (size, k, s, p, d, ceil)
        if d == 1:
            assert pool_spec_size(AvgPool2d(**geometry), size) == torch_size(tf.avg_pool2d, size, **geometry)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("d", [1, 2])
def test_same_padding_keeps_size(k, d):
    before, after = f.same_padding(k, d)
    assert after - before in (0, 1)
    for size in range(d * (k - 1) + 1, 30):
        assert f.output_size(size, k, 1, (before, after), d) == size


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 2), st.integers(1, 2), st.integers(5, 9))
def test_conv_macs_and_params_match_brute_force(groups, cg, og, stride, padding, dilation, size):
    c_in, c_out, k = groups * cg, groups * og, 3
    if dilation * (k - 1) + 1 > size + 2 * padding:
        return
    layer = Conv2d(c_out, k, stride=stride, padding=padding, dilation=dilation, groups=groups)
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((c_out, c_in // groups, k, k))
    bias = rng.standard_normal(c_out)
    x = rng.standard_normal((c_in, size, size))
    out, mults = naive_conv_counting(x, weight, stride, padding, dilation, groups)
    assert layer.output_shape(x.shape) == out.shape
    assert layer.macs(x.shape) == mults
    assert layer.params(x.shape) == weight.size + bias.size
    oh, ow = out.shape[1:]
    assert f.conv2d_elems(size, size, oh, ow, c_in, c_out, k, k, groups) == x.size + out.size + weight.size


@given(st.integers(1, 50), st.integers(1, 50))
def test_linear_macs_and_params_match_arrays(n_in, n_out):
    x = np.ones(n_in)
    weight, bias = np.ones((n_out, n_in)), np.ones(n_out)
    mults = sum(1 for o in range(n_out) for i in range(n_in))   # one multiply per weight use
    assert Linear(n_out).macs((n_in,)) == mults == (weight @ x).size * n_in
    assert Linear(n_out).params((n_in,)) == weight.size + bias.size


def test_gemm_counts_match_a_loop():
    M, N, K = 3, 4, 5
    mults = sum(1 for _ in np.ndindex(M, N, K))
    assert f.gemm_macs(M, N, K) == mults
    assert f.gemm_elems(M, N, K) == np.ones((M, K)).size + np.ones((K, N)).size + np.ones((M, N)).size


def test_same_function_serves_ints_arrays_and_symbols():
    sizes = np.arange(7, 40)
    assert list(f.output_size(sizes, 3, 2, 1)) == [f.output_size(int(n), 3, 2, 1) for n in sizes]
    expr = f.output_size(L, F, S, P, D)
    for values in [(227, 11, 4, 0, 1), (32, 3, 1, 1, 1), (14, 3, 2, 2, 2), (9, 4, 3, 0, 1)]:
        subs = dict(zip((L, F, S, P, D), values, strict=True))
        assert expr.subs(subs) == f.output_size(*values)


def test_counts_are_exact_python_ints():
    assert type(f.conv2d_macs(55, 55, 3, 96, 11, 11)) is int
    assert type(f.conv2d_params(3, 96, 11, 11, bias=False)) is int
    assert f.conv2d_params(3, 96, 11, 11, bias=False) == 34848
    assert f.flops(f.linear_macs(10**6, 10**6)) == 2 * 10**12


def test_symbolic_macs_expand_to_a_product():
    N_i, N_o, F_r, F_c, M_r, M_c = sp.symbols("N_i N_o F_r F_c M_r M_c", positive=True, integer=True)
    assert sp.simplify(f.conv2d_macs(M_r, M_c, N_i, N_o, F_r, F_c) - M_r * M_c * N_o * N_i * F_r * F_c) == 0
