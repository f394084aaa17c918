"""Layer specifications: plain, frozen data with ``torch.nn`` field names.

A spec knows its hyper-parameters, not its input: input channels and sizes
come from the shape that reaches it during a walk (:mod:`helpers.model`), so
changing a network's width is one :func:`dataclasses.replace` per layer.

Each spec answers four questions about a given input shape ``(C, H, W)`` or
``(F,)``: its output shape, its parameter count, its MACs per image, and its
sliding window (for receptive fields). Invalid hyper-parameters raise
``ValueError`` at construction; an input they cannot take raises
``ValueError`` naming the layer and the numbers.

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
from functools import cached_property
from math import prod

from helpers import formulas as f

__all__ = [
    "Layer", "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Linear",
    "Flatten", "ReLU", "BatchNorm2d", "Dropout", "LocalResponseNorm",
    "SpaceToDepth",
]


def _pair(value, what, layer, allow_zero=False):
    """Validate an int or a pair of ints and return a pair."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    low = 0 if allow_zero else 1
    if len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= low for v in pair):
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{layer}: {what} must be a {need} int or a pair of them, got {value!r}")
    return pair


def _positive_int(value, what, layer):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")


class Layer:
    """Base of all leaf specs: a layer that keeps the shape and has no cost."""

    spatial = True
    """Whether the layer keeps a spatial layout (receptive fields continue)."""

    @property
    def kind(self):
        """The class name, as shown in tables (``"Conv2d"``)."""
        return type(self).__name__

    def output_shape(self, shape, name="layer"):
        """Output shape for input ``shape``; ``name`` is used in errors."""
        return tuple(shape)

    def params(self, shape):
        """Learned values for input ``shape``."""
        return 0

    def macs(self, shape):
        """Multiply-accumulates per image for input ``shape``."""
        return 0

    def window(self):
        """``((k_h, s_h, p_h), (k_w, s_w, p_w))``: effective kernel, stride and
        padding before, per axis, for receptive fields."""
        return (1, 1, 0), (1, 1, 0)

    @staticmethod
    def _need_spatial(shape, name, kind):
        if len(shape) != 3:
            raise ValueError(f"{name} ({kind}) needs a (C, H, W) input, got shape {tuple(shape)}")


class _Window(Layer):
    """Shared logic of sliding-window layers (convolution and pooling)."""

    def pads(self):
        """``((top, bottom), (left, right))`` zeros added around the input."""
        return (self.padding_pair[0],) * 2, (self.padding_pair[1],) * 2

    def _check_fits(self, shape, name):
        self._need_spatial(shape, name, self.kind)
        kh, kw = self.kernel_pair
        dh, dw = self.dilation_pair
        for axis, size, k, d, (pb, pa) in (("height", shape[1], kh, dh, self.pads()[0]),
                                           ("width", shape[2], kw, dw, self.pads()[1])):
            span = d * (k - 1) + 1
            if span > size + pb + pa:
                raise ValueError(
                    f"{name} ({self.kind}): kernel {span} is larger than the padded input "
                    f"{axis} {size} + {pb + pa} = {size + pb + pa}")

    def window(self):
        (kh, kw), (sh, sw) = self.kernel_pair, self.stride_pair
        (dh, dw) = self.dilation_pair
        (ph, _), (pw, _) = self.pads()
        return (dh * (kh - 1) + 1, sh, ph), (dw * (kw - 1) + 1, sw, pw)


