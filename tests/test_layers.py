"""Specs and the walk: PyTorch shape semantics, composition, bad input."""

from fractions import Fraction
from math import floor

import numpy as np
import pytest

from helpers import zoo
from helpers.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Linear,
    MaxPool2d,
    ReLU,
    SpaceToDepth,
)
from helpers.model import Parallel, Sequential, leaves, walk
from helpers.width import scale_width


def test_walk_names_follow_torch_conventions():
    rows = walk(zoo.get("resnet50"), (3, 224, 224))
    names = [r.name for r in rows]
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert "layer3.2.conv2" in names and "layer1.0.downsample.0" in names
    assert "layer1.1.downsample.0" not in names
    assert names[-2:] == ["avgpool", "fc"]
    assert len(names) == len(set(names))


def test_totals_are_row_sums_for_every_model():
    from helpers.summaries import summary
    for name in zoo.names():
        s = summary(name)
        for column in ("params", "macs", "activations"):
            assert s.totals[column] == sum(getattr(r, column) for r in s.rows)


def test_batch_scales_macs_and_activations_not_params():
    one, many = walk(zoo.get("tiny-cnn"), (3, 16, 16)), walk(zoo.get("tiny-cnn"), (3, 16, 16), batch=5)
    for a, b in zip(one, many, strict=True):
        assert (b.params, b.macs, b.activations) == (a.params, 5 * a.macs, 5 * a.activations)


def test_concat_and_add_shapes():
    block = Parallel(Conv2d(4, 1), Conv2d(6, 3, padding=1), MaxPool2d(3, 1, padding=1))
    assert walk(Sequential(block), (5, 8, 8))[-1].output == (5, 8, 8)
    assert walk(Sequential(block, ReLU()), (5, 8, 8))[-1].output == (15, 8, 8)
    res = Parallel(Sequential(Conv2d(5, 3, padding=1)), Sequential(), merge="add")
    assert walk(Sequential(res, ReLU()), (5, 8, 8))[-1].output == (5, 8, 8)


def test_same_padding_with_even_kernel_keeps_size():
    assert Conv2d(2, 4, padding="same").output_shape((1, 9, 9)) == (2, 9, 9)
    assert Conv2d(2, 3, padding="same", dilation=2).output_shape((1, 9, 9)) == (2, 9, 9)
    assert Conv2d(2, 3, padding="valid").output_shape((1, 9, 9)) == (2, 7, 7)


def test_space_to_depth():
    assert SpaceToDepth(4).output_shape((3, 220, 220)) == (48, 55, 55)


