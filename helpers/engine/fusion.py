"""Which layers the engine's fast path runs together, and what it works out once per layer:
a convolution with the batch norm and ReLU right after it (:func:`conv_group_at`), a 1x1
convolution that can follow another pixel by pixel (:func:`is_pointwise_layer`), and a
convolution's output size, padding and kernel (:func:`conv_plan`).
"""

from __future__ import annotations

from helpers.engine import kernels, winograd
from helpers.engine.nhwc import output_hw
from helpers.layers import BatchNorm2d, Conv2d, ReLU

__all__ = ["conv_group_at", "conv_plan", "is_pointwise_layer"]

_GEOMETRY = {}


def _geometry(layer, name, x_shape, channels):
    """A convolution's ``((H_out, W_out), pads, whether Winograd applies)`` for an NHWC
    input of ``x_shape``, worked out once per layer and shape: the spec's checks are already
    made once per pass by the trace, and repeating them for ~50 convolutions cost ResNet-50
    a few tenths of a millisecond per pass."""
    key = (id(layer), x_shape, channels)
    hit = _GEOMETRY.get(key)
    if hit is not None and hit[0] is layer:
        return hit[1]
    out_hw = output_hw(layer, x_shape, name)
    use = winograd.winograd_applies(layer.kernel_pair, layer.stride_pair, layer.dilation_pair, layer.groups,
                                    winograd.tile_count(x_shape[0], out_hw), channels)
    if len(_GEOMETRY) > 4096:
        _GEOMETRY.clear()
    _GEOMETRY[key] = (layer, (out_hw, layer.pads(), use))
    return _GEOMETRY[key][1]


def conv_group_at(children, i):
    """The convolution at ``children[i]`` with the batch norm and ReLU right after it."""
    ahead = [c for _, c in children[i + 1:i + 3]]
    bn = bool(ahead) and isinstance(ahead[0], BatchNorm2d)
    relu = len(ahead) > bn and isinstance(ahead[bn], ReLU)
    return children[i:i + 1 + bn + relu]


def is_pointwise_layer(layer):
    """Whether ``layer`` is a convolution that needs only the pixels at its own positions
    (:func:`helpers.engine.kernels.is_pointwise`), so it can follow a convolution pixel by pixel."""
    return isinstance(layer, Conv2d) and kernels.is_pointwise(layer.kernel_pair, layer.stride_pair, layer.pads(),
                                                               layer.groups)


def conv_plan(layer, name, x_shape, c_out, conv):
    """``((H_out, W_out), pads, kernel)`` of a convolution on an NHWC input of ``x_shape``
    run with the ``conv`` path of :func:`helpers.engine.forward.forward`: ``kernel`` is
    ``"winograd"`` (fast path, a large 3x3 stride-1 layer), ``"split channels"`` (its
    pipelines split its ``c_out`` output channels, :func:`helpers.engine.kernels.splits_channels`),
    ``"gemm"`` (its pipelines split its pixels: im2col, or a 1x1 layer's input as it is)
    or ``"naive"``.

    >>> [conv_plan(Conv2d(c, k, padding=k // 2), "c", shape, c, path)[2]
    ...  for c, k, shape, path in [(256, 3, (1, 14, 14, 256), "fast"), (256, 3, (1, 14, 14, 256), "im2col"),
    ...                            (512, 1, (1, 7, 7, 512), "fast"), (64, 3, (1, 56, 56, 64), "fast"),
    ...                            (64, 3, (1, 56, 56, 64), "naive")]]
    ['winograd', 'gemm', 'split channels', 'gemm', 'naive']
    """
    out_hw, pads, use_winograd = _geometry(layer, name, x_shape, min(x_shape[3], c_out))
    if conv == "naive":
        return out_hw, pads, "naive"
    if conv == "fast" and use_winograd:
        return out_hw, pads, "winograd"
    if kernels.splits_channels(x_shape[0] * out_hw[0] * out_hw[1], c_out, layer.groups):
        return out_hw, pads, "split channels"
    return out_hw, pads, "gemm"
