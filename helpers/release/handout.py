"""The student hand-out, ``python -m helpers release --out DIR``: a small project of its own.

A hand-out holds what a student works with and nothing an instructor keeps:

- ``notebooks/``: the student notebooks; ``helpers/``: the package with its hashed
  answer key; ``requirements.txt`` and ``environment.yml``: the same pins;
- its own ``README.md`` (set up, open, answer, check; what ``check`` protects and
  what it does not) and ``tests/test_check.py`` (that ``check`` works), both from
  ``helpers/release/student/``;
- a ``Makefile`` with ``lab`` and ``test`` only: the project's Makefile up to the
  line :data:`MAKEFILE_END`, so both build the environment the same way;
- a ``pyproject.toml``: the project's, with the pytest settings of
  ``helpers/release/student/pytest.toml`` (the notebooks run top to bottom, outputs
  not compared; no instructor file named).

Nothing in a hand-out regenerates or deletes a student's notebooks: it has no
``release`` target, and ``python -m helpers release`` refuses without ``solutions/``.

Examples
--------
>>> "[tool.pytest.ini_options]" in student_pyproject()
True
>>> "sanitize" in student_pyproject()
False
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from helpers.release.build import ROOT, check_release

__all__ = ["package", "student_makefile", "student_pyproject", "MAKEFILE_END", "STUDENT"]

STUDENT = Path(__file__).with_name("student")
"""Files written for students: README.md, pytest.toml, test_check.py."""
MAKEFILE_END = "# ---- instructor targets"
"""The line of the project's Makefile where the student's part ends."""
_COPIED = ("requirements.txt", "environment.yml")


def student_makefile(root=ROOT):
    """The project's Makefile up to :data:`MAKEFILE_END` (its ``lab`` and ``test``)."""
    text = (Path(root) / "Makefile").read_text()
    if MAKEFILE_END not in text:
        raise ValueError(f"Makefile: no line {MAKEFILE_END!r} marks where the student's part ends")
    return text[: text.index(MAKEFILE_END)].rstrip() + "\n"


def student_pyproject(root=ROOT):
    """The project's pyproject.toml with the student's pytest settings in place of its own."""
    text = (Path(root) / "pyproject.toml").read_text()
    sections = re.split(r"(?m)^(?=\[)", text)
    kept = [s for s in sections if not s.startswith("[tool.pytest.ini_options]")]
    return "".join(kept).rstrip() + "\n\n" + (STUDENT / "pytest.toml").read_text()


def _ignore(folder, names):
    skip = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
    if Path(folder).resolve() == STUDENT.parent.resolve():
        skip.add(STUDENT.name)
    return skip


def package(out, root=ROOT):
    """Write the student hand-out into ``out`` (a new or empty folder); return its files.

    Refuses, writing nothing, when ``out`` holds anything, or when ``notebooks/`` or the
    key differ from what ``solutions/`` generate (``release --check``).
    """
    root, out = Path(root), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} is not empty: choose a new folder for the hand-out")
    problems = check_release(root)          # e.g. a notebook someone ran in place: not for students
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"{problems[0]}{more}: run `python -m helpers release` before handing out")
    texts = {"README.md": (STUDENT / "README.md").read_text(),
             "tests/test_check.py": (STUDENT / "test_check.py").read_text(),
             "Makefile": student_makefile(root), "pyproject.toml": student_pyproject(root)}
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"no student notebooks in {root / 'notebooks'}: run `python -m helpers release` first")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        shutil.copy2(path, out / "notebooks" / path.name)
    shutil.copytree(root / "helpers", out / "helpers", ignore=_ignore)
    for name in _COPIED:
        shutil.copy2(root / name, out / name)
    for name, text in texts.items():
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text(text)
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
