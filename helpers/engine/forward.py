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
  with a *single-threaded* GEMM (:mod:`helpers.blas` switches OpenBLAS for
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
  (:mod:`helpers.winograd`), with the same pipelines over rows of tiles.
- **Reused workspaces.** Patch matrices, Winograd buffers and padded inputs
  live in buffers kept between calls (``kernels.workspace``), so a forward
  pass does not pay page faults for fresh scratch memory in every layer.
- **Two activation buffers for a chain.** When the model is a plain chain of
  layers (AlexNet, VGG), each result is written into the one of two reused
  buffers that does not hold its input, so a pass needs weights + the two
  largest activations + the workspace, and the result is copied out at the end.
  Models with branches allocate each result afresh. Workspaces and these
  buffers are anonymous memory maps of their own, returned to the system
  when they grow, never left as holes in malloc's heap; with them the peak
  resident memory of AlexNet at batch 32 is within 10 % of that sum.
- **Derived weights cached.** A convolution's GEMM-layout filter (with the
  bias as an extra row) and its Winograd transform are computed once per
  weight array: treat parameter arrays as immutable (replace, don't edit in
  place).
- **In place where safe.** ReLU, bias and batch norm write into arrays the
  engine owns; a tensor shared by the branches of a ``Parallel`` is never
  modified.

``conv="naive"`` runs every convolution with the explicit loops of
:func:`helpers.lowering.conv2d_direct`: the reference for tests, usable only
on tiny inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from helpers.engine import kernels
from helpers.engine import winograd
from helpers.layers import (AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear,
                     LocalResponseNorm, MaxPool2d, ReLU, SpaceToDepth)
from helpers.model import Layer, Sequential, join_name, trace

__all__ = ["init_params", "forward", "LayerTime", "param_count"]


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


def _is_chain(module):
    return isinstance(module, Sequential) and all(isinstance(c, Layer) for _, c in module.children)


