"""The zoo's general inception module against counts written from its definition."""

from helpers import ReLU, Sequential, summary, zoo
from reference.counts import inception_params


def test_named_modules_are_the_general_builder():
    assert zoo.inception_naive() == zoo.inception(128, 192, 96)
    assert zoo.inception_reduced(64, 16, 32) == zoo.inception(128, 192, 96, reduce3=64, reduce5=16, pool_proj=32)


def test_reduced_module_counts_and_output_depth():
    s = summary(zoo.inception(32, 64, 16, reduce3=48, reduce5=8, pool_proj=16), (64, 8, 8))
    assert s.totals["params"] == inception_params(64, 32, 48, 64, 8, 16, 16)
    assert s.totals["macs"] == 8 * 8 * (64 * 32 + 64 * 48 + 9 * 48 * 64 + 64 * 8 + 25 * 8 * 16 + 64 * 16)


def test_relu_adds_only_relus():
    plain = summary(zoo.inception(4, 6, 2, reduce3=3, reduce5=1, pool_proj=2), (5, 6, 6))
    with_relu = summary(zoo.inception(4, 6, 2, reduce3=3, reduce5=1, pool_proj=2, relu=True), (5, 6, 6))
    assert with_relu.totals["params"] == plain.totals["params"]
    assert with_relu.totals["macs"] == plain.totals["macs"]
    assert len(with_relu.select("ReLU")) == 6 and not plain.select("ReLU")
    # the concatenation: 4 + 6 + 2 + 2 maps
    assert summary(Sequential(zoo.inception(4, 6, 2, reduce3=3, reduce5=1, pool_proj=2), ReLU()),
                   (5, 6, 6)).rows[-1].output == (14, 6, 6)
