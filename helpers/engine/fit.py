"""Train a zoo model on a data split with the numpy engine, epoch by epoch."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from helpers.engine import train
from helpers.engine.buffers import retain_freed_memory
from helpers.engine.forward import forward
from helpers.engine.forward import init_params as engine_init_params
from helpers.engine.optim import SGD
from helpers.layers import BatchNorm2d

__all__ = ["Epoch", "init_params", "accuracy", "fit"]


@dataclass(frozen=True)
class Epoch:
    """One epoch: mean training loss, test accuracy, and the seconds its training steps took."""

    epoch: int
    loss: float
    test_accuracy: float
    seconds: float


def init_params(model, input_shape, seed=0):
    """Seeded initial parameters for training: He-normal convolutions and dense layers
    (:func:`helpers.engine.forward.init_params`), batch norm as the identity (scale 1, shift 0,
    running mean 0 and variance 1)."""
    # imported here, not at the top: fit.trace would hand notebook 11 a whole-answer helper
    from helpers.model import trace

    params = engine_init_params(model, input_shape, seed)
    for name, layer, shape, _ in trace(model, input_shape):
        if isinstance(layer, BatchNorm2d):
            c = shape[0]
            params[name] = {"weight": np.ones(c, np.float32), "bias": np.zeros(c, np.float32),
                            "running_mean": np.zeros(c, np.float32), "running_var": np.ones(c, np.float32)}
    return params


def accuracy(model, params, x, labels, batch=512):
    """Share of ``x`` classified as ``labels`` (inference mode: batch norm's running statistics)."""
    hits = 0
    for i in range(0, len(x), batch):
        hits += int((forward(model, params, x[i:i + batch]).argmax(axis=1) == labels[i:i + batch]).sum())
    return hits / len(x)


def fit(model, params, data, epochs, batch_size=64, lr=0.05, momentum=0.9, weight_decay=5e-4,
        seed=0, train_images=None, log=None):
    """Train ``params`` in place on ``data`` (a :class:`helpers.digits.Digits`); return the epochs.

    Each epoch shuffles the training images with a generator seeded by ``seed``,
    takes SGD steps on batches of ``batch_size`` (the last one smaller), then
    measures the test accuracy. ``train_images`` uses only the first that many
    training images (a short run). ``seconds`` times the steps only. Freed memory
    is kept for the next step (:func:`helpers.engine.buffers.retain_freed_memory`).
    """
    retain_freed_memory()
    sgd = SGD(lr, momentum, weight_decay)
    rng = np.random.default_rng(seed)
    x, y = data.x_train[:train_images], data.y_train[:train_images]
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        losses, start = [], time.perf_counter()
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            step = train.gradients(model, params, x[idx], y[idx])
            sgd.step(params, step.grads)
            losses.append(step.loss * len(idx))
        seconds = time.perf_counter() - start
        record = Epoch(epoch, sum(losses) / len(x), accuracy(model, params, data.x_test, data.y_test), seconds)
        history.append(record)
        if log:
            log(record)
    return history
