"""The student hand-out is a small project of its own, and no command in it (or in a fresh clone)
loses a student's or a user's work. Fast: copies, no new virtual environment (``make`` runs with
``BIN`` set to this interpreter's folder and the venv stamp marked up to date)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers.release.build import ROOT, solution_paths
from helpers.release.handout import MAKEFILE_END, package
from helpers.release.notebooks import BEGIN, END, read

BIN = Path(sys.executable).parent
NO_CONDA = {"CONDA_PREFIX": "", "CONDA_DEFAULT_ENV": ""}


def run(args, cwd, timeout=120, **env):
    """``args`` in ``cwd`` importing ``cwd``'s helpers (notebook kernels too)."""
    environ = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONHASHSEED": "0", **NO_CONDA, **env}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environ)


def helpers_cli(*args, cwd):
    return run([sys.executable, "-m", "helpers", *args], cwd)


def make(*args, cwd, **env):
    return run(["make", "--no-print-directory", *args], cwd, **env)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout") / "handout"
    return out, package(out)


@pytest.fixture
def handout(built, tmp_path):
    """A fresh copy of the hand-out, as a student receives it."""
    return Path(shutil.copytree(built[0], tmp_path / "handout"))


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_is_a_student_project(out):
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    top = {f.split("/")[0] for f in files}
    assert top == {"README.md", "Makefile", "pyproject.toml", "requirements.txt", "environment.yml",
                   "notebooks", "helpers", "tests"}, top
    assert {f for f in files if f.startswith("tests/")} == {"tests/test_check.py"}
    assert "helpers/answers/answer_key.json" in files and not any("release/student" in f for f in files)
    notebooks = sorted(f for f in files if f.startswith("notebooks/"))
    assert notebooks == [f"notebooks/{p.name}" for p in solution_paths(ROOT)]
    readme = (out / "README.md").read_text()
    for needed in ("make lab", "make test", "check(", "PYTHON=python3.11", "environment.yml",
                   "not a safe"):
        assert needed in readme, needed
    for instructor in ("solutions/", "golden", "helpers grade", "make release", "make html", "--out"):
        assert instructor not in readme, instructor
    config = tomllib.loads((out / "pyproject.toml").read_text())
    pytest_ini = config["tool"]["pytest"]["ini_options"]
    assert all((out / p).is_dir() for p in pytest_ini["testpaths"])
    assert "--nbval-lax" in pytest_ini["addopts"] and not any("sanitize" in a for a in pytest_ini["addopts"])
    assert config["project"]["requires-python"] == ">=3.11"
    assert (out / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()


def test_the_readme_states_the_key_search_cost_from_the_key_itself(built):
    from helpers.answers.keying import DEFAULT_RTOL, real_form
    readme = " ".join((built[0] / "README.md").read_text().split())
    stated = int(re.search(r"about ([\d,]+) bins per factor of ten", readme).group(1).replace(",", ""))
    assert f"default {DEFAULT_RTOL:.1%}".replace("%", " %") in readme
    per_decade = int(real_form(10.0, DEFAULT_RTOL)[1:]) - int(real_form(1.0, DEFAULT_RTOL)[1:])
    assert stated == round(per_decade, -2)


def makefile_targets(path):
    return {m for m in re.findall(r"(?m)^([A-Za-z][\w-]*)\s*:(?!=)", path.read_text())}


def test_handout_is_a_student_project_without_solutions(built):
    out, files = built
    assert_is_a_student_project(out)
    assert makefile_targets(out / "Makefile") == {"lab", "test", "conda-env"}   # conda-env: set-up only
    assert MAKEFILE_END not in (out / "Makefile").read_text()
    secrets = set()
    for path in solution_paths(ROOT):
        for cell in read(path).cells:
            if "solution" in cell.metadata.get("tags", []):
                secrets |= {line.strip() for line in cell.source.splitlines() if len(line.strip()) > 25}
            elif BEGIN in cell.source:
                body = cell.source.split(BEGIN)[1].split(END)[0]
                secrets |= {line.strip() for line in body.splitlines()      # a def line is kept by design
                            if len(line.strip()) > 12 and not line.strip().startswith("def ")}
    assert len(secrets) > 50
    for f in files:
        if f.suffix in (".ipynb", ".md"):
            text = (out / f).read_text()
            assert not [s for s in secrets if s in text], f


def test_nothing_in_the_handout_regenerates_or_deletes_notebooks(handout):
    answered = handout / "notebooks" / "00-getting-started.ipynb"
    answered.write_text(answered.read_text().replace("conv1_params = ...", "conv1_params = 12345"))
    before = snapshot(handout)
    for target in ("release", "html", "golden", "clean", "bench-grade"):
        result = make(target, cwd=handout)
        assert result.returncode != 0 and "No rule to make target" in result.stderr, target
    for args in (["release"], ["release", "--force"], ["html", "--out", "site"]):
        result = helpers_cli(*args, cwd=handout)
        assert result.returncode == 2, args
        assert len(result.stderr.splitlines()) == 1 and "no solution notebooks" in result.stderr, args
    assert snapshot(handout) == before and "conv1_params = 12345" in answered.read_text()


def test_make_test_runs_the_notebooks_and_the_check_test(handout):
    # one notebook stands for all (the project's own suite runs every student notebook the same way)
    result = make("test", f"BIN={BIN}", "-o", ".venv/.installed", cwd=handout,
                  PYTEST_ADDOPTS="-n 0 tests notebooks/00-getting-started.ipynb")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"tests/test_check.py \.{4}", result.stdout)
    assert "notebooks/00-getting-started.ipynb ." in result.stdout and " error" not in result.stdout
    assert not (handout / ".venv").exists()


