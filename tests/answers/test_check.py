"""check(): verdicts, tolerance, slips, symbolic answers, odd input, a key that hides answers."""

import contextlib
import hashlib
import json
import math
import subprocess
import sys
from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.answers.checking import check, judge, load_key, make_entry
from helpers.answers.judge import unknown_message
from helpers.answers.keying import BINS_PER_RTOL, manual_entry
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


@contextlib.contextmanager
def fast_digests():
    """The window is a property of the bins, not of the hash: a fast salted hash keeps
    the property tests quick (the real PBKDF2 digest is used everywhere else)."""
    def fast(qid, text):
        return hashlib.sha256(f"{qid}|{text}".encode()).hexdigest()[:32]
    with mock.patch("helpers.answers.keying.digest", fast), mock.patch("helpers.answers.judge.digest", fast):
        yield


@settings(max_examples=40)
@given(st.floats(1e-6, 1e12), st.floats(-0.00499, 0.00499))
def test_every_value_within_rtol_is_accepted(ref, rel):
    with fast_digests():
        entry = make_entry("t.h", ref)
        assert status("t.h", ref * (1 + rel), entry) == "correct"


@settings(max_examples=60)
@given(st.floats(1e-6, 1e12), st.sampled_from([0.005, 0.01, 0.1, 0.25]), st.floats(0, 10))
def test_the_window_is_rtol_and_at_most_one_bin_more(ref, rtol, rel):
    # every value within rtol is accepted; beyond one bin past the window, none is
    with fast_digests():
        _window(ref, rtol, rel)


def _window(ref, rtol, rel):
    entry = make_entry("t.h", ref, rtol=rtol)
    bin_factor = (1 + rtol) ** (1 / BINS_PER_RTOL)
    if rel > (1 + rtol) * bin_factor - 1:
        assert status("t.h", ref * (1 + rel), entry) == "wrong"
    if rel / (1 + rel) > 1 - (1 - rtol) / bin_factor:
        assert status("t.h", ref / (1 + rel), entry) == "wrong"
    if rel <= rtol * 0.999:
        assert status("t.h", ref * (1 + rel), entry) == "correct"
        assert status("t.h", ref * (1 - rel), entry) == "correct"


def test_a_ten_percent_tolerance_means_ten_percent():
    entry = make_entry("t.w", 0.2707, rtol=0.1)
    assert status("t.w", 0.2707 * 1.099, entry) == "correct" and status("t.w", 0.2707 * 0.901, entry) == "correct"
    assert status("t.w", 0.3, entry) == "wrong" and status("t.w", 0.2707 * 1.106, entry) == "wrong"
    assert status("t.w", 0.2707 * 0.894, entry) == "wrong"


