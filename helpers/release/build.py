"""``python -m helpers release``: solutions/ -> notebooks/ and the answer key.

``release`` executes each solution notebook whose source, or the ``helpers``
source, changed since the key was built (all of them with ``--force``) in a
fresh kernel, stores the
outputs back into the solution (so nbval can compare them), records the
value of every ``check(qid, value, hint=..., points=..., rtol=...)`` call,
and writes

- ``notebooks/NN-*.ipynb``: the student copies (see :mod:`helpers.blanking`);
- ``helpers/answers/answer_key.json``: per question its kind, points, hint and a digest
  (see :mod:`helpers.answers`), and per notebook the hash of its source.

``release --check`` executes nothing: it regenerates the student copies in
memory and compares them byte for byte with ``notebooks/``, and checks that
the key covers exactly the questions and sources of ``solutions/``. It exits
1 naming every file that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from helpers.answers.checking import KEY_PATH, RECORD_ENV, make_entry
from helpers.release.blank import ReleaseError, normalise, student_notebook

__all__ = ["ROOT", "solution_paths", "render", "source_hash", "helpers_hash", "question_ids", "question_cells", "release",
           "check_release", "execute", "write_assessment_key"]

ROOT = Path(__file__).resolve().parents[2]
KEY_REL = Path("helpers", "answers", KEY_PATH.name)
"""Where the answer key lives in a project (release writes it, grade reads it)."""
_NAME = re.compile(r"^\d\d-[a-z0-9-]+\.ipynb$")
_CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([A-Za-z0-9_]+\.[A-Za-z0-9_.]+)["']""")


def _nbformat():
    import nbformat
    return nbformat


def solution_paths(root=ROOT):
    """``solutions/NN-slug.ipynb`` files, sorted; other names are an error."""
    folder = Path(root) / "solutions"
    paths = sorted(folder.glob("*.ipynb"))
    bad = [p.name for p in paths if not _NAME.match(p.name)]
    if bad:
        raise ReleaseError(f"solution notebooks must be named NN-slug.ipynb: {', '.join(bad)}")
    return paths


def render(nb):
    """Notebook text exactly as written to disk."""
    return _nbformat().writes(nb, version=4) + "\n"


def read(path):
    try:
        return _nbformat().read(str(path), as_version=4)
    except Exception as err:  # noqa: BLE001 - report any unreadable notebook in one line
        raise ReleaseError(f"{Path(path).name}: not a readable notebook ({err})") from None


def source_hash(nb):
    """Hash of what an author writes (cell types, tags and sources), not of outputs."""
    text = json.dumps([[c.cell_type, c.metadata.get("tags", []), c.source] for c in nb.cells])
    return hashlib.sha256(text.encode()).hexdigest()


