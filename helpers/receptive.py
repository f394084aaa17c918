r"""Receptive fields: size, effective stride and effective padding per layer.

For a chain of layers with (effective) kernel :math:`k_l`, stride :math:`s_l`
and padding before :math:`p_l`, the field of one output value of layer
:math:`L` in input pixels follows the recurrence (Araujo et al., *Computing
Receptive Fields of Convolutional Neural Networks*, Distill 2019)

.. math::

    r_l = r_{l-1} + (k_l - 1)\,j_{l-1}, \qquad j_l = j_{l-1} s_l, \qquad
    p_l = p_{l-1} + p_{l,\text{before}}\, j_{l-1},

from :math:`r_0 = j_0 = 1, p_0 = 0`, whose closed form is
:math:`r_L = 1 + \sum_l (k_l - 1) \prod_{i<l} s_i`. Output position
:math:`o` of layer :math:`L` sees input pixels
:math:`[o j_L - p_L,\; o j_L - p_L + r_L - 1]`. A dilated kernel has
effective size :math:`d(k-1)+1`.

For a ``Parallel`` merge the field is the union of the branches' fields
(they must share a stride): the merged output depends on every branch.

Examples
--------
>>> from helpers.model import Sequential
>>> from helpers.layers import Conv2d
>>> net = Sequential(Conv2d(1, 3), Conv2d(1, 3, stride=2), Conv2d(1, 3))
>>> [(f.name, f.size, f.stride) for f in receptive_field(net)]
[('0', 3, 1), ('1', 5, 2), ('2', 9, 2)]
"""

from __future__ import annotations

from dataclasses import dataclass

from helpers.layers import Layer
from helpers.model import Sequential, join_name

__all__ = ["Field", "rf_step", "receptive_field", "final_field"]


@dataclass(frozen=True)
class Field:
    """Receptive field of one output value of layer ``name``, per axis.

    ``size``, ``stride`` and ``padding`` are ints when both axes agree,
    otherwise ``(rows, cols)`` pairs.
    """

    name: str
    kind: str
    size: int | tuple
    stride: int | tuple
    padding: int | tuple


def rf_step(size, stride, padding, kernel, layer_stride, layer_padding):
    """One step of the recurrence: the field after a layer, from the field before it.

    Works on ints and on sympy symbols (``+ - *`` only).

    Examples
    --------
    >>> rf_step(1, 1, 0, kernel=11, layer_stride=4, layer_padding=0)
    (11, 4, 0)
    >>> import sympy as sp
    >>> r, j, p, k, s, q = sp.symbols("r j p k s q")
    >>> rf_step(r, j, p, k, s, q)
    (j*(k - 1) + r, j*s, j*q + p)
    """
    return size + (kernel - 1) * stride, stride * layer_stride, padding + layer_padding * stride


_START = ((1, 1, 0), (1, 1, 0))


class _End(Exception):
    """Raised at the first non-spatial layer, carrying the field reached there."""

    def __init__(self, state):
        super().__init__()
        self.state = state



def _union(states, where):
    merged = []
    for axis in (0, 1):
        strides = sorted({state[axis][1] for state in states})
        if len(strides) != 1:
            raise ValueError(f"{where}: branches have different strides {strides}, "
                             "their fields do not align")
        left = min(-state[axis][2] for state in states)
        right = max(-state[axis][2] + state[axis][0] - 1 for state in states)
        merged.append((right - left + 1, strides[0], -left))
    return tuple(merged)


def _trace(module, state, prefix, out):
    """Follow ``state`` (per axis: size, stride, padding) through ``module``,
    appending a Field per spatial leaf; raise _End at a non-spatial leaf."""
    if isinstance(module, Layer):
        if not module.spatial:
            raise _End(state)
        state = tuple(rf_step(*axis_state, *window)
                      for axis_state, window in zip(state, module.window(), strict=True))
        out.append(_field(prefix or module.kind.lower(), module.kind, state))
        return state
    if isinstance(module, Sequential):
        for name, child in module.children:
            state = _trace(child, state, join_name(prefix, name), out)
        return state
    ends = [_trace(child, state, join_name(prefix, name), out) for name, child in module.children]
    return _union(ends, prefix or "parallel")


def _field(name, kind, state):
    def one(i):
        a, b = state[0][i], state[1][i]
        return a if a == b else (a, b)
    return Field(name, kind, one(0), one(1), one(2))


def _run(model):
    fields = []
    try:
        state = _trace(model, _START, "", fields)
    except _End as end:
        state = end.state
    return fields, state


def receptive_field(model):
    """Receptive field after every spatial leaf layer of ``model``.

    Layers that act per position (ReLU, batch norm, LRN, dropout) keep the
    field; the trace stops at the first layer that ends the spatial layout
    (``Flatten``, ``GlobalAvgPool``, ``Linear``).

    Parameters
    ----------
    model : Layer, Sequential or Parallel

    Returns
    -------
    list of Field
        In execution order; layers inside a ``Parallel`` branch carry their
        own branch's field.
    """
    return _run(model)[0]


def final_field(model):
    """The field at the end of the spatial layout: the input to global pooling
    or flattening, or the model's output if it stays spatial.

    Examples
    --------
    >>> from helpers import zoo
    >>> final_field(zoo.get("alexnet")).size
    195
    """
    fields, state = _run(model)
    if not fields:
        raise ValueError("the model has no spatial layer")
    return _field("final", "final", state)