@dataclass(frozen=True)
class Conv2d(_Window):
    """2-D convolution (cross-correlation) like ``torch.nn.Conv2d``.

    Parameters
    ----------
    out_channels : int
        :math:`C_{out}`; :math:`C_{in}` comes from the input shape.
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), ``"same"`` or ``"valid"``
        ``"same"`` (stride 1 only, as in PyTorch) pads so the output keeps the
        input size; an even kernel puts the extra zero after.
    groups : int
        Channels are split into ``groups`` independent convolutions.
    bias : bool
    """

    out_channels: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: int | tuple | str = 0
    dilation: int | tuple = 1
    groups: int = 1
    bias: bool = True

    def __post_init__(self):
        _positive_int(self.out_channels, "out_channels", "Conv2d")
        _positive_int(self.groups, "groups", "Conv2d")
        _ = self.kernel_pair, self.stride_pair, self.dilation_pair  # the properties validate
        if isinstance(self.padding, str):
            if self.padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {self.padding!r}")
            if self.padding == "same" and self.stride_pair != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as in PyTorch), got stride {self.stride!r}")
        else:
            _ = self.padding_pair  # the property validates
        if self.out_channels % self.groups:
            raise ValueError(f"Conv2d: out_channels {self.out_channels} is not divisible by groups {self.groups}")

    kernel_pair = cached_property(lambda self: _pair(self.kernel_size, "kernel_size", "Conv2d"))
    stride_pair = cached_property(lambda self: _pair(self.stride, "stride", "Conv2d"))
    dilation_pair = cached_property(lambda self: _pair(self.dilation, "dilation", "Conv2d"))

    @cached_property
    def padding_pair(self):
        if self.padding == "valid":
            return (0, 0)
        return _pair(self.padding, "padding", "Conv2d", allow_zero=True)

    def pads(self):
        if self.padding == "same":
            return tuple(f.same_padding(k, d) for k, d in zip(self.kernel_pair, self.dilation_pair, strict=True))
        return super().pads()

    def output_shape(self, shape, name="conv"):
        self._check_fits(shape, name)
        if shape[0] % self.groups:
            raise ValueError(f"{name} (Conv2d): in_channels {shape[0]} is not divisible by groups {self.groups}")
        hw = [f.output_size(n, k, s, p, d) for n, k, s, p, d in zip(
            shape[1:], self.kernel_pair, self.stride_pair, self.pads(), self.dilation_pair, strict=True)]
        return (self.out_channels, *hw)

    def params(self, shape):
        return f.conv2d_params(shape[0], self.out_channels, *self.kernel_pair, self.groups, self.bias)

    def macs(self, shape):
        _, h, w = self.output_shape(shape)
        return f.conv2d_macs(h, w, shape[0], self.out_channels, *self.kernel_pair, self.groups)


@dataclass(frozen=True)
class _Pool(_Window):
    kernel_size: int | tuple = 2
    stride: int | tuple | None = None
    padding: int | tuple = 0
    ceil_mode: bool = False

    def __post_init__(self):
        k, _, p = self.kernel_pair, self.stride_pair, self.padding_pair
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"{self.kind}: padding {self.padding!r} must be at most half the kernel "
                             f"{self.kernel_size!r}")

    kernel_pair = cached_property(lambda self: _pair(self.kernel_size, "kernel_size", self.kind))
    stride_pair = cached_property(lambda self: self.kernel_pair if self.stride is None
                           else _pair(self.stride, "stride", self.kind))
    padding_pair = cached_property(lambda self: _pair(self.padding, "padding", self.kind, allow_zero=True))
    dilation_pair = cached_property(lambda self: (1, 1))

    def output_shape(self, shape, name="pool"):
        self._check_fits(shape, name)
        hw = [f.pool_output_size(n, k, s, p, d, self.ceil_mode) for n, k, s, p, d in zip(
            shape[1:], self.kernel_pair, self.stride_pair, self.padding_pair, self.dilation_pair, strict=True)]
        return (shape[0], *hw)


@dataclass(frozen=True)
class MaxPool2d(_Pool):
    """Max pooling like ``torch.nn.MaxPool2d`` (``stride`` defaults to the kernel)."""

    dilation: int | tuple = 1

    dilation_pair = cached_property(lambda self: _pair(self.dilation, "dilation", "MaxPool2d"))


@dataclass(frozen=True)
class AvgPool2d(_Pool):
    """Average pooling like ``torch.nn.AvgPool2d`` (``stride`` defaults to the kernel)."""

    count_include_pad: bool = True


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
        _positive_int(self.out_features, "out_features", "Linear")

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
        _positive_int(self.size, "size", "LocalResponseNorm")


@dataclass(frozen=True)
class SpaceToDepth(Layer):
    """Move ``block x block`` pixel tiles into channels: ``(C, H, W) -> (C b², H/b, W/b)``.

    The channel order is (row offset, column offset, channel), the layout
    that TPU-style "space-to-depth" restacking uses.
    """

    block: int = 2

    def __post_init__(self):
        _positive_int(self.block, "block", "SpaceToDepth")

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