def helpers_hash(root=ROOT):
    """Hash of the helpers package's Python source: solution outputs depend on it."""
    digest = hashlib.sha256()
    for path in sorted((Path(root) / "helpers").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def question_ids(nb):
    """Question ids of the ``check("topic.part", ...)`` calls in a notebook, in order."""
    return list(question_cells(nb))


def question_cells(nb):
    """``{qid: index of the first cell whose check call asks it}``."""
    cells = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for qid in _CHECK_CALL.findall(cell.source):
                cells.setdefault(qid, index)
    return cells


def execute(nb, cwd, name="notebook", timeout=600):
    """Run ``nb`` in a fresh kernel in release mode; return ``(nb, records)``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "checks.jsonl"
        saved = {k: os.environ.get(k) for k in (RECORD_ENV, "WORKBOOK_MODE", "PYTHONHASHSEED")}
        os.environ.update({RECORD_ENV: str(record), "WORKBOOK_MODE": "release", "PYTHONHASHSEED": "0"})
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3", coalesce_streams=True,
                           resources={"metadata": {"path": str(cwd)}}).execute()
        except CellExecutionError as err:
            failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
                o.get("output_type") == "error" for o in c.get("outputs", []))), "?")
            raise ReleaseError(f"{name}: cell {failed} raised "
                               f"{err.ename}: {err.evalue}") from None
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        records = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return nb, records


def _entries(name, nb, records):
    from helpers.answers.serial import decode
    entries = {}
    for rec in records:
        qid = rec["qid"]
        if qid in entries:
            raise ReleaseError(f"{name}: question {qid!r} is checked twice")
        value = decode(rec["value"])
        if value is ...:
            raise ReleaseError(f"{name}: question {qid!r} has no answer in the solution")
        entries[qid] = {**make_entry(qid, value, rec.get("hint"), rec.get("points", 1), rec.get("rtol")),
                        "notebook": name}
    missing = set(question_ids(nb)) - set(entries)
    if missing:
        raise ReleaseError(f"{name}: check calls never ran for {', '.join(sorted(missing))}")
    return entries


def _load_key(path):
    return json.loads(path.read_text()) if path.exists() else {"notebooks": {}, "questions": {}}


def _write_key(path, key):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")


def release(root=ROOT, force=False, log=print):
    """Regenerate ``notebooks/`` and the key from ``solutions/``; return changed paths."""
    root = Path(root)
    key_path = root / KEY_REL
    old = _load_key(key_path)
    key = {"format": 1, "notebooks": {}, "questions": {}}
    changed = []
    code_digest = helpers_hash(root)
    for path in solution_paths(root):
        name = path.stem
        nb = read(path)
        student = student_notebook(nb, path.name)          # validates the markers first
        digest = source_hash(nb)
        before = old["notebooks"].get(name, {})
        if (not force and before.get("source_sha256") == digest
                and before.get("helpers_sha256") == code_digest):
            entries = {q: e for q, e in old["questions"].items() if e.get("notebook") == name}
        else:
            log(f"executing {path.name} ...")
            nb, records = execute(nb, path.parent, path.name)
            entries = _entries(name, nb, records)
            text = render(normalise(nb, clear_outputs=False))
            if path.read_text() != text:
                path.write_text(text)
                changed.append(path)
        clash = set(entries) & set(key["questions"])
        if clash:
            raise ReleaseError(f"{name}: question ids used in another notebook too: {sorted(clash)}")
        key["notebooks"][name] = {"source_sha256": digest, "helpers_sha256": code_digest,
                                  "questions": sorted(entries)}
        key["questions"].update(entries)
        target = root / "notebooks" / path.name
        if not target.exists() or target.read_text() != render(student):
            target.parent.mkdir(exist_ok=True)
            target.write_text(render(student))
            changed.append(target)
    expected = {p.name for p in solution_paths(root)}
    for stale in sorted((root / "notebooks").glob("*.ipynb")):
        if stale.name not in expected:
            stale.unlink()
            changed.append(stale)
    if _load_key(key_path) != key:
        _write_key(key_path, key)
        changed.append(key_path)
    return changed


def check_release(root=ROOT):
    """Problems that make ``notebooks/`` or the key differ from what ``solutions/`` give."""
    root = Path(root)
    key = _load_key(root / KEY_REL)
    problems, names = [], set()
    for path in solution_paths(root):
        nb, target = read(path), root / "notebooks" / path.name
        names.add(path.name)
        try:
            student = render(student_notebook(nb, path.name))
        except ReleaseError as err:
            problems.append(str(err))
            continue
        if not target.exists():
            problems.append(f"notebooks/{path.name}: missing")
        elif target.read_text() != student:
            problems.append(f"notebooks/{path.name}: differs from what solutions/{path.name} generates")
        info = key["notebooks"].get(path.stem)
        if info is None or info["source_sha256"] != source_hash(nb):
            problems.append(f"{KEY_REL.as_posix()}: out of date for solutions/{path.name}")
        elif sorted(question_ids(nb)) != info["questions"]:
            problems.append(f"{KEY_REL.as_posix()}: questions of {path.name} differ from its check calls")
    for stale in sorted((root / "notebooks").glob("*.ipynb")):
        if stale.name not in names:
            problems.append(f"notebooks/{stale.name}: has no solution notebook")
    for name in sorted(set(key["notebooks"]) - {Path(n).stem for n in names}):
        problems.append(f"{KEY_REL.as_posix()}: has questions of {name}, which has no solution")
    return problems


def main(args):
    """Entry point for the CLI subcommand."""
    if args.check:
        problems = check_release(args.root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `python -m helpers release` to regenerate", file=sys.stderr)
            return 1
        print("notebooks/ and the answer key are up to date")
        return 0
    changed = release(args.root, force=args.force)
    for path in changed:
        print(f"wrote {Path(path).relative_to(Path(args.root).resolve()) if Path(path).is_absolute() else path}")
    print(f"{len(changed)} file(s) changed" if changed else "nothing to change")
    return 0


def write_assessment_key(handout, root=ROOT):
    """Replace the hand-out's key by the assessment key (no digests, no hints); return its path.

    The instructor keeps the full key in ``root`` (beside ``solutions/``); ``grade`` uses it.
    """
    from helpers.answers.keying import assessment_key
    source = Path(root) / KEY_PATH.resolve().relative_to(ROOT)
    target = Path(handout) / KEY_PATH.resolve().relative_to(ROOT)
    _write_key(target, assessment_key(_load_key(source)))
    return target

