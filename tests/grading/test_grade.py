"""The grader on a small fixture project: rows, CSV, feedback, hand-graded answers, exports, refusals."""

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.answers import load_key
from helpers.grading import grade, sandbox
from helpers.release.build import ROOT, release

ALPHA = [
    new_markdown_cell("# Alpha\n\nA fixture exercise."),
    new_code_cell("from helpers import check\nbase = 6"),
    new_code_cell('### BEGIN SOLUTION\nratio = 3 / 256\n### END SOLUTION\n'
                  'check("fx.ratio", ratio, hint="Three of 256.", points=2)'),
    new_code_cell('### BEGIN SOLUTION\ncount = base * 7\n### END SOLUTION\ncheck("fx.count", count, hint="Multiply.")'),
    new_markdown_cell("Explain why, in one sentence."),
    new_markdown_cell("Because six sevens are forty-two.", metadata={
        "tags": ["solution", "manual"], "workbook": {"manual": "fx.why", "points": 2}}),
    new_markdown_cell("The end."),
]
BETA = [new_markdown_cell("# Beta\n\nAnother exercise."),
        new_code_cell('from helpers import check\n### BEGIN SOLUTION\nword = "no"\n### END SOLUTION\n'
                      'check("fy.word", word)')]
LIMITS = dict(timeout=20, cell_timeout=3, memory=512 * 2**20, log=lambda *a: None, progress=False)


def notebook(cells, prefix):
    nb = new_notebook()
    nb.cells = [nbformat.from_dict(json.loads(json.dumps(c))) for c in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i}"
    return nb


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "solutions").mkdir()
    (root / "helpers" / "answers").mkdir(parents=True)
    nbformat.write(notebook(ALPHA, "a"), str(root / "solutions" / "01-alpha.ipynb"))
    nbformat.write(notebook(BETA, "b"), str(root / "solutions" / "02-beta.ipynb"))
    release(root, log=lambda *a: None)
    return root


def answered(root, ratio_line, count_line, tweak=None, why=None):
    nb = nbformat.read(str(root / "notebooks" / "01-alpha.ipynb"), 4)
    nb.cells[2].source = nb.cells[2].source.replace("ratio = ...  # your answer", ratio_line)
    nb.cells[3].source = nb.cells[3].source.replace("count = ...  # your answer", count_line)
    if why is not None:
        nb.cells[5].source = why
    if tweak:
        tweak(nb)
    return nbformat.writes(nb)


RIGHT = ("ratio = 3 / 256", "count = base * 7")


