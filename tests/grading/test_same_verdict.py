"""The grader and the student's ``check`` give the same verdict for every value.

The grader's path is the real one: ``check`` in grading mode encodes the value and
displays it (captured here instead of crossing the sandbox), the grader decodes and
judges it against the same key entry.
"""

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from helpers.answers import checking, make_entry
from helpers.grading import grade
from helpers.grading.sandbox import MIME

ENTRIES = {
    "t.int": make_entry("t.int", 38),
    "t.real": make_entry("t.real", 0.002197265625),
    "t.tuple": make_entry("t.tuple", (1, 2)),
    "t.text": make_entry("t.text", "yes"),
    "t.expr": make_entry("t.expr", sp.Symbol("L", integer=True, positive=True) - 2),
}
L = sp.Symbol("L", integer=True, positive=True)
VALUES = [
    38, 38.0, np.int64(38), np.float64(38.0), np.float32(38), np.array(38), np.array([38]), sp.Integer(38),
    "38", "38.0", " 38 ", "3,8", True, False, None, ..., float("nan"), float("inf"), -38, 2**70, 10**400,
    0.002197265625, np.float32(0.002197265625), Fraction(9, 4096), "0.002197", 144 / 65536 * 100, 0,
    (1, 2), [1, 2], np.array([1, 2]), np.array([1.0, 2.0]), np.array([[1, 2]]), (1.0, 2.0), (1.5, 2), (1, 2, 3),
    range(1, 3), "(1, 2)", "1, 2", {1: 0, 2: 0}, (np.int64(1), np.int64(2)), ((1, 2),), (),
    "yes", "Yes.", "y", "no", b"yes", np.str_("yes"),
    L - 2, L + 2, sp.Symbol("L") - 2, sp.Symbol("M") - 2, "L - 2", sp.Integer(3), sp.Rational(1, 2), sp.pi,
    object(), complex(38, 0), 3 + 4j, {"a": 1}, {38}, lambda: 38, np.array([]),
]


def grader_verdict(qid, value, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    checking._emit_for_grader(qid, value)
    payload = json.loads(json.dumps(shown[0][MIME]))        # as it crosses the sandbox
    return grade.verdict(qid, payload["value"], ENTRIES[qid]).status


@pytest.mark.parametrize("qid", sorted(ENTRIES))
def test_every_value_gets_the_same_verdict(qid, monkeypatch):
    differ = []
    for value in VALUES:
        mine = checking.judge(qid, value, ENTRIES[qid]).status
        theirs = grader_verdict(qid, value, monkeypatch)
        if mine != theirs:
            differ.append((repr(value)[:40], mine, theirs))
    assert differ == []
