"""Whole networks: gradients against finite differences and (when installed) PyTorch;
the MACs the training pass performs against the analytic counts."""

import numpy as np
import pytest

from helpers import zoo
from helpers.engine import torch_bridge, train
from helpers.engine.fit import init_params
from helpers.engine.forward import init_params as random_params
from helpers.engine.optim import SGD
from helpers.layers import BatchNorm2d, Conv2d, GlobalAvgPool, Linear, MaxPool2d, ReLU
from helpers.model import Parallel, Sequential
from helpers.summaries import summary
from reference.finite_diff import assert_close, numeric_gradient


def preact_net():
    """A pre-activation residual block: the branch starts with a ReLU while the shortcut reads
    the same array, fresh from a batch norm (a ReLU overwriting it in place would corrupt the
    shortcut); written with list arguments, as a user may."""
    branch = Sequential(("relu", ReLU()), ("conv", Conv2d(4, [3, 3], padding=[1, 1])), ("bn", BatchNorm2d()))
    return Sequential(("conv1", Conv2d(4, 3, padding=1)), ("bn1", BatchNorm2d()),
                      ("block", Parallel(("branch", branch), ("shortcut", Sequential()), merge="add")),
                      ("relu", ReLU()), ("gap", GlobalAvgPool()), ("fc", Linear(5)))


NETS = {"tiny-cnn": (zoo.tiny_cnn, (3, 16, 16)), "tiny-branch": (zoo.tiny_branch, (3, 12, 12)),
        "resnet20-w2": (lambda: zoo.resnet20(width=2), (1, 8, 8)), "pre-activation": (preact_net, (2, 6, 6))}


def float64(params):
    return {name: {k: a.astype(np.float64) for k, a in p.items()} for name, p in params.items()}


def batch(shape, n, seed=0, classes=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), rng.integers(0, classes, n)


@pytest.mark.parametrize("net", NETS)
def test_network_gradients_match_finite_differences(net):
    build, shape = NETS[net]
    model = build()
    params = float64(random_params(model, shape, seed=1))
    x, labels = batch(shape, 3)
    step = train.gradients(model, params, x, labels, update_stats=False)
    loss = lambda: train.gradients(model, params, x, labels, False, backward=False).loss   # noqa: E731
    rng = np.random.default_rng(2)
    picks_per_array = 1 if net.startswith("resnet") else 3
    assert set(step.grads) == {name for name, p in params.items() if p}
    for name, grads in step.grads.items():
        for key, grad in grads.items():
            array = params[name][key]
            picks = [tuple(int(rng.integers(0, s)) for s in array.shape) for _ in range(picks_per_array)]
            numeric = numeric_gradient(loss, array, indices=picks)
            assert_close(np.array([grad[i] for i in picks]), np.array([numeric[i] for i in picks]),
                         rtol=1e-5), (name, key)


@pytest.mark.parametrize("net", ["tiny-cnn", "tiny-branch", "resnet20", "resnet20-half"])
def test_counted_macs_are_forward_and_twice_forward_minus_the_first_input_gradient(net):
    model, shape = zoo.get(net), zoo.entry(net).input_shape
    n = 3
    step = train.gradients(model, init_params(model, shape), *batch(shape, n), update_stats=False)
    rows = {row.name: row for row in summary(net, batch=n).rows}
    weighted = [name for name, row in rows.items() if row.kind in ("Conv2d", "Linear")]
    assert {name: step.macs[name][0] for name in weighted} == {name: rows[name].macs for name in weighted}
    first = {"tiny-cnn": "conv1", "tiny-branch": "stem"}.get(net, "conv1")   # fed by the input image
    for name in weighted:
        assert step.macs[name][1] == (1 if name == first else 2) * rows[name].macs, name
    assert step.forward_macs == summary(net, batch=n).totals["macs"]
    assert (step.forward_macs, step.backward_macs) == train.analytic_macs(model, shape, n)


def test_an_input_gradient_is_needed_after_parameters_on_any_branch():
    """Written out by hand: nothing before ``conv`` has parameters; after the merge one branch
    has (``b.conv``) and the other not (``a``), so the merge's output needs a gradient."""
    net = Sequential(("pool", MaxPool2d(2)), ("conv", Conv2d(2, 1)),
                     ("mix", Parallel(("a", ReLU()), ("b", Sequential(("relu", ReLU()), ("conv", Conv2d(2, 1)))))),
                     ("gap", GlobalAvgPool()), ("fc", Linear(3)))
    assert train.input_needs_grad(net) == {"pool": False, "conv": False, "mix.a": True, "mix.b.relu": True,
                                           "mix.b.conv": True, "gap": True, "fc": True}
    skipped = Sequential(("mix", Parallel(("a", MaxPool2d(2)), ("b", Conv2d(2, 1, stride=2)))), ("relu", ReLU()))
    assert train.input_needs_grad(skipped) == {"mix.a": False, "mix.b": False, "relu": True}


