"""Self-check for students: ``check(qid, value)`` against a key that hides the answers.

A key entry holds, for each question id (``topic.part``), its kind, points,
hint and a *digest*: a slow salted hash (PBKDF2-SHA256) of the answer in a
canonical form, never the answer itself:

- ``int``: exact integer counts. Digest of the decimal string.
- ``real``: numbers with a relative tolerance ``rtol`` (default 0.5 %). The
  value's sign and its bin on a logarithmic grid of width ``log(1 + rtol)``
  are hashed; a value is accepted when its bin is the answer's or a
  neighbour. So every value within ``rtol`` of the answer is accepted, and
  nothing further than about ``2 rtol`` away is (the honest price of hashing).
- ``expr``: sympy expressions. The answer's free symbols are listed (the
  question names them anyway) and its exact values at fixed integer points
  are hashed; an expression is accepted when it agrees at every point.
- ``text``: short words such as ``"yes"``; case and surrounding blanks ignored.
- ``tuple``: a sequence of integers, e.g. an asymmetric padding ``(1, 2)``.

Wrong answers get the question's hint, and targeted messages when the
value is a known slip: a factor of 100 (percentage vs fraction) or a factor
of 2 (FLOPs vs MACs).

Examples
--------
>>> entry = make_entry("demo.macs", 105415200, hint="Count one MAC per weight use.")
>>> judge("demo.macs", 105415200, entry).status
'correct'
>>> judge("demo.macs", 210830400, entry).message
'not correct: this is twice the answer; FLOPs count 2 per MAC, the question asks for MACs.'
>>> judge("demo.macs", ..., entry).status
'blank'
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

from helpers.answers.keying import digest, evaluate, fixed_points, log_bin, make_entry, sign, canonical_text

__all__ = ["check", "judge", "make_entry", "Verdict", "load_key", "KEY_PATH", "RECORD_ENV"]
# make_entry is re-exported: the key is built with it

KEY_PATH = Path(__file__).with_name("answer_key.json")
RECORD_ENV = "WORKBOOK_RECORD"
"""When set to a file path, ``check`` appends each (qid, value) it sees there."""



@dataclass
class Verdict:
    """Outcome of one check: ``status`` is correct, blank, wrong or unknown."""

    qid: str
    status: str
    message: str

    def __bool__(self):
        return self.status == "correct"

    def line(self):
        mark = {"correct": "✓", "blank": "…", "wrong": "✗", "unknown": "?", "recorded": "·"}[self.status]
        return f"{mark} {self.qid}: {self.message}"

    def _ipython_display_(self):
        # check() already printed the line; show it again only on later displays
        if getattr(self, "_fresh", False):
            self._fresh = False
        else:
            print(self.line())


# --- judging --------------------------------------------------------------------

def _number(value):
    """A float/int from what a student may pass, or a reason it is not one."""
    if isinstance(value, bool):
        return None, "expected a number, got True/False"
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "").replace("_", "")) if any(c in value for c in ".eE") \
                else int(value.replace(",", "").replace("_", ""))
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


def _real_matches(qid, entry, value):
    if value == 0:
        return entry["digest"] == digest(qid, "0")
    try:
        b = log_bin(float(value), entry["rtol"])
    except (OverflowError, ValueError):
        return False
    return any(entry["digest"] == digest(qid, f"{sign(value)}{b + d}") for d in (-1, 0, 1))


def _int_matches(qid, entry, value):
    if isinstance(value, float):
        if not value.is_integer() or abs(value) > 2**53:
            return False
        value = int(value)
    return entry["digest"] == digest(qid, str(int(value)))


def _numeric(qid, entry, value):
    number, reason = _number(value)
    if reason:
        return "wrong", f"not correct: {reason}."
    matches = _int_matches if entry["kind"] == "int" else _real_matches
    if matches(qid, entry, number):
        return "correct", "correct."
    # (factor, message): value * factor matches the key, so the value is answer / factor
    slips = [(1 / 100, "this looks like a percentage: answer as a fraction (0 to 1)."),
             (100, "this looks like a fraction, but the question asks for a percentage."),
             (1 / 2, "this is twice the answer; FLOPs count 2 per MAC, the question asks for MACs."),
             (2, "this is half the answer; the question asks for FLOPs (2 per MAC), "
                 "or a factor of 2 is missing.")]
    for factor, message in slips:
        try:
            scaled = number * factor
        except OverflowError:
            break
        if entry["kind"] == "int" and isinstance(scaled, float) and scaled.is_integer():
            scaled = int(scaled)
        if matches(qid, entry, scaled):
            return "wrong", f"not correct: {message}"
    return "wrong", f"not correct. Hint: {entry['hint']}"


def _expression(qid, entry, value):
    import sympy as sp
    from helpers import symbols
    from helpers.answers.serial import Evaluated
    if isinstance(value, Evaluated):
        names = set(value.symbols)
        verdict = _symbol_mismatch(entry, names)
        if verdict:
            return verdict
        if entry["digest"] == digest(qid, value.values):
            return "correct", "correct."
        return "wrong", f"not correct. Hint: {entry['hint']}"
    try:
        expr = sp.sympify(value, locals=dict(symbols.ALL)) if isinstance(value, str) else sp.sympify(value)
    except (sp.SympifyError, SyntaxError, TypeError, ValueError):
        return "wrong", "not correct: could not read that as a sympy expression."
    if not isinstance(expr, sp.Expr):
        return "wrong", f"not correct: expected an expression, got a {type(expr).__name__}."
    verdict = _symbol_mismatch(entry, {str(s) for s in expr.free_symbols})
    if verdict:
        return verdict
    try:
        ok = entry["digest"] == digest(qid, evaluate(expr, fixed_points(qid, entry["symbols"])))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        ok = False
    return ("correct", "correct.") if ok else ("wrong", f"not correct. Hint: {entry['hint']}")


def _symbol_mismatch(entry, names):
    missing, extra = sorted(set(entry["symbols"]) - names), sorted(names - set(entry["symbols"]))
    if missing:
        return "wrong", f"not correct: the answer depends on {', '.join(missing)}, your expression does not."
    if extra:
        return "wrong", f"not correct: your expression uses {', '.join(extra)}, which the answer does not need."
    return None


def _tuple(qid, entry, value):
    if isinstance(value, str):
        import ast
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return "wrong", "not correct: expected a sequence of whole numbers, e.g. (1, 2)."
        value = value if isinstance(value, (tuple, list)) else (value,)
    try:
        items = [int(v) for v in value] if not isinstance(value, (str, bytes)) else None
        if items is None or any(float(a) != float(b) for a, b in zip(items, value)):
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        return "wrong", "not correct: expected a sequence of whole numbers, e.g. (1, 2)."
    if entry["digest"] == digest(qid, json.dumps(items)):
        return "correct", "correct."
    return "wrong", f"not correct. Hint: {entry['hint']}"


def _text_answer(qid, entry, value):
    if not isinstance(value, (str, bool)):
        return "wrong", "not correct: answer with a word in quotes, e.g. \"yes\"."
    if entry["digest"] == digest(qid, canonical_text(value)):
        return "correct", "correct."
    return "wrong", f"not correct. Hint: {entry['hint']}"


_JUDGES = {"int": _numeric, "real": _numeric, "expr": _expression, "tuple": _tuple,
           "text": _text_answer}


def judge(qid, value, entry):
    """Judge ``value`` for question ``qid`` against its key ``entry``; never raises.

    ``entry`` is None for a question the key does not know.
    """
    if entry is None:
        return Verdict(qid, "unknown", f"unknown question id {qid!r}.")
    if value is ... or value is None:
        return Verdict(qid, "blank", "not answered yet: replace ... with your answer.")
    if "digest" not in entry:
        return _form_only(qid, entry, value)
    try:
        status, message = _JUDGES[entry["kind"]](qid, entry, value)
    except Exception as err:  # noqa: BLE001 - a student's odd value must never raise
        status, message = "wrong", f"not correct: could not judge that value ({type(err).__name__})."
    return Verdict(qid, status, message)


def _form_only(qid, entry, value):
    """An assessment key holds no digest: check only the answer's form, and say it is recorded."""
    kind, reason = entry["kind"], None
    try:
        if kind in ("int", "real"):
            reason = _number(value)[1]
        elif kind == "text" and not isinstance(value, (str, bool)):
            reason = "answer with a word in quotes, e.g. \"yes\""
        elif kind == "tuple":
            status, message = _tuple(qid, {**entry, "digest": "", "hint": ""}, value)
            reason = message.removeprefix("not correct: ").rstrip(".") if "whole numbers" in message else None
        elif kind == "expr":
            status, message = _expression(qid, {**entry, "digest": "", "hint": ""}, value)
            reason = None if message.startswith("not correct. Hint") else message.removeprefix("not correct: ")
    except Exception as err:  # noqa: BLE001 - a student's odd value must never raise
        reason = f"could not read that value ({type(err).__name__})"
    if reason:
        return Verdict(qid, "wrong", f"not in the form of an answer: {reason.rstrip('.')}.")
    return Verdict(qid, "recorded", "recorded for grading (graded work: no feedback on the value until then).")


