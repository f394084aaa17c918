"""The numpy inference engine: runs zoo models for real, and measures them.

- :mod:`~helpers.engine.forward`: the forward pass (``forward``, ``init_params``).
- :mod:`~helpers.engine.kernels`: convolution (im2col or plain GEMMs, fused epilogues) and dense layers;
  :mod:`~helpers.engine.weights`: filters as GEMM operands, batch norms folded into them (cached).
- :mod:`~helpers.engine.winograd`: Winograd F(2×2, 3×3) for large 3 × 3 layers.
- :mod:`~helpers.engine.buffers`: workspaces and the pool of activation buffers kept between passes.
- :mod:`~helpers.engine.threads`: switching OpenBLAS's thread count; the per-core pipelines.
- :mod:`~helpers.engine.pooling`: pooling, LRN and space-to-depth.
- :mod:`~helpers.engine.nhwc`: padding and sliding-window views of NHWC batches.
- :mod:`~helpers.engine.bench`: ``python -m helpers bench``: timings, GEMM peak, memory;
  :mod:`~helpers.engine.turns`: timing contestants in turns.
- :mod:`~helpers.engine.torch_bridge`: the same network in PyTorch, when it is installed.
- Training: :mod:`~helpers.engine.train` (a training pass: loss, gradients, MACs, kept memory),
  :mod:`~helpers.engine.backward`, :mod:`~helpers.engine.backward_norm` and
  :mod:`~helpers.engine.backward_pool` (each layer's gradients), :mod:`~helpers.engine.optim` (SGD),
  :mod:`~helpers.engine.fit` (epochs on a data split), :mod:`~helpers.engine.digits` (the data),
  :mod:`~helpers.engine.train_bench` (``bench MODEL --train``).
"""

from helpers.engine.forward import clear_weight_caches, forward, init_params, param_count

__all__ = ["forward", "init_params", "param_count", "clear_weight_caches"]