def test_width_multiplier_halves_convolutions_only():
    half = walk(scale_width(zoo.get("tiny-cnn"), 0.5), (3, 16, 16))
    assert [r.output[0] for r in half if r.kind == "Conv2d"] == [2, 4]
    assert half[-1].output == (10,)


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2d(0, 3), "out_channels must be a positive int"),
    (lambda: Conv2d(8, 3, padding="full"), "padding must be an int, a pair, 'same' or 'valid'"),
    (lambda: Conv2d(8, 3, stride=2, padding="same"), "padding='same' needs stride 1"),
    (lambda: Conv2d(9, 3, groups=2), "out_channels 9 is not divisible by groups 2"),
    (lambda: MaxPool2d(3, 2, padding=2), "padding 2 must be at most half the kernel 3"),
    (lambda: Linear(0), "out_features must be a positive int"),
    (lambda: Dropout(1.5), "p must be between 0 and 1, got 1.5"),
    (lambda: Dropout(-0.1), "p must be between 0 and 1, got -0.1"),
    (lambda: Dropout("0.5"), "p must be between 0 and 1, got '0.5'"),
    (lambda: Dropout(None), "p must be between 0 and 1, got None"),
    (lambda: SpaceToDepth(0), "block must be a positive int"),
    (lambda: Parallel(Conv2d(1, 1), merge="mul"), "merge must be 'concat' or 'add'"),
    (lambda: Sequential(("a", ReLU()), ("a", ReLU())), "duplicate child names"),
    (lambda: Sequential(3), "is not a layer or container"),
])
def test_bad_specs_are_rejected_with_a_clear_message(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


WINDOW_SPECS = {"Conv2d": lambda **kw: Conv2d(8, **kw), "MaxPool2d": MaxPool2d, "AvgPool2d": AvgPool2d}


@pytest.mark.parametrize("kind, what, value", [
    (kind, what, value) for kind in WINDOW_SPECS
    for what, values in (("kernel_size", (0, -1, (1, 0), (-2, 1))), ("stride", (0, -1, (1, 0), (-2, 1))),
                         ("dilation", (0, -1, (1, 0), (-2, 1))), ("padding", (-1, (0, -1))))
    if not (kind == "AvgPool2d" and what == "dilation")          # no dilation there, as in PyTorch
    for value in values])
def test_window_specs_refuse_bad_geometry_at_construction(kind, what, value):
    """Kernel, stride and dilation below 1 and negative padding, as an int or in a pair, raise
    a ValueError naming the layer and the argument when the spec is built (not at its first use)."""
    with pytest.raises(ValueError, match=f"{kind}: {what} must be a"):
        WINDOW_SPECS[kind](**{"kernel_size": 2, what: value})


@pytest.mark.parametrize("model, shape, message", [
    (Sequential(("conv1", Conv2d(8, 11))), (3, 10, 10),
     "conv1 (Conv2d): kernel 11 is larger than the padded input height 10"),
    (Sequential(("c", Conv2d(8, 3, groups=2))), (3, 10, 10), "c (Conv2d): in_channels 3 is not divisible by groups 2"),
    (Sequential(("p", MaxPool2d(5, 2, ceil_mode=True))), (3, 2, 9),
     "p (MaxPool2d): kernel 5 is larger than the padded input height 2 + 0 = 2 by 3, not less than the stride 2"),
    (Sequential(("p", AvgPool2d(3, 1, ceil_mode=True))), (3, 9, 2),
     "p (AvgPool2d): kernel 3 is larger than the padded input width 2 + 0 = 2"),
    (Sequential(("fc", Linear(8))), (3, 4, 4), "fc (Linear) needs a flat input"),
    (Sequential(("s", SpaceToDepth(4))), (3, 10, 12), "input 10x12 is not divisible by block 4"),
    (Sequential(("p", Parallel(Conv2d(2, 3), Conv2d(2, 1)))), (1, 8, 8), "cannot concat branch outputs"),
    (Sequential(("r", Parallel(Conv2d(2, 1), Conv2d(3, 1), merge="add"))), (1, 8, 8), "cannot add branch outputs"),
    (Sequential(GlobalAvgPool()), (10,), "needs a (C, H, W) input"),
    (Sequential(ReLU()), (3, 0, 4), "input shape must be"),
    (Sequential(ReLU()), (3, 4), "input shape must be"),
])
def test_bad_inputs_name_the_layer_and_numbers(model, shape, message):
    with pytest.raises(ValueError) as err:
        walk(model, shape)
    assert message in str(err.value)


def test_bad_batch_and_width():
    with pytest.raises(ValueError, match="batch must be a positive int"):
        walk(Sequential(ReLU()), (1, 2, 2), batch=0)
    for factor in (-1, 0, True, float("nan"), float("inf"), "0.5", None):
        with pytest.raises(ValueError, match="width factor"):
            scale_width(Sequential(), factor)
    assert scale_width(Conv2d(10, 1), np.float64(0.5)).out_channels == 5


@pytest.mark.parametrize("factor", [0.1, 0.3, 0.35, 0.5, 0.75, 1.3])
def test_width_scaling_keeps_grouped_layers_valid(factor):
    """AlexNet's grouped layers (groups=2) keep their groups and the scaled network walks at
    any factor (the old rounding failed at 0.1, 0.3, 0.35 and 1.3)."""
    scaled = scale_width(zoo.get("alexnet-grouped"), factor)
    walk(scaled, zoo.entry("alexnet-grouped").input_shape)
    assert [c.groups for _, c in leaves(scaled) if isinstance(c, Conv2d)] == [1, 2, 1, 2, 2]


def test_grouped_alexnet_widths_at_035():
    """Every convolution is grouped (conv2, conv4, conv5) or feeds one (conv1, conv3), so
    each width is 0.35 of the paper's rounded down to an even number: 96 x 0.35 = 33.6 -> 32,
    256 x 0.35 = 89.6 -> 88, 384 x 0.35 = 134.4 -> 134."""
    scaled = scale_width(zoo.get("alexnet-grouped"), 0.35)
    assert [c.out_channels for _, c in leaves(scaled) if isinstance(c, Conv2d)] == [32, 88, 134, 134, 88]


def test_grouped_branch_of_a_parallel_keeps_its_groups():
    net = Parallel(("a", Conv2d(6, 1, groups=3)), ("b", Conv2d(5, 1)), merge="concat")
    third = scale_width(net, 0.4)
    assert [(c.out_channels, c.groups) for _, c in leaves(third)] == [(3, 3), (2, 1)]
    assert [row.output[0] for row in walk(third, (3, 4, 4))] == [3, 2]


@pytest.mark.parametrize("net, factor, channels, want", [
    # nested chains: the convolution feeding a grouped layer in an inner chain
    (Sequential(Conv2d(96, 3), Sequential(Conv2d(256, 3, groups=2))), 0.35, 3, [(32, 1), (88, 2)]),
    # a depthwise layer in an inner chain, between a plain layer and a grouped one
    (Sequential(Conv2d(30, 1), Sequential(Conv2d(30, 3, groups=30), Conv2d(30, 1, groups=3))), 0.45, 3,
     [(12, 1), (12, 12), (12, 3)]),
    # depthwise on the network's input: its groups are the input's channels, kept
    (Sequential(Conv2d(3, 3, groups=3)), 2, 3, [(6, 3)]),
    (Sequential(Conv2d(30, 3, groups=30), Conv2d(30, 1, groups=3)), 0.45, 30, [(30, 30), (12, 3)]),
    # a channel multiplier of 2 is kept
    (Sequential(Conv2d(32, 1), Conv2d(64, 3, groups=32)), 0.25, 3, [(8, 1), (16, 8)]),
    # grouped layers at the start of a Parallel's branches constrain the convolution before it: lcm(2, 3)
    (Sequential(Conv2d(10, 1), Parallel(("a", Conv2d(4, 1, groups=2)), ("b", Conv2d(3, 1)))), 0.5, 3,
     [(4, 1), (2, 2), (1, 1)]),
    (Sequential(Conv2d(12, 1), Parallel(Conv2d(6, 1, groups=2), Conv2d(6, 1, groups=3))), 0.75, 3,
     [(6, 1), (4, 2), (3, 3)]),
    # a depthwise layer at the start of a branch follows the convolution before the Parallel
    (Sequential(Conv2d(8, 1), Parallel(Conv2d(8, 3, groups=8, padding=1), Conv2d(4, 1))), 0.5, 3,
     [(4, 1), (4, 4), (2, 1)]),
    # a grouped layer after a depthwise one with channel multiplier 2: 2 x width must split in 4
    (Sequential(Conv2d(4, 1), Conv2d(8, 3, groups=4, padding=1), Conv2d(8, 1, groups=4)), 0.75, 3,
     [(2, 1), (4, 2), (4, 4)]),
    # space-to-depth multiplies the channels by 4: 4 x width must split in 8
    (Sequential(Conv2d(6, 1), SpaceToDepth(2), Conv2d(24, 1, groups=8)), 0.5, 3, [(2, 1), (8, 8)]),
    # a 1-channel convolution is not depthwise-fed: the next layer keeps one group
    (Sequential(Conv2d(1, 1), Conv2d(4, 3)), 3, 3, [(3, 1), (12, 1)]),
])
def test_width_scaling_of_nested_depthwise_and_branching_chains(net, factor, channels, want):
    scaled = scale_width(net, factor)
    assert [(c.out_channels, c.groups) for _, c in leaves(scaled) if isinstance(c, Conv2d)] == want
    walk(scaled, (channels, 8, 8))                                 # every layer's input splits into its groups
    assert scale_width(net, 1) == net


UNGROUPED = [n for n in zoo.names() if all(getattr(layer, "groups", 1) == 1 for _, layer in leaves(zoo.get(n)))]


@pytest.mark.parametrize("name", UNGROUPED)
def test_ungrouped_zoo_models_scale_every_width_by_the_factor(name):
    """Without grouped layers every width is the factor's share, rounded down, at least 1;
    a factor of 1 is the same network."""
    model = zoo.get(name)
    assert scale_width(model, 1) == model
    for factor, exact in ((0.25, Fraction(1, 4)), (1.5, Fraction(3, 2))):
        for (_, before), (_, after) in zip(leaves(model), leaves(scale_width(model, factor)), strict=True):
            if isinstance(before, Conv2d):
                assert (after.out_channels, after.groups) == (max(1, floor(before.out_channels * exact)), 1)


def test_a_float_factor_is_read_as_its_decimal():
    assert int(100 * 0.29) == 28 and scale_width(Conv2d(100, 1), 0.29).out_channels == 29
    assert int(100 * float(np.float32(0.29))) == 28 and scale_width(Conv2d(100, 1), np.float32(0.29)).out_channels == 29
    assert scale_width(Conv2d(100, 1), Fraction(2, 7)).out_channels == 28


def test_depthwise_layers_scale_their_groups():
    net = Sequential(Conv2d(32, 3), Conv2d(32, 3, groups=32), Conv2d(64, 1), Conv2d(64, 3, groups=64, padding=1))
    half = scale_width(net, 0.5)
    assert [(c.out_channels, c.groups) for _, c in leaves(half)] == [(16, 1), (16, 16), (32, 1), (32, 32)]
    assert walk(half, (3, 12, 12))[-1].output == (32, 8, 8)


def test_pooling_and_norm_layers_have_no_macs():
    shape = (4, 8, 8)
    for layer in (MaxPool2d(2), AvgPool2d(2), BatchNorm2d(), ReLU(), GlobalAvgPool(), Flatten()):
        assert layer.macs(shape) == 0
    assert BatchNorm2d().params(shape) == 8
