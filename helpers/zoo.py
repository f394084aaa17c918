"""The model zoo: each model is a function returning a spec tree.

Models are registered with their default input shape, a one-line
description, the published figures they should reproduce and where those
figures come from. Tests compare every ``published`` figure with the walk.

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

from helpers.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Linear,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    SpaceToDepth,
)
from helpers.model import Parallel, Sequential, scale_width

__all__ = ["Entry", "names", "entry", "get", "alexnet", "vgg", "resnet50",
           "inception", "inception_naive", "inception_reduced", "resnet20"]


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


# --- ResNet-50 ---------------------------------------------------------------

def _bottleneck(planes, stride, downsample, stride_on):
    s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
    path = Sequential(
        ("conv1", Conv2d(planes, 1, stride=s1, bias=False)), ("bn1", BatchNorm2d()), ("relu1", ReLU()),
        ("conv2", Conv2d(planes, 3, stride=s3, padding=1, bias=False)), ("bn2", BatchNorm2d()),
        ("relu2", ReLU()),
        ("conv3", Conv2d(planes * 4, 1, bias=False)), ("bn3", BatchNorm2d()))
    shortcut = (Sequential(("0", Conv2d(planes * 4, 1, stride=stride, bias=False)),
                           ("1", BatchNorm2d())) if downsample else Sequential())
    return Sequential(("", Parallel(("", path), ("downsample", shortcut), merge="add")),
                      ("relu", ReLU()))


def resnet50(stride_on="3x3", width=1.0):
    """ResNet-50 from He, Zhang, Ren & Sun, *Deep Residual Learning for Image
    Recognition*, CVPR 2016, on 3x224x224, with torchvision's layer names.

    ``stride_on="1x1"`` is the paper's network (v1): a downsampling block
    strides in its first 1x1 convolution. ``stride_on="3x3"`` is torchvision's
    "v1.5", which strides in the 3x3 instead. ``width`` multiplies every
    convolution's channel count (``0.5`` halves the network; the classifier
    keeps 1000 classes).
    """
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(f"stride_on must be '1x1' or '3x3', got {stride_on!r}")
    stages = []
    for index, (blocks, planes, stride) in enumerate(
            ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)), 1):
        stage = [(str(b), _bottleneck(planes, stride if b == 0 else 1, b == 0, stride_on))
                 for b in range(blocks)]
        stages.append((f"layer{index}", Sequential(*stage)))
    net = Sequential(
        ("conv1", Conv2d(64, 7, stride=2, padding=3, bias=False)), ("bn1", BatchNorm2d()),
        ("relu", ReLU()), ("maxpool", MaxPool2d(3, 2, padding=1)),
        *stages,
        ("avgpool", GlobalAvgPool()), ("fc", Linear(1000)))
    return net if width == 1.0 else scale_width(net, width)


# --- Inception module (the 32x32x256 exercise) --------------------------------

def inception(c1, c3, c5, reduce3=None, reduce5=None, pool_proj=None, relu=False):
    """An inception module of Szegedy et al., *Going Deeper with Convolutions*,
    CVPR 2015: four branches on the same input, concatenated along the channels.

    Branches: a 1x1 convolution to ``c1`` maps; a 3x3 to ``c3`` maps, after a
    1x1 reduction to ``reduce3`` maps if given; a 5x5 to ``c5`` maps, after a
    1x1 reduction to ``reduce5`` maps if given; 3x3 max pooling (stride 1),
    followed by a 1x1 projection to ``pool_proj`` maps if given. Without
    reductions and projection it is the naive module (Fig. 2a), with them the
    module with dimension reductions (Fig. 2b). Every convolution is "same"
    padded, so all branches keep the input's grid. ``relu=True`` puts a ReLU
    after every convolution, as GoogLeNet does.

    Examples
    --------
    >>> from helpers.summaries import summary
    >>> s = summary(inception(2, 3, 1, reduce3=2, reduce5=1, pool_proj=1), (4, 5, 5))
    >>> [r.name for r in s.rows]
    ['1x1', '3x3.reduce', '3x3.conv', '5x5.reduce', '5x5.conv', 'pool.pool', 'pool.proj']
    >>> s.rows[2].macs == 5 * 5 * 3 * 2 * 3 * 3
    True
    """
    def conv(name, maps, kernel):
        layer = Conv2d(maps, kernel, padding="same" if kernel > 1 else 0)
        relu_name = "relu" if name == "conv" else f"{name}_relu"
        return [(name, layer)] + ([(relu_name, ReLU())] if relu else [])

    def branch(*parts):
        pairs = [pair for part in parts for pair in part]
        return pairs[0][1] if len(pairs) == 1 else Sequential(*pairs)

    def optional(name, maps):
        return conv(name, maps, 1) if maps else []

    return Parallel(
        ("1x1", branch(conv("conv", c1, 1))),
        ("3x3", branch(optional("reduce", reduce3), conv("conv", c3, 3))),
        ("5x5", branch(optional("reduce", reduce5), conv("conv", c5, 5))),
        ("pool", branch([("pool", MaxPool2d(3, 1, padding=1))], optional("proj", pool_proj))))


def inception_naive():
    """The naive module (Fig. 2a) sized as in the exercise: input 256x32x32;
    branches 1x1 (128), 3x3 (192), 5x5 (96) and 3x3 max pooling
    (128+192+96+256 = 672 output channels)."""
    return inception(128, 192, 96)


def inception_reduced(reduce3=128, reduce5=32, pool_proj=64):
    """The module with 1x1 dimension reductions (Fig. 2b) on the same input:
    1x1 (128); 1x1 (``reduce3``) then 3x3 (192); 1x1 (``reduce5``) then 5x5 (96);
    3x3 max pooling then a 1x1 projection (``pool_proj``)."""
    return inception(128, 192, 96, reduce3=reduce3, reduce5=reduce5, pool_proj=pool_proj)


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


def tiny_branch():
    """A tiny net with a concat and a residual add (3x12x12 input)."""
    return Sequential(
        ("stem", Conv2d(4, 3, padding=1)),
        ("mix", Parallel(("a", Conv2d(2, 1)), ("b", Conv2d(3, 3, padding=1)),
                         ("c", Sequential(MaxPool2d(3, 1, padding=1), Conv2d(1, 1))))),
        ("res", Parallel(("", Sequential(Conv2d(6, 3, padding=2, dilation=2), BatchNorm2d())),
                         ("", Sequential()), merge="add")),
        ("down", Conv2d(8, 3, stride=2, groups=2)),
        ("gap", GlobalAvgPool()), ("fc", Linear(5)))


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


# --- ResNet-20 (CIFAR-style) on the hand-written digits ----------------------

def _basic_block(planes, stride, project):
    path = Sequential(
        ("conv1", Conv2d(planes, 3, stride=stride, padding=1, bias=False)), ("bn1", BatchNorm2d()),
        ("relu1", ReLU()),
        ("conv2", Conv2d(planes, 3, padding=1, bias=False)), ("bn2", BatchNorm2d()))
    shortcut = (Sequential(("0", Conv2d(planes, 1, stride=stride, bias=False)), ("1", BatchNorm2d()))
                if project else Sequential())
    return Sequential(("", Parallel(("", path), ("shortcut", shortcut), merge="add")), ("relu", ReLU()))


def resnet20(width=16, classes=10, blocks=3):
    """The CIFAR-10 ResNet of He, Zhang, Ren & Sun, *Deep Residual Learning for Image
    Recognition*, CVPR 2016, section 4.2: a 3x3 convolution of ``width`` channels, then
    three stages of ``blocks`` basic blocks (two 3x3 convolutions each) with ``width``,
    2 ``width`` and 4 ``width`` channels, the second and third starting with stride 2,
    global average pooling and a ``classes``-way dense layer; 6 ``blocks`` + 2 = 20
    layers with weights. Every convolution is followed by batch norm.

    Where a stage doubles the channels and halves the size, the shortcut is a 1x1
    stride-2 convolution with batch norm (the paper's projection shortcut, option B;
    its CIFAR networks use option A, zero-padded identity shortcuts, which the spec
    language has no layer for). Sized here for the 1x8x8 hand-written digits
    (:mod:`helpers.engine.digits`): the stages run at 8x8, 4x4 and 2x2.
    """
    stages = []
    for index in range(1, 4):
        planes = width * 2 ** (index - 1)
        stages.append((f"layer{index}", Sequential(*[
            (str(b), _basic_block(planes, 2 if b == 0 and index > 1 else 1, b == 0 and index > 1))
            for b in range(blocks)])))
    return Sequential(
        ("conv1", Conv2d(width, 3, padding=1, bias=False)), ("bn1", BatchNorm2d()), ("relu", ReLU()),
        *stages, ("avgpool", GlobalAvgPool()), ("fc", Linear(classes)))


_register("resnet20", resnet20, (1, 8, 8),
          "ResNet-20 (He et al. 2016, CIFAR-style, 16/32/64) on 8x8 digits")
_register("resnet20-half", lambda: resnet20(width=8), (1, 8, 8),
          "ResNet-20 at half width (8/16/32) on 8x8 digits")
