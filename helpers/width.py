"""A network at another width: every convolution's channels scaled by one factor
(:func:`scale_width`), the way a width multiplier halves a ResNet or thins a MobileNet."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from math import floor, gcd, inf, lcm
from numbers import Real

from helpers.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Layer,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    SpaceToDepth,
)
from helpers.model import Parallel, Sequential

__all__ = ["scale_width"]


def scale_width(module, factor):
    """Multiply every convolution's ``out_channels`` by ``factor``, rounded down (to at
    least 1, or at least one multiple of what the rounding below needs). A float factor is
    read as the decimal it prints as (0.29 of 100 channels is 29, where float arithmetic
    gives 28.999...); a factor of 1 returns the same network.

    Input channels follow automatically; dense layers keep their widths (the classifier
    still has as many classes). A grouped layer keeps its groups, and its width, and that
    of the convolution feeding it, are rounded down to a multiple of them, so that its
    input and output still split into its groups. "Feeding" is seen along a chain: through
    layers that keep the channels (ReLU, batch norm, pooling, LRN, dropout), depthwise
    layers and space-to-depth (which multiply the channels), into nested chains, and into
    the branches of a ``Parallel`` that starts right after it. A depthwise layer (one group
    per input channel, as the convolution before it in its chain shows) gets one group per
    scaled input channel and keeps its channel multiplier, as MobileNet's width multiplier
    does. What a chain does not show is not adjusted: a grouped layer right after the merge
    of a ``Parallel`` or on the network's input keeps its groups, and its input must still
    split into them; and as each width is rounded on its own, the branches of an addition
    can come out unequal when one of them is a concatenation, or starts with a grouped
    layer (``walk`` reports either).

    Examples
    --------
    >>> scale_width(Conv2d(64, 3), 0.5)
    Conv2d(out_channels=32, kernel_size=3, stride=1, padding=0, dilation=1, groups=1, bias=True)
    >>> from helpers.model import leaves
    >>> net = Sequential(Conv2d(96, 3), ReLU(), Conv2d(256, 3, groups=2), Conv2d(512, 3, groups=256))
    >>> [(c.out_channels, c.groups) for _, c in leaves(scale_width(net, 0.35)) if isinstance(c, Conv2d)]
    [(32, 1), (88, 2), (176, 88)]
    """
    if isinstance(factor, bool) or not isinstance(factor, Real) or not 0 < factor < inf:
        raise ValueError(f"width factor must be a positive number, got {factor!r}")
    exact = factor if isinstance(factor, (int, Fraction)) else Fraction(str(factor))    # numpy's too
    plan = []
    _plan(_chain(module), exact, plan, None)
    return _rebuild(module, iter(plan))


_SAME_CHANNELS = (ReLU, BatchNorm2d, MaxPool2d, AvgPool2d, LocalResponseNorm, Dropout)
"""Layers whose output has their input's channels: a convolution's width reaches the next
convolution through them."""


def _multiplier(layer):
    """How many times its input's channels a layer without weights outputs (1 for
    :data:`_SAME_CHANNELS`, ``block**2`` for space-to-depth), or ``None``."""
    if isinstance(layer, _SAME_CHANNELS):
        return 1
    if isinstance(layer, SpaceToDepth):
        return layer.block ** 2
    return None


def _chain(module):
    """A module's layers and ``Parallel`` modules in execution order, nested chains flattened."""
    if isinstance(module, Sequential):
        return [item for _, child in module.children for item in _chain(child)]
    return [module]


def _plan(items, factor, plan, source):
    """Append ``(out_channels, groups)`` of every convolution of a chain (and of the chains
    inside its ``Parallel`` modules), in execution order, to ``plan``. ``source``:
    ``(original, scaled)`` channels of the chain's input when a convolution of the same chain
    (or of the chain around it) made them, else ``None``."""
    for i, item in enumerate(items):
        if isinstance(item, Parallel):
            for _, branch in item.children:
                _plan(_chain(branch), factor, plan, source)
            source = None
        elif isinstance(item, Conv2d):
            if source is not None and item.groups == source[0] > 1:          # depthwise
                groups = source[1]
                width = item.out_channels // item.groups * groups
            else:
                groups = item.groups
                multiple = lcm(groups, _needed(items[i + 1:], item.out_channels, 1))
                width = max(multiple, floor(item.out_channels * factor) // multiple * multiple)
            plan.append((width, groups))
            source = (item.out_channels, width)
        else:
            times = _multiplier(item)
            source = None if source is None or times is None else (source[0] * times, source[1] * times)


def _needed(rest, channels, times):
    """What the layers after a convolution need its width to be a multiple of. Its output
    reaches them as ``channels`` channels (before scaling), ``times`` its width: the next
    grouped convolution's groups ``g`` need ``times * width`` to split into ``g``, seen
    through layers that keep or multiply the channels, depthwise layers (which multiply
    them by their channel multiplier) and into the branches of a ``Parallel``."""
    for item in rest:
        if isinstance(item, Parallel):
            return lcm(*(_needed(_chain(branch), channels, times) for _, branch in item.children))
        if isinstance(item, Conv2d):
            if item.groups == channels > 1:                                 # depthwise on it
                times *= item.out_channels // item.groups
                channels = item.out_channels
                continue
            return item.groups // gcd(item.groups, times)
        more = _multiplier(item)
        if more is None:
            return 1
        channels, times = channels * more, times * more
    return 1


def _rebuild(module, plan):
    """``module`` with its convolutions' ``(out_channels, groups)`` taken from ``plan`` in
    execution order."""
    if isinstance(module, Conv2d):
        width, groups = next(plan)
        return replace(module, out_channels=width, groups=groups)
    if isinstance(module, Layer):
        return module
    children = [(name, _rebuild(child, plan)) for name, child in module.children]
    return Parallel(*children, merge=module.merge) if isinstance(module, Parallel) else Sequential(*children)
