"""One forward pass of a spec tree through the engine's kernels: which layers fuse,
which batch norms fold, and which activation buffers each step may overwrite or
give back (see :mod:`helpers.engine.forward` for the design).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from helpers.engine import elementwise, kernels, pooling, weights, winograd
from helpers.engine.buffers import POOL, new_output
from helpers.engine.fusion import conv_group_at, conv_plan, is_pointwise_layer
from helpers.engine.nhwc import flatten_nhwc, output_hw
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
from helpers.model import Layer, Parallel, Sequential, join_name

__all__ = ["LayerTime", "Run"]


@dataclass(frozen=True)
class LayerTime:
    """One layer of a profiled forward pass."""

    name: str
    kind: str
    ms: float
    bytes: int
    """Bytes the layer allocated: its output plus its workspace."""


def _release(x, y):
    """Give ``x``'s buffer back to the pool once ``y`` has been computed from it."""
    if y is not x and not np.shares_memory(x, y):
        POOL.release(x)


class Run:
    """One forward pass. ``owned`` travels with each array: an owned array is a pool
    buffer that the step receiving it may modify and give back once consumed; an
    array that is not owned (the caller's input, or the input a ``Parallel`` shares
    between its branches) is never written."""

    def __init__(self, params, conv, profile):
        self.params, self.conv, self.profile, self.times = params, conv, profile, {}
        self.fuse = conv != "naive"
        self.chain = self.fuse and not profile      # a profile times every layer on its own

    def record(self, name, kind, start, nbytes):
        if self.profile:
            ms = 1e3 * (time.perf_counter() - start) if start is not None else 0.0
            self.times[name] = LayerTime(name, kind, ms, nbytes)

    def module(self, module, x, owned, prefix, tail=None):
        """Run ``module``; ``tail = (add, relu)``: add ``add`` to its result, then ReLU."""
        if isinstance(module, Sequential):
            return self.sequence(module.children, x, owned, prefix, tail)
        if isinstance(module, Layer):
            name = prefix or module.kind.lower()
            start = time.perf_counter() if self.profile else None
            y, work = self.layer(module, name, x, owned)
            self.record(name, module.kind, start, (y.nbytes if y is not x else 0) + work)
            if owned:
                _release(x, y)
            owned = owned or y is not x
        else:
            y, owned = self.parallel(module, x, owned, prefix)
        return self.tail(y, owned, tail) if tail else (y, owned)

    def tail(self, y, owned, tail):
        add, relu = tail
        out = y if owned else new_output(y.shape)
        np.add(y, add, out=out)
        if relu:
            elementwise.relu(out)
        return out, True

    def sequence(self, children, x, owned, prefix, tail=None):
        """A chain; with the fast path, a convolution takes the batch norm and ReLU after it
        (and, ending the chain, the ``tail``), and a residual ``Parallel`` its ReLU."""
        i = 0
        while i < len(children):
            name, child = children[i]
            ahead = [c for _, c in children[i + 1:i + 3]]
            if self.fuse and isinstance(child, Conv2d):
                group = conv_group_at(children, i)
                i += len(group)
                chained = None
                if self.chain and i < len(children) and is_pointwise_layer(children[i][1]):
                    chained = conv_group_at(children, i)
                    i += len(chained)
                last = i == len(children)
                relu = any(isinstance(layer, ReLU) for _, layer in (chained or group)[1:])
                x, owned = self.conv_group(group, x, owned, prefix, tail if last and not relu else None, chained)
                if last and tail and relu:
                    x, owned = self.tail(x, owned, tail)
                if last:
                    return x, owned
                continue
            if (self.fuse and isinstance(child, Parallel) and child.merge == "add" and ahead
                    and isinstance(ahead[0], ReLU)):
                x, owned = self.residual(child, x, owned, join_name(prefix, name),
                                         join_name(prefix, children[i + 1][0]))
                i += 2
                continue
            x, owned = self.module(child, x, owned, join_name(prefix, name))
            i += 1
        return self.tail(x, owned, tail) if tail else (x, owned)

    def folded(self, group, prefix):
        """``(name, conv, weight, bias, relu)`` of a convolution group, its batch norm
        folded into the weights."""
        (name, conv), *rest = group
        name = join_name(prefix, name)
        p = self.params.get(name, {})
        weight, bias = p["weight"], p.get("bias")
        for part, layer in rest:
            if isinstance(layer, BatchNorm2d):
                weight, bias = weights.fold_batchnorm(weight, bias, self.params[join_name(prefix, part)],
                                                      layer.eps, conv.groups)
        return name, conv, weight, bias, any(isinstance(layer, ReLU) for _, layer in rest)

    def conv_group(self, group, x, owned, prefix, tail, chained=None):
        """A convolution with the batch norm folded into its weights and the ReLU (or
        ``tail``) applied to each block of its output as it is computed. ``chained``: a 1x1
        convolution group right after it (the ``tail`` is then its), see :meth:`chain_pair`."""
        if chained:
            return self.chain_pair(group, chained, x, owned, prefix, tail)
        name, conv, weight, bias, relu = self.folded(group, prefix)
        start = time.perf_counter() if self.profile else None
        add, relu = (tail[0], tail[1]) if tail else (None, relu)
        y, work = self.conv2d(conv, name, x, weight, bias, relu=relu, add=add)
        self.record(name, conv.kind, start, y.nbytes + work)
        for part, layer in group[1:]:
            self.record(join_name(prefix, part), layer.kind, None, 0)
        if owned:
            _release(x, y)
        return y, True

    def chain_pair(self, group, chained, x, owned, prefix, tail):
        """A convolution group and the 1x1 convolution group after it in one set of
        pipelines: each pipeline runs the 1x1 layer (:func:`helpers.engine.kernels.pointwise_then`)
        on its share of the first layer's output once computed, a hand-over fewer. Where
        either layer would split its output channels between the pipelines instead of its
        pixels (:func:`helpers.engine.kernels.splits_channels`), they run one after the other.
        (Never in a profile, which times every layer on its own.)"""
        name, conv, weight, bias, relu = self.folded(group, prefix)
        _, _, weight2, bias2, relu2 = self.folded(chained, prefix)
        (oh, ow), _, kernel = conv_plan(conv, name, x.shape, weight.shape[0], self.conv)
        if kernel == "split channels" or kernels.splits_channels(x.shape[0] * oh * ow, weight2.shape[0]):
            y, owned = self.conv_group(group, x, owned, prefix, None)
            return self.conv_group(chained, y, owned, prefix, tail)
        add2, relu2 = (tail[0], tail[1]) if tail else (None, relu2)
        out = new_output((x.shape[0], oh, ow, weight2.shape[0]))
        then = kernels.pointwise_then(weight2, bias2, out, add2, relu2, ones=True)
        y, _ = self.conv2d(conv, name, x, weight, bias, relu=relu, then=then, ones=True)
        if owned:
            _release(x, y)
        POOL.release(y)
        return out, True

    def residual(self, module, x, owned, prefix, relu_name):
        """``ReLU(main(x) + sum of the other branches)``: the other branches first, then
        the main one (the last that is not the identity), whose last convolution adds
        their sum and applies the ReLU to each block of its output."""
        branches = [(join_name(prefix, name), child) for name, child in module.children]
        main = max((i for i, (_, c) in enumerate(branches) if c != Sequential()), default=len(branches) - 1)
        acc, acc_owned = None, False
        for i, (name, child) in enumerate(branches):
            if i == main:
                continue
            out, out_owned = self.module(child, x, False, name)
            if acc is None:
                acc, acc_owned = out, out_owned
            else:
                total = acc if acc_owned else new_output(acc.shape)
                np.add(acc, out, out=total)
                if out_owned:
                    POOL.release(out)
                acc, acc_owned = total, True
        keep_x = acc is x or not owned
        name, child = branches[main]
        y, y_owned = self.module(child, x, not keep_x, name, tail=(acc, True) if acc is not None else None)
        if acc is None:
            y = elementwise.relu(y, y if y_owned else new_output(y.shape))
        if acc_owned:
            _release(acc, y)
        if owned and keep_x:
            _release(x, y)
        self.record(relu_name, "ReLU", None, 0)
        return y, True

    def parallel(self, module, x, owned, prefix):
        outs = [self.module(child, x, False, join_name(prefix, name)) for name, child in module.children]
        arrays = [y for y, _ in outs]
        if module.merge == "add":
            y = new_output(arrays[0].shape)
            np.add(arrays[0], arrays[1], out=y) if len(arrays) > 1 else np.copyto(y, arrays[0])
            for extra in arrays[2:]:
                y += extra
        else:
            y = new_output(arrays[0].shape[:-1] + (sum(a.shape[-1] for a in arrays),))
            np.concatenate(arrays, axis=-1, out=y)
        for a, a_owned in outs:
            if a_owned:
                POOL.release(a)
        if owned:
            _release(x, y)
        return y, True

    def layer(self, layer, name, x, owned):
        p = self.params.get(name, {})
        if isinstance(layer, Conv2d):
            return self.conv2d(layer, name, x, p["weight"], p.get("bias"))
        if isinstance(layer, Linear):
            return kernels.linear(x, p["weight"], p.get("bias")), 0
        if isinstance(layer, ReLU):
            return elementwise.relu(x, x if owned else new_output(x.shape)), 0
        if isinstance(layer, (Dropout,)):
            return x, 0
        if isinstance(layer, BatchNorm2d):
            scale = p["weight"] / np.sqrt(p["running_var"] + layer.eps)
            shift = p["bias"] - p["running_mean"] * scale
            y = np.multiply(x, scale, out=x if owned else new_output(x.shape))
            y += shift
            return y, 0
        if isinstance(layer, (MaxPool2d, AvgPool2d)):
            out_hw = output_hw(layer, x.shape, name)
            if isinstance(layer, MaxPool2d):
                return pooling.max_pool(x, layer.kernel_pair, layer.stride_pair, layer.padding_pair,
                                        layer.dilation_pair, out_hw), 0
            return pooling.avg_pool(x, layer.kernel_pair, layer.stride_pair, layer.padding_pair,
                                    out_hw, layer.count_include_pad), 0
        if isinstance(layer, LocalResponseNorm):
            return pooling.local_response_norm(x, layer.size, layer.alpha, layer.beta, layer.k), 0
        if isinstance(layer, GlobalAvgPool):
            return x.mean(axis=(1, 2), dtype=np.float32, out=new_output((x.shape[0], x.shape[3]))), 0
        if isinstance(layer, Flatten):
            return (flatten_nhwc(x, new_output((x.shape[0], x[0].size))) if x.ndim == 4 else x), 0
        if isinstance(layer, SpaceToDepth):
            output_hw(layer, x.shape, name)                                     # validates
            return pooling.space_to_depth(x, layer.block), 0
        raise TypeError(f"{name}: the engine has no kernel for {layer.kind}")

    def conv2d(self, layer, name, x, weight, bias, relu=False, add=None, then=None, ones=False):
        (oh, ow), pads, kernel = conv_plan(layer, name, x.shape, weight.shape[0], self.conv)
        if kernel == "naive":
            from helpers.lowering import conv2d_direct
            (top, bottom), (left, right) = pads
            if (top, left) != (bottom, right) or layer.stride_pair[0] != layer.stride_pair[1] \
                    or layer.dilation_pair[0] != layer.dilation_pair[1]:
                raise ValueError(f"{name}: the naive path takes square, symmetric settings only")
            y = np.stack([conv2d_direct(img.transpose(2, 0, 1).astype(np.float64), weight.astype(np.float64),
                                        layer.stride_pair[0], top, layer.dilation_pair[0], layer.groups)
                          for img in x]).transpose(0, 2, 3, 1).astype(np.float32)
            if bias is not None:
                y += bias
            return np.ascontiguousarray(y), 0
        if kernel == "winograd":
            return winograd.conv2d_winograd(x, weight, bias, pads, (oh, ow), relu=relu, add=add, then=then,
                                            ones=ones)
        return kernels.conv2d(x, weight, bias, layer.stride_pair, pads, layer.dilation_pair, layer.groups,
                              (oh, ow), relu=relu, add=add, then=then, ones=ones)
