"""Sliding-window layer specs: convolution and pooling.

They share one geometry (kernel, stride, padding, dilation per axis, the check
that the window fits the padded input, the window for receptive fields) in
:class:`_Window`; :class:`Conv2d` adds channels and groups, the pools add
``ceil_mode``. Import them from :mod:`helpers.layers`.

Examples
--------
>>> Conv2d(8, 3, padding="same").output_shape((3, 10, 7))
(8, 10, 7)
>>> MaxPool2d(3, 2, ceil_mode=True).output_shape((4, 6, 6))
(4, 3, 3)
>>> MaxPool2d(3, 2, ceil_mode=True).output_shape((4, 2, 2))    # one window, larger than the input
(4, 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from helpers import formulas as f
from helpers.layers_base import Layer, as_pair, check_positive_int

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d"]


class _Window(Layer):
    """Shared logic of sliding-window layers (convolution and pooling)."""

    def pads(self):
        """``((top, bottom), (left, right))`` zeros added around the input."""
        return (self.padding_pair[0],) * 2, (self.padding_pair[1],) * 2

    def _check_fits(self, shape, name, fits=None, stride=None):
        """``ValueError`` naming the layer and the numbers unless, on each axis, the window
        lies inside the padded input (or, given ``fits``, the axis's ``fits`` is true: a
        ``ceil_mode`` pool's window may hang over by less than ``stride``)."""
        self._need_spatial(shape, name, self.kind)
        for i, (axis, size, k, d, (pb, pa)) in enumerate(zip(("height", "width"), shape[1:], self.kernel_pair,
                                                              self.dilation_pair, self.pads(), strict=True)):
            span = f.dilated_extent(k, d)
            if not (fits[i] if fits else span <= size + pb + pa):
                raise ValueError(
                    f"{name} ({self.kind}): kernel {span} is larger than the padded input "
                    f"{axis} {size} + {pb + pa} = {size + pb + pa}"
                    + (f" by {span - size - pb - pa}, not less than the stride {stride[i]} (ceil_mode)"
                       if stride else ""))

    def window(self):
        (kh, kw), (sh, sw) = self.kernel_pair, self.stride_pair
        (dh, dw) = self.dilation_pair
        (ph, _), (pw, _) = self.pads()
        return (f.dilated_extent(kh, dh), sh, ph), (f.dilated_extent(kw, dw), sw, pw)


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
        check_positive_int(self.out_channels, "out_channels", "Conv2d")
        check_positive_int(self.groups, "groups", "Conv2d")
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

    kernel_pair = cached_property(lambda self: as_pair(self.kernel_size, "kernel_size", "Conv2d"))
    stride_pair = cached_property(lambda self: as_pair(self.stride, "stride", "Conv2d"))
    dilation_pair = cached_property(lambda self: as_pair(self.dilation, "dilation", "Conv2d"))

    @cached_property
    def padding_pair(self):
        if self.padding == "valid":
            return (0, 0)
        return as_pair(self.padding, "padding", "Conv2d", allow_zero=True)

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
        k, _, p, _ = self.kernel_pair, self.stride_pair, self.padding_pair, self.dilation_pair  # they validate
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"{self.kind}: padding {self.padding!r} must be at most half the kernel "
                             f"{self.kernel_size!r}")

    kernel_pair = cached_property(lambda self: as_pair(self.kernel_size, "kernel_size", self.kind))
    stride_pair = cached_property(lambda self: self.kernel_pair if self.stride is None
                                  else as_pair(self.stride, "stride", self.kind))
    padding_pair = cached_property(lambda self: as_pair(self.padding, "padding", self.kind, allow_zero=True))
    dilation_pair = cached_property(lambda self: (1, 1))

    def output_shape(self, shape, name="pool"):
        # PyTorch's rule is the window count: with ceil_mode a window may hang over the padded
        # input's end by less than a stride (one larger than the whole input still gives one output)
        self._need_spatial(shape, name, self.kind)
        hw = [f.pool_output_size(n, k, s, p, d, self.ceil_mode) for n, k, s, p, d in zip(
            shape[1:], self.kernel_pair, self.stride_pair, self.padding_pair, self.dilation_pair, strict=True)]
        self._check_fits(shape, name, [n >= 1 for n in hw], self.stride_pair if self.ceil_mode else None)
        return (shape[0], *hw)


@dataclass(frozen=True)
class MaxPool2d(_Pool):
    """Max pooling like ``torch.nn.MaxPool2d`` (``stride`` defaults to the kernel)."""

    dilation: int | tuple = 1

    dilation_pair = cached_property(lambda self: as_pair(self.dilation, "dilation", "MaxPool2d"))


@dataclass(frozen=True)
class AvgPool2d(_Pool):
    """Average pooling like ``torch.nn.AvgPool2d`` (``stride`` defaults to the kernel)."""

    count_include_pad: bool = True
