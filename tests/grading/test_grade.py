"""The grader on a fixture class: one perfect, one blank, one partly wrong, one of each bad kind."""

import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.grading import grade
from helpers.release.build import release

ALPHA = [
    new_markdown_cell("# Alpha\n\nA fixture exercise."),
    new_code_cell("from helpers import check\nbase = 6"),
    new_code_cell('### BEGIN SOLUTION\nratio = 3 / 256\n### END SOLUTION\n'
                  'check("fx.ratio", ratio, hint="Three of 256.", points=2)'),
    new_code_cell('### BEGIN SOLUTION\ncount = base * 7\n### END SOLUTION\ncheck("fx.count", count, hint="Multiply.")'),
    new_markdown_cell("The end."),
]
BETA = [new_markdown_cell("# Beta\n\nAnother exercise."),
        new_code_cell('from helpers import check\n### BEGIN SOLUTION\nword = "no"\n### END SOLUTION\n'
                      'check("fy.word", word)')]


def notebook(cells, prefix):
    nb = new_notebook()
    nb.cells = [nbformat.from_dict(dict(c)) for c in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i}"
    return nb


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "solutions").mkdir()
    (root / "helpers").mkdir()
    nbformat.write(notebook(ALPHA, "a"), str(root / "solutions" / "01-alpha.ipynb"))
    nbformat.write(notebook(BETA, "b"), str(root / "solutions" / "02-beta.ipynb"))
    release(root, log=lambda *a: None)
    return root