def test_make_names_the_python_it_found_and_the_one_it_needs(handout, tmp_path):
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\necho 3.10\n")
    old.chmod(0o755)
    for target in ("lab", "test"):
        result = make(target, f"PYTHON={old}", cwd=handout)
        assert result.returncode != 0
        line = [text for text in result.stderr.splitlines() if text.startswith("error:")]
        assert len(line) == 1 and "found Python 3.10" in line[0] and "needs Python 3.11" in line[0]
        assert f"make {target} PYTHON=python3.11" in line[0]
    result = make("test", f"PYTHON={tmp_path / 'nothing'}", cwd=handout)
    assert "found no Python" in result.stderr
    assert not (handout / ".venv").exists()


def test_make_uses_an_active_conda_environment(handout):
    conda = make("-n", "lab", cwd=handout, CONDA_PREFIX="/opt/conda/envs/cnn", CONDA_DEFAULT_ENV="cnn")
    assert conda.returncode == 0 and "/opt/conda/envs/cnn/bin/jupyter lab" in conda.stdout
    assert "-m venv" not in conda.stdout and "pip install" not in conda.stdout
    base = make("-n", "test", cwd=handout, CONDA_PREFIX="/opt/conda", CONDA_DEFAULT_ENV="base")
    assert "-m venv .venv" in base.stdout and ".venv/bin/python -m pytest" in base.stdout


def test_make_lab_turns_jupyter_news_off_and_keeps_an_existing_setting(handout):
    settings = Path(".venv/share/jupyter/lab/settings/overrides.json")
    (handout / ".venv").mkdir()
    result = make(str(settings), "-o", ".venv/.installed", cwd=handout)
    assert result.returncode == 0, result.stderr
    overrides = json.loads((handout / settings).read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false",
                                                                        "checkForUpdates": False}
    (handout / settings).write_text('{"mine": 1}\n')
    assert make(str(settings), "-o", ".venv/.installed", cwd=handout).returncode == 0
    assert (handout / settings).read_text() == '{"mine": 1}\n'
    assert "lab: $(STAMP) $(SETTINGS)" in (handout / "Makefile").read_text()


def tracked_files(root):
    """What a fresh clone holds: tracked and to-be-committed files, as in the working tree."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    return [f for f in listing.stdout.split("\0") if f and (root / f).is_file()]


def test_a_fresh_clone_hands_out_and_refuses_to_overwrite(tmp_path):
    clone = tmp_path / "clone"
    for name in tracked_files(ROOT):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    result = helpers_cli("release", "--out", tmp_path / "handout", cwd=clone)
    assert result.returncode == 0, result.stderr
    assert_is_a_student_project(tmp_path / "handout")
    before = snapshot(tmp_path / "handout")
    again = helpers_cli("release", "--out", tmp_path / "handout", cwd=clone)
    assert again.returncode == 2 and len(again.stderr.splitlines()) == 1 and "not empty" in again.stderr
    assert snapshot(tmp_path / "handout") == before
    (clone / "build" / "html").mkdir(parents=True)
    (clone / "build" / "html" / "mine.html").write_text("keep me")
    html = make("html", f"BIN={BIN}", "-o", ".venv/.installed", cwd=clone)
    assert html.returncode != 0 and "mine.html" in html.stderr and "--force" in html.stderr
    assert [p.name for p in (clone / "build" / "html").iterdir()] == ["mine.html"]
    worked = clone / "notebooks" / "00-getting-started.ipynb"
    worked.write_text(worked.read_text().replace('"execution_count": null', '"execution_count": 1', 1))
    refused = helpers_cli("release", "--out", tmp_path / "second", cwd=clone)
    assert refused.returncode == 2 and "00-getting-started.ipynb" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1 and not (tmp_path / "second").exists()
