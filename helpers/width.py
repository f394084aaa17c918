"""A network at another width: every convolution's channels scaled by one factor
(:func:`scale_width`), the way a width multiplier halves a ResNet or thins a MobileNet."""

from __future__ import annotations

from dataclasses import replace
from math import inf, lcm
from numbers import Real

from helpers.layers import AvgPool2d, BatchNorm2d, Conv2d, Dropout, Layer, LocalResponseNorm, MaxPool2d, ReLU
from helpers.model import Parallel, Sequential

__all__ = ["scale_width"]


def scale_width(module, factor):
    """Multiply every convolution's ``out_channels`` by ``factor``, rounded down (to at
    least 1, or at least one multiple of what the rounding below needs).

    Input channels follow automatically; dense layers keep their widths (the classifier
    still has as many classes). A grouped layer keeps its groups, and its width, and that
    of the convolution feeding it (through layers that keep the channels, such as ReLU,
    pooling or a depthwise layer, and into nested chains), are rounded down to a multiple
    of them, so that its input and output still split into its groups. A depthwise layer
    (one group per input channel, as the convolution before it shows) gets one group per
    scaled input channel and keeps its channel multiplier, as MobileNet's width multiplier
    does. What cannot be seen from a chain is not adjusted: a grouped layer right after a
    branch point (a ``Parallel``) or at the start of the network keeps its groups, and its
    input must still split into them; and as each width is rounded on its own, a
    concatenation added to another branch may no longer match it (``walk`` says so).

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
    plan = []
    _plan(_chain(module), factor, plan, None)
    return _rebuild(module, iter(plan))


_SAME_CHANNELS = (ReLU, BatchNorm2d, MaxPool2d, AvgPool2d, LocalResponseNorm, Dropout)
"""Layers whose output has their input's channels: a convolution's width reaches the next
convolution through them."""


def _chain(module):
    """A module's layers and ``Parallel`` modules in execution order, nested chains flattened."""
    if isinstance(module, Sequential):
        return [item for _, child in module.children for item in _chain(child)]
    return [module]


def _plan(items, factor, plan, source):
    """Append ``(out_channels, groups)`` of every convolution of a chain (and of the chains
    inside its ``Parallel`` modules), in execution order, to ``plan``. ``source``: ``(original,
    scaled)`` width of the chain's input when a convolution of the same chain made it, else
    ``None``."""
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
                multiple = lcm(groups, _needed(items[i + 1:], item.out_channels))
                width = max(multiple, int(item.out_channels * factor) // multiple * multiple)
            plan.append((width, groups))
            source = (item.out_channels, width)
        elif not isinstance(item, _SAME_CHANNELS):
            source = None


def _needed(rest, width):
    """What the layers after a convolution need its output (``width`` channels before
    scaling) to be a multiple of: the groups of the next grouped convolution, looking
    through layers that keep the channels, depthwise layers and into ``Parallel`` modules."""
    for item in rest:
        if isinstance(item, Parallel):
            return lcm(*(_needed(_chain(branch), width) for _, branch in item.children))
        if isinstance(item, Conv2d):
            if item.groups != width or width == 1:                           # not depthwise on it
                return item.groups
            width = item.out_channels
        elif not isinstance(item, _SAME_CHANNELS):
            return 1
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