@pytest.fixture(scope="module")
def klass(project, tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    outside = tmp_path_factory.mktemp("outside") / "escaped.txt"
    subs = {
        "perfect": answered(project, *RIGHT, why="Because 6 * 7 = 42."),
        "blank": (project / "notebooks" / "01-alpha.ipynb").read_text(),
        "partly": answered(project, "ratio = 3 / 200", "count = 42"),
        "invalid": "{this is not json",
        "wrong": (project / "notebooks" / "02-beta.ipynb").read_text(),
        "loop": answered(project, "while True:\n    pass", RIGHT[1]),
        "memory": answered(project, "hog = bytearray(3 * 2**30)", RIGHT[1]),
        "dies": answered(project, "import os\nos._exit(3)", RIGHT[1]),
        "flood": answered(project, "for _ in range(300):\n    print('x' * 10000)\nratio = 3 / 256", RIGHT[1]),
        "keyreader": answered(project, "import json, helpers.answers as h\n"
                                       "digest = next(iter(json.load(open(h.KEY_PATH))"
                                       "['questions'].values()))['digest']",
                              RIGHT[1]),
        "escaper": answered(project, f"open({str(outside)!r}, 'w').write('x')\nratio = 0", RIGHT[1]),
        "tampered": answered(project, "ratio = 0.5", RIGHT[1],
                             lambda nb: setattr(nb.cells[2], "source", nb.cells[2].source.replace(
                                 'check("fx.ratio", ratio)', 'check("fx.ratio", 3 / 256)'))),
        "nocheck": answered(project, *RIGHT, tweak=lambda nb: setattr(
            nb.cells[3], "source", nb.cells[3].source.replace('check("fx.count", count)', ""))),
        "redefines": answered(project, "check = lambda *a, **k: None\nratio = 1", RIGHT[1]),
        "helper": answered(project, "ratio = share(3)", RIGHT[1], lambda nb: nb.cells.insert(
            2, nbformat.v4.new_code_cell("def share(n):\n    return n / 256"))),
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
    (second / "01-alpha.ipynb").write_text(answered(project, "ratio = 3 / 256", "count = 41", why="Late."))
    return base, second, outside


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(project, klass, tmp_path_factory):
    base, second, outside = klass
    before = digest(base) | digest(second)
    out = tmp_path_factory.mktemp("out")
    logs = []
    rows = grade.run([base, second.parent], out / "grades.csv", out / "feedback", jobs=2, root=project,
                     review=out / "review", **{**LIMITS, "log": logs.append})
    after = digest(base) | digest(second)
    return rows, out, logs, before, after


EXPECTED = """student,notebook,status,score,max_score,fx.ratio,fx.count,fx.why,fy.word,notes
blank,01-alpha.ipynb,ok,0,5,0,0,,,
blank,02-beta.ipynb,missing,0,1,,,,0,no submission
dies,01-alpha.ipynb,killed,0,5,0,0,,,the notebook's process exited with status 3 in cell 2
dies,02-beta.ipynb,missing,0,1,,,,0,no submission
empty,01-alpha.ipynb,empty,0,5,0,0,,,the notebook has no cells
empty,02-beta.ipynb,missing,0,1,,,,0,no submission
escaper,01-alpha.ipynb,error,1,5,0,1,,,cell 2 raised FileNotFoundError: [Errno 2] No such file or directory: '{outside}'
escaper,02-beta.ipynb,missing,0,1,,,,0,no submission
flood,01-alpha.ipynb,output-limit,3,5,2,1,,,output over 256 KiB dropped in cell(s) 2
flood,02-beta.ipynb,missing,0,1,,,,0,no submission
helper,01-alpha.ipynb,ok,3,5,2,1,,,kept cell(s) the student added: 2
helper,02-beta.ipynb,missing,0,1,,,,0,no submission
invalid,01-alpha.ipynb,invalid,0,5,0,0,,,not a readable notebook (Expecting property name enclosed in double \
quotes: line 1 column 2 (char 1))
invalid,02-beta.ipynb,missing,0,1,,,,0,no submission
keyreader,01-alpha.ipynb,error,1,5,0,1,,,cell 2 raised KeyError: 'digest'
keyreader,02-beta.ipynb,missing,0,1,,,,0,no submission
loop,01-alpha.ipynb,timeout,1,5,0,1,,,cell 2 raised CellTimeout: cell ran over 3 s
loop,02-beta.ipynb,missing,0,1,,,,0,no submission
memory,01-alpha.ipynb,memory,1,5,0,1,,,cell 2 raised MemoryError:\x20
memory,02-beta.ipynb,missing,0,1,,,,0,no submission
nocheck,01-alpha.ipynb,ok,3,5,2,1,,,restored released cell(s) 3
nocheck,02-beta.ipynb,missing,0,1,,,,0,no submission
partly,01-alpha.ipynb,ok,1,5,0,1,,,
partly,02-beta.ipynb,ok,1,1,,,,1,
perfect,01-alpha.ipynb,ok,2,5,2,0,,,"graded {late} (given later on the command line, so it replaces the earlier \
submission); not graded: {first}"
perfect,02-beta.ipynb,missing,0,1,,,,0,no submission
redefines,01-alpha.ipynb,ok,1,5,0,1,,,
redefines,02-beta.ipynb,missing,0,1,,,,0,no submission
tampered,01-alpha.ipynb,ok,1,5,0,1,,,restored released cell(s) 2
tampered,02-beta.ipynb,missing,0,1,,,,0,no submission
wrong,01-alpha.ipynb,wrong-notebook,0,5,0,0,,,"this is 02-beta.ipynb, not 01-alpha.ipynb"
wrong,02-beta.ipynb,missing,0,1,,,,0,no submission
"""


def test_exact_csv(graded, klass):
    rows, out, _, _, _ = graded
    base, second, outside = klass
    assert (out / "grades.csv").read_text() == EXPECTED.format(
        first=base / "perfect" / "01-alpha.ipynb", late=second / "01-alpha.ipynb", outside=outside)


def test_csv_is_readable_by_the_group(graded):
    mode = (graded[1] / "grades.csv").stat().st_mode & 0o777
    assert mode & 0o040, oct(mode)


def test_submissions_untouched_and_nothing_escaped(graded, klass):
    _, _, _, before, after = graded
    assert before == after
    assert not klass[2].exists()


def test_feedback_shows_earned_of_maximum_and_never_answers(graded):
    _, out, _, _, _ = graded
    text = (out / "feedback" / "partly.md").read_text()
    assert "`fx.ratio` (0/2 pt)" in text and "`fx.count` (1/1 pt)" in text and "Three of 256." in text
    assert "`fx.why` (pending/2 pt)" in text
    for answer in ("0.01171875", "3 / 256", "42", "forty-two"):
        assert answer not in text
    assert (out / "feedback" / "partly.html").read_text().startswith("<!doctype html>")
    loop = (out / "feedback" / "loop.md").read_text()
    assert "its cell raised CellTimeout before the check" in loop
    dies = (out / "feedback" / "dies.md").read_text()
    assert "`fx.count` (0/1 pt): 0 points: its cell never ran" in dies


def test_reports_and_summary(graded):
    logs = graded[2]
    assert any("scratch.txt: not a released notebook's name" in line for line in logs)
    assert any("99-unknown.ipynb: not a released notebook's name" in line for line in logs)
    assert any(line.startswith("graded 17 notebook(s) from 16 student(s); 15 missing") for line in logs)
    assert any("01-alpha.ipynb: 16 submitted, mean 1.12 / 5 = 22.5 % of the maximum" in line for line in logs)
    assert any("fx.why" in line and "graded by hand (2 pt): 16 pending" in line for line in logs)
    assert any(sandbox.isolation() == line for line in logs)


def test_review_page_and_points_sheet_then_merge(graded, project, klass, tmp_path):
    _, out, _, _, _ = graded
    page = (out / "review" / "review.html").read_text()
    assert "Because six sevens are forty-two." in page and "Because 6 * 7 = 42." not in page   # late copy graded
    assert "Late." in page and "<script" not in page
    sheet = list(csv.DictReader((out / "review" / "points.csv").open()))
    assert {(r["student"], r["question"], r["max_points"]) for r in sheet} >= {("perfect", "fx.why", "2")}
    for r in sheet:
        r["points"] = {"perfect": "2", "partly": "0.5", "blank": "7"}.get(r["student"], "")
        r["comment"] = "clear" if r["student"] == "perfect" else ""
    with (tmp_path / "points.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    base, second, _ = klass
    logs = []
    rows = grade.run([base / "perfect", base / "partly", base / "blank", second.parent], tmp_path / "g.csv",
                     tmp_path / "fb", root=project, merge=tmp_path / "points.csv", **{**LIMITS, "log": logs.append})
    got = {(r["student"], r["notebook"]): r for r in rows}
    assert got["perfect", "01-alpha.ipynb"]["manual"] == {"fx.why": 2}
    assert got["partly", "01-alpha.ipynb"]["manual"] == {"fx.why": 0.5}
    assert got["blank", "01-alpha.ipynb"]["manual"] == {"fx.why": None}          # 7 > 2: refused
    assert any("more than the 2 points" in line for line in logs)
    text = (tmp_path / "g.csv").read_text()
    assert "perfect,01-alpha.ipynb,ok,4,5,2,0,2," in text and "partly,01-alpha.ipynb,ok,1.5,5,0,1,0.5," in text
    assert "`fx.why` (2/2 pt): graded by hand: clear" in (tmp_path / "fb" / "perfect.md").read_text()


def test_canvas_export(graded, project, klass, tmp_path):
    base, _, _ = klass
    grade.run([base / "partly", base / "blank"], tmp_path / "g.csv", root=project, canvas=True, **LIMITS)
    lines = (tmp_path / "g.canvas.csv").read_text().splitlines()
    assert lines == ["Student,ID,SIS User ID,SIS Login ID,Section,01-alpha,02-beta",
                     "Points Possible,,,,,5,1", "blank,,,blank,,0,0", "partly,,,partly,,1,1"]


def test_jobs_two_gives_the_same_csv_and_reruns_are_identical(project, klass, tmp_path):
    base, _, _ = klass
    small = tmp_path / "small"
    for name in ("perfect", "partly", "dies", "invalid", "flood"):
        (small / name).mkdir(parents=True)
        for f in (base / name).iterdir():
            (small / name / f.name).write_bytes(f.read_bytes())
    grade.run([small], tmp_path / "one.csv", jobs=1, root=project, **LIMITS)
    grade.run([small], tmp_path / "two.csv", jobs=2, root=project, **LIMITS)
    grade.run([small], tmp_path / "two.csv", jobs=2, root=project, force=True, **LIMITS)
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()
    assert "perfect,01-alpha.ipynb,ok,3,5,2,1,,," in (tmp_path / "one.csv").read_text()


def test_outputs_are_never_overwritten_without_force(project, klass, tmp_path):
    base, _, _ = klass
    (tmp_path / "grades.csv").write_text("precious")
    (tmp_path / "fb").mkdir()
    for args in ([str(tmp_path / "no-such-class")], [str(base / "partly")]):
        result = subprocess.run([sys.executable, "-m", "helpers", "grade", *args, "--root", str(project),
                                 "--out", str(tmp_path / "grades.csv"), "--quiet"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert (tmp_path / "grades.csv").read_text() == "precious"
    result = subprocess.run([sys.executable, "-m", "helpers", "grade", str(tmp_path / "typo"), "--root",
                             str(project), "--out", str(tmp_path / "new.csv"), "--force"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "typo: no such folder" in result.stderr
    assert not (tmp_path / "new.csv").exists()
    result = subprocess.run([sys.executable, "-m", "helpers", "grade", str(base / "partly"), "--root", str(project),
                             "--out", str(tmp_path / "g.csv"), "--feedback", str(tmp_path / "fb"), "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "fb: the folder exists" in result.stderr
    assert not (tmp_path / "g.csv").exists()


def test_stray_notebook_in_the_class_folder_is_reported_not_a_student(project, klass, tmp_path):
    base, _, _ = klass
    cls = tmp_path / "cls"
    for name in ("perfect", "partly"):
        (cls / name).mkdir(parents=True)
        (cls / name / "01-alpha.ipynb").write_bytes((base / name / "01-alpha.ipynb").read_bytes())
    (cls / "01-alpha.ipynb").write_bytes((base / "perfect" / "01-alpha.ipynb").read_bytes())
    logs = []
    rows = grade.run([cls], tmp_path / "g.csv", root=project, **{**LIMITS, "log": logs.append})
    assert sorted({r["student"] for r in rows}) == ["partly", "perfect"]
    assert any("01-alpha.ipynb: a notebook in the class folder itself" in line for line in logs)


def test_renamed_copy_is_graded_as_its_notebook(project, klass, tmp_path):
    base, _, _ = klass
    (tmp_path / "cls" / "ann").mkdir(parents=True)
    (tmp_path / "cls" / "ann" / "01-alpha (1).ipynb").write_bytes((base / "perfect" / "01-alpha.ipynb").read_bytes())
    rows = grade.run([tmp_path / "cls"], tmp_path / "g.csv", root=project, **LIMITS)
    assert [(r["notebook"], r["status"], sum(r["points"].values())) for r in rows] == [("01-alpha.ipynb", "ok", 3)]
    assert "graded '01-alpha (1).ipynb' as 01-alpha.ipynb" in rows[0]["notes"][0]


def test_no_temporary_folder_is_left(project, klass, tmp_path, monkeypatch):
    import tempfile
    base, _, _ = klass
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    grade.run([base / "dies", base / "loop"], tmp_path / "g.csv", jobs=2, root=project, **LIMITS)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_interrupted_run_still_writes_a_csv_and_cleans_up(project, klass, tmp_path):
    import signal
    import time
    base, _, _ = klass
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "grade", str(base), "--root", str(project),
                             "--out", str(tmp_path / "g.csv"), "--quiet", "--cell-timeout", "30"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    rows = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert len(rows) == 32 and any(r["status"] == "interrupted" for r in rows)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_perfect_student_submission_gets_every_automatic_point(tmp_path):
    # what `grade --benchmark` grades: the solution without its solution-only cells
    for name in ("04-padding-and-stride.ipynb", "08-tpu-utilisation.ipynb"):
        folder = tmp_path / "class" / "ada"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(grade.perfect_submission(ROOT / "solutions" / name), encoding="utf-8")
    rows = grade.run([tmp_path / "class"], tmp_path / "grades.csv", jobs=2, log=lambda *a: None, progress=False)
    assert {r["notebook"] for r in rows if r["status"] == "ok"} >= {"04-padding-and-stride.ipynb",
                                                                    "08-tpu-utilisation.ipynb"}
    key = load_key()
    for row in rows:
        if row["notebook"] in ("04-padding-and-stride.ipynb", "08-tpu-utilisation.ipynb"):
            stem = row["notebook"][:-len(".ipynb")]
            worth = sum(e["points"] for e in key.values() if e.get("notebook") == stem and e["kind"] != "manual")
            earned = sum(p for p in row["points"].values() if p not in (None, ""))
            assert worth > 0 and earned == worth, row


def test_cli_errors_are_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpers", "grade", str(tmp_path), "--out",
                             str(tmp_path / "g.csv"), "--memory", "lots"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "malformed size 'lots'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
