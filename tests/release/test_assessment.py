"""``release --out DIR --assessment``: a hand-out whose key holds no digest; check says "recorded"."""

import json
import subprocess
import sys

import numpy as np

from helpers.answers import checking, make_entry
from helpers.answers.keying import assessment_key
from helpers.release.build import ROOT


def test_assessment_key_holds_no_digest_or_hint():
    full = json.loads((ROOT / "helpers" / "answers" / "answer_key.json").read_text())
    key = assessment_key(full)
    assert set(key["questions"]) == set(full["questions"])
    text = json.dumps(key)
    assert "digest" not in text and "hint" not in text
    for e in full["questions"].values():
        assert not any(d in text for d in e.get("digests", []))


def test_check_validates_the_form_and_says_recorded():
    entries = {q: assessment_key({"questions": {q: make_entry(q, v)}})["questions"][q]
               for q, v in (("a.int", 38), ("a.real", 0.25), ("a.tuple", (1, 2)), ("a.text", "yes"))}
    assert checking.judge("a.int", 12345, entries["a.int"]).status == "recorded"   # any number: not judged
    assert checking.judge("a.real", np.float64(0.5), entries["a.real"]).status == "recorded"
    assert checking.judge("a.tuple", (3, 4), entries["a.tuple"]).status == "recorded"
    assert checking.judge("a.text", "no", entries["a.text"]).status == "recorded"
    assert checking.judge("a.int", "lots", entries["a.int"]).status == "wrong"
    assert checking.judge("a.tuple", (1.5, 2), entries["a.tuple"]).status == "wrong"
    assert checking.judge("a.text", 3, entries["a.text"]).status == "wrong"
    assert checking.judge("a.int", ..., entries["a.int"]).status == "blank"
    assert "recorded for grading" in checking.judge("a.real", 1.0, entries["a.real"]).message


def test_release_assessment_writes_a_handout_without_digests(tmp_path):
    out = tmp_path / "handout"
    result = subprocess.run([sys.executable, "-m", "helpers", "release", "--out", str(out), "--assessment"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    key = json.loads((out / "helpers" / "answers" / "answer_key.json").read_text())
    assert key["assessment"] is True and "digest" not in json.dumps(key)
    result = subprocess.run([sys.executable, "-m", "helpers", "release", "--assessment"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--out" in result.stderr
