"""Pooling and local response normalisation against their definitions."""


import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import engine
from helpers.layers import (
    AvgPool2d,
    LocalResponseNorm,
    MaxPool2d,
)
from helpers.model import Sequential
from reference.pipelines import pipeline_mode
from reference.pooling import torch_free_pool_reference


@pytest.mark.parametrize("k, s, p, ceil", [(3, 2, 0, False), (3, 2, 1, False), (2, 2, 0, True),
                                           (3, 2, 1, True), (3, 1, 1, False), (5, 3, 2, True)])
@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("batch, serial", [(2, True), (1, False), (3, False)])
def test_pooling_equals_definition(k, s, p, ceil, op, batch, serial):
    """Also split between two threads by output rows, within one image (batch 1) and across
    images (batch 3), each piece padded on its own."""
    x = np.random.default_rng(0).standard_normal((batch, 3, 11, 9)).astype(np.float32)
    layer = (MaxPool2d if op == "max" else AvgPool2d)(k, s, p, ceil_mode=ceil)
    with pipeline_mode(serial):
        got = engine.forward(Sequential(layer), {}, x)
    np.testing.assert_allclose(got, torch_free_pool_reference(x, k, s, p, op, ceil), rtol=1e-5, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_max_pool_of_any_geometry_equals_definition(data):
    """Kernel, stride, padding and dilation chosen per axis (strides beyond the kernel,
    ``ceil_mode``), inputs with NaN and -inf, split between threads or not: the engine's
    separable max pooling against the window-by-window definition (NaN wins, as in torch)."""
    pair = lambda lo, hi: data.draw(st.tuples(st.integers(lo, hi), st.integers(lo, hi)))   # noqa: E731
    k, s, d = pair(1, 4), pair(1, 5), pair(1, 2)
    p = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    ceil, batch, serial = data.draw(st.booleans()), data.draw(st.integers(1, 3)), data.draw(st.booleans())
    h, w = pair(1, 12)
    try:
        layer = MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)
        layer.output_shape((2, h, w))
    except ValueError:
        assume(False)
    x = np.random.default_rng(h * 13 + w).standard_normal((batch, 2, h, w)).astype(np.float32)
    x.flat[data.draw(st.integers(0, x.size - 1))] = np.nan
    x.flat[data.draw(st.integers(0, x.size - 1))] = -np.inf
    with pipeline_mode(serial):
        got = engine.forward(Sequential(layer), {}, x)
    np.testing.assert_array_equal(got, torch_free_pool_reference(x, k, s, p, "max", ceil, d=d).astype(np.float32))