def answered(root, ratio_line, count_line, tweak=None):
    nb = nbformat.read(str(root / "notebooks" / "01-alpha.ipynb"), 4)
    nb.cells[2].source = nb.cells[2].source.replace("ratio = ...  # your answer", ratio_line)
    nb.cells[3].source = nb.cells[3].source.replace("count = ...  # your answer", count_line)
    if tweak:
        tweak(nb)
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def klass(project, tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    outside = tmp_path_factory.mktemp("outside") / "escaped.txt"
    right = ("ratio = 3 / 256", "count = base * 7")
    subs = {
        "perfect": answered(project, *right),
        "blank": (project / "notebooks" / "01-alpha.ipynb").read_text(),
        "partly": answered(project, "ratio = 3 / 200", "count = 42"),
        "invalid": "{this is not json",
        "wrong": (project / "notebooks" / "02-beta.ipynb").read_text(),
        "loop": answered(project, "while True:\n    pass", right[1]),
        "memory": answered(project, "hog = bytearray(3 * 2**30)", right[1]),
        "dies": answered(project, "import os\nos._exit(3)", right[1]),
        "flood": answered(project, "for _ in range(300):\n    print('x' * 10000)\nratio = 3 / 256", right[1]),
        "keyreader": answered(project, "import helpers.answers.checking as h\nsecret = open(h.KEY_PATH).read()\nratio = 0", right[1]),
        "escaper": answered(project, f"open({str(outside)!r}, 'w').write('x')\nratio = 0", right[1]),
        "tampered": answered(project, "ratio = 0.5", right[1],
                             lambda nb: setattr(nb.cells[2], "source", nb.cells[2].source.replace(
                                 'check("fx.ratio", ratio)', 'check("fx.ratio", 3 / 256)'))),
        "nocheck": answered(project, *right, tweak=lambda nb: setattr(
            nb.cells[3], "source", nb.cells[3].source.replace('check("fx.count", count)', ""))),
        "redefines": answered(project, "check = lambda *a, **k: None\nratio = 1", right[1]),
        "empty": nbformat.writes(new_notebook()),
    }
    for student, text in subs.items():
        (base / student).mkdir()
        (base / student / "01-alpha.ipynb").write_text(text)
    beta = nbformat.read(str(project / "notebooks" / "02-beta.ipynb"), 4)
    beta.cells[1].source = beta.cells[1].source.replace("word = ...  # your answer", 'word = "No"')
    nbformat.write(beta, str(base / "partly" / "02-beta.ipynb"))
    (base / "partly" / "scratch.txt").write_text("stray")
    (base / "partly" / "99-unknown.ipynb").write_text("{}")
    second = tmp_path_factory.mktemp("late") / "perfect"
    second.mkdir()
    (second / "01-alpha.ipynb").write_text(subs["blank"])
    return base, second, outside


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(project, klass, tmp_path_factory):
    base, second, outside = klass
    before = digest(base) | digest(second)
    out = tmp_path_factory.mktemp("out")
    logs = []
    rows = grade.run([base, second], out / "grades.csv", out / "feedback", jobs=1, timeout=60,
                     cell_timeout=3, memory=512 * 2**20, root=project, log=logs.append, progress=False)
    after = digest(base) | digest(second)
    return rows, out, logs, before, after


EXPECTED = """student,notebook,status,score,max_score,fx.ratio,fx.count,fy.word,notes
blank,01-alpha.ipynb,ok,0,3,0,0,,
dies,01-alpha.ipynb,killed,0,3,0,0,,"the kernel died (it exited, or was killed, e.g. for memory)"
empty,01-alpha.ipynb,empty,0,3,0,0,,the notebook has no cells
escaper,01-alpha.ipynb,forbidden,1,3,0,1,,cell 2 raised PermissionError: workbook grader: writing outside the submission's folder is not allowed
flood,01-alpha.ipynb,output-limit,3,3,2,1,,output over 256 KiB dropped in cell(s) 2
invalid,01-alpha.ipynb,invalid,0,3,0,0,,not a readable notebook (NotJSONError)
keyreader,01-alpha.ipynb,forbidden,1,3,0,1,,"cell 2 raised PermissionError: workbook grader: reading the answer key, solutions or submissions is not allowed"
loop,01-alpha.ipynb,timeout,1,3,0,1,,cell 2 raised TimeoutError: cell ran over 3 s
memory,01-alpha.ipynb,memory,1,3,0,1,,cell 2 raised MemoryError: 
nocheck,01-alpha.ipynb,ok,3,3,2,1,,restored cells 3
partly,01-alpha.ipynb,ok,1,3,0,1,,
partly,02-beta.ipynb,ok,1,1,,,1,
perfect,01-alpha.ipynb,ok,3,3,2,1,,
perfect,01-alpha.ipynb,duplicate,0,3,,,,also submitted as {first}; the first copy is graded
redefines,01-alpha.ipynb,ok,1,3,0,1,,
tampered,01-alpha.ipynb,ok,1,3,0,1,,restored cells 2
wrong,01-alpha.ipynb,wrong-notebook,0,3,0,0,,"this is 02-beta.ipynb, not 01-alpha.ipynb"
"""


def test_exact_csv(graded, klass):
    rows, out, _, _, _ = graded
    base, _, _ = klass
    assert (out / "grades.csv").read_text() == EXPECTED.format(first=base / "perfect" / "01-alpha.ipynb")


def test_perfect_full_blank_zero_and_bad_kinds_never_stop_the_run(graded):
    rows = {(r["student"], r["status"]): r for r in graded[0]}
    assert sum(rows["perfect", "ok"]["points"].values()) == rows["perfect", "ok"]["max_score"] == 3
    assert sum(rows["blank", "ok"]["points"].values()) == 0
    assert {r["status"] for r in graded[0]} >= {"invalid", "wrong-notebook", "timeout", "memory", "killed",
                                                "output-limit", "forbidden", "empty", "duplicate"}


def test_tampering_changes_nothing(graded):
    rows = {r["student"]: r for r in graded[0] if r["status"] != "duplicate"}
    # a hard-coded value in an edited check line, a deleted check line, a redefined check:
    assert rows["tampered"]["points"]["fx.ratio"] == 0            # graded on its real answer, 0.5
    assert rows["nocheck"]["points"] == rows["perfect"]["points"]
    assert rows["redefines"]["points"]["fx.ratio"] == 0            # its real answer, 1, is wrong
    assert rows["redefines"]["feedback"]["fx.ratio"].startswith("not correct")


def test_submissions_untouched_and_nothing_escaped(graded, klass):
    _, _, _, before, after = graded
    assert before == after
    assert not klass[2].exists()


def test_feedback_has_verdicts_and_hints_never_answers(graded):
    _, out, _, _, _ = graded
    text = (out / "feedback" / "partly.md").read_text()
    assert "fx.ratio" in text and "Three of 256." in text and "correct" in text
    for answer in ("0.01171875", "3 / 256", "42"):
        assert answer not in text
    assert (out / "feedback" / "partly.html").read_text().startswith("<!doctype html>")


def test_reports_and_summary(graded):
    logs = graded[2]
    assert any("scratch.txt: unknown notebook name" in line for line in logs)
    assert any("99-unknown.ipynb: unknown notebook name" in line for line in logs)
    assert any(line.startswith("graded 16 notebook(s) from 15 student(s)") for line in logs)
    assert any("fx.ratio" in line and "3/15 correct" in line for line in logs)


def test_jobs_two_gives_the_same_csv_and_reruns_are_identical(project, klass, graded, tmp_path):
    base, second, _ = klass
    small = tmp_path / "small"
    for name in ("perfect", "partly", "dies", "invalid"):
        (small / name).mkdir(parents=True)
        for f in (base / name).iterdir():
            (small / name / f.name).write_bytes(f.read_bytes())
    args = dict(timeout=60, cell_timeout=3, memory=512 * 2**20, root=project, log=lambda *a: None, progress=False)
    grade.run([small], tmp_path / "one.csv", jobs=1, **args)
    grade.run([small], tmp_path / "two.csv", jobs=2, **args)
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()
    expected = [line for line in EXPECTED.splitlines()
                if line.split(",")[0] in ("student", "perfect", "partly", "dies", "invalid") and "duplicate" not in line]
    assert (tmp_path / "one.csv").read_text().splitlines() == expected


def test_cli_errors_are_one_line(project, tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpers", "grade", str(tmp_path), "--out",
                             str(tmp_path / "g.csv"), "--memory", "lots"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "malformed size 'lots'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_real_notebooks_grade_full_when_worked_and_zero_when_blank(tmp_path):
    """The sandbox must not trip over what the real notebooks do (sympy, matplotlib, numpy)."""
    from helpers.release.build import ROOT
    for student, tree in (("worked", "solutions"), ("blank", "notebooks")):
        (tmp_path / "class" / student).mkdir(parents=True)
        for name in ("00-getting-started.ipynb", "01-arithmetic-intensity.ipynb", "08-tpu-utilisation.ipynb"):
            (tmp_path / "class" / student / name).write_bytes((ROOT / tree / name).read_bytes())
    rows = grade.run([tmp_path / "class"], tmp_path / "g.csv", jobs=2, log=lambda *a: None, progress=False)
    for r in rows:
        assert r["status"] == "ok", (r["student"], r["notebook"], r["notes"])
        expected = r["max_score"] if r["student"] == "worked" else 0
        assert sum(r["points"].values()) == expected, (r["notebook"], r["feedback"])
