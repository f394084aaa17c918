"""The numpy engine: fast paths against the naive loops and independent references."""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import engine, zoo
from helpers.engine import kernels, threads, winograd
from helpers.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    GlobalAvgPool,
    Linear,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    SpaceToDepth,
)
from helpers.model import Parallel, Sequential
from helpers.receptive import final_field
from helpers.space_to_depth import restack_weights, space_to_depth
from helpers.summaries import summary
from reference.conv import naive_conv_counting


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    k = draw(st.sampled_from([1, 2, 3, 5]))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.sampled_from([0, 1, 2, "same"])) if stride == 1 else draw(st.integers(0, 2))
    size = draw(st.integers(dilation * (k - 1) + 1, 11))
    batch = draw(st.integers(1, 3))
    return Conv2d(c_out, k, stride, padding, dilation, groups, draw(st.booleans())), (c_in, size, size), batch


@settings(max_examples=40, deadline=None)
@given(conv_cases(), st.integers(0, 1000))
def test_fast_convolution_equals_naive(case, seed):
    layer, shape, batch = case
    model = Sequential(("c", layer))
    params = engine.init_params(model, shape, seed)
    x = np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)
    fast, naive = engine.forward(model, params, x), engine.forward(model, params, x, conv="naive")
    np.testing.assert_allclose(fast, naive, rtol=1e-4, atol=1e-4)
    assert fast.shape[1:] == summary(model, shape).rows[-1].output


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


def pipeline_mode(serial):
    """The BLAS switch as found, or (``serial``) as if the BLAS could not be switched."""
    from unittest import mock
    return mock.patch.object(threads, "_FUNCTIONS", (None, None)) if serial else contextlib.nullcontext()


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


@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 7))
def test_segments_cover_the_range_within_images(start, length, per_image):
    pieces = list(kernels.segments(start, start + length, per_image))
    rows = [image * per_image + r for image, r0, r1, _ in pieces for r in range(r0, r1)]
    assert rows == list(range(start, start + length))
    assert all(0 <= r0 < r1 <= per_image for _, r0, r1, _ in pieces)
    assert [offset for *_, offset in pieces] == [rows.index(i * per_image + r0) for i, r0, _, _ in pieces]


def test_blas_switch_is_restored_and_optional(monkeypatch):
    before = threads.threads()
    with threads.single_threaded() as cores:
        assert cores == before
        assert threads.threads() == (1 if cores else None)
    assert threads.threads() == before
    monkeypatch.setattr(threads, "_FUNCTIONS", (None, None))
    with threads.single_threaded() as cores:
        assert cores is None and threads.threads() is None
    seen = []
    kernels.pipelines(5, lambda thread, i, j: seen.append((thread, i, j)))
    assert seen == [(0, 0, 5)]


@pytest.mark.parametrize("cores", [1, 2, 3, 5])
def test_one_pipeline_per_blas_thread(monkeypatch, cores):
    """As many pipelines as the BLAS had threads, covering the range once, each seeing a
    single-threaded BLAS; the thread count is restored afterwards."""
    state = {"threads": cores}
    monkeypatch.setattr(threads, "_FUNCTIONS", (lambda: state["threads"], lambda n: state.update(threads=n)))
    seen = []
    kernels.pipelines(11, lambda part, i, j: seen.append((part, i, j, state["threads"])))
    assert sorted(p for p, *_ in seen) == list(range(cores))
    assert sorted(r for _, i, j, _ in seen for r in range(i, j)) == list(range(11))
    assert {t for *_, t in seen} == {1} and state["threads"] == cores


