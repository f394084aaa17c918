"""Canonical forms and slow salted digests of answers: how the key hides them.

An answer is reduced to *canonical forms* (strings); the key stores the
PBKDF2-SHA256 digest of each, salted with the question id, never the answer:

- ``int``: the decimal string, one form.
- ``real``: the sign and the bin of ``log |x|`` on a grid of ``BINS_PER_RTOL``
  bins per ``log(1 + rtol)``. The answer's forms are every bin that meets the
  window ``[a (1 - rtol), a (1 + rtol)]``; a student's value has one form, its
  own bin. So every value within ``rtol`` is accepted, and nothing further than
  one bin (a factor ``(1 + rtol) ** (1 / BINS_PER_RTOL)``) beyond the window is.
- ``expr``: exact values at fixed integer points, one point value per symbol
  name (so the student's symbols are evaluated without knowing the answer's);
  the answer's set of symbol names is digested separately, never listed.
- ``text``: lower case, outer blanks and a final period dropped; yes/no words
  (``True``, ``"y"`` ...) become ``yes``/``no``.
- ``tuple``: the JSON list of its integers.

Everything is deterministic, so rebuilding the key gives the same bytes.

Examples
--------
>>> sorted(make_entry("x.y", 0.25))
['digests', 'hint', 'kind', 'points', 'rtol']
>>> real_form(1.0, 0.005), real_form(-2.0, 0.005)
('+0', '-2779')
>>> len(answer_forms("x.y", 0.25, "real", 0.1))
44
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from numbers import Integral, Real

__all__ = ["Evaluated", "ITERATIONS", "DEFAULT_RTOL", "DEFAULT_HINT", "BINS_PER_RTOL", "SLIPS", "digest", "real_form",
           "answer_forms", "symbols_digest", "fixed_points", "evaluate", "evaluate_at_points", "kind_of",
           "canonical_text", "make_entry", "manual_entry", "assessment_key"]

ITERATIONS = 10_000
"""PBKDF2 rounds: a few milliseconds per digest (2.3 ms, best of 7 timeit runs of 50
digests of ``hashlib.pbkdf2_hmac("sha256", ...)``, on the 2-core AMD EPYC VM this project is
developed on, 2026-11-22, nothing else running), so brute-forcing answers is slow."""
DEFAULT_RTOL = 0.005
DEFAULT_HINT = "Re-read the problem statement and the conventions, then try again."
BINS_PER_RTOL = 20
"""Bins per ``log(1 + rtol)``: the accepted window overshoots ``rtol`` by at most one bin."""
SLIPS = {"flops": ("int", "real"), "percent": ("real",)}
"""Slip messages a question may declare, and the answer kinds each applies to."""


@functools.lru_cache(maxsize=65536)
def digest(qid, text):
    """The salted slow hash the key stores for the canonical form ``text`` (cached: it is pure)."""
    return hashlib.pbkdf2_hmac("sha256", text.encode(), f"cnn-cost-workbook:{qid}".encode(),
                               ITERATIONS).hex()[:32]


def _width(rtol):
    return math.log1p(rtol) / BINS_PER_RTOL


def real_form(value, rtol):
    """The canonical form of a real value: ``"0"`` or its sign and log-bin."""
    if value == 0:
        return "0"
    return f"{'-' if value < 0 else '+'}{math.floor(math.log(abs(value)) / _width(rtol))}"


def answer_forms(qid, value, kind, rtol=None):
    """Every canonical form that counts as answer ``value`` (sorted)."""
    if kind == "int":
        return [str(int(value))]
    if kind == "real":
        value = float(value)
        if value == 0:
            return ["0"]
        width, sign = _width(rtol), "-" if value < 0 else "+"
        low = math.floor(math.log(abs(value) * (1 - rtol)) / width)
        high = math.floor(math.log(abs(value) * (1 + rtol)) / width)
        return sorted(f"{sign}{b}" for b in range(low, high + 1))
    if kind == "expr":
        return [value.values if hasattr(value, "values") else _expr_values(qid, value)]
    if kind == "text":
        return [canonical_text(value)]
    return [json.dumps([int(v) for v in value])]


def _expr_values(qid, value):
    import sympy as sp
    expr = sp.sympify(value)
    return evaluate(expr, fixed_points(qid, sorted(str(s) for s in expr.free_symbols)))


def expr_symbols(value):
    """Sorted symbol names of a symbolic answer (sympy or recorded)."""
    if hasattr(value, "symbols") and hasattr(value, "values"):
        return sorted(value.symbols)
    import sympy as sp
    return sorted(str(s) for s in sp.sympify(value).free_symbols)


def symbols_digest(qid, names):
    """Digest of a set of symbol names: says "wrong symbols" without listing them."""
    return digest(qid, "symbols:" + ",".join(sorted(names)))


def fixed_points(qid, names):
    """Four evaluation points: each name gets a value fixed by ``(qid, name, point)``."""
    points = []
    for p in range(4):
        point = {}
        for n in sorted(names):
            seed = int(hashlib.sha256(f"{qid}|{n}|{p}".encode()).hexdigest(), 16)
            point[n] = 2 + seed % 23 + 7 * p
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


@dataclass(frozen=True)
class Evaluated:
    """A symbolic answer reduced to its symbols and its values at fixed points."""

    symbols: tuple
    values: str


def kind_of(value):
    """The key kind for a reference value from a solution notebook."""
    if isinstance(value, Evaluated):
        return "expr"
    if isinstance(value, (bool, str)):
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


def make_entry(qid, value, hint=None, points=1, rtol=None, slips=()):
    """Build the key entry for question ``qid`` whose answer is ``value``.

    Examples
    --------
    >>> sorted(make_entry("x.y", 12, slips=("flops",)))
    ['digests', 'hint', 'kind', 'points', 'slips']
    >>> make_entry("x.y", 12, slips=("percent",))
    Traceback (most recent call last):
    ...
    ValueError: x.y: slip 'percent' applies to real answers only, this one is int
    """
    kind = kind_of(value)
    if kind != "real" and rtol is not None:
        raise ValueError(f"{qid}: rtol applies to real answers only, this one is {kind}")
    if kind == "real":
        rtol = DEFAULT_RTOL if rtol is None else float(rtol)
        if not 0 < rtol < 1:
            raise ValueError(f"{qid}: rtol must be between 0 and 1, got {rtol}")
    slips = sorted(set([slips] if isinstance(slips, str) else slips))
    for slip in slips:
        if slip not in SLIPS:
            raise ValueError(f"{qid}: unknown slip {slip!r}; use one of {', '.join(SLIPS)}")
        if kind not in SLIPS[slip]:
            raise ValueError(f"{qid}: slip {slip!r} applies to {' or '.join(SLIPS[slip])} answers only, "
                             f"this one is {kind}")
    entry = {"kind": kind, "points": points, "hint": hint or DEFAULT_HINT,
             "digests": sorted({digest(qid, f) for f in answer_forms(qid, value, kind, rtol)})}
    if kind == "real":
        entry["rtol"] = rtol
    if kind == "expr":
        entry["symbols_digest"] = symbols_digest(qid, expr_symbols(value))
    if slips:
        entry["slips"] = slips
    return entry


def manual_entry(points):
    """The key entry of a written answer, graded by hand."""
    if not isinstance(points, int) or isinstance(points, bool) or points < 1:
        raise ValueError(f"points of a manual answer must be a positive integer, got {points!r}")
    return {"kind": "manual", "points": points}


_ASSESSMENT_FIELDS = ("kind", "points", "notebook")


def assessment_key(key):
    """The key without any digest, hint or sealed text: what a hand-out for graded work ships.

    ``check`` with such a key validates only the form of an answer and says it is
    recorded; the grader judges with the instructor's full key.

    Examples
    --------
    >>> key = {"format": 2, "questions": {"x.y": make_entry("x.y", 38, hint="h", points=2)}}
    >>> assessment_key(key)["questions"]
    {'x.y': {'kind': 'int', 'points': 2}}
    """
    questions = {q: {k: v for k, v in e.items() if k in _ASSESSMENT_FIELDS} for q, e in key["questions"].items()}
    return {**{k: v for k, v in key.items() if k in ("format", "notebooks")}, "assessment": True,
            "questions": questions}

