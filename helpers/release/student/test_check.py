"""``check`` works in this copy: the key loads, knows every question the notebooks ask,
and judges answers (shown on made-up questions, so no real answer appears here)."""

import subprocess
import sys
from pathlib import Path

from helpers.answers import check, judge, load_key, make_entry
from helpers.release.notebooks import question_ids, read

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_key_knows_every_question_the_notebooks_ask():
    key = load_key()
    asked = [qid for path in NOTEBOOKS for qid in question_ids(read(path))]
    assert NOTEBOOKS and asked
    assert [qid for qid in asked if qid not in key] == []


def test_a_blank_answer_is_not_answered_yet():
    qid = next(iter(load_key()))
    assert check(qid, ...).status == "blank"


def test_answers_are_judged_against_a_hashed_entry():
    count, share = make_entry("demo.count", 34944), make_entry("demo.share", 0.25)
    assert "34944" not in str(count) and "0.25" not in str(share)
    assert judge("demo.count", 34944, count).status == "correct"
    assert judge("demo.count", 34945, count).status == "wrong"
    assert judge("demo.share", 0.2509, share).status == "correct"     # within 0.5 %
    assert judge("demo.share", 0.26, share).status == "wrong"


def test_the_terminal_check_exits_2_for_an_unknown_id():
    result = subprocess.run([sys.executable, "-m", "helpers", "check", "no.such_question", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
