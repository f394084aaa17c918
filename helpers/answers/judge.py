"""Judging a value against a key entry: the one verdict ``check``, the CLI and the grader share.

A value is correct when its canonical form's digest is one of the entry's
digests (see :mod:`helpers.answers.keying`). Wrong values get the question's
hint, or a slip message when the question declares that slip (``slips`` in
the key) and the value is the answer times the slip's factor:

- ``"flops"``: a factor of ``conventions.FLOPS_PER_MAC`` (MACs vs FLOPs);
- ``"percent"``: a factor of 100 (a percentage for a fraction).

Examples
--------
>>> from helpers.answers.keying import make_entry
>>> entry = make_entry("demo.macs", 105415200, hint="Count one MAC per weight use.", slips=("flops",))
>>> judge("demo.macs", 105415200, entry).status
'correct'
>>> judge("demo.macs", 210830400, entry).message
'not correct: this is twice the answer; 1 MAC is 2 FLOPs: which does the question ask for?'
>>> judge("demo.macs", 3, make_entry("demo.p", 1)).message
'not correct. Hint: Re-read the problem statement and the conventions, then try again.'
>>> judge("demo.macs", ..., entry).status
'blank'
>>> judge("demo.macs", None, entry).message
'not correct: the value is None; a function that ends without `return` gives None.'
"""

from __future__ import annotations

import ast
import difflib
import json
import math
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from helpers.answers.keying import (
    canonical_text,
    digest,
    evaluate,
    fixed_points,
    real_form,
    symbols_digest,
)
from helpers.conventions import FLOPS_PER_MAC

__all__ = ["judge", "Verdict", "load_key", "KEY_PATH", "unknown_message"]

KEY_PATH = Path(__file__).with_name("answer_key.json")

_MAC_OR_FLOP = f"1 MAC is {FLOPS_PER_MAC} FLOPs: which does the question ask for?"
_TIMES, _PART = ("twice", "half") if FLOPS_PER_MAC == 2 else (f"{FLOPS_PER_MAC} times", f"1/{FLOPS_PER_MAC} of")
_SLIP_MESSAGES = {
    # (slip, factor): the value is the answer times factor
    ("flops", FLOPS_PER_MAC): f"this is {_TIMES} the answer; {_MAC_OR_FLOP}",
    ("flops", 1 / FLOPS_PER_MAC): f"this is {_PART} the answer; {_MAC_OR_FLOP}",
    ("percent", 100): "this looks like a percentage: answer as a fraction (0 to 1).",
}


@dataclass
class Verdict:
    """Outcome of one check: ``status`` is correct, blank, wrong, unknown, manual or recorded."""

    qid: str
    status: str
    message: str
    form: str | None = field(default=None, repr=False, compare=False)
    """The canonical form that matched (opens an unlocked explanation)."""

    def __bool__(self):
        return self.status == "correct"

    def line(self):
        mark = {"correct": "✓", "blank": "…", "wrong": "✗", "unknown": "?", "recorded": "·",
                "manual": "✎"}[self.status]
        return f"{mark} {self.qid}: {self.message}"

    def _ipython_display_(self):
        # check() already printed the line; show it again only on later displays
        if getattr(self, "_fresh", False):
            self._fresh = False
        else:
            print(self.line())


def _number(value):
    """A float/int from what a student may pass, or a reason it is not one."""
    if isinstance(value, bool):
        return None, "expected a number, got True/False"
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, str):
        text = value.replace(",", "").replace("_", "").strip()
        try:
            value = float(text) if any(c in text for c in ".eEn") else int(text)
        except ValueError:
            return None, f"expected a number, got the text {value!r}"
    if type(value).__module__.startswith("sympy"):
        if getattr(value, "free_symbols", None):
            return None, "expected a number, got an expression with symbols"
        value = int(value) if value.is_Integer else float(value)
    if isinstance(value, (list, tuple, dict, set)) or hasattr(value, "shape"):
        return None, f"expected a single number, got a {type(value).__name__}"
    if not isinstance(value, Real):
        return None, f"expected a number, got a {type(value).__name__}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"expected a finite number, got {value}"
    return value, None


def _form_of_number(entry, number):
    """The canonical form of a number for this entry, or None if it cannot match."""
    if entry["kind"] == "int":
        if isinstance(number, float):
            if not number.is_integer() or abs(number) > 2**53:
                return None
            number = int(number)
        return str(int(number))
    try:
        return real_form(float(number), entry["rtol"])
    except (OverflowError, ValueError):
        return None


def _known(qid, entry, form):
    return form if form is not None and digest(qid, form) in entry["digests"] else None


def _numeric(qid, entry, value):
    number, reason = _number(value)
    if reason:
        return "wrong", f"not correct: {reason}.", None
    form = _known(qid, entry, _form_of_number(entry, number))
    if form:
        return "correct", "correct.", form
    for (slip, factor), message in _SLIP_MESSAGES.items():
        if slip in entry.get("slips", ()):
            try:
                scaled = number / factor
            except OverflowError:
                continue
            if entry["kind"] == "int" and isinstance(scaled, float) and scaled.is_integer():
                scaled = int(scaled)
            if _known(qid, entry, _form_of_number(entry, scaled)):
                return "wrong", f"not correct: {message}", None
    return "wrong", f"not correct. Hint: {entry['hint']}", None


