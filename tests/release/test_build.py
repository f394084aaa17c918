"""Release: solution -> student copy, markers, key, byte stability, --check."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.release.blank import ReleaseError, blank_source, strip_check_options, student_notebook
from helpers.release.build import ROOT, check_release, read, release, render

DATA = Path(__file__).parents[1] / "data" / "release"


def test_round_trip_matches_reviewed_fixture():
    nb = read(DATA / "01-fixture.ipynb")
    assert render(student_notebook(nb, "01-fixture.ipynb")) == (DATA / "01-fixture.expected.ipynb").read_text()


def test_release_is_byte_stable_and_leaves_the_solution_alone():
    nb = read(DATA / "01-fixture.ipynb")
    before = render(nb)
    once = render(student_notebook(nb, "x"))
    assert render(student_notebook(read(DATA / "01-fixture.ipynb"), "x")) == once
    assert render(nb) == before


def test_student_copy_has_no_solution_text():
    text = (DATA / "01-fixture.expected.ipynb").read_text()
    for secret in ("3 / 256", "secret = 42", "Because it is so", "n * n * k", "64, width",
                   "Divide the used rows", "points=2", "rtol", "slips", "percent", "flops", "256 rows",
                   "unlock"):
        assert secret not in text


def test_student_copy_keeps_given_and_manual_cells_and_drops_unlock_and_solution_cells():
    solution = read(DATA / "01-fixture.ipynb")
    student = student_notebook(solution, "01-fixture.ipynb")
    assert [c.id for c in student.cells] == [f"cell-{i}" for i in (0, 1, 2, 3, 5, 6, 7, 9)]
    given, manual = student.cells[2], student.cells[6]
    assert given.metadata["tags"] == ["given"] and given.source == solution.cells[2].source
    assert manual.source == "*Your answer here.*"
    assert manual.metadata == {"tags": ["solution", "manual"], "workbook": {"manual": "fx.proof", "points": 2}}


@pytest.mark.parametrize("meta, message", [
    ({"tags": ["manual"], "workbook": {"manual": "a.b", "points": 1}}, "must also be tagged 'solution'"),
    ({"tags": ["solution", "manual"], "workbook": {"points": 1}}, "workbook.manual"),
    ({"tags": ["solution", "manual"], "workbook": {"manual": "a.b", "points": 0}}, "positive integer"),
    ({"tags": ["unlock"]}, "workbook.unlock"),
])
def test_malformed_manual_and_unlock_cells_name_the_cell(meta, message):
    cell = new_markdown_cell("text")
    cell.metadata.update(meta)
    with pytest.raises(ReleaseError, match=message) as err:
        student_notebook(nb_with(new_markdown_cell("hi"), cell), "07-demo.ipynb")
    assert "07-demo.ipynb, cell 1" in str(err.value)


def test_check_options_are_stripped_however_they_wrap():
    source = ('x = 1\ncheck("a.b", x,\n      hint="h", slips=("flops",),\n      rtol=0.1)  # note\n'
              'print(check("c.d", 2, points=3))')
    assert strip_check_options(source) == 'x = 1\ncheck("a.b", x)  # note\nprint(check("c.d", 2))'


def nb_with(*cells):
    nb = new_notebook()
    nb.cells = list(cells)
    return nb


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "BEGIN SOLUTION without an END SOLUTION"),
    ("x = 1\n### END SOLUTION", "END SOLUTION without a BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "inside another solution region"),
    ("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION", "assigns nothing"),
    ("### BEGIN SOLUTION\nx = (\n### END SOLUTION", "not valid Python"),
    ("### BEGIN SOLUTON\nx = 1\n### END SOLUTION", "malformed marker"),
])
def test_bad_markers_name_notebook_and_cell(source, message):
    with pytest.raises(ReleaseError) as err:
        student_notebook(nb_with(new_markdown_cell("hi"), new_code_cell(source)), "07-demo.ipynb")
    assert message in str(err.value) and "07-demo.ipynb, cell 1" in str(err.value)


def test_markers_in_markdown_or_tagged_cells_are_errors():
    with pytest.raises(ReleaseError, match="belong in code cells"):
        student_notebook(nb_with(new_markdown_cell("### BEGIN SOLUTION\nx\n### END SOLUTION")), "a")
    cell = new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    cell.metadata["tags"] = ["solution"]
    with pytest.raises(ReleaseError, match="must not also contain markers"):
        student_notebook(nb_with(cell), "a")


def test_indented_region_keeps_its_indent():
    src = "for i in range(2):\n    ### BEGIN SOLUTION\n    y = i * 2\n    ### END SOLUTION\n    print(y)"
    assert blank_source(src, "n", 0) == "for i in range(2):\n    y = ...  # your answer\n    print(y)"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "solutions").mkdir()
    (root / "helpers").mkdir()
    shutil.copy(DATA / "01-fixture.ipynb", root / "solutions" / "01-fixture.ipynb")
    changed = release(root, log=lambda *a: None)
    return root, changed


def test_full_release_in_a_fresh_project(project):
    root, changed = project
    assert {p.name for p in changed} == {"01-fixture.ipynb", "answer_key.json"}
    key = json.loads((root / "helpers" / "answers" / "answer_key.json").read_text())
    assert sorted(key["questions"]) == ["fx.depth", "fx.proof", "fx.ratio", "fx.side", "fx.word"]
    ratio = key["questions"]["fx.ratio"]
    assert (ratio["points"], ratio["rtol"], ratio["kind"], ratio["slips"]) == (2, 0.01, "real", ["percent"])
    assert ratio["hint"] == "Divide the used rows by the array's rows."
    assert key["questions"]["fx.side"]["slips"] == ["flops"] and "slips" not in key["questions"]["fx.depth"]
    assert key["questions"]["fx.word"]["kind"] == "text"
    assert key["questions"]["fx.proof"] == {"kind": "manual", "points": 2, "notebook": "01-fixture"}
    info = key["notebooks"]["01-fixture"]
    assert info["manual"] == ["fx.proof"] and info["questions"] == ["fx.depth", "fx.ratio", "fx.side", "fx.word"]
    assert "256 rows" not in json.dumps(key) and set(ratio["unlock"]) == {"text", "keys"}
    solution = read(root / "solutions" / "01-fixture.ipynb")
    shown = solution.cells[3].outputs                       # as a correct answer shows it later
    assert [o["output_type"] for o in shown] == ["stream", "display_data"]
    assert shown[0]["text"] == "✓ fx.ratio: correct.\n"
    assert shown[1]["data"]["text/markdown"] == solution.cells[4].source
    assert (root / "notebooks" / "01-fixture.ipynb").read_text() == (DATA / "01-fixture.expected.ipynb").read_text()
    assert check_release(root) == []
    assert release(root, log=lambda *a: None) == []          # nothing changes the second time


def test_check_names_what_is_out_of_date(project):
    root, _ = project
    student = root / "notebooks" / "01-fixture.ipynb"
    good = student.read_text()
    student.write_text(good.replace("your answer", "my answer"))
    (root / "notebooks" / "02-stray.ipynb").write_text(good)
    try:
        problems = check_release(root)
        assert "notebooks/01-fixture.ipynb: differs from what solutions/01-fixture.ipynb generates" in problems
        assert "notebooks/02-stray.ipynb: has no solution notebook" in problems
    finally:
        student.write_text(good)
        (root / "notebooks" / "02-stray.ipynb").unlink()
    nb = read(root / "solutions" / "01-fixture.ipynb")
    nb.cells[2].source += "\nscale = 4"
    edited = root / "solutions" / "01-fixture.ipynb"
    original = edited.read_text()
    edited.write_text(render(nb))
    try:
        assert any("out of date for solutions/01-fixture.ipynb" in p for p in check_release(root))
    finally:
        edited.write_text(original)


def test_repository_release_is_up_to_date():
    assert check_release(ROOT) == []
    result = subprocess.run([sys.executable, "-m", "helpers", "release", "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_release_kernels_use_local_sockets_print_no_tcp_warning_and_stop(tmp_path, capfd):
    import os

    from helpers.release.build import execute
    nb = new_notebook(cells=[new_code_cell(
        "import os\nfrom ipykernel.kernelapp import IPKernelApp\n"
        "print(os.getcwd(), IPKernelApp.instance().transport, os.getpid())")])
    nb, records = execute(nb, tmp_path, "tiny.ipynb", timeout=60)
    cwd, transport, pid = nb.cells[0].outputs[0]["text"].split()
    assert (cwd, transport, records) == (str(tmp_path), "ipc", [])
    assert "without encryption" not in capfd.readouterr().err
    with pytest.raises(ProcessLookupError):          # the kernel was shut down, not left running
        os.kill(int(pid), 0)


def test_release_refuses_a_project_without_solutions(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00-mine.ipynb").write_text("my answers")
    result = subprocess.run([sys.executable, "-m", "helpers", "release", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no solution notebooks" in result.stderr
    assert (tmp_path / "notebooks" / "00-mine.ipynb").read_text() == "my answers"
    assert not (tmp_path / "helpers").exists()


def test_release_never_overwrites_a_worked_notebook_nor_deletes_a_stray_one(project):
    root, _ = project
    student = root / "notebooks" / "01-fixture.ipynb"
    generated = student.read_text()
    worked = read(student)
    worked.cells[1].execution_count, worked.cells[1].outputs = 1, []
    student.write_text(render(worked))
    stray = root / "notebooks" / "02-mine.ipynb"
    stray.write_text(generated)
    try:
        with pytest.raises(ReleaseError, match="01-fixture.ipynb: was run here"):
            release(root, log=lambda *a: None)
        assert student.read_text() == render(worked)
        student.write_text(generated)
        lines = []
        release(root, log=lines.append)
        assert stray.read_text() == generated
        assert lines == ["notebooks/02-mine.ipynb: has no solution notebook; left in place "
                         "(delete it if it is stale)"]
    finally:
        student.write_text(generated)
        stray.unlink()


def test_unlocked_explanation_opens_only_for_a_correct_answer(project, monkeypatch, capsys):
    from helpers.answers import checking
    root, _ = project
    key = json.loads((root / "helpers" / "answers" / "answer_key.json").read_text())["questions"]
    monkeypatch.setattr(checking, "load_key", lambda: key)
    text = read(DATA / "01-fixture.ipynb").cells[4].source
    for value in (3 / 256, 3 / 256 * 1.0099, 3 / 256 * 0.9901):             # anywhere in the window
        checking.check("fx.ratio", value)
        assert capsys.readouterr().out == f"✓ fx.ratio: correct.\n{text}\n"
    for value in (..., 3 / 256 * 1.02, 100 * 3 / 256, None):
        checking.check("fx.ratio", value)
        assert text not in capsys.readouterr().out
    checking.check("fx.ratio", 100 * 3 / 256)
    assert "percentage" in capsys.readouterr().out              # the declared slip
    checking.check("fx.side", 128)
    assert "twice the answer" in capsys.readouterr().out
    checking.check("fx.depth", 42)
    assert "twice" not in capsys.readouterr().out               # no slip declared: the hint only


def test_release_hashes_the_helpers_a_notebook_imports(tmp_path):
    from helpers.release.notebooks import code_hash, imported_modules
    pkg = ROOT / "helpers"
    uses_check = nb_with(new_code_cell("from helpers import check"))
    files = {p.relative_to(pkg).as_posix() for p in imported_modules(uses_check, pkg)}
    assert {"__init__.py", "answers/checking.py", "answers/judge.py", "answers/keying.py"} <= files
    assert not {f for f in files if f.startswith(("grading/", "release/", "engine/")) or f == "cli.py"}
    engine = nb_with(new_code_cell("from helpers import check, engine\nfrom helpers.engine import bench"))
    assert "engine/bench.py" in {p.relative_to(pkg).as_posix() for p in imported_modules(engine, pkg)}
    assert code_hash(uses_check, pkg) != code_hash(engine, pkg)


def test_release_mode_shows_what_a_correct_answer_later_shows(project, monkeypatch, capsys, tmp_path):
    from helpers.answers import checking
    root, _ = project
    key = json.loads((root / "helpers" / "answers" / "answer_key.json").read_text())["questions"]
    monkeypatch.setattr(checking, "load_key", lambda: key)
    checking.check("fx.ratio", 3 / 256)
    normal = capsys.readouterr().out
    unlocks = tmp_path / "unlocks.json"
    unlocks.write_text(json.dumps({"fx.ratio": read(DATA / "01-fixture.ipynb").cells[4].source}))
    monkeypatch.setenv(checking.RECORD_ENV, str(tmp_path / "record.jsonl"))
    monkeypatch.setenv(checking.MODE_ENV, "release")
    monkeypatch.setenv(checking.UNLOCKS_ENV, str(unlocks))
    checking.check("fx.ratio", 3 / 256)
    assert capsys.readouterr().out == normal and "256 rows" in normal
