"""Pooling and local response normalisation against their definitions."""


import numpy as np
import pytest

from helpers import engine, formulas
from helpers.layers import (
    AvgPool2d,
    LocalResponseNorm,
    MaxPool2d,
)
from helpers.model import Sequential
from reference.pipelines import pipeline_mode
from reference.pooling import torch_free_pool_reference


@pytest.mark.parametrize("k, s, p, ceil", [(3, 2, 0, False), (3, 2, 1, False), (2, 2, 0, True),
                                           (3, 2, 1, True), (3, 1, 1, False), (5, 3, 2, True)])
@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("batch, serial", [(2, True), (1, False), (3, False)])
def test_pooling_equals_definition(k, s, p, ceil, op, batch, serial):
    """Also split between two threads by output rows, within one image (batch 1) and across
    images (batch 3), each piece padded on its own."""
    x = np.random.default_rng(0).standard_normal((batch, 3, 11, 9)).astype(np.float32)
    layer = (MaxPool2d if op == "max" else AvgPool2d)(k, s, p, ceil_mode=ceil)
    with pipeline_mode(serial):
        got = engine.forward(Sequential(layer), {}, x)
    np.testing.assert_allclose(got, torch_free_pool_reference(x, k, s, p, op, ceil), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, beta", [(5, 0.75), (4, 0.6), (1, 0.75)])
@pytest.mark.parametrize("batch, serial", [(2, True), (1, False), (3, False)])
def test_lrn_equals_definition(size, beta, batch, serial):
    x = np.random.default_rng(0).standard_normal((batch, 7, 4, 5)).astype(np.float32)
    alpha, k = 1e-1, 2.0
    ref = np.empty_like(x, dtype=np.float64)
    for c in range(7):                       # torch: window c - size//2 .. c + (size-1)//2
        lo, hi = max(0, c - size // 2), min(7, c + (size - 1) // 2 + 1)
        ref[:, c] = x[:, c] / (k + alpha / size * (x[:, lo:hi].astype(np.float64) ** 2).sum(axis=1)) ** beta
    with pipeline_mode(serial):
        got = engine.forward(Sequential(LocalResponseNorm(size, alpha, beta, k)), {}, x)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


@pytest.mark.parametrize("batch, serial", [(2, True), (1, False), (3, False)])
@pytest.mark.parametrize("ceil", [False, True])
def test_dilated_max_pool_equals_definition(batch, serial, ceil):
    """Window taps ``dilation`` apart: output (i, j) is the maximum of the padded input at
    rows ``i s + a d`` and columns ``j s + b d``, read one tap at a time here."""
    k, s, p, d = 3, 2, 1, 2
    x = np.random.default_rng(1).standard_normal((batch, 2, 10, 9)).astype(np.float32)
    oh, ow = (formulas.pool_output_size(n, k, s, p, d, ceil) for n in (10, 9))
    xp = np.full((batch, 2, 10 + 2 * p + 2 * s, 9 + 2 * p + 2 * s), -np.inf, np.float32)
    xp[:, :, p:p + 10, p:p + 9] = x
    want = np.full((batch, 2, oh, ow), -np.inf, np.float32)
    for i in range(oh):
        for j in range(ow):
            for a in range(k):
                for b in range(k):
                    want[:, :, i, j] = np.maximum(want[:, :, i, j], xp[:, :, i * s + a * d, j * s + b * d])
    with pipeline_mode(serial):
        got = engine.forward(Sequential(MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)), {}, x)
    np.testing.assert_array_equal(got, want)
