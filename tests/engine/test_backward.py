"""Every layer's gradients against central finite differences (float64, tiny shapes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.engine import backward as bw
from helpers.engine import backward_norm as norm
from helpers.engine import backward_pool as pool
from helpers.layers import Conv2d
from reference.conv import naive_conv_counting
from reference.finite_diff import assert_close, numeric_gradient


def weighted_sum(r):
    """The scalar loss sum(y * r): its gradient with respect to y is r."""
    return lambda y: float(np.sum(y * r))


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = draw(st.sampled_from([1, 2, 3]))
    stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, 2))
    size = draw(st.integers(dilation * (k - 1) + 1, 6))
    return Conv2d(c_out, k, stride, padding, dilation, groups, draw(st.booleans())), (c_in, size, size), \
        draw(st.integers(1, 2)), draw(st.integers(0, 10**6))


@settings(max_examples=30, deadline=None)
@given(conv_cases())
def test_convolution_gradients_match_finite_differences(case):
    layer, (c, h, w), n, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c))
    weight = rng.standard_normal((layer.out_channels, c // layer.groups, *layer.kernel_pair))
    bias = rng.standard_normal(layer.out_channels) if layer.bias else None
    out_hw = layer.output_shape((c, h, w))[1:]

    def forward(macs=None):
        return bw.conv2d_forward(x, weight, bias, layer.stride_pair, layer.pads(), layer.dilation_pair,
                                 layer.groups, out_hw, [] if macs is None else macs)
    macs = []
    y = forward(macs)
    naive = [naive_conv_counting(image.transpose(2, 0, 1), weight, layer.stride, layer.padding,
                                 layer.dilation, layer.groups) for image in x]
    expected = np.stack([out for out, _ in naive])
    if bias is not None:
        expected = expected + bias[:, None, None]
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), expected, atol=1e-12)
    assert sum(macs) == sum(mults for _, mults in naive)           # the multiplies the loops did
    r = rng.standard_normal(y.shape)
    loss = lambda: weighted_sum(r)(forward())                        # noqa: E731
    back = []
    dx, dw, db = bw.conv2d_backward(r, x, weight, layer.bias, layer.stride_pair, layer.pads(),
                                    layer.dilation_pair, layer.groups, True, back)
    assert sum(back) == 2 * sum(macs)
    assert_close(dx, numeric_gradient(loss, x))
    assert_close(dw, numeric_gradient(loss, weight))
    if bias is not None:
        assert_close(db, numeric_gradient(loss, bias))
    back = []
    none, _, _ = bw.conv2d_backward(r, x, weight, layer.bias, layer.stride_pair, layer.pads(),
                                    layer.dilation_pair, layer.groups, False, back)
    assert none is None and sum(back) == sum(macs)                   # the weight gradient alone


def test_convolution_gradients_do_not_depend_on_the_input_layout():
    """A non-contiguous input (a view of an NCHW array) gives the same gradients as its copy."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 5)).transpose(0, 2, 3, 1)          # NHWC view, not C-contiguous
    weight, dy = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 5, 5, 4))
    args = (weight, False, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, True, [])
    for got, expected in zip(bw.conv2d_backward(dy, x, *args)[:2], bw.conv2d_backward(dy, x.copy(), *args)[:2],
                             strict=True):
        np.testing.assert_array_equal(got, expected)


