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
  with a *single-threaded* GEMM (:mod:`helpers.engine.threads` switches OpenBLAS for
  the layer): a pipeline gathers the patches of a block of rows into its own
  2 MiB patch matrix (im2col, which stays in the caches: ``kernels.BLOCK_BYTES``) and
  multiplies it with ``np.matmul(..., out=)`` straight into the output.
  Measured on AlexNet at batch 32 (2 cores), this ran conv1 at about 80 %
  of the GEMM peak against 53 % for one big 2-thread GEMM over 48 MiB
  chunks: the copy no longer goes through memory, and independent GEMMs
  share no synchronisation. Dense layers split their output features the
  same way, so the BLAS's own threads never wake (after a call they spin for
  a while and would steal the cores from the next layer). Without a
  switchable BLAS everything runs as one pipeline with the BLAS's threads,
  and so does a pass whose layers are small
  (:data:`helpers.engine.threads.PIPELINES_FROM_MACS`): there, handing half of each
  layer to another thread costs more than it saves.
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
  convolution is folded into its weights and bias (scale and bias in float64,
  rounded once: :func:`helpers.engine.weights.fold_batchnorm`); the ReLU after
  it, and in a residual block the addition of the shortcut and the ReLU after
  it, are applied to each block of the convolution's output right after its
  GEMM, while the block is in the core's cache. A residual ``Parallel``
  computes its shortcut first, then its main branch, whose last convolution
  adds the shortcut. So batch norm, ReLU and addition cost no pass of their
  own over memory; a profile shows them at 0 ms, their time inside the
  convolution's.
- **Chains.** A 1x1 convolution right after another convolution runs in the
  same pipelines, each on its share of the first one's output
  (:meth:`helpers.engine.graph.Run.chain_pair`); the first layer's output gets one more
  channel, of ones, set once rather than computed (:func:`helpers.engine.kernels.with_ones`),
  so the 1x1 layer's bias rides in its GEMM instead of costing a pass.
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

import numpy as np

from helpers.engine import threads, weights, winograd
from helpers.engine.buffers import POOL, outputs_into
from helpers.engine.graph import LayerTime, Run
from helpers.layers import (
    BatchNorm2d,
    Conv2d,
    Linear,
)
from helpers.model import trace

__all__ = ["LayerTime", "clear_weight_caches", "forward", "init_params", "param_count"]


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


def clear_weight_caches():
    """Forget every derived weight the engine caches (GEMM layouts, folded batch norms,
    Winograd transforms). They are cached per parameter array, so replacing an array
    needs nothing; call this after editing one *in place*."""
    weights.clear_weight_caches()
    winograd.clear_cache()


def _nhwc_copy(x):
    """The batch in NHWC order, in a pool buffer. With few channels (an image's 3), one
    copy per channel: numpy ran those 3.9 and 4.6 times faster than one copy of the
    transposed view (224 x 224 x 3, batch 1 and 8: 0.047 against 0.184 ms, 0.34 against
    1.57 ms; 4 channels 2.3 times; 16 channels 2.0 times at batch 1 but 0.7 at batch 8;
    medians of 200 copies, 2026-11-22). The cut at 4 channels is where it was measured to
    win at every batch tried, not a measured optimum."""
    if x.ndim == 2:
        return x
    y = POOL.take((x.shape[0], x.shape[2], x.shape[3], x.shape[1]))
    if x.shape[1] <= 4:
        for c in range(x.shape[1]):
            np.copyto(y[..., c], x[:, c])
    else:
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
    leaves, macs_per_layer = _traced(model, x.shape[1:])      # validates shapes before any work
    run = Run(params, conv, profile)
    small = x.shape[0] * macs_per_layer < threads.PIPELINES_FROM_MACS
    try:
        with outputs_into(POOL.take), threads.on_calling_thread(small):
            # the NHWC copy is passed without a local name: holding it would keep its
            # buffer's old memory alive if a later layer grows that buffer
            y, _ = run.module(model, _nhwc_copy(x), x.ndim == 4, "")
            # a fresh array: the caller must never hold a buffer that the next pass reuses
            y = (y.transpose(0, 3, 1, 2) if y.ndim == 4 else y).copy()
    finally:
        POOL.release_all()
    return (y, [run.times[name] for name, *_ in leaves]) if profile else y


_TRACED = {}


def _traced(model, input_shape):
    """``(trace(model, input_shape), mean MACs per image of its convolution and dense layers)``,
    worked out once per model and input shape (a spec tree cannot change once built: its
    containers refuse new attributes, its layers are frozen). Tracing ResNet-50 and summing
    its MACs took 0.5 ms, the trace alone 0.28 ms (medians of 50 calls after 3, 2026-11-22),
    every pass. A pass runs on the calling thread when the batch times that mean is below
    :data:`helpers.engine.threads.PIPELINES_FROM_MACS` (compared on every call)."""
    key = (id(model), tuple(input_shape))
    hit = _TRACED.get(key)
    if hit is None or hit[0] is not model:
        leaves = trace(model, input_shape)
        macs = [layer.macs(shape) for _, layer, shape, _ in leaves if isinstance(layer, (Conv2d, Linear))]
        if len(_TRACED) > 256:
            _TRACED.clear()
        hit = _TRACED[key] = (model, leaves, sum(macs) / max(1, len(macs)))
    return hit[1], hit[2]