def test_slip_messages_only_where_declared():
    macs = make_entry("t.m", 105415200, slips=("flops",))
    frac = make_entry("t.f", 0.01171875, slips=("percent",))
    assert "twice the answer" in judge("t.m", 2 * 105415200, macs).message
    assert "half the answer" in judge("t.m", 105415200 // 2, macs).message
    assert "percentage" in judge("t.f", 1.171875, frac).message
    assert "Hint:" in judge("t.m", 3, macs).message and "Hint:" in judge("t.f", 0.5, frac).message
    # no slips declared: a factor of 2 or 100 gets the hint, nothing that gives the answer away
    for qid, value, entry in (("t.int", 2 * 105415200, INT), ("t.int", 105415200 // 2, INT),
                              ("t.real", 1.171875, REAL), ("t.real", 2 * 0.01171875, REAL)):
        assert judge(qid, value, entry).message == "not correct. Hint: " + entry["hint"]
    for slips, value in ((("percent",), 1), (("typo",), 1), (("flops",), "yes")):
        with pytest.raises(ValueError):
            make_entry("t.bad", value, slips=slips)


@pytest.mark.parametrize("value", [F_r * F_c * N_i * N_o * M_r * M_c, "M_r*M_c*N_o*F_r*F_c*N_i",
                                   "(F_r*F_c*N_i)*(N_o*M_r*M_c)", sp.expand((F_r * F_c) * (N_i * N_o * M_r * M_c))])
def test_symbolic_equal_forms(value):
    assert status("t.expr", value, EXPR) == "correct"


def test_symbolic_missing_extra_and_wrong():
    for value in ("F_r*F_c*N_i", "F_r*F_c*N_i*N_o*M_r*M_c*K", N_o * M_r):
        message = judge("t.expr", value, EXPR).message
        assert "other symbols than yours" in message
        assert not any(name in message for name in ("F_r", "F_c", "N_i", "N_o", "M_r", "M_c", "K"))
    assert "symbols" not in EXPR and "F_r" not in json.dumps(EXPR)     # the key does not list them either
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
    none = judge(qid, None, entry)
    assert none.status == "wrong" and "None" in none.message and "return" in none.message


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
        digests = entry.pop("digests")
        # nothing but the digest could hold the answer, and the digest is not a plain hash of it
        assert str(answer) not in json.dumps(entry) and f"{answer:,}" not in json.dumps(entry)
        assert not set(digests) & {hashlib.sha256(str(answer).encode()).hexdigest()[:32],
                                   hashlib.md5(str(answer).encode()).hexdigest()}
        assert judge(qid, answer, key[qid]).status == "correct"       # and it does encode the answer
    for entry in key.values():
        assert set(entry) <= {"kind", "points", "hint", "digests", "rtol", "symbols_digest", "slips", "notebook",
                              "unlock"}


def test_cli_check_symbolic_and_exit_codes():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "helpers", "check", *args],
                              capture_output=True, text=True, timeout=60)
    assert run("start.rf_pool5", "195").returncode == 0
    wrong = run("start.rf_pool5", "196")
    assert wrong.returncode == 1 and "Hint:" in wrong.stdout
    assert run("start.rf_pool5", "...").returncode == 1
    unknown = run("nope.nope", "1")
    assert unknown.returncode == 2 and unknown.stdout == "" and "unknown question id" in unknown.stderr
    near = run("start.rf_pol5", "1")
    assert near.returncode == 2 and "did you mean 'start.rf_pool5'" in near.stderr
    listed = run("--list", "00")
    assert listed.returncode == 0 and listed.stdout.split() == ["00-getting-started:", *sorted(
        q for q, e in load_key().items() if e["notebook"] == "00-getting-started")]
    everything = run("--list").stdout
    assert all(q in everything for q in load_key())
    assert run("--list", "99").returncode == 2


def test_ranges_of_digest_inputs_are_stable():
    # the digests depend only on qid and value: rebuilding gives the same entry
    assert make_entry("t.real", 0.01171875) == REAL
    assert make_entry("t.expr", M_c * M_r * N_i * N_o * F_r * F_c) == EXPR
    assert math.isclose(REAL["rtol"], 0.005)


def test_unknown_ids_suggest_the_nearest():
    ids = ["tpu.a", "tpu.b", "tpu.c", "tpu.balance_reuse", "gap.macs", "gap.output_size"]
    assert unknown_message("tpu.d", ids) == "unknown question id 'tpu.d'; did you mean 'tpu.a', 'tpu.b' or 'tpu.c'?"
    assert "'gap.macs'" in unknown_message("gap.mac", ids)
    assert "--list" in unknown_message("zzz", ids)


def test_written_answers_are_not_judged_by_check():
    verdict = judge("t.essay", "anything", {**manual_entry(3), "notebook": "x"})
    assert verdict.status == "manual" and "by hand" in verdict.message
    with pytest.raises(ValueError):
        manual_entry(0)


def test_grading_mode_records_and_never_opens_an_explanation(monkeypatch):
    from helpers.answers import checking, unlock
    sealed = unlock.seal("t.int", "the story of 105415200", ["105415200"])
    monkeypatch.setattr(checking, "load_key", lambda: {"t.int": {**INT, "unlock": sealed}})
    monkeypatch.setattr(unlock, "open_sealed", lambda *a: pytest.fail("grading opened an explanation"))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    monkeypatch.setenv(checking.MODE_ENV, "grade")
    assert checking.check("t.int", 105415200).status == "recorded"
    assert shown == [({checking.MIME: {"qid": "t.int", "value": {"int": "105415200"}}},)]
    # the verdict the grader computes does not depend on the sealed text
    assert judge("t.int", 105415200, {**INT, "unlock": sealed}) == judge("t.int", 105415200, INT)


def test_the_student_side_imports_no_tool():
    # check() is the kernel side of the grading protocol: it must not pull in the grader,
    # the release tools or the CLI (their source is not part of a notebook's code hash)
    code = ("import sys\nfrom helpers import check\ncheck('start.rf_pool5', 1)\ncheck('start.rf_pool5', 195)\n"
            "print(sorted(m for m in sys.modules if m.startswith('helpers')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    loaded = eval(result.stdout.strip().splitlines()[-1])
    assert "helpers.answers.checking" in loaded
    assert not [m for m in loaded if m.startswith(("helpers.grading", "helpers.release", "helpers.cli"))], loaded
