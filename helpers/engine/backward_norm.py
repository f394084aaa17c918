"""Batch norm in training mode on NHWC arrays: forward on the batch's statistics and
its gradients, with per-channel reductions and passes shaped for few channels.

Arrays are ``(N, H, W, C)``; statistics are per channel over the ``M = N H W``
values. Per-channel sums are BLAS matrix-vector products and per-channel scalings
run over rows widened to about 1,024 values: numpy's own loops over ``(M, C)``
with 16 channels run one short inner loop per row (slower by the factors that
:func:`channel_sums` and :func:`widened` give, with how they were measured).
Any float dtype works (float64 for the finite-difference tests).
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_sums", "widened", "batch_norm_forward", "batch_norm_backward"]


def channel_sums(rows):
    """Per-channel sums of an ``(M, C)`` array: one BLAS matrix-vector product.

    numpy's ``rows.sum(axis=0)`` runs a short inner loop per row: on ResNet-20's batch
    norms at batch 64 it took 15 to 23 times as long for 16 channels (M = 4,096), 5 to 9
    times for 32 (M = 1,024) and 2 times for 64 (M = 256) (float32, one BLAS thread;
    timeit, best of 9 interleaved rounds, three runs on the 2-core AMD EPYC VM this
    project is developed on, 2026-11-22, beside other work).

    >>> channel_sums(np.arange(6.0).reshape(3, 2)).tolist()
    [6.0, 9.0]
    """
    return np.ones(rows.shape[0], dtype=rows.dtype) @ rows


def widened(rows, *vectors, width=1024):
    """``rows`` ``(M, C)`` viewed as ``(M / k, k C)``, and each per-channel vector repeated
    ``k`` times to match, with ``k C`` near ``width`` if ``C`` is below 32: elementwise
    operations with per-channel vectors then run long inner loops. ``(x - mean) *
    inv_std`` on 16 channels (M = 4,096 and 8,192) ran 1.5 to 1.9 times as fast widened,
    widening included; widened regardless of ``C``, it ran 0.94 to 0.96 times as fast on
    32 channels (M = 1,024) and 0.60 to 0.63 times on 64 (M = 256), hence the limit
    (float32; timeit, best of 9 rounds, three runs on the 2-core AMD EPYC VM this
    project is developed on, 2026-11-22, beside other work).

    >>> wide, (v,) = widened(np.zeros((4, 2)), np.array([1.0, 2.0]), width=4)
    >>> wide.shape, v.tolist()
    ((2, 4), [1.0, 2.0, 1.0, 2.0])
    """
    m, c = rows.shape
    k = max(1, min(m, width // c)) if c < 32 else 1
    while m % k:
        k -= 1
    return rows.reshape(m // k, k * c), [np.tile(v, k) if k > 1 else v for v in vectors]


def batch_norm_forward(x, gamma, beta, eps):
    """Training-mode batch norm over ``(N, H, W)`` per channel.

    Returns ``(y, mean, var, inv_std)``: the caller keeps ``x``, ``mean`` and
    ``inv_std`` for the backward pass and updates running statistics with ``var``.
    """
    c = x.shape[-1]
    rows = x.reshape(-1, c)
    m = rows.shape[0]
    mean = channel_sums(rows) / m
    wide, (wide_mean,) = widened(rows, mean)
    y = wide - wide_mean
    var = channel_sums((y * y).reshape(-1, c)) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    _, (scale, shift) = widened(rows, gamma * inv_std, beta)
    y *= scale
    y += shift
    return y.reshape(x.shape), mean, var, inv_std


def batch_norm_backward(dy, x, mean, inv_std, gamma):
    """``(dx, dgamma, dbeta)`` of training-mode batch norm.

    With :math:`\\hat x = (x - \\mu)/\\sigma` over the :math:`M = NHW` values of
    a channel: :math:`d\\beta = \\sum dy`, :math:`d\\gamma = \\sum dy\\,\\hat x`,
    :math:`dx = \\frac{\\gamma}{\\sigma}\\,(dy - d\\beta/M - \\hat x\\, d\\gamma/M)`.
    """
    c = x.shape[-1]
    rows, d = x.reshape(-1, c), dy.reshape(-1, c)
    m = rows.shape[0]
    wide, (wide_mean, wide_inv_std) = widened(rows, mean, inv_std)
    xhat = wide - wide_mean
    xhat *= wide_inv_std
    dbeta = channel_sums(d)
    dx = d.reshape(xhat.shape) * xhat
    dgamma = channel_sums(dx.reshape(-1, c))
    scale = gamma * inv_std
    _, (gain, shift) = widened(rows, scale * dgamma / -m, scale * dbeta / -m)
    xhat *= gain
    xhat += shift
    _, (wide_scale,) = widened(rows, scale)
    np.multiply(d.reshape(xhat.shape), wide_scale, out=dx)
    dx += xhat
    return dx.reshape(x.shape), dgamma, dbeta
