"""The NHWC convolution and dense kernels against the definition, in both pipeline modes."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.engine import kernels, winograd
from reference.conv import naive_conv_counting
from reference.pipelines import pipeline_mode


@pytest.mark.parametrize("serial", [False, True], ids=["two pipelines", "serial fallback"])
@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(2, 9), st.integers(1, 2), st.sampled_from([1, 3, 5]),
       st.integers(1, 2), st.integers(1, 5000), st.integers(0, 99))
def test_blocks_that_span_images_give_the_definition(serial, batch, size, groups, k, stride, budget, seed):
    """Tiny per-pipeline budgets make blocks of one or a few output rows that cross image
    boundaries; the result must still be the convolution's definition."""
    with pipeline_mode(serial):
        _check_blocks(batch, size, groups, k, stride, budget, seed)


def _check_blocks(batch, size, groups, k, stride, budget, seed):
    rng = np.random.default_rng(seed)
    c_in, c_out, pad = 2 * groups, 3 * groups, k // 2
    x = rng.standard_normal((batch, size, size, c_in)).astype(np.float32)
    w = rng.standard_normal((c_out, c_in // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    out = (size + 2 * pad - k) // stride + 1
    y, _ = kernels.conv2d(x, w, b, (stride, stride), ((pad, pad), (pad, pad)), (1, 1), groups, (out, out), budget)
    for i in range(batch):
        ref, _ = naive_conv_counting(x[i].transpose(2, 0, 1).astype(np.float64), w.astype(np.float64),
                                     stride, pad, 1, groups)
        np.testing.assert_allclose(y[i].transpose(2, 0, 1), ref + b[:, None, None], rtol=1e-4, atol=1e-4)



@pytest.mark.parametrize("serial", [False, True], ids=["two pipelines", "serial fallback"])
def test_dense_layer_pipelines_equal_numpy(serial):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((5, 37), (23, 37), (23,)))
    with pipeline_mode(serial):
        np.testing.assert_allclose(kernels.linear(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(kernels.linear(x[:1], w[:1], None), x[:1] @ w[:1].T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", [3, 1])
@pytest.mark.parametrize("c_mid, hw", [(256, 4), (8, 9)])
def test_a_chained_pointwise_layer_sees_every_pixel_once(kernel, c_mid, hw):
    """``conv2d(..., then=pointwise_then(...))`` gives the two layers one after the other
    when the first splits its pixels between the pipelines (each hands its share on), and
    is refused when it splits its channels (256 of them on 16 pixels: no pipeline has a
    whole pixel)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, hw, hw, 8)).astype(np.float32)
    w1 = rng.standard_normal((c_mid, 8, kernel, kernel)).astype(np.float32)
    b1 = rng.standard_normal(c_mid).astype(np.float32)
    w2 = rng.standard_normal((5, c_mid, 1, 1)).astype(np.float32)
    b2 = rng.standard_normal(5).astype(np.float32)
    add = rng.standard_normal((2, hw, hw, 5)).astype(np.float32)
    pads = ((kernel // 2,) * 2,) * 2
    with pipeline_mode(serial=False):
        assert kernels.splits_channels(2 * hw * hw, c_mid) == (c_mid == 256)
        mid, _ = kernels.conv2d(x, w1, b1, (1, 1), pads, (1, 1), 1, (hw, hw), relu=True)
        want, _ = kernels.conv2d(mid, w2, b2, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, (hw, hw), add=add, relu=True)
        out = np.full((2, hw, hw, 5), np.nan, np.float32)
        then = kernels.pointwise_then(w2, b2, out, add=add, relu=True)
        if c_mid == 256:
            with pytest.raises(ValueError, match="splits its channels"):
                kernels.conv2d(x, w1, b1, (1, 1), pads, (1, 1), 1, (hw, hw), relu=True, then=then)
            return
        got_mid, _ = kernels.conv2d(x, w1, b1, (1, 1), pads, (1, 1), 1, (hw, hw), relu=True, then=then)
    np.testing.assert_array_equal(got_mid, mid)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", ["im2col", "grouped", "winograd", "winograd, odd size", "1x1"])
@pytest.mark.parametrize("serial", [False, True], ids=["two pipelines", "serial fallback"])
def test_a_channel_of_ones_carries_the_next_layers_bias(kernel, serial):
    """A layer computed with ``ones=True`` has its own output plus a channel of exact ones,
    with every kernel; a 1x1 layer chained after it with ``ones=True`` (its bias in its
    GEMM) equals that layer run on its own."""
    rng = np.random.default_rng(3)
    c_in, c_mid, k, groups, hw = {"im2col": (5, 6, 3, 1, (8, 6)), "grouped": (6, 4, 3, 2, (8, 6)),
                                  "winograd": (128, 128, 3, 1, (8, 6)),
                                  "winograd, odd size": (128, 128, 3, 1, (7, 5)), "1x1": (5, 6, 1, 1, (8, 6))}[kernel]
    x = rng.standard_normal((2, *hw, c_in)).astype(np.float32)
    w1 = (0.1 * rng.standard_normal((c_mid, c_in // groups, k, k))).astype(np.float32)
    b1 = rng.standard_normal(c_mid).astype(np.float32)
    w2, b2 = rng.standard_normal((4, c_mid, 1, 1)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    pads, none = ((k // 2,) * 2,) * 2, ((0, 0), (0, 0))

    def first(then=None):
        ones = then is not None
        if kernel.startswith("winograd"):
            return winograd.conv2d_winograd(x, w1, b1, pads, hw, relu=True, then=then, ones=ones)[0]
        return kernels.conv2d(x, w1, b1, (1, 1), pads, (1, 1), groups, hw, relu=True, then=then, ones=ones)[0]
    with pipeline_mode(serial):
        mid = first().copy()
        want = kernels.conv2d(mid, w2, b2, (1, 1), none, (1, 1), 1, hw, relu=True)[0].copy()
        out = np.full((2, *hw, 4), np.nan, np.float32)
        got = first(then=kernels.pointwise_then(w2, b2, out, relu=True, ones=True))
    assert got.shape == (2, *hw, c_mid + 1)
    np.testing.assert_array_equal(got[..., c_mid], 1.0)
    np.testing.assert_allclose(got[..., :c_mid], mid, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
