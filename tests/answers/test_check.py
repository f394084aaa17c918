"""check(): verdicts, tolerance, slips, symbolic answers, odd input, a key that hides answers."""

import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from helpers.answers.checking import check, judge, load_key, make_entry
from helpers.answers.serial import decode, encode
from helpers.symbols import F_c, F_r, M_c, M_r, N_i, N_o

INT = make_entry("t.int", 105415200)
REAL = make_entry("t.real", 0.01171875)
WIDE = make_entry("t.wide", 0.25, rtol=0.1)
EXPR = make_entry("t.expr", F_r * F_c * N_i * N_o * M_r * M_c)
TEXT = make_entry("t.text", "no")
TUP = make_entry("t.tup", (1, 2))


def status(qid, value, entry):
    return judge(qid, value, entry).status


@pytest.mark.parametrize("value", [105415200, np.int64(105415200), 105415200.0, "105,415,200",
                                   sp.Integer(105415200), np.float32(105415200)])
def test_integer_counts_exact(value):
    assert status("t.int", value, INT) == "correct"


@pytest.mark.parametrize("value", [105415201, 105415199, 105415200.5, 1.05415e8])
def test_integer_counts_reject_near_misses(value):
    assert status("t.int", value, INT) == "wrong"


def test_real_tolerance_boundary():
    ref, rtol = 0.01171875, 0.005
    for factor in (1 - rtol * 0.999, 1 + rtol * 0.999, 1, 1 - 1e-9):
        assert status("t.real", ref * factor, REAL) == "correct", factor
    for factor in (1 + 2.2 * rtol, 1 - 2.2 * rtol, 1.5, -1):
        assert status("t.real", ref * factor, REAL) == "wrong", factor
    # a wide per-question tolerance
    assert status("t.wide", 0.25 * 1.09, WIDE) == "correct"
    assert status("t.wide", 0.25 * 1.25, WIDE) == "wrong"


@settings(max_examples=40)
@given(st.floats(1e-6, 1e12), st.floats(-0.00499, 0.00499))
def test_every_value_within_rtol_is_accepted(ref, rel):
    entry = make_entry("t.h", ref)
    assert status("t.h", ref * (1 + rel), entry) == "correct"


@settings(max_examples=40)
@given(st.floats(1e-6, 1e12), st.floats(0.0101, 10))
def test_nothing_beyond_twice_rtol_is_accepted(ref, rel):
    entry = make_entry("t.h", ref)
    assert status("t.h", ref * (1 + rel), entry) == "wrong"