class _Run:
    def __init__(self, params, conv, profile):
        self.params, self.conv, self.profile, self.times = params, conv, profile, []

    def chain(self, module, x, buffer):
        """A chain of plain layers: each new result goes to the activation buffer its input
        is not in, so the whole pass lives in two reused buffers (``act0``, ``act1``)."""
        owned = True
        for name, layer in module.children:
            if isinstance(layer, _IN_PLACE):
                x, owned = self.module(layer, x, owned, name)
                continue
            target = f"act{1 - buffer}"
            with kernels.outputs_into(lambda shape, key=target: kernels.workspace(key, shape)):
                x, owned = self.module(layer, x, owned, name)
            buffer = 1 - buffer
        return x

    def module(self, module, x, owned, prefix):
        if isinstance(module, Layer):
            name = prefix or module.kind.lower()
            start = time.perf_counter() if self.profile else 0.0
            y, work = self.layer(module, name, x, owned)
            if self.profile:
                self.times.append(LayerTime(name, module.kind, 1e3 * (time.perf_counter() - start),
                                            (y.nbytes if y is not x else 0) + work))
            return y, owned or y is not x
        if isinstance(module, Sequential):
            for child_name, child in module.children:
                x, owned = self.module(child, x, owned, join_name(prefix, child_name))
            return x, owned
        outs = [self.module(child, x, False, join_name(prefix, name))[0] for name, child in module.children]
        if module.merge == "add":
            total = outs[0] + outs[1] if len(outs) > 1 else outs[0].copy()
            for extra in outs[2:]:
                total += extra
            return total, True
        return np.concatenate(outs, axis=-1), True

    def layer(self, layer, name, x, owned):
        p = self.params.get(name, {})
        if isinstance(layer, Conv2d):
            return self.conv2d(layer, name, x, p)
        if isinstance(layer, Linear):
            return kernels.linear(x, p["weight"], p.get("bias")), 0
        if isinstance(layer, ReLU):
            return (np.maximum(x, 0, out=x) if owned else np.maximum(x, 0)), 0
        if isinstance(layer, (Dropout,)):
            return x, 0
        if isinstance(layer, BatchNorm2d):
            scale = p["weight"] / np.sqrt(p["running_var"] + layer.eps)
            shift = p["bias"] - p["running_mean"] * scale
            y = x if owned else x.copy()
            y *= scale
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
            return x.mean(axis=(1, 2), dtype=np.float32, out=kernels.new_output((x.shape[0], x.shape[3]))), 0
        if isinstance(layer, Flatten):
            if x.ndim != 4:
                return x, 0
            y = kernels.new_output((x.shape[0], x.shape[3], x.shape[1], x.shape[2]))
            np.copyto(y, x.transpose(0, 3, 1, 2))
            return y.reshape(x.shape[0], -1), 0
        if isinstance(layer, SpaceToDepth):
            layer.output_shape((x.shape[3], x.shape[1], x.shape[2]), name)      # validates
            return kernels.space_to_depth(x, layer.block), 0
        raise TypeError(f"{name}: the engine has no kernel for {layer.kind}")

    def conv2d(self, layer, name, x, p):
        shape = (x.shape[3], x.shape[1], x.shape[2])
        _, oh, ow = layer.output_shape(shape, name)
        pads = layer.pads()
        if self.conv == "naive":
            from helpers.lowering import conv2d_direct
            (top, bottom), (left, right) = pads
            if (top, left) != (bottom, right) or layer.stride_pair[0] != layer.stride_pair[1] \
                    or layer.dilation_pair[0] != layer.dilation_pair[1]:
                raise ValueError(f"{name}: the naive path takes square, symmetric settings only")
            y = np.stack([conv2d_direct(img.transpose(2, 0, 1).astype(np.float64), p["weight"].astype(np.float64),
                                        layer.stride_pair[0], top, layer.dilation_pair[0], layer.groups)
                          for img in x]).transpose(0, 2, 3, 1).astype(np.float32)
            if "bias" in p:
                y += p["bias"]
            return np.ascontiguousarray(y), 0
        tiles = x.shape[0] * (-(-oh // 2)) * (-(-ow // 2))
        if self.conv == "fast" and winograd.winograd_applies(layer.kernel_pair, layer.stride_pair,
                                                            layer.dilation_pair, layer.groups, tiles):
            return winograd.conv2d_winograd(x, p["weight"], p.get("bias"), pads, (oh, ow))
        return kernels.conv2d(x, p["weight"], p.get("bias"), layer.stride_pair, pads,
                              layer.dilation_pair, layer.groups, (oh, ow))


def _nhwc(shape):
    return (shape[0], shape[2], shape[3], shape[1]) if len(shape) == 4 else shape


def _copy_in(x, buffer):
    np.copyto(buffer, x.transpose(0, 2, 3, 1) if x.ndim == 4 else x)
    return buffer


def forward(model, params, x, profile=False, conv="fast"):
    """Run ``model`` on the batch ``x`` (``(N, C, H, W)`` or ``(N, F)``, float32).

    ``conv`` chooses the convolution path: ``"fast"`` (Winograd for large 3x3
    stride-1 layers, im2col + GEMM otherwise), ``"im2col"`` (never Winograd) or
    ``"naive"`` (explicit loops). Returns the output in PyTorch's layout, or
    ``(output, [LayerTime, ...])`` with ``profile=True``.
    """
    if conv not in ("fast", "im2col", "naive"):
        raise ValueError(f"conv must be 'fast', 'im2col' or 'naive', got {conv!r}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (2, 4):
        raise ValueError(f"input must be (N, C, H, W) or (N, F), got shape {x.shape}")
    trace(model, x.shape[1:])                         # validates shapes before any work
    run = _Run(params, conv, profile)
    if _is_chain(model):
        # the whole pass in two reused buffers; the input's NHWC copy goes in the second
        # (passed without a local name: holding it would keep that buffer's old memory
        # alive when a later layer grows the buffer)
        y = run.chain(model, _copy_in(x, kernels.workspace("act1", _nhwc(x.shape))), buffer=1)
    else:
        # the NHWC copy is passed without a local name, so it is freed after the first layer
        y, _ = (run.module(model, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), True, "") if x.ndim == 4
                else run.module(model, x, False, ""))
    # a fresh array: the caller must never hold a buffer that the next pass reuses
    y = np.ascontiguousarray(y.transpose(0, 3, 1, 2)) if y.ndim == 4 else np.array(y)
    return (y, run.times) if profile else y
