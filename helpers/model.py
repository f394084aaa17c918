"""Composition of layer specs and the walk that costs them.

``Sequential`` chains modules; ``Parallel`` feeds one input to several
branches and merges their outputs by channel concatenation (an inception
module) or elementwise addition (a residual block). Children may be named
with ``(name, module)`` pairs; unnamed children are numbered from 0, as in
PyTorch, and a child named ``""`` adds no level to the names below it.

Examples
--------
>>> from helpers.layers import Conv2d, ReLU, MaxPool2d
>>> net = Sequential(("conv1", Conv2d(8, 3, padding=1)), ("relu1", ReLU()),
...                  ("pool1", MaxPool2d(2)))
>>> [(r.name, r.output, r.macs) for r in walk(net, (3, 8, 8))]
[('conv1', (8, 8, 8), 13824), ('relu1', (8, 8, 8), 0), ('pool1', (8, 4, 4), 0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from helpers.layers import Layer

__all__ = ["Sequential", "Parallel", "Row", "walk", "trace", "leaves", "join_name",
           "check_input_shape"]


def _named(items):
    named = []
    for index, item in enumerate(items):
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str):
                raise ValueError(f"a named child must be a (str, module) pair, got {item!r}")
            name, module = item
        else:
            name, module = str(index), item
        if not isinstance(module, (Layer, Sequential, Parallel)):
            raise ValueError(f"child {name!r} is not a layer or container: {module!r}")
        named.append((name, module))
    names = [n for n, _ in named if n]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate child names in {names}")
    return tuple(named)


class _Frozen:
    """A container that cannot change once built (like the frozen layer specs): the engine
    keeps what it works out about a model (its trace) for as long as the model lives.

    >>> s = Sequential()
    >>> s.children = ()
    Traceback (most recent call last):
    ...
    AttributeError: Sequential cannot change once built: build a new one
    """

    def __setattr__(self, name, value):
        if getattr(self, "_built", False):
            raise AttributeError(f"{type(self).__name__} cannot change once built: build a new one")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} cannot change once built: build a new one")


class Sequential(_Frozen):
    """Modules applied one after another. An empty ``Sequential`` is the identity."""

    def __init__(self, *items):
        self.children = _named(items)
        self._built = True

    def __eq__(self, other):
        return type(other) is type(self) and other.children == self.children

    def __repr__(self):
        return f"Sequential({', '.join(f'{n}={m!r}' for n, m in self.children)})"


class Parallel(_Frozen):
    """Branches applied to the same input, merged by ``"concat"`` or ``"add"``."""

    def __init__(self, *branches, merge="concat"):
        if merge not in ("concat", "add"):
            raise ValueError(f"Parallel: merge must be 'concat' or 'add', got {merge!r}")
        if not branches:
            raise ValueError("Parallel needs at least one branch")
        self.children = _named(branches)
        self.merge = merge
        self._built = True

    def __eq__(self, other):
        return (type(other) is type(self) and other.children == self.children
                and other.merge == self.merge)

    def __repr__(self):
        inner = ", ".join(f"{n}={m!r}" for n, m in self.children)
        return f"Parallel({inner}, merge={self.merge!r})"


@dataclass(frozen=True)
class Row:
    """One leaf layer's costs for a batch: the unit of every table."""

    name: str
    kind: str
    output: tuple
    params: int
    macs: int
    activations: int


def join_name(prefix, name):
    """The dotted name of child ``name`` under ``prefix`` (``"layer1.0.conv1"``)."""
    return f"{prefix}.{name}" if prefix and name else prefix or name


def leaves(module, prefix=""):
    """Yield ``(name, layer)`` for every leaf, in execution order.

    Examples
    --------
    >>> from helpers.layers import ReLU
    >>> list(leaves(Sequential(("a", ReLU()), ReLU())))
    [('a', ReLU()), ('1', ReLU())]
    """
    if isinstance(module, Layer):
        yield prefix or module.kind.lower(), module
        return
    for name, child in module.children:
        yield from leaves(child, join_name(prefix, name))


def check_input_shape(shape):
    """Return ``shape`` as a tuple of positive ints, ``(C, H, W)`` or ``(F,)``.

    Examples
    --------
    >>> check_input_shape([3, 32, 32])
    (3, 32, 32)
    >>> check_input_shape((3, 0, 32))
    Traceback (most recent call last):
    ...
    ValueError: input shape must be (C, H, W) or (F,) of positive ints, got (3, 0, 32)
    """
    try:
        shape = tuple(shape)
    except TypeError:
        shape = (shape,)
    if len(shape) not in (1, 3) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise ValueError(f"input shape must be (C, H, W) or (F,) of positive ints, got {shape}")
    return shape


def trace(model, input_shape):
    """``(name, layer, input_shape, output_shape)`` for every leaf, in execution order.

    Validates every layer against the shape that reaches it.

    Examples
    --------
    >>> from helpers.layers import Conv2d
    >>> trace(Sequential(("c", Conv2d(4, 3))), (1, 5, 5))
    [('c', Conv2d(out_channels=4, kernel_size=3, stride=1, padding=0, dilation=1, groups=1, bias=True),
      (1, 5, 5), (4, 3, 3))]
    """
    leaves_seen = []
    _trace(model, check_input_shape(input_shape), "", leaves_seen)
    return leaves_seen


def walk(model, input_shape, batch=1):
    """Cost every leaf layer of ``model`` for ``batch`` inputs of ``input_shape``.

    Parameters
    ----------
    model : Layer, Sequential or Parallel
    input_shape : tuple of int
        ``(C, H, W)`` or ``(F,)`` for one input.
    batch : int
        MACs and activations scale with it; parameters do not.

    Returns
    -------
    list of Row
        One row per leaf, in execution order. Merges of ``Parallel`` add no
        row (an addition or a concatenation is not a MAC).
    """
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    return [Row(name, layer.kind, out, layer.params(shape), layer.macs(shape) * batch,
                prod(out) * batch) for name, layer, shape, out in trace(model, input_shape)]


def _trace(module, shape, prefix, found):
    if isinstance(module, Layer):
        name = prefix or module.kind.lower()
        out = module.output_shape(shape, name)
        found.append((name, module, shape, out))
        return out
    if isinstance(module, Sequential):
        for name, child in module.children:
            shape = _trace(child, shape, join_name(prefix, name), found)
        return shape
    outs = [(join_name(prefix, name), _trace(child, shape, join_name(prefix, name), found))
            for name, child in module.children]
    return _merge(module.merge, outs, prefix or "parallel")


def _merge(merge, outs, where):
    first_name, first = outs[0]
    for name, out in outs[1:]:
        same = out == first if merge == "add" else (len(out) == 3 and out[1:] == first[1:])
        if not same or len(first) != len(out):
            what = "shapes" if merge == "add" else "spatial sizes"
            raise ValueError(f"{where}: cannot {merge} branch outputs, {what} differ: "
                             f"{first_name or 'identity'} {first} vs {name or 'identity'} {out}")
    if merge == "add":
        return first
    if len(first) != 3:
        raise ValueError(f"{where}: concat needs (C, H, W) branch outputs, got {first}")
    return (sum(out[0] for _, out in outs), *first[1:])