def test_slip_messages():
    assert "percentage" in judge("t.real", 1.171875, REAL).message
    assert "asks for a percentage" in judge("t.real", 0.0001171875, REAL).message
    assert "twice the answer" in judge("t.int", 2 * 105415200, INT).message
    assert "half the answer" in judge("t.int", 105415200 // 2, INT).message
    assert "Hint:" in judge("t.int", 3, INT).message


@pytest.mark.parametrize("value", [F_r * F_c * N_i * N_o * M_r * M_c, "M_r*M_c*N_o*F_r*F_c*N_i",
                                   "(F_r*F_c*N_i)*(N_o*M_r*M_c)", sp.expand((F_r * F_c) * (N_i * N_o * M_r * M_c))])
def test_symbolic_equal_forms(value):
    assert status("t.expr", value, EXPR) == "correct"


def test_symbolic_missing_extra_and_wrong():
    assert "depends on M_c, M_r, N_o" in judge("t.expr", "F_r*F_c*N_i", EXPR).message
    assert "uses K" in judge("t.expr", "F_r*F_c*N_i*N_o*M_r*M_c*K", EXPR).message
    assert status("t.expr", "F_r*F_c*N_i*N_o*M_r*M_c + 1", EXPR) == "wrong"
    assert status("t.expr", "(F_r+F_c)*N_i*N_o*M_r*M_c", EXPR) == "wrong"


def test_recorded_symbolic_answer_is_judged_without_eval():
    rec = decode(json.loads(json.dumps(encode(M_r * M_c * N_o * N_i * F_r * F_c, "t.expr"))))
    assert status("t.expr", rec, EXPR) == "correct"
    assert status("t.expr", decode(encode(N_i * F_r * F_c, "t.expr")), EXPR) == "wrong"


def test_text_and_tuple_answers():
    assert [status("t.text", v, TEXT) for v in ("No", " no. ", False, "yes", 0)] == [
        "correct", "correct", "correct", "wrong", "wrong"]
    assert [status("t.tup", v, TUP) for v in ((1, 2), [1, 2], "(1, 2)", (2, 1), "1 2", (1.5, 2))] == [
        "correct", "correct", "correct", "wrong", "wrong", "wrong"]


class Weird:
    def __repr__(self):
        raise RuntimeError("boom")

    def __float__(self):
        raise RuntimeError("boom")


ODD = ["abc", "", [1, 2], {"a": 1}, {1, 2}, float("nan"), float("inf"), -float("inf"), 10**400,
       -(10**400), np.array([1, 2]), np.array(3.0), sp.Symbol("x"), sp.nan, sp.zoo, Fraction(1, 3),
       1j, b"bytes", Weird(), object(), lambda: 1, True, range(3), np.float64("nan"), "__import__('os')"]


@pytest.mark.parametrize("entry, qid", [(INT, "t.int"), (REAL, "t.real"), (EXPR, "t.expr"),
                                        (TEXT, "t.text"), (TUP, "t.tup")])
def test_odd_values_never_raise(entry, qid):
    for value in ODD:
        verdict = judge(qid, value, entry)
        assert verdict.status in ("wrong", "correct"), (value, verdict)
    assert judge(qid, ..., entry).status == "blank"
    assert judge(qid, None, entry).status == "blank"


def test_check_prints_one_line_and_returns_verdict(capsys):
    verdict = check("no.such", 1)
    assert verdict.status == "unknown" and not verdict
    for value in ODD + [...]:
        check("start.rf_pool5", value)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(ODD) + 2
    assert lines[-1] == "… start.rf_pool5: not answered yet: replace ... with your answer."


def test_key_reveals_no_answer():
    import hashlib
    key = load_key()
    assert key, "the shipped key is empty"
    answers = {"start.conv1_params": 34944, "start.rf_pool5": 195, "alexnet.params": 62378344,
               "vgg16.activations": 15237608, "tpu.b": 38, "dense.mnist_macs": 614656}
    for qid, answer in answers.items():
        entry = dict(key[qid])
        digest = entry.pop("digest")
        # nothing but the digest could hold the answer, and the digest is not a plain hash of it
        assert str(answer) not in json.dumps(entry) and f"{answer:,}" not in json.dumps(entry)
        assert digest not in {hashlib.sha256(str(answer).encode()).hexdigest()[:32],
                              hashlib.md5(str(answer).encode()).hexdigest()}
        assert judge(qid, answer, key[qid]).status == "correct"       # and it does encode the answer
    for entry in key.values():
        assert set(entry) <= {"kind", "points", "hint", "digest", "rtol", "symbols", "notebook"}


def test_cli_check_symbolic_and_exit_codes():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "helpers", "check", *args],
                              capture_output=True, text=True, timeout=60)
    assert run("start.rf_pool5", "195").returncode == 0
    wrong = run("start.rf_pool5", "196")
    assert wrong.returncode == 1 and "Hint:" in wrong.stdout
    assert run("start.rf_pool5", "...").returncode == 1
    assert run("nope.nope", "1").returncode == 2


def test_ranges_of_digest_inputs_are_stable():
    # the digests depend only on qid and value: rebuilding gives the same entry
    assert make_entry("t.real", 0.01171875) == REAL
    assert make_entry("t.expr", M_c * M_r * N_i * N_o * F_r * F_c) == EXPR
    assert math.isclose(REAL["rtol"], 0.005)
