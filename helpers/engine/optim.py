"""Stochastic gradient descent with momentum and weight decay (PyTorch's ``torch.optim.SGD``).

For each parameter :math:`p` with gradient :math:`g`, learning rate
:math:`\\eta`, momentum :math:`\\mu` and weight decay :math:`\\lambda`:

.. math::

    d = g + \\lambda p, \\qquad v \\leftarrow \\mu v + d \\;(v = d \\text{ at the first step}),
    \\qquad p \\leftarrow p - \\eta v.

Weight decay applies to every parameter (PyTorch's default when all parameters
form one group). Updated parameters are new arrays that replace the old ones
in ``params``: the inference engine caches weights in derived layouts per
array, so arrays are never edited in place.

Examples
--------
>>> import numpy as np
>>> params = {"fc": {"weight": np.array([1.0, 2.0])}}
>>> sgd = SGD(lr=0.5, momentum=0.9)
>>> sgd.step(params, {"fc": {"weight": np.array([1.0, -1.0])}})
>>> params["fc"]["weight"]
array([0.5, 2.5])
>>> sgd.step(params, {"fc": {"weight": np.array([1.0, -1.0])}})   # v = 0.9 v + g = 1.9, -1.9
>>> params["fc"]["weight"]
array([-0.45,  3.45])
"""

from __future__ import annotations

__all__ = ["SGD"]


class SGD:
    """SGD with momentum and weight decay; :meth:`step` updates a params dict from a grads dict."""

    def __init__(self, lr, momentum=0.0, weight_decay=0.0):
        if lr <= 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD needs lr > 0 and momentum, weight_decay >= 0, got {lr}, {momentum}, {weight_decay}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {}
        """(layer, parameter) -> momentum buffer, one array per parameter."""

    def step(self, params, grads):
        """Replace every parameter that has a gradient in ``grads`` by its updated value."""
        for layer, named in grads.items():
            for key, g in named.items():
                p = params[layer][key]
                d = g + self.weight_decay * p if self.weight_decay else g
                if self.momentum:
                    v = self.velocity.get((layer, key))
                    v = d.copy() if v is None else self.momentum * v + d
                    self.velocity[(layer, key)] = v
                    d = v
                params[layer][key] = (p - self.lr * d).astype(p.dtype, copy=False)

    def state_bytes(self):
        """Bytes of the momentum buffers."""
        return sum(v.nbytes for v in self.velocity.values())
