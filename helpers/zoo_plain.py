"""The zoo's plain stacks: networks that are one chain of layers.

AlexNet (the 2012 paper's, single tower or grouped, and torchvision's), VGG-16
and VGG-19, the TPU exercise's first layer (plain and after space-to-depth) and a
tiny CNN for tests. :mod:`helpers.zoo` registers them with their published figures.

Examples
--------
>>> [name for name, _ in vgg(16).children][:4]
['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2']
"""

from __future__ import annotations

from helpers.layers import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    SpaceToDepth,
)
from helpers.model import Sequential

__all__ = ["alexnet", "alexnet_torchvision", "vgg", "tpu_conv1", "tiny_cnn"]


# --- AlexNet -----------------------------------------------------------------

def alexnet(grouped=False):
    """AlexNet as in Krizhevsky, Sutskever & Hinton, *ImageNet Classification with
    Deep Convolutional Neural Networks*, NIPS 2012, on a 3x227x227 input.

    ``grouped=False`` is the single-tower network (96/256/384/384/256
    channels); ``grouped=True`` keeps the paper's two-GPU split, in which
    conv2, conv4 and conv5 see only the half of the channels on their own GPU
    (``groups=2``). LRN (k=2, n=5, alpha=1e-4, beta=0.75) follows the ReLU of
    conv1 and conv2; dropout precedes fc6 and fc7.
    """
    g = 2 if grouped else 1
    lrn = LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)
    return Sequential(
        ("conv1", Conv2d(96, 11, stride=4)), ("relu1", ReLU()), ("norm1", lrn),
        ("pool1", MaxPool2d(3, 2)),
        ("conv2", Conv2d(256, 5, padding=2, groups=g)), ("relu2", ReLU()), ("norm2", lrn),
        ("pool2", MaxPool2d(3, 2)),
        ("conv3", Conv2d(384, 3, padding=1)), ("relu3", ReLU()),
        ("conv4", Conv2d(384, 3, padding=1, groups=g)), ("relu4", ReLU()),
        ("conv5", Conv2d(256, 3, padding=1, groups=g)), ("relu5", ReLU()),
        ("pool5", MaxPool2d(3, 2)),
        ("flatten", Flatten()),
        ("drop6", Dropout()), ("fc6", Linear(4096)), ("relu6", ReLU()),
        ("drop7", Dropout()), ("fc7", Linear(4096)), ("relu7", ReLU()),
        ("fc8", Linear(1000)),
    )


def alexnet_torchvision():
    """``torchvision.models.alexnet`` (after Krizhevsky, *One weird trick for
    parallelizing convolutional neural networks*, 2014): 64/192/384/256/256
    channels, no LRN, on 3x224x224. Its ``AdaptiveAvgPool2d((6, 6))`` is the
    identity at this input size and is left out. Names follow torchvision.
    """
    return Sequential(
        ("features", Sequential(
            Conv2d(64, 11, stride=4, padding=2), ReLU(), MaxPool2d(3, 2),
            Conv2d(192, 5, padding=2), ReLU(), MaxPool2d(3, 2),
            Conv2d(384, 3, padding=1), ReLU(),
            Conv2d(256, 3, padding=1), ReLU(),
            Conv2d(256, 3, padding=1), ReLU(), MaxPool2d(3, 2))),
        ("flatten", Flatten()),
        ("classifier", Sequential(
            Dropout(), Linear(4096), ReLU(), Dropout(), Linear(4096), ReLU(), Linear(1000))),
    )


# --- VGG ---------------------------------------------------------------------

_VGG_STAGES = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


def vgg(depth=16):
    """VGG-16 (configuration D) or VGG-19 (E) from Simonyan & Zisserman, *Very Deep
    Convolutional Networks for Large-Scale Image Recognition*, ICLR 2015, on
    3x224x224: 3x3 convolutions with padding 1, 2x2 max pooling, three dense
    layers. Layer names follow the paper's stages (``conv3_2``, ``pool3``, ``fc6``).
    """
    if depth not in _VGG_STAGES:
        raise ValueError(f"VGG depth must be 16 or 19, got {depth!r}")
    layers = []
    for stage, (repeats, width) in enumerate(zip(_VGG_STAGES[depth], (64, 128, 256, 512, 512), strict=True), 1):
        for i in range(1, repeats + 1):
            layers += [(f"conv{stage}_{i}", Conv2d(width, 3, padding=1)), (f"relu{stage}_{i}", ReLU())]
        layers.append((f"pool{stage}", MaxPool2d(2, 2)))
    layers += [("flatten", Flatten()),
               ("fc6", Linear(4096)), ("relu6", ReLU()), ("drop6", Dropout()),
               ("fc7", Linear(4096)), ("relu7", ReLU()), ("drop7", Dropout()),
               ("fc8", Linear(1000))]
    return Sequential(*layers)


# --- TPU exercise: AlexNet-like first layer and its space-to-depth twin -------

def tpu_conv1(restacked=False):
    """The TPU exercise's first layer (Hennessy & Patterson, *Computer
    Architecture*, 6th ed., ch. 7 exercises): 7x7 stride 4, 3 -> 48 channels
    on 3x220x220. ``restacked=True`` is the same computation after
    space-to-depth by 4: 48x55x55 input, a 2x2 kernel, 48 -> 48 channels.
    """
    if restacked:
        return Sequential(("s2d", SpaceToDepth(4)), ("conv", Conv2d(48, 2)))
    return Sequential(("conv", Conv2d(48, 7, stride=4)))


# --- Tiny nets for tests -------------------------------------------------------

def tiny_cnn():
    """A 4-layer CNN small enough to check by hand (3x16x16 input)."""
    return Sequential(
        ("conv1", Conv2d(4, 3, padding=1)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
        ("conv2", Conv2d(8, 3, stride=2, dilation=1)), ("relu2", ReLU()),
        ("pool2", AvgPool2d(3, 1, padding=1)),
        ("flatten", Flatten()), ("fc", Linear(10)))
