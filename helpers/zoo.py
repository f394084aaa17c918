"""The model zoo: each model is a function returning a spec tree.

Models are registered with their default input shape, a one-line
description, the published figures they should reproduce and where those
figures come from. Tests compare every ``published`` figure with the walk.
The builders are in :mod:`helpers.zoo_plain` (AlexNet, VGG: one chain of layers)
and :mod:`helpers.zoo_branched` (inception, ResNets), and are imported from here
(``zoo.alexnet``, ``zoo.inception``, ...).

Examples
--------
>>> names()[:3]
['alexnet', 'alexnet-grouped', 'alexnet-torchvision']
>>> entry("vgg16").input_shape
(3, 224, 224)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from helpers.zoo_branched import inception, inception_naive, inception_reduced, resnet20, resnet50, tiny_branch
from helpers.zoo_plain import alexnet, alexnet_torchvision, tiny_cnn, tpu_conv1, vgg

__all__ = ["Entry", "names", "entry", "get", "alexnet", "alexnet_torchvision", "vgg", "resnet50",
           "inception", "inception_naive", "inception_reduced", "resnet20", "tpu_conv1", "tiny_cnn",
           "tiny_branch"]


@dataclass(frozen=True)
class Entry:
    """A registered model: how to build it and what it should reproduce."""

    name: str
    build: Callable
    input_shape: tuple
    description: str
    published: dict = field(default_factory=dict)
    """Figure name (``params``, ``macs``, ``rf``) -> (value, source)."""


_REGISTRY: dict[str, Entry] = {}


def _register(name, build, input_shape, description, **published):
    _REGISTRY[name] = Entry(name, build, tuple(input_shape), description, published)


def names():
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def entry(name):
    """The :class:`Entry` for ``name``; ``ValueError`` listing the names if unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from: {', '.join(names())}") from None


def get(name):
    """Build the spec tree of model ``name``."""
    return entry(name).build()


# --- the registry, with the published figures and their sources -------------

_TV = "torchvision.models documentation (model builders, 'num_params')"
_RF = ("google-research/receptive_field README, table of TF-Slim models "
       "(size and effective stride; its padding follows TF's asymmetric 'SAME')")

_register("alexnet", alexnet, (3, 227, 227),
          "AlexNet 2012, single tower (96/256/384/384/256)",
          params=(62_378_344, "Krizhevsky et al. 2012 architecture, single tower: "
                              "sum of layer parameters (62.3 million, as widely quoted)"),
          rf=(195, _RF + ", alexnet_v2: 195, stride 32, padding 64"))
_register("alexnet-grouped", lambda: alexnet(grouped=True), (3, 227, 227),
          "AlexNet 2012 with the paper's two-GPU grouping",
          params=(60_965_224, "Krizhevsky et al. 2012, 'the network has 60 million parameters'; "
                              "exact count of the grouped net"))
_register("alexnet-torchvision", alexnet_torchvision, (3, 224, 224),
          "torchvision AlexNet (64/192/384/256/256)",
          params=(61_100_840, _TV), macs=(710_000_000, _TV + ", 'GFLOPS' 0.71 (MACs)"))
_register("vgg16", lambda: vgg(16), (3, 224, 224), "VGG-16 (configuration D)",
          params=(138_357_544, _TV), macs=(15_470_000_000, _TV + ", 'GFLOPS' 15.47 (MACs)"),
          rf=(212, _RF + ", vgg_16: 212, stride 32, padding 90"))
_register("vgg19", lambda: vgg(19), (3, 224, 224), "VGG-19 (configuration E)",
          params=(143_667_240, _TV), macs=(19_630_000_000, _TV + ", 'GFLOPS' 19.63 (MACs)"))
_register("resnet50", resnet50, (3, 224, 224),
          "ResNet-50 v1.5 (torchvision: stride on the 3x3)",
          params=(25_557_032, _TV), macs=(4_090_000_000, _TV + ", 'GFLOPS' 4.09 (MACs)"))
_register("resnet50-v1", lambda: resnet50(stride_on="1x1"), (3, 224, 224),
          "ResNet-50 v1 (He et al. 2016: stride on the first 1x1)",
          params=(25_557_032, _TV + "; v1 and v1.5 have the same parameters"),
          rf=(483, _RF + ", resnet_v1_50: 483, stride 32"))
_register("resnet50-half", lambda: resnet50(width=0.5), (3, 224, 224),
          "ResNet-50 v1.5 with every convolution's width halved")
_register("inception-naive", inception_naive, (256, 32, 32),
          "naive inception module on 256x32x32 (1x1 128, 3x3 192, 5x5 96, pool)")
_register("inception-reduced", inception_reduced, (256, 32, 32),
          "inception module with 1x1 reductions 128/32 and pool projection 64")
_register("tpu-conv1", tpu_conv1, (3, 220, 220), "7x7 stride-4 conv, 3 -> 48, on 3x220x220")
_register("tpu-conv1-s2d", lambda: tpu_conv1(restacked=True), (3, 220, 220),
          "the same layer after space-to-depth by 4 (2x2 kernel, 48 -> 48)")
_register("tiny-cnn", tiny_cnn, (3, 16, 16), "4-layer test net")
_register("tiny-branch", tiny_branch, (3, 12, 12), "test net with concat and residual add")
_register("resnet20", resnet20, (1, 8, 8),
          "ResNet-20 (He et al. 2016, CIFAR-style, 16/32/64) on 8x8 digits")
_register("resnet20-half", lambda: resnet20(width=8), (1, 8, 8),
          "ResNet-20 at half width (8/16/32) on 8x8 digits")