# --- the key and the notebook function ---------------------------------------------

_KEY_CACHE = {}


def load_key(path=KEY_PATH):
    """The answer key: ``{qid: entry}`` (empty if there is none yet)."""
    path = Path(path)
    if path not in _KEY_CACHE:
        _KEY_CACHE[path] = (json.loads(path.read_text())["questions"] if path.exists() else {})
    return _KEY_CACHE[path]


def _record(qid, value, options):
    """Append a check to the record file (used by release and grading)."""
    from helpers.answers.serial import encode
    path = os.environ.get(RECORD_ENV)
    if not path:
        return False
    try:
        payload = encode(value, qid)
    except TypeError as err:
        payload = {"unencodable": str(err)[:200]}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"qid": qid, "value": payload, **options}) + "\n")
    return True


def _emit_for_grader(qid, value):
    """Grading mode: hand the encoded value to the grader as a display output."""
    from IPython.display import display

    from helpers.grading.sandbox import MIME
    from helpers.answers.serial import encode
    try:
        payload = encode(value, qid)
    except Exception as err:  # noqa: BLE001 - an unrecordable value is graded as wrong
        payload = {"unencodable": f"{type(err).__name__}"}
    display({MIME: {"qid": qid, "value": payload}}, raw=True)
    return Verdict(qid, "recorded", "recorded for grading.")


def check(qid, value, *, hint=None, points=1, rtol=None):
    """Print one line saying whether ``value`` answers question ``qid``; return a Verdict.

    Parameters
    ----------
    qid : str
        Question id, ``topic.part``.
    value
        The student's answer. Anything is accepted; ``...`` or ``None`` means
        "not answered yet". It never raises.
    hint, points, rtol
        Authoring information read by ``python -m helpers release`` when it
        builds the key (the hint is shown for wrong answers; ``rtol`` is the
        relative tolerance of a real-valued answer). They do not change the
        verdict, which comes from the key.
    """
    if os.environ.get("WORKBOOK_MODE") == "grade":
        return _emit_for_grader(qid, value)
    try:
        recording = _record(qid, value, {"hint": hint, "points": points, "rtol": rtol})
        if recording and os.environ.get("WORKBOOK_MODE") == "release":
            verdict = Verdict(qid, "correct", "correct.")
        else:
            verdict = judge(qid, value, load_key().get(qid))
    except Exception as err:  # noqa: BLE001
        verdict = Verdict(qid, "unknown", f"could not check ({type(err).__name__}: {err}).")
    print(verdict.line())
    verdict._fresh = True
    return verdict