@pytest.mark.parametrize("serial", [False, True], ids=["two pipelines", "serial fallback"])
def test_dense_layer_pipelines_equal_numpy(serial):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((5, 37), (23, 37), (23,)))
    with pipeline_mode(serial):
        np.testing.assert_allclose(kernels.linear(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(kernels.linear(x[:1], w[:1], None), x[:1] @ w[:1].T, rtol=1e-5, atol=1e-5)


def torch_free_pool_reference(x, k, s, p, op, ceil_mode=False):
    """Pooling from the definition, one window at a time (NCHW, PyTorch rules)."""
    n, c, h, w = x.shape
    from helpers.formulas import pool_output_size
    oh, ow = pool_output_size(h, k, s, p, 1, ceil_mode), pool_output_size(w, k, s, p, 1, ceil_mode)
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - p, j * s - p
            r1, c1 = min(r0 + k, h + p), min(c0 + k, w + p)        # window clipped to padded input
            window = x[:, :, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if op == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                out[:, :, i, j] = window.sum(axis=(2, 3)) / ((r1 - r0) * (c1 - c0))
    return out


@pytest.mark.parametrize("k, s, p, ceil", [(3, 2, 0, False), (3, 2, 1, False), (2, 2, 0, True),
                                           (3, 2, 1, True), (3, 1, 1, False), (5, 3, 2, True)])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_equals_definition(k, s, p, ceil, op):
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 9)).astype(np.float32)
    layer = (MaxPool2d if op == "max" else AvgPool2d)(k, s, p, ceil_mode=ceil)
    got = engine.forward(Sequential(layer), {}, x)
    np.testing.assert_allclose(got, torch_free_pool_reference(x, k, s, p, op, ceil), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, beta", [(5, 0.75), (4, 0.6), (1, 0.75)])
def test_lrn_equals_definition(size, beta):
    x = np.random.default_rng(0).standard_normal((2, 7, 4, 5)).astype(np.float32)
    alpha, k = 1e-1, 2.0
    ref = np.empty_like(x, dtype=np.float64)
    for c in range(7):                       # torch: window c - size//2 .. c + (size-1)//2
        lo, hi = max(0, c - size // 2), min(7, c + (size - 1) // 2 + 1)
        ref[:, c] = x[:, c] / (k + alpha / size * (x[:, lo:hi].astype(np.float64) ** 2).sum(axis=1)) ** beta
    got = engine.forward(Sequential(LocalResponseNorm(size, alpha, beta, k)), {}, x)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_batchnorm_relu_dense_and_merges():
    model = Sequential(("conv", Conv2d(4, 3, padding=1)), ("bn", BatchNorm2d()), ("relu", ReLU()),
                       ("res", Parallel(("", Sequential(("c", Conv2d(4, 1)))), ("", Sequential()), merge="add")),
                       ("cat", Parallel(("a", Conv2d(2, 1)), ("b", ReLU()))),
                       ("gap", GlobalAvgPool()), ("fc", Linear(3)))
    params = engine.init_params(model, (2, 6, 6), seed=1)
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 6)).astype(np.float32)
    p = params
    # independent reference in NCHW
    h, _ = naive_conv_counting(x[0].astype(np.float64), p["conv"]["weight"].astype(np.float64), 1, 1, 1, 1)
    h += p["conv"]["bias"][:, None, None]
    bn = p["bn"]
    h = (h - bn["running_mean"][:, None, None]) / np.sqrt(bn["running_var"][:, None, None] + 1e-5)
    h = np.maximum(h * bn["weight"][:, None, None] + bn["bias"][:, None, None], 0)
    r, _ = naive_conv_counting(h, p["res.c"]["weight"].astype(np.float64), 1, 0, 1, 1)
    h = h + r + p["res.c"]["bias"][:, None, None]
    a, _ = naive_conv_counting(h, p["cat.a"]["weight"].astype(np.float64), 1, 0, 1, 1)
    h = np.concatenate([a + p["cat.a"]["bias"][:, None, None], np.maximum(h, 0)])
    ref = p["fc"]["weight"] @ h.mean(axis=(1, 2)) + p["fc"]["bias"]
    np.testing.assert_allclose(engine.forward(model, params, x)[0], ref, rtol=1e-4, atol=1e-5)


def test_shared_branch_input_is_not_modified_in_place():
    model = Sequential(("c", Conv2d(3, 1)), ("p", Parallel(("r", ReLU()), ("i", Sequential()))))
    params = engine.init_params(model, (3, 4, 4))
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 4)).astype(np.float32)
    y = engine.forward(model, params, x)
    np.testing.assert_array_equal(y[:, :3], np.maximum(y[:, 3:], 0))
    assert (y[:, 3:] < 0).any()


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_shapes_and_parameter_counts_match_summary(name):
    entry = zoo.entry(name)
    model = entry.build()
    params = engine.init_params(model, entry.input_shape, seed=0)
    s = summary(name)
    assert engine.param_count(params) == s.totals["params"]
    if s.totals["macs"] < 5e9:
        x = np.zeros((1, *entry.input_shape), dtype=np.float32)
        _, times = engine.forward(model, params, x, profile=True)
        assert [t.name for t in times] == [r.name for r in s.rows]


