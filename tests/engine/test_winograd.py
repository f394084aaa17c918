"""Winograd F(2x2, 3x3) against im2col and the definition, across block boundaries."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.engine import kernels, winograd
from reference.conv import naive_conv_counting
from reference.pipelines import pipeline_mode


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 24), st.integers(1, 24), st.integers(3, 12), st.integers(0, 99))
def test_winograd_equals_im2col(batch, c_in, c_out, size, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, size, size, c_in)).astype(np.float32)
    w = rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    for pad in (0, 1):
        out = size + 2 * pad - 2
        if out < 1:
            continue
        wino, _ = winograd.conv2d_winograd(x, w, b, ((pad, pad), (pad, pad)), (out, out))
        gemm, _ = kernels.conv2d(x, w, b, (1, 1), ((pad, pad), (pad, pad)), (1, 1), 1, (out, out))
        np.testing.assert_allclose(wino, gemm, rtol=1e-4, atol=1e-4)
        ref, _ = naive_conv_counting(x[0].transpose(2, 0, 1).astype(np.float64), w.astype(np.float64), 1, pad, 1, 1)
        np.testing.assert_allclose(wino[0].transpose(2, 0, 1), ref + b[:, None, None], rtol=1e-4, atol=1e-4)



@pytest.mark.parametrize("serial", [False, True], ids=["two pipelines", "serial fallback"])
@settings(max_examples=20, deadline=None)
@given(st.integers(2, 4), st.integers(3, 10), st.integers(1, 30000), st.integers(0, 99))
def test_winograd_blocks_that_span_images(serial, batch, size, budget, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, size, size, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out = size - 2
    with pipeline_mode(serial):
        wino, _ = winograd.conv2d_winograd(x, w, b, ((0, 0), (0, 0)), (out, out), budget)
    gemm, _ = kernels.conv2d(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, (out, out))
    np.testing.assert_allclose(wino, gemm, rtol=1e-4, atol=1e-4)
