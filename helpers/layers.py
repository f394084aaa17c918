"""Layer specifications: plain, frozen data with ``torch.nn`` field names.

A spec knows its hyper-parameters, not its input: input channels and sizes
come from the shape that reaches it during a walk (:mod:`helpers.model`), so
changing a network's width is one :func:`dataclasses.replace` per layer.

Each spec answers four questions about a given input shape ``(C, H, W)`` or
``(F,)``: its output shape, its parameter count, its MACs per image, and its
sliding window (for receptive fields). Invalid hyper-parameters raise
``ValueError`` at construction; an input they cannot take raises
``ValueError`` naming the layer and the numbers.

Every spec is imported from here. This module holds the layers without a sliding
window (dense, flatten, global pooling, normalisation, ReLU, dropout,
space-to-depth); convolution and pooling share their window geometry in
:mod:`helpers.layers_window`, and the base :class:`Layer` with the checks of
hyper-parameters is :mod:`helpers.layers_base`.

Examples
--------
>>> conv = Conv2d(96, kernel_size=11, stride=4)
>>> conv.output_shape((3, 227, 227))
(96, 55, 55)
>>> conv.params((3, 227, 227)), conv.macs((3, 227, 227))
(34944, 105415200)
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from numbers import Real

from helpers import formulas as f
from helpers.layers_base import Layer, check_positive_int
from helpers.layers_window import AvgPool2d, Conv2d, MaxPool2d

__all__ = [
    "Layer", "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Linear",
    "Flatten", "ReLU", "BatchNorm2d", "Dropout", "LocalResponseNorm",
    "SpaceToDepth",
]


@dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """Average of each channel over all positions: ``(C, H, W) -> (C,)``."""

    spatial = False

    def output_shape(self, shape, name="pool"):
        self._need_spatial(shape, name, self.kind)
        return (shape[0],)


@dataclass(frozen=True)
class Flatten(Layer):
    """``(C, H, W) -> (C*H*W,)``."""

    spatial = False

    def output_shape(self, shape, name="flatten"):
        return (prod(shape),)


@dataclass(frozen=True)
class Linear(Layer):
    """Dense layer like ``torch.nn.Linear``; ``in_features`` comes from the input."""

    out_features: int
    bias: bool = True
    spatial = False

    def __post_init__(self):
        check_positive_int(self.out_features, "out_features", "Linear")

    def output_shape(self, shape, name="fc"):
        if len(shape) != 1:
            raise ValueError(f"{name} (Linear) needs a flat input, got shape {tuple(shape)}: add a Flatten")
        return (self.out_features,)

    def params(self, shape):
        return f.linear_params(shape[0], self.out_features, self.bias)

    def macs(self, shape):
        return f.linear_macs(shape[0], self.out_features)


@dataclass(frozen=True)
class ReLU(Layer):
    """Elementwise ``max(x, 0)``."""


@dataclass(frozen=True)
class Dropout(Layer):
    """Identity at inference."""

    p: float = 0.5

    def __post_init__(self):
        if isinstance(self.p, bool) or not isinstance(self.p, Real) or not 0 <= self.p <= 1:   # as torch
            raise ValueError(f"Dropout: p must be between 0 and 1, got {self.p!r}")


@dataclass(frozen=True)
class BatchNorm2d(Layer):
    """Batch normalisation; parameters are the per-channel scale and shift."""

    eps: float = 1e-5

    def output_shape(self, shape, name="bn"):
        self._need_spatial(shape, name, self.kind)
        return tuple(shape)

    def params(self, shape):
        return 2 * shape[0]


@dataclass(frozen=True)
class LocalResponseNorm(Layer):
    """Cross-channel normalisation like ``torch.nn.LocalResponseNorm``.

    AlexNet (2012) uses ``size=5, alpha=1e-4, beta=0.75, k=2``.
    """

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    def __post_init__(self):
        check_positive_int(self.size, "size", "LocalResponseNorm")


@dataclass(frozen=True)
class SpaceToDepth(Layer):
    """Move ``block x block`` pixel tiles into channels: ``(C, H, W) -> (C b², H/b, W/b)``.

    The channel order is (row offset, column offset, channel), the layout
    that TPU-style "space-to-depth" restacking uses.
    """

    block: int = 2

    def __post_init__(self):
        check_positive_int(self.block, "block", "SpaceToDepth")

    def output_shape(self, shape, name="s2d"):
        self._need_spatial(shape, name, self.kind)
        c, h, w = shape
        b = self.block
        if h % b or w % b:
            raise ValueError(f"{name} (SpaceToDepth): input {h}x{w} is not divisible by block {b}")
        return (c * b * b, h // b, w // b)

    def window(self):
        b = self.block
        return (b, b, 0), (b, b, 0)
