"""ResNet-20 and its half-width twin against an independent count and the paper."""

import pytest

from helpers import zoo
from helpers.summaries import summary
from reference.resnet20 import resnet20_counts


@pytest.mark.parametrize("name, width", [("resnet20", 16), ("resnet20-half", 8)])
def test_counts_match_a_first_principles_count(name, width):
    t = summary(name).totals
    assert zoo.entry(name).input_shape == (1, 8, 8)
    assert (t["params"], t["macs"], t["activations"]) == resnet20_counts(width)


@pytest.mark.parametrize("side", [8, 16, 32])
def test_counts_at_other_input_sizes(side):
    t = summary("resnet20", (1, side, side)).totals
    assert (t["params"], t["macs"], t["activations"]) == resnet20_counts(16, side=side)


def test_the_papers_network_has_the_published_parameter_count():
    # He et al. 2016, Table 6: ResNet-20 on CIFAR-10 has 0.27M parameters (option A shortcuts,
    # 3x32x32 input). The zoo's variant differs only by the projection shortcuts and the
    # one-channel input; the reference counts both.
    paper, _, _ = resnet20_counts(16, in_channels=3, side=32, shortcut="zeros")
    assert round(paper / 1e6, 2) == 0.27
    ours = summary("resnet20").totals["params"]
    assert ours - paper == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64) - 9 * 2 * 16


def test_half_width_halves_every_convolution():
    assert [r.output[0] for r in summary("resnet20-half").select("Conv2d")] == [
        r.output[0] // 2 for r in summary("resnet20").select("Conv2d")]


def test_receptive_field_at_global_pooling():
    # by hand: stem 3x3 (r 3, j 1); stage 1, six 3x3 at j 1: +12; stage 2, a 3x3 stride 2 at j 1 (+2,
    # then j 2) and five 3x3 at j 2 (+20); stage 3, a 3x3 stride 2 at j 2 (+4, then j 4) and five at
    # j 4 (+40): 3 + 12 + 22 + 44 = 81, effective stride 4
    from helpers.receptive import final_field
    field = final_field(zoo.get("resnet20"))
    assert (field.size, field.stride) == (81, 4)