def test_tiny_models_fast_equals_naive():
    for name in ("tiny-cnn", "tiny-branch"):
        entry = zoo.entry(name)
        params = engine.init_params(entry.build(), entry.input_shape, seed=3)
        x = np.random.default_rng(3).standard_normal((2, *entry.input_shape)).astype(np.float32)
        np.testing.assert_allclose(engine.forward(entry.build(), params, x),
                                   engine.forward(entry.build(), params, x, conv="naive"), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", [
    Sequential(Conv2d(1, 3), Conv2d(1, 3, stride=2), Conv2d(1, 3, dilation=2), MaxPool2d(3, 2)),
    Sequential(Conv2d(1, 5, stride=2, padding=2), AvgPool2d(2), Conv2d(1, 3, padding=1)),
    Sequential(Conv2d(1, 4, stride=4), SpaceToDepth(2), Conv2d(1, 2)),
])
def test_receptive_field_by_impulse_through_the_engine(model):
    params = engine.init_params(model, (1, 64, 64))
    for p in params.values():                       # positive weights: nothing cancels
        p["weight"] = np.abs(p["weight"]) + 0.1
        p.pop("bias", None)
    field, size = final_field(model), 64
    base = engine.forward(model, params, np.zeros((1, 1, size, size), np.float32))
    centre = base.shape[2] // 2

    def impulse(c):
        return np.eye(1, size * size, size * (size // 2) + c, dtype=np.float32).reshape(1, 1, size, size)

    reached = [c for c in range(size) if engine.forward(model, params, impulse(c))[0, :, centre, centre].any()]
    assert min(reached) == centre * field.stride - field.padding
    assert max(reached) - min(reached) + 1 == field.size


def test_restacked_convolution_equals_original_in_the_engine():
    original, restacked = zoo.get("tpu-conv1"), zoo.get("tpu-conv1-s2d")
    params = engine.init_params(original, (3, 220, 220), seed=4)
    stacked = {"conv": {"weight": restack_weights(params["conv"]["weight"], 4), "bias": params["conv"]["bias"]}}
    x = np.random.default_rng(4).standard_normal((2, 3, 220, 220)).astype(np.float32)
    np.testing.assert_allclose(engine.forward(restacked, stacked, x), engine.forward(original, params, x),
                               rtol=1e-4, atol=1e-4)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(kernels.space_to_depth(nhwc, 4)[1],
                                  space_to_depth(x[1], 4).transpose(1, 2, 0))


def test_bad_input():
    model = zoo.get("tiny-cnn")
    params = engine.init_params(model, (3, 16, 16))
    with pytest.raises(ValueError, match="input must be"):
        engine.forward(model, params, np.zeros((3, 16, 16)))
    with pytest.raises(ValueError, match="kernel 3 is larger than the padded input"):
        engine.forward(model, params, np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match="conv must be"):
        engine.forward(model, params, np.zeros((1, 3, 16, 16)), conv="winograd-please")


@pytest.mark.parametrize("name", ["tiny-cnn", "tpu-conv1", "tiny-branch"])
def test_results_survive_the_next_pass_and_inputs_are_untouched(name):
    entry = zoo.entry(name)
    model = entry.build()
    params = engine.init_params(model, entry.input_shape, seed=5)
    rng = np.random.default_rng(5)
    x1, x2 = (rng.standard_normal((2, *entry.input_shape)).astype(np.float32) for _ in range(2))
    x1_copy = x1.copy()
    y1 = engine.forward(model, params, x1)
    y1_copy = y1.copy()
    y2 = engine.forward(model, params, x2)
    np.testing.assert_array_equal(y1, y1_copy)          # not overwritten by the second pass
    np.testing.assert_array_equal(x1, x1_copy)          # the caller's input is never written
    assert not np.shares_memory(y1, y2)
    np.testing.assert_allclose(engine.forward(model, params, x1), y1_copy, rtol=1e-6, atol=1e-6)
