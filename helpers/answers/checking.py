"""``check(qid, value)``: the one function a notebook calls to see whether an answer is right.

``check`` prints one line (correct / not answered yet / not correct with a
hint) judged by :func:`~helpers.answers.judge.judge` against the key, which
hides the answers (:mod:`helpers.answers.keying`). When the answer is correct
and the question has an unlocked explanation, ``check`` opens it
(:mod:`helpers.answers.unlock`) and displays it as Markdown below the line.

Two other modes, set by the environment, serve the tools:

- ``WORKBOOK_RECORD=path`` (release): append each checked value, with its
  authoring options, to ``path``; with ``WORKBOOK_MODE=release`` say "correct"
  without judging (the key is being built) and show the explanation the answer
  unlocks, read from the file named by ``WORKBOOK_UNLOCKS`` ``{qid: text}``, exactly
  as a correct answer shows it once the key exists (so the stored solution outputs
  are what nbval sees when it re-runs them).
- ``WORKBOOK_MODE=grade``: print nothing; emit the encoded value as a display
  output of MIME type :data:`MIME`, which the grader reads and judges.

This module is the kernel side of that protocol and imports nothing of the
grader or the release tools.
"""

from __future__ import annotations

import json
import os

from helpers.answers.judge import KEY_PATH, Verdict, judge, load_key, unknown_message
from helpers.answers.keying import make_entry

__all__ = ["check", "judge", "make_entry", "Verdict", "load_key", "KEY_PATH", "RECORD_ENV", "MODE_ENV",
           "UNLOCKS_ENV", "MIME"]
# judge, make_entry, Verdict, load_key, KEY_PATH are re-exported for the tools

RECORD_ENV = "WORKBOOK_RECORD"
"""When set to a file path, ``check`` appends each (qid, value) it sees there."""
MODE_ENV = "WORKBOOK_MODE"
"""``release`` or ``grade`` (see the module docstring); unset for students."""
UNLOCKS_ENV = "WORKBOOK_UNLOCKS"
"""(release) Path of a JSON file ``{qid: explanation}`` of the notebook being executed."""
MIME = "application/x.workbook-check+json"
"""MIME type of the display output that carries a checked value to the grader."""


def _record(qid, value, options):
    """Append a check to the record file (used by release)."""
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

    from helpers.answers.serial import encode
    try:
        payload = encode(value, qid)
    except Exception as err:  # noqa: BLE001 - an unrecordable value is graded as wrong
        payload = {"unencodable": f"{type(err).__name__}"}
    display({MIME: {"qid": qid, "value": payload}}, raw=True)
    return Verdict(qid, "recorded", "recorded for grading.")


def _unlocked_text(qid, entry, verdict, mode):
    """The explanation a correct answer to ``qid`` opens, or None."""
    if not verdict:
        return None
    if mode == "release":
        path = os.environ.get(UNLOCKS_ENV)
        if not path:
            return None
        with open(path, encoding="utf-8") as file:
            return json.load(file).get(qid)
    if not (entry and verdict.form and entry.get("unlock")):
        return None
    from helpers.answers.unlock import open_sealed
    return open_sealed(qid, entry["unlock"], verdict.form)


def _display_markdown(text):
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython ships with the workbook
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(text))
    else:
        print(text)


def check(qid, value, *, hint=None, points=1, rtol=None, slips=()):
    """Print one line saying whether ``value`` answers question ``qid``; return a Verdict.

    Parameters
    ----------
    qid : str
        Question id, ``topic.part``.
    value
        The student's answer. Anything is accepted and it never raises; ``...``
        means "not answered yet".
    hint, points, rtol, slips
        Authoring information read by ``python -m helpers release`` when it
        builds the key: the hint shown for wrong answers, the points, the
        relative tolerance of a real answer, and the slip messages that are true
        for this question (``"flops"``, ``"percent"``). They do not change the
        verdict, which comes from the key; the student copy drops them.
    """
    mode = os.environ.get(MODE_ENV)
    if mode == "grade":
        return _emit_for_grader(qid, value)
    entry = None
    try:
        recording = _record(qid, value, {"hint": hint, "points": points, "rtol": rtol,
                                         "slips": sorted([slips] if isinstance(slips, str) else slips)})
        if recording and mode == "release":
            verdict = Verdict(qid, "correct", "correct.")
        else:
            key = load_key()
            entry = key.get(qid)
            verdict = (judge(qid, value, entry) if entry is not None
                       else Verdict(qid, "unknown", unknown_message(qid, key)))
    except Exception as err:  # noqa: BLE001
        verdict = Verdict(qid, "unknown", f"could not check ({type(err).__name__}: {err}).")
    print(verdict.line())
    try:
        text = _unlocked_text(qid, entry, verdict, mode)
        if text is not None:
            _display_markdown(text)
    except Exception:  # noqa: BLE001 - an explanation that cannot open is not shown
        pass
    verdict._fresh = True
    return verdict
