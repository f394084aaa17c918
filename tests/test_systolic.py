"""Systolic-array utilisation, balance point and space-to-depth restacking."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import machines, systolic
from helpers.layers import SpaceToDepth
from helpers.space_to_depth import restack_weights, space_to_depth
from helpers.summaries import summary
from reference.conv import naive_conv_counting


def simulated_utilisation(rows, cols, R, C):
    """Place the weight matrix tile by tile on an R x C grid and count busy cells."""
    busy = total = 0
    for r0 in range(0, rows, R):
        for c0 in range(0, cols, C):
            grid = np.zeros((R, C), dtype=bool)
            grid[: min(R, rows - r0), : min(C, cols - c0)] = True
            busy += int(grid.sum())
            total += grid.size
    return busy / total


@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 16), st.integers(1, 16))
def test_utilisation_matches_tile_simulation(rows, cols, R, C):
    assert float(systolic.utilisation(rows, cols, R, C)) == pytest.approx(
        simulated_utilisation(rows, cols, R, C), abs=1e-12)


def test_exercise_values():
    assert systolic.utilisation(3, 48) == pytest.approx(3 * 48 / 65536)
    assert systolic.utilisation(48, 48) == pytest.approx(48 * 48 / 65536)
    assert systolic.utilisation(256, 256) == 1


def test_balance_point_from_the_paper():
    reuse = systolic.balance_reuse()
    assert reuse == pytest.approx(65536 * 700e6 / 34e9)        # Jouppi et al. 2017: cells, clock, bandwidth
    assert round(reuse) == 1349


def test_balance_point_of_any_array():
    # 2 x 3 cells at 10 Hz do 60 MACs/s; 30 bytes/s of 2-byte weights is 15 weights/s: 4 uses each
    toy = machines.SystolicArray("toy", 2, 3, 10.0, 30.0, 2, "made up")
    assert systolic.balance_reuse(toy) == 4


@given(st.floats(0.5, 1e7))
def test_min_square_side(reuse):
    n = systolic.min_square_side(reuse)
    assert n * n >= reuse and (n - 1) ** 2 < reuse


def test_bad_input():
    with pytest.raises(ValueError, match="rows must be a positive int"):
        systolic.utilisation(0, 3)
    with pytest.raises(ValueError, match="reuse must be positive"):
        systolic.min_square_side(0)
    with pytest.raises(ValueError, match="not divisible by block"):
        space_to_depth(np.zeros((1, 5, 4)), 2)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 7), st.integers(2, 4), st.integers(2, 5),
       st.integers(0, 1000))
def test_restacked_convolution_equals_strided_original(c_in, c_out, k, block, tiles, seed):
    size = block * tiles
    if k > size:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c_in, size, size))
    w = rng.standard_normal((c_out, c_in, k, k))
    original, _ = naive_conv_counting(x, w, block, 0, 1, 1)
    restacked, _ = naive_conv_counting(space_to_depth(x, block), restack_weights(w, block), 1, 0, 1, 1)
    # the restacked kernel is ceil(k/b) wide, so it may produce extra trailing outputs
    np.testing.assert_allclose(restacked[:, : original.shape[1], : original.shape[2]], original,
                               rtol=1e-10, atol=1e-10)
    assert restacked.shape[1] >= original.shape[1]


def test_space_to_depth_spec_matches_array_shapes():
    x = np.zeros((3, 220, 220))
    assert SpaceToDepth(4).output_shape(x.shape) == space_to_depth(x, 4).shape
    assert summary("tpu-conv1").rows[-1].output == summary("tpu-conv1-s2d").rows[-1].output == (48, 54, 54)


def test_vgg16_stored_values_match_the_published_per_layer_table():
    # CS231n "Convolutional Neural Networks" notes, VGGNet case study: one row per
    # INPUT / CONV / POOL / FC output (its printed total "24M" is not the sum of its rows)
    rows = ([224 * 224 * 3] + [224 * 224 * 64] * 2 + [112 * 112 * 64] + [112 * 112 * 128] * 2
            + [56 * 56 * 128] + [56 * 56 * 256] * 3 + [28 * 28 * 256] + [28 * 28 * 512] * 3
            + [14 * 14 * 512] + [14 * 14 * 512] * 3 + [7 * 7 * 512] + [4096, 4096, 1000])
    assert summary("vgg16").stored_values() == sum(rows) == 15_237_608


def test_group_totals_partition_the_rows():
    s = summary("resnet50")
    groups = s.group_totals()
    assert list(groups)[:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    for column in ("params", "macs", "activations"):
        assert sum(g[column] for g in groups.values()) == s.totals[column]
