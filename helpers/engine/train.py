"""Training with the numpy engine: a forward pass that keeps what backward needs,
the backward pass over the same spec tree, and the MACs both perform.

``gradients(model, params, x, labels)`` runs one batch and returns a
:class:`Pass`: the loss, the gradient of every parameter (keyed like
``params``), the MACs each layer performed forward and backward, and the
bytes of the tensors kept for backward. :func:`helpers.engine.optim.SGD`
applies the gradients.

What is kept for backward (one tensor per layer, no patch matrices):
a convolution's and a dense layer's input, batch norm's input (with its
per-channel mean and inverse standard deviation), a ReLU's output, a max
pool's input and output; pooling by averages, additions and concatenations
keep only shapes. A tensor that two layers keep (a ReLU's output is the next
convolution's input) is kept once.

Batch norm runs in training mode (batch statistics; running statistics
updated with momentum 0.1 and the unbiased variance, as PyTorch does).
An input gradient is computed only where an earlier layer has parameters:
the network's input needs none, so its first convolution skips the product
``dY W^T`` (see :mod:`helpers.conventions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from helpers.engine import backward as bw
from helpers.engine import backward_norm as norm
from helpers.engine import backward_pool as pool
from helpers.engine import elementwise
from helpers.engine.nhwc import flatten_nhwc, unflatten_nhwc
from helpers.layers import AvgPool2d, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool2d, ReLU
from helpers.model import Layer, Sequential, join_name, trace

__all__ = ["Pass", "gradients", "analytic_macs", "input_needs_grad", "BN_MOMENTUM"]

_TRAINED = (Conv2d, Linear, BatchNorm2d)
"""The layers with parameters: their gradients are computed, and layers after them need
an input gradient."""

_FRESH_OUTPUT = _TRAINED
"""The same layers, for another reason: their output is a new array that no layer keeps
for backward (they keep their input, if anything), as is a branch merge's sum or
concatenation: a ReLU right after one may overwrite it in place."""

BN_MOMENTUM = 0.1
"""Weight of the batch's statistics in batch norm's running statistics (PyTorch's default)."""


@dataclass
class Pass:
    """One batch through the network: loss, gradients, MACs and kept memory."""

    loss: float
    logits: np.ndarray
    grads: dict
    """Layer name -> {"weight": ..., "bias": ...}, the shapes of ``params``."""
    macs: dict = field(default_factory=dict)
    """Layer name -> (forward MACs, backward MACs) performed, for the whole batch."""
    kept_bytes: int = 0
    """Bytes of the distinct tensors kept from forward for backward (input batch included)."""

    @property
    def forward_macs(self):
        """MACs the forward pass performed, all layers."""
        return sum(f for f, _ in self.macs.values())

    @property
    def backward_macs(self):
        """MACs the backward pass performed, all layers."""
        return sum(b for _, b in self.macs.values())


class _Run:
    def __init__(self, params, shapes, needs_grad):
        self.params, self.shapes, self.needs_grad = params, shapes, needs_grad
        self.cache, self.macs, self.grads, self.stats, self.windows = {}, {}, {}, {}, {}

    def window(self, name, layer):
        """``(kernel, stride, pads, dilation, padding)`` pairs of a convolution or pooling
        layer, worked out once per pass (forward and backward both need them)."""
        pairs = self.windows.get(name)
        if pairs is None:
            pairs = self.windows[name] = (layer.kernel_pair, layer.stride_pair, layer.pads(), layer.dilation_pair,
                                          layer.padding_pair)
        return pairs

    # -- forward ------------------------------------------------------------------------------
    def forward(self, module, x, prefix, fresh=False):
        """``module``'s output. ``fresh``: ``x`` was just made by the previous layer and nothing
        keeps it (a ReLU may overwrite it)."""
        if isinstance(module, Layer):
            return self.leaf(module, prefix or module.kind.lower(), x, fresh)
        if isinstance(module, Sequential):
            for child_name, child in module.children:
                x = self.forward(child, x, join_name(prefix, child_name), fresh)
                fresh = isinstance(child, _FRESH_OUTPUT) or not isinstance(child, (Layer, Sequential))
            return x
        outs = [self.forward(child, x, join_name(prefix, name)) for name, child in module.children]
        self.cache[("merge", prefix)] = [y.shape[-1] for y in outs]
        if module.merge == "add":
            total = outs[0] + outs[1] if len(outs) > 1 else outs[0].copy()
            for y in outs[2:]:
                total += y
            return total
        return np.concatenate(outs, axis=-1)

    def leaf(self, layer, name, x, fresh=False):
        p = self.params.get(name, {})
        macs = self.macs.setdefault(name, ([], []))[0]
        if isinstance(layer, Conv2d):
            _, stride, pads, dilation, _ = self.window(name, layer)
            y = bw.conv2d_forward(x, p["weight"], p.get("bias"), stride, pads, dilation, layer.groups,
                                  self.shapes[name][1:], macs)
            self.cache[name] = (x,)
        elif isinstance(layer, Linear):
            y = bw.linear_forward(x, p["weight"], p.get("bias"), macs)
            self.cache[name] = (x,)
        elif isinstance(layer, BatchNorm2d):
            y, mean, var, inv_std = norm.batch_norm_forward(x, p["weight"], p["bias"], layer.eps)
            m = x.size // x.shape[-1]
            self.stats[name] = {
                "running_mean": ((1 - BN_MOMENTUM) * p["running_mean"] + BN_MOMENTUM * mean).astype(x.dtype),
                "running_var": ((1 - BN_MOMENTUM) * p["running_var"]
                                + BN_MOMENTUM * var * m / max(m - 1, 1)).astype(x.dtype)}
            self.cache[name] = (x, mean, inv_std)
        elif isinstance(layer, ReLU):
            y = elementwise.relu(x, x if fresh else np.empty_like(x))    # in place when x is this pass's own
            self.cache[name] = (y,)
        elif isinstance(layer, MaxPool2d):
            if layer.dilation_pair != (1, 1):
                raise ValueError(f"{name}: training supports undilated max pooling only")
            kernel, stride, _, _, padding = self.window(name, layer)
            y = pool.max_pool_forward(x, kernel, stride, padding, self.shapes[name][1:])
            self.cache[name] = (x, y)
        elif isinstance(layer, AvgPool2d):
            kernel, stride, _, _, padding = self.window(name, layer)
            y = pool.avg_pool_forward(x, kernel, stride, padding, self.shapes[name][1:],
                                    layer.count_include_pad)
            self.cache[name] = (x.shape,)
        elif isinstance(layer, GlobalAvgPool):
            y = x.mean(axis=(1, 2))
            self.cache[name] = (x.shape,)
        elif isinstance(layer, Flatten):
            self.cache[name] = (x.shape,)
            y = flatten_nhwc(x)
        else:
            raise TypeError(f"{name}: the training engine has no backward for {layer.kind}")
        return y

    # -- backward -----------------------------------------------------------------------------
    def backward(self, module, dy, prefix):
        """The gradient with respect to ``module``'s input, or ``None`` where none is needed."""
        if isinstance(module, Layer):
            return self.leaf_backward(module, prefix or module.kind.lower(), dy)
        if isinstance(module, Sequential):
            for child_name, child in reversed(module.children):
                if dy is None:
                    return None
                dy = self.backward(child, dy, join_name(prefix, child_name))
            return dy
        widths = self.cache[("merge", prefix)]
        if module.merge == "add":
            parts = [dy] * len(widths)
        else:
            bounds = np.cumsum([0, *widths])
            parts = [dy[..., a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        total = None
        for (name, child), part in zip(module.children, parts, strict=True):
            dx = self.backward(child, np.ascontiguousarray(part), join_name(prefix, name))
            if dx is not None:
                total = dx if total is None else total + dx
        return total

    def leaf_backward(self, layer, name, dy):
        needs_grad, saved = self.needs_grad[name], self.cache[name]
        macs = self.macs[name][1]
        if isinstance(layer, Conv2d):
            (x,) = saved
            _, stride, pads, dilation, _ = self.window(name, layer)
            dx, dw, db = bw.conv2d_backward(dy, x, self.params[name]["weight"], layer.bias, stride, pads, dilation,
                                            layer.groups, needs_grad, macs)
            self._store(name, dw, db)
            return dx
        if isinstance(layer, Linear):
            (x,) = saved
            dx, dw, db = bw.linear_backward(dy, x, self.params[name]["weight"], layer.bias, needs_grad, macs)
            self._store(name, dw, db)
            return dx
        if isinstance(layer, BatchNorm2d):
            x, mean, inv_std = saved
            dx, dgamma, dbeta = norm.batch_norm_backward(dy, x, mean, inv_std, self.params[name]["weight"])
            self._store(name, dgamma, dbeta)
            return dx if needs_grad else None
        if not needs_grad:
            return None
        if isinstance(layer, ReLU):
            return bw.relu_backward(dy, saved[0])
        if isinstance(layer, MaxPool2d):
            x, y = saved
            kernel, stride, _, _, padding = self.window(name, layer)
            return pool.max_pool_backward(dy, x, y, kernel, stride, padding)
        if isinstance(layer, AvgPool2d):
            kernel, stride, _, _, padding = self.window(name, layer)
            return pool.avg_pool_backward(dy, saved[0], kernel, stride, padding,
                                        layer.count_include_pad)
        if isinstance(layer, GlobalAvgPool):
            return pool.global_avg_pool_backward(dy, saved[0])
        (shape,) = saved                                    # Flatten
        return unflatten_nhwc(dy, shape)

    def _store(self, name, dweight, dbias):
        self.grads[name] = {"weight": dweight} if dbias is None else {"weight": dweight, "bias": dbias}

    def kept_bytes(self, x):
        arrays = {id(x): x}
        for entry in self.cache.values():
            if isinstance(entry, tuple):
                arrays.update((id(a), a) for a in entry if isinstance(a, np.ndarray))
        return sum(a.nbytes for a in arrays.values())


def gradients(model, params, x, labels, update_stats=True, backward=True):
    """Loss and gradients of mean softmax cross-entropy for the batch ``x`` ``(N, C, H, W)``.

    ``params`` holds float arrays of one dtype (``x`` is converted to it). With
    ``update_stats``, batch norms' running statistics in ``params`` are replaced
    by their updated values (new arrays: parameter arrays are never edited in place).
    ``backward=False`` stops after the loss (``grads`` is empty).
    """
    dtype = next(a.dtype for p in params.values() for a in p.values())
    x = np.asarray(x, dtype=dtype)
    run = _Run(params, {name: out for name, _, _, out in trace(model, x.shape[1:])}, input_needs_grad(model))
    x_in = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x
    logits = run.forward(model, x_in, "")
    loss, dlogits = bw.softmax_cross_entropy(logits, np.asarray(labels))
    kept = run.kept_bytes(x_in)
    if backward:
        run.backward(model, dlogits, "")
    if update_stats:
        for name, stats in run.stats.items():
            params[name].update(stats)
    macs = {name: (sum(f), sum(b)) for name, (f, b) in run.macs.items()}
    return Pass(loss, logits, run.grads, macs, kept)


def input_needs_grad(model):
    """``{leaf name: whether its input needs a gradient}``: true once a layer with parameters
    (:data:`_TRAINED`) comes before the leaf on some path from the network's input.

    :func:`gradients` passes it to the backward pass and :func:`analytic_macs` counts with
    it, so the MACs counted and the MACs performed agree on which input gradients are skipped.

    Examples
    --------
    >>> from helpers.layers import Conv2d, MaxPool2d, ReLU
    >>> input_needs_grad(Sequential(("pool", MaxPool2d()), ("conv", Conv2d(4)), ("relu", ReLU())))
    {'pool': False, 'conv': False, 'relu': True}
    """
    flags = {}
    _mark(model, "", False, flags)
    return flags


def _mark(module, prefix, needs, flags):
    """Fill ``flags`` for ``module``'s leaves; return whether its output needs a gradient."""
    if isinstance(module, Layer):
        flags[prefix or module.kind.lower()] = needs
        return needs or isinstance(module, _TRAINED)
    if isinstance(module, Sequential):
        for child_name, child in module.children:
            needs = _mark(child, join_name(prefix, child_name), needs, flags)
        return needs
    return any([_mark(child, join_name(prefix, name), needs, flags) for name, child in module.children])


def analytic_macs(model, input_shape, batch=1):
    """``(forward, backward)`` MACs of one training step from the layer counts (no arrays).

    Forward: the usual count. Backward: each convolution and dense layer computes
    its weight gradient (as many MACs as its forward) and, unless its input needs
    no gradient, its input gradient (as many again).

    Examples
    --------
    >>> from helpers.layers import Conv2d, GlobalAvgPool, Linear
    >>> net = Sequential(("conv", Conv2d(4, 3, padding=1)), ("gap", GlobalAvgPool()), ("fc", Linear(2)))
    >>> analytic_macs(net, (1, 5, 5))          # conv 900, fc 8: backward 900 + 2 * 8
    (908, 916)
    """
    from helpers.model import walk
    flags = input_needs_grad(model)
    forward = backward = 0
    for row in walk(model, input_shape, batch):
        forward += row.macs
        if row.kind in ("Conv2d", "Linear"):
            backward += row.macs * (2 if flags[row.name] else 1)
    return forward, backward
