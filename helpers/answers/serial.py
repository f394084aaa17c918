"""JSON encoding of answer values, so recorded checks cross a process boundary.

Nothing recorded is ever evaluated: a symbolic answer is recorded as its
symbol names and its exact values at the question's fixed points
(:class:`Evaluated`), computed where the answer was given.

Examples
--------
>>> decode(encode(3)), decode(encode(0.25)), decode(encode((1, 2))), decode(encode("yes"))
(3, 0.25, (1, 2), 'yes')
>>> decode(encode(...)) is ..., decode(encode(None)) is None
(True, True)
"""

from __future__ import annotations

from numbers import Integral, Real

from helpers.answers.keying import Evaluated, evaluate_at_points

__all__ = ["encode", "decode", "Evaluated"]

_MAX_ITEMS = 64


def encode(value, qid=""):
    """A JSON-able form of ``value``; ``TypeError`` for values no answer can be."""
    if value is ...:
        return {"blank": True}
    if value is None:
        return {"none": True}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, str):
        return {"str": value[:10_000]}
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return encode(value.item(), qid)
    if isinstance(value, Integral):
        return {"int": str(int(value))}
    if isinstance(value, Real):
        return {"float": repr(float(value))}
    if type(value).__module__.startswith("sympy"):
        if not getattr(value, "free_symbols", None):
            return encode(int(value) if value.is_Integer else float(value), qid)
        names = sorted(str(s) for s in value.free_symbols)
        return {"expr": {"symbols": names, "values": evaluate_at_points(qid, value, names)}}
    if isinstance(value, (tuple, list)) and len(value) <= _MAX_ITEMS:
        return {"seq": [encode(v, qid) for v in value]}
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def decode(payload):
    """Inverse of :func:`encode` (symbolic answers come back as :class:`Evaluated`)."""
    if not isinstance(payload, dict) or len(payload) != 1:
        raise ValueError(f"malformed recorded value {payload!r:.80}")
    (kind, data), = payload.items()
    if kind == "blank":
        return ...
    if kind == "none":
        return None
    if kind == "bool" and isinstance(data, bool) or kind == "str" and isinstance(data, str):
        return data
    if kind == "int":
        return int(str(data)[:5000])
    if kind == "float":
        return float(data)
    if kind == "expr":
        return Evaluated(tuple(str(s) for s in data["symbols"]), str(data["values"]))
    if kind == "seq" and isinstance(data, list):
        return tuple(decode(v) for v in data[:_MAX_ITEMS])
    raise ValueError(f"malformed recorded value {payload!r:.80}")
