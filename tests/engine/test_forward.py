"""The forward pass: fast paths against the naive loops and independent references."""


import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import engine, zoo
from helpers.engine import pooling
from helpers.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    GlobalAvgPool,
    Linear,
    MaxPool2d,
    ReLU,
    SpaceToDepth,
)
from helpers.model import Parallel, Sequential, trace
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
    np.testing.assert_array_equal(pooling.space_to_depth(nhwc, 4)[1],
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


def test_a_model_traced_once_still_checks_and_sizes_every_input():
    """The trace is kept per model and input shape: a second shape gets its own, a bad shape
    is refused on every call, and another model with equal layers is traced for itself."""
    def build():
        return Sequential(Conv2d(4, 3, padding=1), ReLU(), Conv2d(2, 3, stride=2))
    model = build()
    params = engine.init_params(model, (3, 8, 8))
    for size, out in ((8, 3), (12, 5), (8, 3)):
        assert engine.forward(model, params, np.ones((1, 3, size, size), np.float32)).shape == (1, 2, out, out)
    for _ in range(2):
        with pytest.raises(ValueError, match="kernel 3 is larger than the padded input"):
            engine.forward(model, params, np.zeros((1, 3, 2, 2), np.float32))
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(engine.forward(build(), params, x), engine.forward(model, params, x))
    traced = sys.modules["helpers.engine.forward"]._traced         # the per-layer MACs that pick the threads
    for size in (8, 12, 8):
        leaves, mean = traced(model, (3, size, size))
        assert [shape for *_, shape in leaves] == [shape for *_, shape in trace(model, (3, size, size))]
        assert mean == (model.children[0][1].macs((3, size, size)) + model.children[2][1].macs(leaves[2][2])) / 2
    with pytest.raises(AttributeError, match="cannot change once built"):
        model.children = model.children[:1]


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