def test_float32_padded_workspaces_keep_zero_borders_across_calls():
    """float32 convolutions reuse one padded workspace per padded shape and padding,
    writing only the inside: results must not depend on what ran before (another
    batch size, another padding of the same padded size, the backward pass)."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    for n, pads in [(4, ((1, 1), (1, 1))), (2, ((1, 1), (1, 1))), (3, ((0, 2), (2, 0))), (4, ((1, 1), (1, 1)))]:
        x = rng.standard_normal((n, 5, 5, 3)).astype(np.float32) + 10         # large values: a stale border shows
        y = bw.conv2d_forward(x, weight, None, (1, 1), pads, (1, 1), 1, (5, 5), [])
        padded = np.pad(x.astype(np.float64), ((0, 0), *pads, (0, 0)))
        expected = np.stack([naive_conv_counting(image.transpose(2, 0, 1), weight.astype(np.float64), 1, 0, 1, 1)[0]
                             for image in padded])
        np.testing.assert_allclose(y.transpose(0, 3, 1, 2), expected, rtol=1e-5, atol=1e-3)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        dx, _, _ = bw.conv2d_backward(dy, x, weight, False, (1, 1), pads, (1, 1), 1, True, [])
        dx64, _, _ = bw.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), weight.astype(np.float64),
                                        False, (1, 1), pads, (1, 1), 1, True, [])
        np.testing.assert_allclose(dx, dx64, rtol=1e-4, atol=1e-3)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.booleans(), st.integers(0, 10**6))
def test_linear_gradients_match_finite_differences(n, f_in, f_out, has_bias, seed):
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((n, f_in)), rng.standard_normal((f_out, f_in))
    bias = rng.standard_normal(f_out) if has_bias else None
    r = rng.standard_normal((n, f_out))
    loss = lambda: weighted_sum(r)(bw.linear_forward(x, weight, bias, []))      # noqa: E731
    dx, dw, db = bw.linear_backward(r, x, weight, has_bias, True, [])
    assert_close(dx, numeric_gradient(loss, x))
    assert_close(dw, numeric_gradient(loss, weight))
    if has_bias:
        assert_close(db, numeric_gradient(loss, bias))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 10**6))
def test_batch_norm_gradients_match_finite_differences(n, side, c, seed):
    if n * side * side < 2:
        n = 2
    rng = np.random.default_rng(seed)
    x = 2 + 3 * rng.standard_normal((n, side, side, c))
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    r = rng.standard_normal(x.shape)
    loss = lambda: weighted_sum(r)(norm.batch_norm_forward(x, gamma, beta, 1e-5)[0])   # noqa: E731
    y, mean, var, inv_std = norm.batch_norm_forward(x, gamma, beta, 1e-5)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(var, x.var(axis=(0, 1, 2)))
    dx, dgamma, dbeta = norm.batch_norm_backward(r, x, mean, inv_std, gamma)
    assert_close(dx, numeric_gradient(loss, x))
    assert_close(dgamma, numeric_gradient(loss, gamma))
    assert_close(dbeta, numeric_gradient(loss, beta))


def test_relu_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 3, 2))
    r = rng.standard_normal(x.shape)
    loss = lambda: weighted_sum(r)(np.maximum(x, 0))                 # noqa: E731
    assert_close(bw.relu_backward(r, np.maximum(x, 0)), numeric_gradient(loss, x))


@st.composite
def pool_cases(draw):
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, k // 2))
    size = draw(st.integers(max(k, 2), 6))
    return (k, k), (stride, stride), (padding, padding), size, draw(st.booleans()), draw(st.integers(0, 10**6))


def pool_out(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def pool_problem(case):
    """``(kernel, stride, padding, include_pad, x, out_hw, r)``: a random input batch, its
    pooled size and random weights ``r`` of the output (the loss is ``sum(r * y)``)."""
    kernel, stride, padding, size, include_pad, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, size, size, 2))
    out = (pool_out(size, kernel[0], stride[0], padding[0]),) * 2
    return kernel, stride, padding, include_pad, x, out, rng.standard_normal((2, *out, 2))


@settings(max_examples=25, deadline=None)
@given(pool_cases())
def test_max_pool_gradient_matches_finite_differences(case):
    kernel, stride, padding, _, x, out, r = pool_problem(case)
    loss = lambda: weighted_sum(r)(pool.max_pool_forward(x, kernel, stride, padding, out))   # noqa: E731
    y = pool.max_pool_forward(x, kernel, stride, padding, out)
    assert_close(pool.max_pool_backward(r, x, y, kernel, stride, padding), numeric_gradient(loss, x))


@settings(max_examples=25, deadline=None)
@given(pool_cases())
def test_avg_pool_gradient_matches_finite_differences(case):
    kernel, stride, padding, include_pad, x, out, r = pool_problem(case)
    loss = lambda: weighted_sum(r)(pool.avg_pool_forward(x, kernel, stride, padding, out, include_pad))  # noqa: E731
    assert_close(pool.avg_pool_backward(r, x.shape, kernel, stride, padding, include_pad),
                 numeric_gradient(loss, x))


def test_global_avg_pool_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 2, 4))
    r = rng.standard_normal((2, 4))
    loss = lambda: weighted_sum(r)(x.mean(axis=(1, 2)))              # noqa: E731
    assert_close(pool.global_avg_pool_backward(r, x.shape), numeric_gradient(loss, x))


@pytest.mark.parametrize("seed", range(3))
def test_softmax_cross_entropy_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    logits, labels = 3 * rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    loss, grad = bw.softmax_cross_entropy(logits, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(probs[np.arange(4), labels]).mean())
    assert_close(grad, numeric_gradient(lambda: bw.softmax_cross_entropy(logits, labels)[0], logits))


def test_pooling_forward_equals_the_definition():
    """The training forward of max and average pooling (padding counted or not) against
    pooling written window by window (tests/reference/pooling.py), in float64."""
    from reference.pooling import torch_free_pool_reference
    x = np.random.default_rng(2).standard_normal((2, 7, 7, 3))
    for k, s, p in [(3, 2, 1), (2, 2, 0), (3, 1, 1)]:
        out = (pool_out(7, k, s, p),) * 2
        nchw = x.transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(pool.max_pool_forward(x, (k, k), (s, s), (p, p), out).transpose(0, 3, 1, 2),
                                      torch_free_pool_reference(nchw, k, s, p, "max"))
        for include in (True, False):
            np.testing.assert_allclose(
                pool.avg_pool_forward(x, (k, k), (s, s), (p, p), out, include).transpose(0, 3, 1, 2),
                torch_free_pool_reference(nchw, k, s, p, "avg", count_include_pad=include), rtol=1e-12)