def test_kept_tensors_are_the_input_and_the_outputs_of_convolutions_relus_and_pooling():
    model, shape, n = zoo.get("resnet20"), (1, 8, 8), 4
    step = train.gradients(model, init_params(model, shape), *batch(shape, n, classes=10))
    rows = summary("resnet20", batch=n).rows
    kept = sum(r.activations for r in rows if r.kind in ("Conv2d", "ReLU", "GlobalAvgPool"))
    stats = sum(2 * r.output[0] for r in rows if r.kind == "BatchNorm2d")     # mean, 1/std per channel
    assert step.kept_bytes == 4 * (kept + n * 64 + stats)


def test_batch_norm_running_statistics_follow_pytorchs_rule():
    model, shape = zoo.get("resnet20-half"), (1, 8, 8)
    params = init_params(model, shape)
    x, labels = batch(shape, 4, classes=10)
    before = {k: v.copy() for k, v in params["bn1"].items()}
    train.gradients(model, params, x, labels)
    # the stem's batch norm sees the stem convolution's output; recompute it independently
    from reference.conv import naive_conv_counting
    w = params["conv1"]["weight"].astype(np.float64)
    y = np.stack([naive_conv_counting(img, w, 1, 1, 1, 1)[0] for img in x])
    m = y.shape[0] * y.shape[2] * y.shape[3]
    mean, var = y.mean(axis=(0, 2, 3)), y.var(axis=(0, 2, 3))
    np.testing.assert_allclose(params["bn1"]["running_mean"], 0.9 * before["running_mean"] + 0.1 * mean,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(params["bn1"]["running_var"], 0.9 * before["running_var"] + 0.1 * var * m / (m - 1),
                               rtol=1e-5)


def test_unsupported_layers_are_named():
    from helpers.layers import GlobalAvgPool, Linear, LocalResponseNorm
    from helpers.model import Sequential
    model = Sequential(("norm", LocalResponseNorm()), ("gap", GlobalAvgPool()), ("fc", Linear(2)))
    with pytest.raises(TypeError, match="norm: the training engine has no backward for LocalResponseNorm"):
        train.gradients(model, random_params(model, (3, 4, 4)), *batch((3, 4, 4), 2, classes=2))


# --- PyTorch, when it is installed ---------------------------------------------------------

def torch_step(torch, model, params, shape, x, labels):
    """Loss, gradients (by layer name), module and leaves after one backward pass in PyTorch."""
    module, leaves = torch_bridge.trainable(model, params, shape)
    out = module(torch.from_numpy(x))
    loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(labels))
    loss.backward()
    grads = {name: {k: getattr(leaf, k).grad.numpy() for k in ("weight", "bias")
                    if getattr(leaf, k, None) is not None}
             for name, leaf in leaves.items() if getattr(leaf, "weight", None) is not None}
    return loss.item(), grads, module, leaves


@pytest.mark.parametrize("net", ["tiny-cnn", "tiny-branch", "resnet20-w2"])
def test_gradients_match_pytorch(net, torch):
    build, shape = NETS[net]
    model = build()
    params = float64(random_params(model, shape, seed=3))
    x, labels = batch(shape, 4, seed=4)
    loss, grads, _, _ = torch_step(torch, model, params, shape, x, labels)
    step = train.gradients(model, params, x, labels, update_stats=False)
    assert step.loss == pytest.approx(loss, rel=1e-10)
    assert set(grads) == set(step.grads)
    for name, named in grads.items():
        for key, expected in named.items():
            assert_close(step.grads[name][key], expected, rtol=1e-8, atol=0)


def test_two_sgd_steps_match_pytorch(torch):
    model, shape = zoo.resnet20(width=4), (1, 8, 8)
    params = float64(init_params(model, shape, seed=5))
    module, leaves = torch_bridge.trainable(model, params, shape)
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sgd = SGD(lr=0.1, momentum=0.9, weight_decay=5e-4)
    for seed in (6, 7):                       # the second step uses the momentum buffers
        x, labels = batch(shape, 8, seed=seed, classes=10)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(labels)).backward()
        opt.step()
        sgd.step(params, train.gradients(model, params, x, labels).grads)
    for name, leaf in leaves.items():
        for key in ("weight", "bias", "running_mean", "running_var"):
            if name in params and key in params[name]:
                assert_close(params[name][key], getattr(leaf, key).detach().numpy(), rtol=1e-8, atol=0)


def test_float32_gradients_agree_with_float64_on_real_digits():
    """Training runs in float32: every parameter's gradient must stay close to the float64
    one (a batch norm reduction that lost precision once put some 2.5 % off)."""
    from helpers.engine import digits
    data = digits.load()
    model, shape = zoo.get("resnet20"), zoo.entry("resnet20").input_shape
    params = init_params(model, shape, seed=0)
    x, labels = data.x_train[:64], data.y_train[:64]
    g32 = train.gradients(model, params, x, labels, update_stats=False).grads
    g64 = train.gradients(model, float64(params), x.astype(np.float64), labels, update_stats=False).grads
    for name, grads in g64.items():
        for key, exact in grads.items():
            error = np.linalg.norm(g32[name][key] - exact) / np.linalg.norm(exact)
            assert error < 1e-4, (name, key, error)
