"""Canonical forms and slow salted digests of answers: how the key hides them.

The rules per kind (``int``, ``real``, ``expr``, ``text``, ``tuple``) are in
:mod:`helpers.answers`. Everything here is deterministic, so rebuilding the key
gives the same bytes.

Examples
--------
>>> make_entry("x.y", 0.25)["kind"]
'real'
>>> log_bin(1.0, 0.005), sign(-2)
(0, '-')
"""

from __future__ import annotations

import hashlib
import json
import math
from numbers import Integral, Real

__all__ = ["ITERATIONS", "DEFAULT_RTOL", "DEFAULT_HINT", "digest", "log_bin", "sign", "fixed_points",
           "evaluate", "evaluate_at_points", "kind_of", "canonical_text", "make_entry", "assessment_key"]

ITERATIONS = 10_000
"""PBKDF2 rounds: about a millisecond per digest, so brute-forcing answers is slow."""
DEFAULT_RTOL = 0.005
DEFAULT_HINT = "Re-read the problem statement and the conventions, then try again."


def digest(qid, text):
    return hashlib.pbkdf2_hmac("sha256", text.encode(), f"cnn-cost-workbook:{qid}".encode(),
                               ITERATIONS).hex()[:32]


def log_bin(value, rtol):
    return math.floor(math.log(abs(value)) / math.log1p(rtol))


def sign(value):
    return "-" if value < 0 else "+"


def fixed_points(qid, names):
    """Fixed evaluation points for an expression in ``names`` (deterministic per qid)."""
    seed = int(hashlib.sha256(qid.encode()).hexdigest(), 16)
    points = []
    for p in range(4):
        point = {}
        for n in sorted(names):
            seed = (seed * 6364136223846793005 + 1442695040888963407) % 2**64
            point[n] = 2 + (seed >> 33) % 23 + 7 * p
        points.append(point)
    return points


def evaluate_at_points(qid, expr, names):
    """Exact values of ``expr`` at question ``qid``'s fixed points for ``names``."""
    return evaluate(expr, fixed_points(qid, names))


def evaluate(expr, points):
    import sympy as sp
    symbols = {str(s): s for s in expr.free_symbols}
    values = []
    for point in points:
        v = sp.nsimplify(expr.subs({symbols[n]: sp.Integer(v) for n, v in point.items() if n in symbols}))
        values.append(str(sp.Rational(v)) if v.is_rational else str(sp.N(v, 12)))
    return ";".join(values)


def kind_of(value):
    """The key kind for a reference value from a solution notebook."""
    from helpers.answers.serial import Evaluated
    if isinstance(value, Evaluated):
        return "expr"
    if isinstance(value, bool):
        return "text"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (tuple, list)):
        return "tuple"
    if isinstance(value, Integral):
        return "int"
    if isinstance(value, Real):
        return "real"
    if type(value).__module__.startswith("sympy"):
        if getattr(value, "free_symbols", None):
            return "expr"
        return "int" if value.is_Integer else "real"
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy scalar
        return kind_of(value.item())
    raise TypeError(f"cannot key an answer of type {type(value).__name__}: {value!r}")


def canonical_text(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower().rstrip(".")
    return {"true": "yes", "false": "no", "y": "yes", "n": "no"}.get(text, text)


def make_entry(qid, value, hint=None, points=1, rtol=None):
    """Build the key entry for question ``qid`` whose answer is ``value``.

    Examples
    --------
    >>> sorted(make_entry("x.y", 0.25))
    ['digest', 'hint', 'kind', 'points', 'rtol']
    """
    kind = kind_of(value)
    entry = {"kind": kind, "points": points, "hint": hint or DEFAULT_HINT}
    if kind == "int":
        entry["digest"] = digest(qid, str(int(value)))
    elif kind == "real":
        value = float(value)
        entry["rtol"] = rtol if rtol is not None else DEFAULT_RTOL
        entry["digest"] = (digest(qid, "0") if value == 0
                           else digest(qid, f"{sign(value)}{log_bin(value, entry['rtol'])}"))
    elif kind == "expr" and hasattr(value, "values"):   # recorded: already evaluated
        entry["symbols"] = sorted(value.symbols)
        entry["digest"] = digest(qid, value.values)
    elif kind == "expr":
        import sympy as sp
        expr = sp.sympify(value)
        entry["symbols"] = sorted(str(s) for s in expr.free_symbols)
        entry["digest"] = digest(qid, evaluate(expr, fixed_points(qid, entry["symbols"])))
    elif kind == "text":
        entry["digest"] = digest(qid, canonical_text(value))
    else:
        entry["digest"] = digest(qid, json.dumps([int(v) for v in value]))
    if kind != "real" and rtol is not None:
        raise ValueError(f"{qid}: rtol applies to real answers only, this one is {kind}")
    return entry


_ASSESSMENT_FIELDS = ("kind", "points", "notebook", "symbols")


def assessment_key(key):
    """The key without any digest (or hint): what a handout for graded work ships.

    ``check`` with such a key validates only the form of an answer and says it is
    recorded; the grader judges with the instructor's full key.

    Examples
    --------
    >>> key = {"format": 1, "questions": {"x.y": make_entry("x.y", 38, hint="h", points=2)}}
    >>> assessment_key(key)["questions"]
    {'x.y': {'kind': 'int', 'points': 2}}
    """
    questions = {q: {k: v for k, v in e.items() if k in _ASSESSMENT_FIELDS} for q, e in key["questions"].items()}
    return {**key, "assessment": True, "questions": questions}

