"""Build a spec tree as a PyTorch module with the engine's weights (optional).

Only imported when ``torch`` is importable; the workbook never requires it.
``python -m helpers bench`` uses it to time the same network, with the same
weights, side by side, and to compare the outputs.
"""

from __future__ import annotations

import numpy as np

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
from helpers.model import Layer, Sequential, join_name, trace

__all__ = ["available", "to_torch", "trainable"]


def available():
    """Whether torch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def to_torch(model, params, input_shape, leaves=None):
    """An ``nn.Module`` (eval mode) computing ``model`` with ``params``.

    If ``leaves`` is a dict, it is filled with layer name -> torch leaf module.
    """
    import torch
    from torch import nn

    shapes = {name: shape for name, _, shape, _ in trace(model, input_shape)}

    class Merge(nn.Module):
        def __init__(self, branches, merge):
            super().__init__()
            self.branches, self.merge = nn.ModuleList(branches), merge

        def forward(self, x):
            outs = [b(x) for b in self.branches]
            return torch.cat(outs, dim=1) if self.merge == "concat" else sum(outs)

    class S2D(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            n, c, h, w = x.shape
            b = self.block
            t = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
            return t.reshape(n, b * b * c, h // b, w // b)

    def tensor(a):
        return nn.Parameter(torch.from_numpy(np.ascontiguousarray(a)), requires_grad=False)

    def leaf(layer, name):
        p = params.get(name, {})
        if isinstance(layer, Conv2d):
            conv = nn.Conv2d(shapes[name][0], layer.out_channels, layer.kernel_size, layer.stride,
                             layer.padding, layer.dilation, layer.groups, layer.bias)
            conv.weight = tensor(p["weight"])
            if layer.bias:
                conv.bias = tensor(p["bias"])
            return conv
        if isinstance(layer, Linear):
            fc = nn.Linear(shapes[name][0], layer.out_features, layer.bias)
            fc.weight = tensor(p["weight"])
            if layer.bias:
                fc.bias = tensor(p["bias"])
            return fc
        if isinstance(layer, BatchNorm2d):
            bn = nn.BatchNorm2d(shapes[name][0], eps=layer.eps)
            bn.weight, bn.bias = tensor(p["weight"]), tensor(p["bias"])
            bn.running_mean.copy_(torch.from_numpy(p["running_mean"]))
            bn.running_var.copy_(torch.from_numpy(p["running_var"]))
            return bn
        simple = {ReLU: lambda: nn.ReLU(inplace=True), Dropout: lambda: nn.Dropout(layer.p),
                  Flatten: nn.Flatten, GlobalAvgPool: lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                  MaxPool2d: lambda: nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding,
                                                  layer.dilation, ceil_mode=layer.ceil_mode),
                  AvgPool2d: lambda: nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding,
                                                  layer.ceil_mode, layer.count_include_pad),
                  LocalResponseNorm: lambda: nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k),
                  SpaceToDepth: lambda: S2D(layer.block)}
        return simple[type(layer)]()

    def build(module, prefix):
        if isinstance(module, Layer):
            made = leaf(module, prefix or module.kind.lower())
            if leaves is not None:
                leaves[prefix or module.kind.lower()] = made
            return made
        children = [build(child, join_name(prefix, name)) for name, child in module.children]
        if isinstance(module, Sequential):
            return nn.Sequential(*children)
        return Merge(children, module.merge)

    return build(model, "").eval()


def trainable(model, params, input_shape):
    """``(module, leaves)``: ``model`` in PyTorch in training mode, with gradients, on copies
    of ``params`` (so that its optimiser never writes into the engine's arrays), in the
    dtype of ``params`` (float64 for gradient comparisons)."""
    import torch

    copies = {name: {k: np.array(a) for k, a in p.items()} for name, p in params.items()}
    leaves = {}
    module = to_torch(model, copies, input_shape, leaves=leaves).train()
    dtype = next((a.dtype for p in copies.values() for a in p.values()), np.dtype(np.float32))
    module.to(torch.float64 if dtype == np.float64 else torch.float32)
    for p in module.parameters():
        p.requires_grad_(True)
    return module, leaves
