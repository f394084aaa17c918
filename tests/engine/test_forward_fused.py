"""The engine's fused fast path: batch norms folded into convolutions, ReLUs and residual
additions applied per block, 1x1 convolutions as plain GEMMs, output channels split
between pipelines, and the pool of activation buffers. Every result is compared with
the naive path (each layer on its own, batch norms unfolded) or a definition."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import engine
from helpers.engine import kernels, weights, winograd
from helpers.engine.buffers import POOL, ActivationPool
from helpers.layers import BatchNorm2d, Conv2d, GlobalAvgPool, Linear, MaxPool2d, ReLU
from helpers.model import Parallel, Sequential
from reference.conv import naive_conv_counting
from reference.pipelines import pipeline_mode


def _bottleneck(width, out, stride, downsample):
    path = Sequential(("conv1", Conv2d(width, 1, bias=False)), ("bn1", BatchNorm2d()), ("relu1", ReLU()),
                      ("conv2", Conv2d(width, 3, stride=stride, padding=1, bias=False)), ("bn2", BatchNorm2d()),
                      ("relu2", ReLU()), ("conv3", Conv2d(out, 1, bias=False)), ("bn3", BatchNorm2d()))
    shortcut = (Sequential(("0", Conv2d(out, 1, stride=stride, bias=False)), ("1", BatchNorm2d()))
                if downsample else Sequential())
    return Sequential(("", Parallel(("", path), ("downsample", shortcut), merge="add")), ("relu", ReLU()))


def small_resnet(width=4, out=8):
    """Stem, a downsampling bottleneck, an identity one, pooling and a classifier."""
    return Sequential(("conv1", Conv2d(out, 3, padding=1)), ("bn1", BatchNorm2d()), ("relu", ReLU()),
                      ("pool", MaxPool2d(2)),
                      ("b1", _bottleneck(width, 2 * out, 2, True)), ("b2", _bottleneck(width, 2 * out, 1, False)),
                      ("gap", GlobalAvgPool()), ("fc", Linear(5)))


def _params(model, shape, seed):
    params = engine.init_params(model, shape, seed)
    rng = np.random.default_rng(seed)
    for p in params.values():                 # batch norms far from the identity
        if "running_var" in p:
            p["running_mean"] = rng.standard_normal(p["running_mean"].shape).astype(np.float32)
            p["running_var"] = rng.uniform(0.2, 3.0, p["running_var"].shape).astype(np.float32)
            p["weight"] = rng.uniform(-2, 2, p["weight"].shape).astype(np.float32)
    return params


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 3), st.sampled_from([6, 8, 9]), st.integers(1, 6), st.integers(0, 999))
def test_residual_network_fast_equals_naive(batch, size, width, seed):
    model, shape = small_resnet(width), (3, size, size)
    params = _params(model, shape, seed)
    x = np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)
    naive = engine.forward(model, params, x, conv="naive")
    for conv in ("fast", "im2col"):
        np.testing.assert_allclose(engine.forward(model, params, x, conv=conv), naive, rtol=1e-4, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 3]), st.integers(1, 2), st.integers(1, 2), st.booleans(), st.booleans(),
       st.integers(1, 3), st.integers(0, 999))
def test_convolution_batchnorm_relu_folded_equals_naive(k, stride, groups, bias, relu, batch, seed):
    layers = [("c", Conv2d(4 * groups, k, stride=stride, padding=k // 2, groups=groups, bias=bias)),
              ("bn", BatchNorm2d())] + ([("r", ReLU())] if relu else [])
    model, shape = Sequential(*layers), (2 * groups, 7, 7)
    params = _params(model, shape, seed)
    x = np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)
    fast, times = engine.forward(model, params, x, profile=True)
    np.testing.assert_allclose(fast, engine.forward(model, params, x, conv="naive"), rtol=1e-4, atol=1e-4)
    assert [t.name for t in times] == [name for name, _ in layers]
    assert all(t.ms == 0 for t in times[1:])          # folded into the convolution's time


def test_fold_batchnorm_is_the_definition_and_cached():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    bn = {"weight": rng.uniform(-2, 2, 6).astype(np.float32), "bias": rng.standard_normal(6).astype(np.float32),
          "running_mean": rng.standard_normal(6).astype(np.float32),
          "running_var": rng.uniform(0.1, 2, 6).astype(np.float32)}
    fw, fb = weights.fold_batchnorm(w, b, bn, 1e-3)
    x = rng.standard_normal((3, 5, 5))
    conv, _ = naive_conv_counting(x, w.astype(np.float64), 1, 1, 1, 1)
    conv += b[:, None, None]

    def c(v):
        return v.astype(np.float64)[:, None, None]

    ref = (conv - c(bn["running_mean"])) / np.sqrt(c(bn["running_var"]) + 1e-3) * c(bn["weight"]) + c(bn["bias"])
    folded, _ = naive_conv_counting(x, fw.astype(np.float64), 1, 1, 1, 1)
    np.testing.assert_allclose(folded + fb[:, None, None], ref, rtol=1e-5, atol=1e-5)
    assert weights.fold_batchnorm(w, b, bn, 1e-3)[0] is fw                     # cached
    moved = dict(bn, running_mean=bn["running_mean"] + 1)                      # a new array: folded again
    assert not np.allclose(weights.fold_batchnorm(w, b, moved, 1e-3)[1], fb)
    engine.clear_weight_caches()
    assert weights.fold_batchnorm(w, b, bn, 1e-3)[0] is not fw
    np.testing.assert_array_equal(weights.fold_batchnorm(w, b, bn, 1e-3)[1], fb)


def _reference(x, w, b, stride, pad, add, relu):
    y = np.stack([naive_conv_counting(img.transpose(2, 0, 1).astype(np.float64), w.astype(np.float64),
                                      stride, pad, 1, 1)[0] for img in x]).transpose(0, 2, 3, 1)
    y = y + b + add
    return np.maximum(y, 0) if relu else y


_CASES = {(1, 1, 0): "1x1", (1, 2, 0): "1x1/2", (3, 1, 1): "3x3", (3, 2, 1): "3x3/2"}


@pytest.mark.parametrize("serial", [False, True], ids=["two pipelines", "serial fallback"])
@pytest.mark.parametrize("c_out, case",
                         [(c, case) for c in (3, 130) for case in _CASES] + [(1030, (1, 1, 0)), (1030, (1, 2, 0))],
                         ids=[f"{k}-{split}" for split in ("pixels split", "channels split") for k in _CASES.values()]
                         + ["1x1-channels split, long rows", "1x1/2-channels split, long rows"])
@settings(max_examples=3, deadline=None)
@given(st.integers(1, 3), st.integers(3, 7), st.booleans(), st.sampled_from([None, 200, 5000]), st.integers(0, 99))
def test_convolution_epilogue_equals_definition(serial, c_out, case, batch, size, relu, budget, seed):
    """Residual and ReLU per block, for 1x1 GEMMs straight from the input, im2col, and
    with the output channels split between pipelines (130 channels on few pixels; 1030,
    whose halves take the bias as rows tiled long, :func:`helpers.engine.elementwise.add_bias`,
    on views of the output)."""
    k, stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, size, size, 5)).astype(np.float32)
    w = rng.standard_normal((c_out, 5, k, k)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    out = (size + 2 * pad - k) // stride + 1
    add = rng.standard_normal((batch, out, out, c_out)).astype(np.float32)
    with pipeline_mode(serial):
        y, _ = kernels.conv2d(x, w, b, (stride, stride), ((pad, pad), (pad, pad)), (1, 1), 1, (out, out), budget,
                              relu=relu, add=add)
    np.testing.assert_allclose(y, _reference(x, w, b, stride, pad, add, relu), rtol=1e-4, atol=1e-4)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.integers(3, 11), st.booleans(), st.sampled_from([None, 3000]), st.integers(0, 99))
def test_winograd_epilogue_equals_definition(batch, size, relu, budget, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, size, size, 4)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    add = rng.standard_normal((batch, size, size, 6)).astype(np.float32)
    y, _ = winograd.conv2d_winograd(x, w, b, ((1, 1), (1, 1)), (size, size), budget, relu=relu, add=add)
    np.testing.assert_allclose(y, _reference(x, w, b, 1, 1, add, relu), rtol=1e-4, atol=1e-4)


def test_winograd_layers_fuse_in_a_residual_network():
    """The stem and the identity bottleneck's 3x3 layer are wide enough and have enough
    tiles for Winograd (checked), and take their batch norm and ReLU; the naive loops
    would be slow here, so the reference runs each layer on its own with numpy."""
    model, shape, batch = small_resnet(width=128, out=128), (128, 32, 32), 3
    assert winograd.winograd_applies((3, 3), (1, 1), (1, 1), 1, tiles=batch * 16 * 16, channels=128)   # stem
    assert winograd.winograd_applies((3, 3), (1, 1), (1, 1), 1, tiles=batch * 4 * 4, channels=128)     # b2.conv2
    params = _params(model, shape, 7)
    x = np.random.default_rng(7).standard_normal((batch, *shape)).astype(np.float32)
    np.testing.assert_allclose(engine.forward(model, params, x), _layer_by_layer(model, params, x),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(engine.forward(model, params, x, conv="im2col"), _layer_by_layer(model, params, x),
                               rtol=1e-4, atol=1e-4)


def _layer_by_layer(model, params, x):
    """Each leaf on its own with numpy (convolutions by the im2col kernel), NHWC."""
    def run(module, h, prefix):
        if isinstance(module, Sequential):
            for name, child in module.children:
                h = run(child, h, f"{prefix}.{name}" if prefix and name else prefix or name)
            return h
        if isinstance(module, Parallel):
            outs = [run(c, h, f"{prefix}.{n}" if prefix and n else prefix or n) for n, c in module.children]
            return sum(outs[1:], outs[0]) if module.merge == "add" else np.concatenate(outs, -1)
        p = params.get(prefix, {})
        if isinstance(module, Conv2d):
            out = module.output_shape((h.shape[3], h.shape[1], h.shape[2]))[1:]
            return kernels.conv2d(h, p["weight"], p.get("bias"), module.stride_pair, module.pads(),
                                  module.dilation_pair, module.groups, out)[0].copy()
        if isinstance(module, BatchNorm2d):
            return (h - p["running_mean"]) / np.sqrt(p["running_var"] + module.eps) * p["weight"] + p["bias"]
        if isinstance(module, ReLU):
            return np.maximum(h, 0)
        if isinstance(module, MaxPool2d):
            n, hh, ww, c = h.shape
            return h[:, :hh // 2 * 2, :ww // 2 * 2].reshape(n, hh // 2, 2, ww // 2, 2, c).max(axis=(2, 4))
        if isinstance(module, GlobalAvgPool):
            return h.mean(axis=(1, 2))
        return h @ p["weight"].T + p["bias"]
    return run(model, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), "")


def test_pool_reuses_and_grows_the_largest_free_buffer():
    pool = ActivationPool()
    a, b = pool.take((10,)), pool.take((4,))
    pool.release(a)
    pool.release(b[1:])                      # not the start of a buffer: ignored
    c = pool.take((3,))
    assert np.shares_memory(c, a) and len(pool.buffers) == 2          # the only free buffer
    pool.release(c)
    d = pool.take((20,))                     # none free fits: the largest free one grows
    assert len(pool.buffers) == 2 and pool.held_bytes() == 4 * (20 + 4)
    assert not np.shares_memory(d, b)
    pool.release_all()
    assert pool.free == {0, 1}


def test_a_pass_leaves_every_buffer_free_and_results_unshared():
    model, shape = small_resnet(), (3, 8, 8)
    params = _params(model, shape, 3)
    x = np.random.default_rng(3).standard_normal((2, *shape)).astype(np.float32)
    x_copy = x.copy()
    y1 = engine.forward(model, params, x)
    assert POOL.free == set(range(len(POOL.buffers))) and POOL.buffers
    y1_copy = y1.copy()
    y2 = engine.forward(model, params, x[::-1].copy())
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(x, x_copy)
    assert not any(np.shares_memory(y1, buf) or np.shares_memory(y2, buf) for buf in POOL.buffers)


def test_residual_network_equals_torch():
    torch = pytest.importorskip("torch")
    from helpers.engine import torch_bridge
    model, shape = small_resnet(width=8, out=16), (3, 12, 12)
    params = _params(model, shape, 11)
    x = np.random.default_rng(11).standard_normal((3, *shape)).astype(np.float32)
    with torch.inference_mode():
        expected = torch_bridge.to_torch(model, params, shape)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine.forward(model, params, x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("branches", [
    (("a", Conv2d(3, 1)), ("b", Sequential())),                        # a bare layer as the main branch
    (("a", Sequential(("c", Conv2d(3, 3, padding=1)), ("r", ReLU()))), ("b", Sequential())),   # ends in a ReLU
    (("a", Sequential()), ("b", Sequential())),                        # identity only
    (("a", Sequential(("c", Conv2d(3, 1)), ("bn", BatchNorm2d()))), ("b", Conv2d(3, 1)), ("d", Sequential())),
])
def test_residual_merges_of_every_shape_equal_naive(branches):
    model = Sequential(("stem", Conv2d(3, 1)), ("res", Parallel(*branches, merge="add")), ("relu", ReLU()))
    params = _params(model, (3, 5, 5), 4)
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(engine.forward(model, params, x), engine.forward(model, params, x, conv="naive"),
                               rtol=1e-4, atol=1e-5)


def _chain(first, *rest, relu=True):
    layers = [("c0", first), ("bn0", BatchNorm2d()), ("r0", ReLU())]
    for i, conv in enumerate(rest, 1):
        layers += [(f"c{i}", conv), (f"bn{i}", BatchNorm2d())] + ([(f"r{i}", ReLU())] if relu else [])
    return Sequential(*layers)


@pytest.mark.parametrize("model, shape", [
    (_chain(Conv2d(6, 3, padding=1), Conv2d(5, 1)), (3, 9, 7)),                        # im2col rows, then 1x1
    (_chain(Conv2d(6, 1), Conv2d(5, 1), Conv2d(4, 1), relu=False), (3, 5, 5)),        # 1x1 -> 1x1, then one alone
    (_chain(Conv2d(128, 3, padding=1), Conv2d(8, 1)), (4, 4, 4)),                      # channels split
    (_chain(Conv2d(128, 3, padding=1), Conv2d(16, 1)), (128, 15, 13)),                # Winograd, odd sizes
    (_chain(Conv2d(6, 3, stride=2, padding=1), Conv2d(5, 1)), (3, 9, 9)),              # stride 2, then 1x1
    (_chain(Conv2d(6, 3, padding=2, dilation=2, groups=3), Conv2d(5, 1)), (3, 8, 8)),  # grouped, dilated
    (Sequential(("", Parallel(("", _chain(Conv2d(4, 3, padding=1), Conv2d(4, 1))), ("id", Sequential()),
                              merge="add")), ("relu", ReLU())), (4, 7, 6)),            # shared input, ReLU + tail
    (_chain(Conv2d(4, 3, padding=1), Conv2d(256, 1)), (3, 4, 4)),                     # 1x1 splits channels
])
@pytest.mark.parametrize("batch", [1, 3])
def test_chained_pointwise_convolution_equals_layer_by_layer(model, shape, batch):
    """A 1x1 convolution right after another convolution runs in the same pipelines, on
    the pixels each has just computed (kernels.pointwise_then). With two pipelines, it must
    give what the layers give one by one (a profile runs them so), which the naive path
    checks in turn."""
    params = _params(model, shape, 0)
    x = np.random.default_rng(1).standard_normal((batch, *shape)).astype(np.float32)
    with pipeline_mode(serial=False):
        chained = engine.forward(model, params, x)
        apart, _ = engine.forward(model, params, x, profile=True)
    np.testing.assert_allclose(chained, apart, rtol=1e-5, atol=1e-5)
    if shape[0] < 128:
        np.testing.assert_allclose(chained, engine.forward(model, params, x, conv="naive"), rtol=1e-4, atol=1e-4)
