"""The zoo's branched networks: inception modules and residual networks.

The inception module (a concat of four branches), ResNet-50 (v1 and v1.5, any
width), the CIFAR-style ResNet-20 and a tiny branched net for tests. Both ResNets
are built from :func:`_residual`, the one residual unit: ``relu(path + shortcut)``.
:mod:`helpers.zoo` registers them with their published figures.
"""

from __future__ import annotations

from helpers.layers import BatchNorm2d, Conv2d, GlobalAvgPool, Linear, MaxPool2d, ReLU
from helpers.model import Parallel, Sequential
from helpers.width import scale_width

__all__ = ["inception", "inception_naive", "inception_reduced", "resnet50", "resnet20", "tiny_branch"]


def _residual(path, planes, stride, project, shortcut_name):
    """``relu(path(x) + shortcut(x))``: the shortcut is the identity, or with ``project`` a
    1x1 convolution to ``planes`` maps with stride ``stride`` and batch norm (the paper's
    projection shortcut). Layer names follow torchvision."""
    shortcut = (Sequential(("0", Conv2d(planes, 1, stride=stride, bias=False)), ("1", BatchNorm2d()))
                if project else Sequential())
    return Sequential(("", Parallel(("", path), (shortcut_name, shortcut), merge="add")), ("relu", ReLU()))


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


# --- ResNet-50 ---------------------------------------------------------------

def _bottleneck(planes, stride, downsample, stride_on):
    s1, s3 = (stride, 1) if stride_on == "1x1" else (1, stride)
    path = Sequential(
        ("conv1", Conv2d(planes, 1, stride=s1, bias=False)), ("bn1", BatchNorm2d()), ("relu1", ReLU()),
        ("conv2", Conv2d(planes, 3, stride=s3, padding=1, bias=False)), ("bn2", BatchNorm2d()),
        ("relu2", ReLU()),
        ("conv3", Conv2d(planes * 4, 1, bias=False)), ("bn3", BatchNorm2d()))
    return _residual(path, planes * 4, stride, downsample, "downsample")


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


# --- ResNet-20 (CIFAR-style) on the hand-written digits ----------------------

def _basic_block(planes, stride, project):
    path = Sequential(
        ("conv1", Conv2d(planes, 3, stride=stride, padding=1, bias=False)), ("bn1", BatchNorm2d()),
        ("relu1", ReLU()),
        ("conv2", Conv2d(planes, 3, padding=1, bias=False)), ("bn2", BatchNorm2d()))
    return _residual(path, planes, stride, project, "shortcut")


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


# --- Tiny branched net for tests -------------------------------------------

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
