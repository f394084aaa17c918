"""Pooling and local response normalisation against their definitions."""


import numpy as np
import pytest

from helpers import engine
from helpers.layers import (
    AvgPool2d,
    LocalResponseNorm,
    MaxPool2d,
)
from helpers.model import Sequential
from reference.pooling import torch_free_pool_reference


@pytest.mark.parametrize("k, s, p, ceil", [(3, 2, 0, False), (3, 2, 1, False), (2, 2, 0, True),
                                           (3, 2, 1, True), (3, 1, 1, False), (5, 3, 2, True)])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_equals_definition(k, s, p, ceil, op):
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 9)).astype(np.float32)
    layer = (MaxPool2d if op == "max" else AvgPool2d)(k, s, p, ceil_mode=ceil)
    got = engine.forward(Sequential(layer), {}, x)
    np.testing.assert_allclose(got, torch_free_pool_reference(x, k, s, p, op, ceil), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, beta", [(5, 0.75), (4, 0.6), (1, 0.75)])
def test_lrn_equals_definition(size, beta):
    x = np.random.default_rng(0).standard_normal((2, 7, 4, 5)).astype(np.float32)
    alpha, k = 1e-1, 2.0
    ref = np.empty_like(x, dtype=np.float64)
    for c in range(7):                       # torch: window c - size//2 .. c + (size-1)//2
        lo, hi = max(0, c - size // 2), min(7, c + (size - 1) // 2 + 1)
        ref[:, c] = x[:, c] / (k + alpha / size * (x[:, lo:hi].astype(np.float64) ** 2).sum(axis=1)) ** beta
    got = engine.forward(Sequential(LocalResponseNorm(size, alpha, beta, k)), {}, x)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