@pytest.mark.parametrize("size, beta", [(5, 0.75), (4, 0.6), (1, 0.75)])
@pytest.mark.parametrize("batch, serial", [(2, True), (1, False), (3, False)])
def test_lrn_equals_definition(size, beta, batch, serial):
    x = np.random.default_rng(0).standard_normal((batch, 7, 4, 5)).astype(np.float32)
    alpha, k = 1e-1, 2.0
    ref = np.empty_like(x, dtype=np.float64)
    for c in range(7):                       # torch: window c - size//2 .. c + (size-1)//2
        lo, hi = max(0, c - size // 2), min(7, c + (size - 1) // 2 + 1)
        ref[:, c] = x[:, c] / (k + alpha / size * (x[:, lo:hi].astype(np.float64) ** 2).sum(axis=1)) ** beta
    with pipeline_mode(serial):
        got = engine.forward(Sequential(LocalResponseNorm(size, alpha, beta, k)), {}, x)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


# ceil_mode windows larger than the whole padded input along one axis, which PyTorch keeps
# (they start inside the input and hang over its end by less than a stride):
# (kernel, stride, padding, dilation, H, W); each gives one output row
OVERSIZED = [(3, 2, 0, 1, 2, 3), (5, 4, 1, 1, 2, 5), (3, 3, 0, 1, 1, 4), (3, 3, 1, 2, 2, 6)]


def oversized_layer(op, k, s, p, d, include_pad=True):
    if op == "max":
        return MaxPool2d(k, s, p, dilation=d, ceil_mode=True)
    return AvgPool2d(k, s, p, ceil_mode=True, count_include_pad=include_pad)


def oversized_cases():
    return [(op, case, include) for case in OVERSIZED for op, include in
            [("max", True), ("avg", True), ("avg", False)] if op == "max" or case[3] == 1]


def _training_pool(op, x, dy, k, s, p, out, include_pad):
    """The training pass's pooling of NHWC ``x`` and its input gradient for ``dy``."""
    from helpers.engine import backward_pool as bp
    if op == "max":
        y = bp.max_pool_forward(x, (k, k), (s, s), (p, p), out)
        return y, bp.max_pool_backward(dy, x, y, (k, k), (s, s), (p, p))
    y = bp.avg_pool_forward(x, (k, k), (s, s), (p, p), out, include_pad)
    return y, bp.avg_pool_backward(dy, x.shape, (k, k), (s, s), (p, p), include_pad)


@pytest.mark.parametrize("op, case, include_pad", oversized_cases())
@pytest.mark.parametrize("batch, serial", [(2, True), (1, False)])
def test_ceil_mode_window_larger_than_the_input_equals_definition(op, case, include_pad, batch, serial):
    """Inference: the engine pools such a window as the window-by-window definition does
    (tests/reference/pooling.py, which enumerates the windows itself)."""
    k, s, p, d, h, w = case
    x = np.random.default_rng(3).standard_normal((batch, 2, h, w)).astype(np.float32)
    want = torch_free_pool_reference(x, k, s, p, op, True, include_pad, d)
    assert want.shape[2] == 1 and d * (k - 1) + 1 > h + 2 * p
    with pipeline_mode(serial):
        got = engine.forward(Sequential(oversized_layer(op, k, s, p, d, include_pad)), {}, x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op, case, include_pad", [c for c in oversized_cases() if c[1][3] == 1])
def test_ceil_mode_window_larger_than_the_input_trains_as_the_definition(op, case, include_pad):
    """Training (float64, NHWC): forward and input gradient of such a window against the
    window-by-window definition and its gradient."""
    from helpers.engine.nhwc import output_hw
    from reference.pooling import torch_free_pool_gradient
    k, s, p, _, h, w = case
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, h, w, 3))
    out = output_hw(oversized_layer(op, k, s, p, 1, include_pad), x.shape, "pool")
    dy = rng.standard_normal((2, *out, 3))
    nchw, dy_nchw = x.transpose(0, 3, 1, 2), dy.transpose(0, 3, 1, 2)
    y, dx = _training_pool(op, x, dy, k, s, p, out, include_pad)
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), torch_free_pool_reference(nchw, k, s, p, op, True, include_pad),
                               rtol=1e-12)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2),
                               torch_free_pool_gradient(nchw, dy_nchw, k, s, p, op, True, include_pad), rtol=1e-12)


@pytest.mark.parametrize("op, case, include_pad", oversized_cases())
def test_ceil_mode_window_larger_than_the_input_equals_torch(op, case, include_pad, torch):
    """The same windows in PyTorch: the inference engine's output, and (undilated) the
    training forward and input gradient against autograd."""
    from helpers.engine.nhwc import output_hw
    k, s, p, d, h, w = case
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, h, w))
    t = torch.from_numpy(x).requires_grad_()
    pool = (torch.nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=True) if op == "max"
            else torch.nn.AvgPool2d(k, s, p, ceil_mode=True, count_include_pad=include_pad))
    want = pool(t)
    layer = oversized_layer(op, k, s, p, d, include_pad)
    got = engine.forward(Sequential(layer), {}, x.astype(np.float32))
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-6, atol=1e-6)
    if d != 1:
        return
    dy = rng.standard_normal(tuple(want.shape))
    want.backward(torch.from_numpy(dy))
    nhwc, dy_nhwc = x.transpose(0, 2, 3, 1).copy(), dy.transpose(0, 2, 3, 1).copy()
    y, dx = _training_pool(op, nhwc, dy_nhwc, k, s, p, output_hw(layer, nhwc.shape, "pool"), include_pad)
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), want.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), t.grad.numpy(), rtol=1e-12)
