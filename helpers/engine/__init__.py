"""The numpy inference engine: runs zoo models for real, and measures them.

- :mod:`~helpers.engine.forward`: the forward pass (``forward``, ``init_params``).
- :mod:`~helpers.engine.kernels`: NHWC kernels (im2col + GEMM, pooling, LRN) and workspaces.
- :mod:`~helpers.engine.winograd`: Winograd F(2×2, 3×3) for large 3 × 3 layers.
- :mod:`~helpers.engine.blas`: switching OpenBLAS's thread count for per-core pipelines.
- :mod:`~helpers.engine.bench`: ``python -m helpers bench``: timings, GEMM peak, memory.
- :mod:`~helpers.engine.torch_bridge`: the same network in PyTorch, when it is installed.
- Training: :mod:`~helpers.engine.train` (a training pass: loss, gradients, MACs, kept memory),
  :mod:`~helpers.engine.backward` and :mod:`~helpers.engine.backward_pool` (each layer's
  gradients), :mod:`~helpers.engine.optim` (SGD),
  :mod:`~helpers.engine.fit` (epochs on a data split), :mod:`~helpers.engine.digits` (the data),
  :mod:`~helpers.engine.train_bench` (``bench MODEL --train``).
"""

from helpers.engine.forward import forward, init_params, param_count

__all__ = ["forward", "init_params", "param_count"]
