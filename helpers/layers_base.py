"""The base of every layer spec, and the checks of their hyper-parameters.

:class:`Layer` is a leaf that keeps the shape and costs nothing; the specs of
:mod:`helpers.layers` and :mod:`helpers.layers_window` override what differs.
:func:`as_pair` and :func:`check_positive_int` validate hyper-parameters with
errors that name the layer.
"""

from __future__ import annotations

__all__ = ["Layer", "as_pair", "check_positive_int"]


def as_pair(value, what, layer, allow_zero=False):
    """``value``, an int or a pair of ints, as a pair; ``ValueError`` naming ``layer`` and
    ``what`` if it is not (ints below 1, or below 0 with ``allow_zero``, are refused).

    Examples
    --------
    >>> as_pair(3, "kernel_size", "Conv2d"), as_pair([1, 2], "stride", "Conv2d")
    ((3, 3), (1, 2))
    >>> as_pair(0, "stride", "Conv2d")
    Traceback (most recent call last):
    ...
    ValueError: Conv2d: stride must be a positive int or a pair of them, got 0
    """
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    low = 0 if allow_zero else 1
    if len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= low for v in pair):
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{layer}: {what} must be a {need} int or a pair of them, got {value!r}")
    return pair


def check_positive_int(value, what, layer):
    """``ValueError`` naming ``layer`` and ``what`` unless ``value`` is an int of at least 1
    (``True`` is not an int here).

    >>> check_positive_int(True, "groups", "Conv2d")
    Traceback (most recent call last):
    ...
    ValueError: Conv2d: groups must be a positive int, got True
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")


class Layer:
    """Base of all leaf specs: a layer that keeps the shape and has no cost."""

    spatial = True
    """Whether the layer keeps a spatial layout (receptive fields continue)."""

    @property
    def kind(self):
        """The class name, as shown in tables (``"Conv2d"``)."""
        return type(self).__name__

    def output_shape(self, shape, name="layer"):
        """Output shape for input ``shape``; ``name`` is used in errors."""
        return tuple(shape)

    def params(self, shape):
        """Learned values for input ``shape``."""
        return 0

    def macs(self, shape):
        """Multiply-accumulates per image for input ``shape``."""
        return 0

    def window(self):
        """``((k_h, s_h, p_h), (k_w, s_w, p_w))``: effective kernel, stride and
        padding before, per axis, for receptive fields."""
        return (1, 1, 0), (1, 1, 0)

    @staticmethod
    def _need_spatial(shape, name, kind):
        if len(shape) != 3:
            raise ValueError(f"{name} ({kind}) needs a (C, H, W) input, got shape {tuple(shape)}")
