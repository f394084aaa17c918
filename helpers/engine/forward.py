"""A numpy inference engine for the zoo's spec trees (float32).

``init_params(model, input_shape, seed)`` builds seeded random weights from
the specs, in PyTorch's layouts (a convolution's weight is ``(C_out, C_in/g,
kh, kw)``, a dense layer's ``(out, in)``), so that they can be loaded into
torch unchanged. ``forward(model, params, x)`` runs a batch ``x`` of shape
``(N, C, H, W)`` (or ``(N, F)``) and returns the output in the same layout.

Design of the fast path (``conv="fast"``, the default):

- **Channels-last inside.** The input is transposed once to NHWC; every
  layer then reads and writes NHWC, so a convolution's GEMM output is the
  next layer's input without a transpose, and the one transpose back to
  PyTorch's channel-first order happens at ``Flatten``.
- **One pipeline per core.** A convolution's output rows (of the whole
  batch) are split into one part per BLAS thread, each run on its own thread
  with a *single-threaded* GEMM (:mod:`helpers.engine.blas` switches OpenBLAS for
  the layer): a pipeline gathers the patches of a block of rows into its own
  2 MiB patch matrix (im2col, which stays in the core's L2 cache) and
  multiplies it with ``np.matmul(..., out=)`` straight into the output.
  Measured on AlexNet at batch 32 (2 cores), this ran conv1 at about 80 %
  of the GEMM peak against 53 % for one big 2-thread GEMM over 48 MiB
  chunks: the copy no longer goes through memory, and independent GEMMs
  share no synchronisation. Dense layers split their output features the
  same way, so the BLAS's own threads never wake (after a call they spin for
  a while and would steal the cores from the next layer). Without a
  switchable BLAS everything runs as one pipeline with the BLAS's threads.
  (Summing ``F_r F_c`` shifted GEMMs, notebook 03's other lowering, avoids
  the gather but runs ``F_r F_c`` thinner GEMMs and accumulates through
  memory; on this machine the gathered GEMM was faster.)
- **Winograd F(2x2, 3x3)** for large 3x3 stride-1 layers
  (:mod:`helpers.engine.winograd`), with the same pipelines over rows of tiles.
  A 1x1 stride-1 convolution needs no gather at all: its NHWC input *is* the
  patch matrix, multiplied block by block. With few output pixels per
  pipeline (batch 1, the last stages), the pipelines split the output
  channels instead of the pixels, so that each GEMM keeps every row.
- **Batch norm folded, the rest fused.** A batch norm right after a
  convolution is folded into its weights and bias (computed in float64,
  rounded once: :func:`helpers.engine.kernels.fold_batchnorm`); the ReLU after
  it, and in a residual block the addition of the shortcut and the ReLU after
  it, are applied to each block of the convolution's output right after its
  GEMM, while the block is in the core's cache. A residual ``Parallel``
  computes its shortcut first, then its main branch, whose last convolution
  adds the shortcut. So batch norm, ReLU and addition cost no pass of their
  own over memory; a profile shows them at 0 ms, their time inside the
  convolution's.
- **Reused memory.** Patch matrices, Winograd buffers and padded inputs live
  in workspaces kept between calls, and every activation is taken from a
  pool of buffers kept between passes (:mod:`helpers.engine.buffers`): a
  layer's input goes back to the pool once consumed (a ``Parallel``'s input
  once its last branch has read it), so a chain of layers (AlexNet, VGG)
  lives in two buffers, the two largest activations, and a residual network
  in a few more, with no page faults for fresh memory in any layer of any
  pass after the first. All of them are anonymous memory maps of their own,
  returned to the system when they grow, never left as holes in malloc's
  heap. The result is copied out at the end.
- **Derived weights cached.** A convolution's GEMM-layout filter (with the
  bias as an extra row; folded with its batch norm) and its Winograd
  transform are computed once per set of parameter arrays: treat parameter
  arrays as immutable (replace, don't edit in place), or call
  :func:`clear_weight_caches` after an edit in place.
- **In place where safe.** Results are written into arrays the engine owns;
  the caller's input and a tensor shared by the branches of a ``Parallel``
  are never modified.

``conv="naive"`` runs every convolution with the explicit loops of
:func:`helpers.lowering.conv2d_direct` and every layer on its own (batch
norms unfolded, nothing fused): the reference for tests, usable only on tiny
inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from helpers.engine import kernels
from helpers.engine import winograd
from helpers.engine.buffers import POOL, new_output
from helpers.layers import (AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear,
                     LocalResponseNorm, MaxPool2d, ReLU, SpaceToDepth)
from helpers.model import Layer, Parallel, Sequential, join_name, trace

__all__ = ["init_params", "forward", "LayerTime", "param_count", "clear_weight_caches"]


@dataclass(frozen=True)
class LayerTime:
    """One layer of a profiled forward pass."""

    name: str
    kind: str
    ms: float
    bytes: int
    """Bytes the layer allocated: its output plus its workspace."""


def init_params(model, input_shape, seed=0):
    """Seeded float32 parameters for every layer that has some, keyed by layer name.

    Convolutions and dense layers get He-normal weights and small random
    biases; batch norms a scale, a shift and running statistics near 1 and 0.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for name, layer, shape, _ in trace(model, input_shape):
        if isinstance(layer, Conv2d):
            kh, kw = layer.kernel_pair
            fan_in = shape[0] // layer.groups * kh * kw
            w = rng.standard_normal((layer.out_channels, shape[0] // layer.groups, kh, kw), dtype=np.float32)
            w *= np.float32(np.sqrt(2 / fan_in))
            params[name] = {"weight": w}
            if layer.bias:
                params[name]["bias"] = (0.01 * rng.standard_normal(layer.out_channels)).astype(np.float32)
        elif isinstance(layer, Linear):
            w = rng.standard_normal((layer.out_features, shape[0]), dtype=np.float32)
            w *= np.float32(np.sqrt(2 / shape[0]))
            params[name] = {"weight": w}
            if layer.bias:
                params[name]["bias"] = (0.01 * rng.standard_normal(layer.out_features)).astype(np.float32)
        elif isinstance(layer, BatchNorm2d):
            c = shape[0]
            params[name] = {"weight": (1 + 0.1 * rng.standard_normal(c)).astype(np.float32),
                            "bias": (0.1 * rng.standard_normal(c)).astype(np.float32),
                            "running_mean": (0.1 * rng.standard_normal(c)).astype(np.float32),
                            "running_var": (1 + 0.1 * np.abs(rng.standard_normal(c))).astype(np.float32)}
    return params


def param_count(params):
    """Learned values in ``params`` (running statistics are buffers, not parameters)."""
    return sum(a.size for p in params.values() for k, a in p.items() if not k.startswith("running_"))


_IN_PLACE = (ReLU, Dropout, BatchNorm2d)
"""Layers that write into their (owned) input rather than a new array."""


def _release(x, y):
    """Give ``x``'s buffer back to the pool once ``y`` has been computed from it."""
    if y is not x and not np.shares_memory(x, y):
        POOL.release(x)


class _Run:
    """One forward pass. ``owned`` travels with each array: an owned array is a pool
    buffer that the step receiving it may modify and give back once consumed; an
    array that is not owned (the caller's input, or the input a ``Parallel`` shares
    between its branches) is never written."""

    def __init__(self, params, conv, profile):
        self.params, self.conv, self.profile, self.times = params, conv, profile, {}
        self.fuse = conv != "naive"

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
            y, owned = y, owned or y is not x
        else:
            y, owned = self.parallel(module, x, owned, prefix)
        return self.tail(y, owned, tail) if tail else (y, owned)

    def tail(self, y, owned, tail):
        add, relu = tail
        out = y if owned else new_output(y.shape)
        np.add(y, add, out=out)
        if relu:
            np.maximum(out, 0, out=out)
        return out, True

    def sequence(self, children, x, owned, prefix, tail=None):
        """A chain; with the fast path, a convolution takes the batch norm and ReLU after it
        (and, ending the chain, the ``tail``), and a residual ``Parallel`` its ReLU."""
        i = 0
        while i < len(children):
            name, child = children[i]
            ahead = [c for _, c in children[i + 1:i + 3]]
            if self.fuse and isinstance(child, Conv2d):
                bn = bool(ahead) and isinstance(ahead[0], BatchNorm2d)
                relu = len(ahead) > bn and isinstance(ahead[bn], ReLU)
                group = children[i:i + 1 + bn + relu]
                i += len(group)
                last = i == len(children)
                x, owned = self.conv_group(group, x, owned, prefix, tail if last and not relu else None)
                if last and tail and relu:
                    x, owned = self.tail(x, owned, tail)
                if last:
                    return x, owned
                continue
            if (self.fuse and isinstance(child, Parallel) and child.merge == "add" and ahead
                    and isinstance(ahead[0], ReLU)):
                x, owned = self.residual(child, x, owned, join_name(prefix, name), join_name(prefix, children[i + 1][0]))
                i += 2
                continue
            x, owned = self.module(child, x, owned, join_name(prefix, name))
            i += 1
        return self.tail(x, owned, tail) if tail else (x, owned)

    def conv_group(self, group, x, owned, prefix, tail):
        """A convolution with the batch norm folded into its weights and the ReLU (or
        ``tail``) applied to each block of its output as it is computed."""
        (name, conv), *rest = group
        name = join_name(prefix, name)
        start = time.perf_counter() if self.profile else None
        p = self.params.get(name, {})
        weight, bias = p["weight"], p.get("bias")
        relu = any(isinstance(layer, ReLU) for _, layer in rest)
        for part, layer in rest:
            if isinstance(layer, BatchNorm2d):
                weight, bias = kernels.fold_batchnorm(weight, bias, self.params[join_name(prefix, part)],
                                                      layer.eps, conv.groups)
        add, relu = (tail[0], tail[1]) if tail else (None, relu)
        y, work = self.conv2d(conv, name, x, weight, bias, relu=relu, add=add)
        self.record(name, conv.kind, start, y.nbytes + work)
        for part, layer in rest:
            self.record(join_name(prefix, part), layer.kind, None, 0)
        if owned:
            _release(x, y)
        return y, True

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
            y = np.maximum(y, 0, out=y if y_owned else new_output(y.shape))
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
            return np.maximum(x, 0, out=x if owned else new_output(x.shape)), 0
        if isinstance(layer, (Dropout,)):
            return x, 0
        if isinstance(layer, BatchNorm2d):
            scale = p["weight"] / np.sqrt(p["running_var"] + layer.eps)
            shift = p["bias"] - p["running_mean"] * scale
            y = np.multiply(x, scale, out=x if owned else new_output(x.shape))
            y += shift
            return y, 0
        if isinstance(layer, (MaxPool2d, AvgPool2d)):
            out_hw = layer.output_shape((x.shape[3], x.shape[1], x.shape[2]), name)[1:]
            if isinstance(layer, MaxPool2d):
                return kernels.max_pool(x, layer.kernel_pair, layer.stride_pair, layer.padding_pair,
                                        layer.dilation_pair, out_hw), 0
            return kernels.avg_pool(x, layer.kernel_pair, layer.stride_pair, layer.padding_pair,
                                    out_hw, layer.count_include_pad), 0
        if isinstance(layer, LocalResponseNorm):
            return kernels.local_response_norm(x, layer.size, layer.alpha, layer.beta, layer.k), 0
        if isinstance(layer, GlobalAvgPool):
            return x.mean(axis=(1, 2), dtype=np.float32, out=new_output((x.shape[0], x.shape[3]))), 0
        if isinstance(layer, Flatten):
            if x.ndim != 4:
                return x, 0
            y = new_output((x.shape[0], x.shape[3], x.shape[1], x.shape[2]))
            np.copyto(y, x.transpose(0, 3, 1, 2))
            return y.reshape(x.shape[0], -1), 0
        if isinstance(layer, SpaceToDepth):
            layer.output_shape((x.shape[3], x.shape[1], x.shape[2]), name)      # validates
            return kernels.space_to_depth(x, layer.block), 0
        raise TypeError(f"{name}: the engine has no kernel for {layer.kind}")

    def conv2d(self, layer, name, x, weight, bias, relu=False, add=None):
        shape = (x.shape[3], x.shape[1], x.shape[2])
        _, oh, ow = layer.output_shape(shape, name)
        pads = layer.pads()
        if self.conv == "naive":
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
        tiles = x.shape[0] * (-(-oh // 2)) * (-(-ow // 2))
        if self.conv == "fast" and winograd.winograd_applies(layer.kernel_pair, layer.stride_pair,
                                                            layer.dilation_pair, layer.groups, tiles,
                                                            min(x.shape[3], weight.shape[0])):
            return winograd.conv2d_winograd(x, weight, bias, pads, (oh, ow), relu=relu, add=add)
        return kernels.conv2d(x, weight, bias, layer.stride_pair, pads, layer.dilation_pair, layer.groups,
                              (oh, ow), relu=relu, add=add)


def clear_weight_caches():
    """Forget every derived weight the engine caches (GEMM layouts, folded batch norms,
    Winograd transforms). They are cached per parameter array, so replacing an array
    needs nothing; call this after editing one *in place*."""
    kernels.clear_weight_caches()
    winograd.clear_cache()


def _nhwc_copy(x):
    """The batch in NHWC order, in a pool buffer."""
    if x.ndim == 2:
        return x
    y = POOL.take((x.shape[0], x.shape[2], x.shape[3], x.shape[1]))
    np.copyto(y, x.transpose(0, 2, 3, 1))
    return y


def forward(model, params, x, profile=False, conv="fast"):
    """Run ``model`` on the batch ``x`` (``(N, C, H, W)`` or ``(N, F)``, float32).

    ``conv`` chooses the convolution path: ``"fast"`` (Winograd for large 3x3
    stride-1 layers, im2col + GEMM otherwise; batch norms folded into the
    convolutions before them, ReLUs and residual additions applied as each
    block of a convolution's output is computed), ``"im2col"`` (the same
    without Winograd) or ``"naive"`` (explicit loops, every layer on its
    own: the reference). Returns the output in PyTorch's layout, or
    ``(output, [LayerTime, ...])`` with ``profile=True`` (layers that were folded or
    fused into a convolution show 0 ms; their time is in the convolution's).
    """
    if conv not in ("fast", "im2col", "naive"):
        raise ValueError(f"conv must be 'fast', 'im2col' or 'naive', got {conv!r}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (2, 4):
        raise ValueError(f"input must be (N, C, H, W) or (N, F), got shape {x.shape}")
    names = [name for name, *_ in trace(model, x.shape[1:])]     # validates shapes before any work
    run = _Run(params, conv, profile)
    try:
        with kernels.outputs_into(POOL.take):
            # the NHWC copy is passed without a local name: holding it would keep its
            # buffer's old memory alive if a later layer grows that buffer
            y, _ = run.module(model, _nhwc_copy(x), x.ndim == 4, "")
            # a fresh array: the caller must never hold a buffer that the next pass reuses
            y = (y.transpose(0, 3, 1, 2) if y.ndim == 4 else y).copy()
    finally:
        POOL.release_all()
    return (y, [run.times[name] for name in names]) if profile else y