def _expression(qid, entry, value):
    import sympy as sp

    from helpers import symbols
    from helpers.answers.keying import Evaluated
    if isinstance(value, Evaluated):
        names, values = sorted(value.symbols), value.values
    else:
        try:
            expr = sp.sympify(value, locals=dict(symbols.ALL)) if isinstance(value, str) else sp.sympify(value)
        except (sp.SympifyError, SyntaxError, TypeError, ValueError):
            return "wrong", "not correct: could not read that as a sympy expression.", None
        if not isinstance(expr, sp.Expr):
            return "wrong", f"not correct: expected an expression, got a {type(expr).__name__}.", None
        names = sorted(str(s) for s in expr.free_symbols)
        values = None
    if symbols_digest(qid, names) != entry["symbols_digest"]:
        return ("wrong", "not correct: the answer is written in other symbols than yours "
                         "(re-read which quantities the question lets vary).", None)
    if values is None:
        try:
            values = evaluate(expr, fixed_points(qid, names))
        except (TypeError, ValueError, ZeroDivisionError, AttributeError):
            return "wrong", f"not correct. Hint: {entry['hint']}", None
    form = _known(qid, entry, values)
    return ("correct", "correct.", form) if form else ("wrong", f"not correct. Hint: {entry['hint']}", None)


def _tuple(qid, entry, value):
    bad = "not correct: expected a sequence of whole numbers, e.g. (1, 2)."
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return "wrong", bad, None
        value = value if isinstance(value, (tuple, list)) else (value,)
    try:
        items = [int(v) for v in value] if not isinstance(value, (str, bytes)) else None
        if items is None or any(float(a) != float(b) for a, b in zip(items, value, strict=True)):
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        return "wrong", bad, None
    form = _known(qid, entry, json.dumps(items))
    return ("correct", "correct.", form) if form else ("wrong", f"not correct. Hint: {entry['hint']}", None)


def _text_answer(qid, entry, value):
    if not isinstance(value, (str, bool)):
        return "wrong", "not correct: answer with a word in quotes, e.g. \"yes\".", None
    form = _known(qid, entry, canonical_text(value))
    return ("correct", "correct.", form) if form else ("wrong", f"not correct. Hint: {entry['hint']}", None)


_JUDGES = {"int": _numeric, "real": _numeric, "expr": _expression, "tuple": _tuple, "text": _text_answer}


def judge(qid, value, entry):
    """Judge ``value`` for question ``qid`` against its key ``entry``; never raises.

    ``entry`` is None for a question the key does not know. ``...`` means not
    answered yet; ``None`` is judged wrong (usually a function without ``return``).
    """
    if entry is None:
        return Verdict(qid, "unknown", f"unknown question id {qid!r}.")
    if entry.get("kind") == "manual":
        return Verdict(qid, "manual", "a written answer: graded by hand, not by check.")
    if value is ...:
        return Verdict(qid, "blank", "not answered yet: replace ... with your answer.")
    if value is None:
        return Verdict(qid, "wrong", "not correct: the value is None; a function that ends without "
                                     "`return` gives None.")
    if "digests" not in entry:
        return _form_only(qid, entry, value)
    try:
        status, message, form = _JUDGES[entry["kind"]](qid, entry, value)
    except Exception as err:  # noqa: BLE001 - a student's odd value must never raise
        status, message, form = "wrong", f"not correct: could not judge that value ({type(err).__name__}).", None
    return Verdict(qid, status, message, form)


def _form_only(qid, entry, value):
    """An assessment key holds no digest: check only the answer's form, and say it is recorded."""
    kind, reason = entry["kind"], None
    try:
        if kind in ("int", "real"):
            reason = _number(value)[1]
        elif kind in ("tuple", "text", "expr"):
            status, message, _ = _JUDGES[kind](qid, {**entry, "digests": [], "hint": "", "symbols_digest": ""}, value)
            reason = None if "Hint" in message or "other symbols" in message else message
    except Exception as err:  # noqa: BLE001 - a student's odd value must never raise
        reason = f"could not read that value ({type(err).__name__})"
    if reason:
        return Verdict(qid, "wrong", f"not in the form of an answer: {reason.removeprefix('not correct: ')}")
    return Verdict(qid, "recorded", "recorded for grading (graded work: no feedback on the value until then).")


def unknown_message(qid, known_ids):
    """The message for an unknown id, suggesting the nearest known ids.

    Examples
    --------
    >>> unknown_message("tpu.bb", ["tpu.a", "tpu.b", "gap.macs"])
    "unknown question id 'tpu.bb'; did you mean 'tpu.b' or 'tpu.a'?"
    >>> unknown_message("zz", ["tpu.a"])
    "unknown question id 'zz'; `python -m helpers check --list` lists them."
    """
    known_ids = sorted(known_ids)
    scored = [(-difflib.SequenceMatcher(None, str(qid), q).ratio(), q) for q in known_ids]
    near = [q for score, q in sorted(scored) if -score >= 0.6][:3]
    topic = str(qid).split(".")[0]
    near += [q for q in known_ids if q.split(".")[0] == topic and q not in near][: max(0, 3 - len(near))]
    if not near:
        return f"unknown question id {qid!r}; `python -m helpers check --list` lists them."
    quoted = [repr(q) for q in near[:3]]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"unknown question id {qid!r}; did you mean {listed}?"


_KEY_CACHE = {}


def load_key(path=KEY_PATH):
    """The answer key's questions: ``{qid: entry}`` (empty if there is none yet)."""
    path = Path(path)
    if path not in _KEY_CACHE:
        _KEY_CACHE[path] = (json.loads(path.read_text())["questions"] if path.exists() else {})
    return _KEY_CACHE[path]
