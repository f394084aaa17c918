"""Find the submissions in the folders an instructor names, and say what was found.

Layout: a class folder holds one folder per student, each holding that student's
notebooks under their release names (``class/alice/08-tpu-utilisation.ipynb``).
A folder given on the command line that holds notebooks and no sub-folders is
one student's folder.

- A notebook in the class folder itself is no student's: it is reported, not
  graded (and it never turns the class into one student).
- A browser-renamed copy (``08-tpu-utilisation (1).ipynb``, ``... copy.ipynb``)
  is graded as its notebook when it is the student's only copy, with a note.
- When a student's notebook is found in two folders given on the command line,
  the copy in the folder given later is graded (a late resubmission replaces the
  first); the row says which copy was graded and which was not.
- Each released notebook a student did not submit gets a row with status ``missing``.

Examples
--------
>>> release_name("08-tpu-utilisation (1).ipynb", {"08-tpu-utilisation.ipynb"})
('08-tpu-utilisation.ipynb', 1)
>>> release_name("08-tpu-utilisation.ipynb", {"08-tpu-utilisation.ipynb"})
('08-tpu-utilisation.ipynb', 0)
>>> release_name("notes.ipynb", {"08-tpu-utilisation.ipynb"})
(None, 0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Submission", "ClassError", "collect", "release_name"]

_RENAMED = re.compile(r"^(?P<base>.+?)(?: ?\((?P<n>\d+)\)| copy(?: (?P<c>\d+))?|-Copy(?P<k>\d*))?\.ipynb$", re.I)


class ClassError(ValueError):
    """Nothing to grade where the instructor pointed (a mistyped or empty folder)."""


@dataclass
class Submission:
    """One student's copy of one released notebook (``path`` None: not submitted)."""

    student: str
    notebook: str
    path: str | None
    notes: list = field(default_factory=list)


def release_name(filename, names):
    """``(release name, copy number)`` of a file name, or ``(None, 0)`` when it is no release's."""
    if filename in names:
        return filename, 0
    m = _RENAMED.match(filename)
    if m and f"{m['base']}.ipynb" in names:
        number = next((int(g) for g in (m["n"], m["c"], m["k"]) if g), 1)
        return f"{m['base']}.ipynb", number
    return None, 0


def _students(base, notices):
    entries = sorted(base.iterdir())
    folders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    notebooks = [p for p in entries if p.is_file() and p.suffix == ".ipynb"]
    if not folders and notebooks:
        return [base]                                   # one student's folder
    for p in entries:
        if p.is_file() and not p.name.startswith("."):
            what = "a notebook" if p.suffix == ".ipynb" else "a file"
            notices.append(f"{p}: {what} in the class folder itself, not in a student's folder: "
                           "not graded (move it into the folder of the student it belongs to)")
    return folders


def collect(paths, names, only=None):
    """``(submissions, notices)`` for the folders ``paths``.

    ``names`` are the released notebook names; ``only`` restricts the notebooks
    every student is expected to submit (default: those anyone submitted).
    Raises :class:`ClassError` when a path is not a folder or nothing at all is found.
    """
    notices, chosen, seen = [], {}, set()
    for base in map(Path, paths):
        if not base.is_dir():
            raise ClassError(f"{base}: no such folder (nothing was graded, nothing was written)")
        students = _students(base, notices)
        if not students:
            raise ClassError(f"{base}: no student folders and no notebooks in it "
                             "(nothing was graded, nothing was written)")
        for folder in students:
            copies = {}
            for path in sorted(folder.iterdir()):
                if path.name.startswith("."):
                    continue
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                name, number = release_name(path.name, names) if path.is_file() else (None, 0)
                if path.is_dir():
                    notices.append(f"{path}: a folder inside a student's folder, not graded")
                elif name is None:
                    notices.append(f"{path}: not a released notebook's name, not graded")
                elif only is None or name in only:
                    copies.setdefault(name, []).append((number, path))
            for name, found in copies.items():
                found.sort()
                number, path = found[0] if found[0][0] == 0 else found[-1]
                notes = []
                if number:
                    notes.append(f"graded {path.name!r} as {name} (a renamed copy; no file had the released name)")
                others = [p.name for n, p in found if p != path]
                if others:
                    notes.append(f"not graded: {', '.join(repr(o) for o in others)} (other copies in the same folder)")
                key = (folder.name, name)
                if key in chosen:
                    notes.append(f"graded {path} (given later on the command line, so it replaces the earlier "
                                 f"submission); not graded: {chosen[key].path}")
                chosen[key] = Submission(folder.name, name, str(path), notes)
            for student in [folder.name]:
                chosen.setdefault((student, None), None)
    students = sorted({s for s, _ in chosen})
    expected = set(only) if only is not None else {n for (_, n), sub in chosen.items() if n is not None}
    if not expected:
        raise ClassError(f"no released notebook found under {', '.join(map(str, paths))} "
                         "(nothing was graded, nothing was written)")
    submissions = []
    for student in students:
        for name in sorted(expected):
            sub = chosen.get((student, name))
            submissions.append(sub if sub is not None else Submission(student, name, None))
    return submissions, notices
