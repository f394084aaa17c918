"""``python -m helpers release``: solutions/ -> notebooks/ and the answer key.

``release`` executes each solution notebook whose source, or the source of
the ``helpers`` modules it imports (:func:`~helpers.release.notebooks.code_hash`),
changed since the key was built (all of them with ``--force``) in a fresh
kernel, stores the outputs back into the solution (so nbval can compare them),
records the value of every ``check(qid, value, hint=..., points=..., rtol=...,
slips=...)`` call, and writes

- ``notebooks/NN-*.ipynb``: the student copies (see :mod:`helpers.release.blank`);
- ``helpers/answers/answer_key.json``: per question its kind, points, hint,
  tolerance, slips and digests (see :mod:`helpers.answers.keying`), its unlocked
  explanation sealed under the answer (:mod:`helpers.answers.unlock`); per
  written answer its points and kind ``manual``; per notebook the hashes of its
  source and of the helpers it imports, its checked and its written questions.

While a solution runs, ``check`` says "correct" without a key and shows each
question's unlocked explanation (given to it in a file), as a correct answer shows
it later, so the stored outputs are what nbval sees.

``release --check`` executes nothing: it regenerates the student copies in
memory and compares them byte for byte with ``notebooks/``, and checks that
the key covers exactly the questions, sources and imported helpers of
``solutions/``. It exits 1 naming every file that differs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from helpers.answers.checking import KEY_PATH, MODE_ENV, RECORD_ENV, UNLOCKS_ENV, make_entry
from helpers.answers.keying import answer_forms, kind_of, manual_entry
from helpers.release.blank import normalise, student_notebook
from helpers.release.notebooks import (
    ReleaseError,
    code_hash,
    manual_cells,
    question_cells,
    question_ids,
    read,
    render,
    source_hash,
    unlock_cells,
)
from helpers.release.notebooks import solution_paths as _solution_paths

__all__ = ["ROOT", "KEY_REL", "solution_paths", "render", "read", "source_hash", "question_ids", "question_cells",
           "release", "check_release", "execute", "write_assessment_key"]

ROOT = Path(__file__).resolve().parents[2]
KEY_REL = Path("helpers", "answers", KEY_PATH.name)
"""Where the answer key lives in a project (release writes it, grade reads it)."""


def solution_paths(root=ROOT):
    """``solutions/NN-slug.ipynb`` files, sorted; other names are an error."""
    return _solution_paths(root)


def _code_hash(nb, root):
    return code_hash(nb, Path(root) / "helpers")


def _kernel_config(folder):
    """Kernels talk over local sockets in ``folder`` (POSIX), not unencrypted TCP:
    private to this user, and no "running over TCP without encryption" warning."""
    from traitlets.config import Config
    if os.name != "posix":  # pragma: no cover - no IPC transport on Windows
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})


def execute(nb, cwd, name="notebook", timeout=600):
    """Run ``nb`` in a fresh kernel in release mode; return ``(nb, records)``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    with tempfile.TemporaryDirectory() as tmp:
        record, unlocks = Path(tmp) / "checks.jsonl", Path(tmp) / "unlocks.json"
        unlocks.write_text(json.dumps(unlock_texts(nb, name)))
        saved = {k: os.environ.get(k) for k in (RECORD_ENV, MODE_ENV, UNLOCKS_ENV, "PYTHONHASHSEED")}
        os.environ.update({RECORD_ENV: str(record), MODE_ENV: "release", UNLOCKS_ENV: str(unlocks),
                           "PYTHONHASHSEED": "0"})
        try:
            NotebookClient(nb, kernel_name="python3", config=_kernel_config(tmp), timeout=timeout,
                           coalesce_streams=True,
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


def unlock_texts(nb, name="notebook"):
    """``{qid: explanation}``: the text of each question's ``unlock`` cells, joined."""
    return {qid: "\n\n".join(nb.cells[i].source for i in indices) for qid, indices in unlock_cells(nb, name).items()}


def _entries(name, nb, records):
    """Key entries of one executed solution: checked questions, written answers, unlocks."""
    from helpers.answers.serial import decode
    from helpers.answers.unlock import seal
    entries, forms = {}, {}
    for rec in records:
        qid = rec["qid"]
        if qid in entries:
            raise ReleaseError(f"{name}: question {qid!r} is checked twice")
        value = decode(rec["value"])
        if value is ... or value is None:
            raise ReleaseError(f"{name}: question {qid!r} has no answer in the solution")
        try:
            entry = make_entry(qid, value, rec.get("hint"), rec.get("points", 1), rec.get("rtol"),
                               rec.get("slips") or ())
        except (TypeError, ValueError) as err:
            raise ReleaseError(f"{name}: {err}") from None
        entries[qid] = {**entry, "notebook": name}
        forms[qid] = answer_forms(qid, value, kind_of(value), entry.get("rtol"))
    missing = set(question_ids(nb)) - set(entries)
    if missing:
        raise ReleaseError(f"{name}: check calls never ran for {', '.join(sorted(missing))}")
    for qid, (_index, points) in manual_cells(nb, name).items():
        if qid in entries:
            raise ReleaseError(f"{name}: written answer {qid!r} is also checked")
        entries[qid] = {**manual_entry(points), "notebook": name}
    for qid, text in unlock_texts(nb, name).items():
        if qid not in forms:
            raise ReleaseError(f"{name}: an unlock cell names {qid!r}, which no check in it asks")
        entries[qid]["unlock"] = seal(qid, text, forms[qid])
    return entries


def _load_key(path):
    return json.loads(path.read_text()) if path.exists() else {"notebooks": {}, "questions": {}}


def _write_key(path, key):
    path.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")


def _worked_in(path):
    """Whether a student notebook was run in Jupyter (a generated copy has no outputs)."""
    if not path.exists():
        return False
    try:
        cells = json.loads(path.read_text()).get("cells", [])
    except ValueError:
        return True                      # not a notebook we wrote: someone's file
    return any(c.get("outputs") or c.get("execution_count") for c in cells if c.get("cell_type") == "code")


def _notebook_info(nb, name, root, entries):
    manual = sorted(q for q, e in entries.items() if e["kind"] == "manual")
    return {"source_sha256": source_hash(nb), "helpers_sha256": _code_hash(nb, root),
            "questions": sorted(set(entries) - set(manual)), "manual": manual}


def release(root=ROOT, force=False, log=print):
    """Regenerate ``notebooks/`` and the key from ``solutions/``; return changed paths.

    Refuses, changing nothing, when a student notebook it would rewrite has outputs (someone
    ran or answered it there); a notebook without a solution is reported, never deleted.
    """
    root = Path(root)
    if not solution_paths(root):
        raise ReleaseError(f"no solution notebooks in {root / 'solutions'}: nothing to release from "
                           "(a student hand-out never regenerates its notebooks)")
    worked = [p.name for p in solution_paths(root) if _worked_in(root / "notebooks" / p.name)]
    if worked:
        raise ReleaseError(f"notebooks/{', notebooks/'.join(worked)}: was run here (it has outputs) and may hold "
                           "answers; release would overwrite it: move it away first")
    key_path = root / KEY_REL
    old = _load_key(key_path)
    key = {"format": 2, "notebooks": {}, "questions": {}}
    changed = []
    for path in solution_paths(root):
        name = path.stem
        nb = read(path)
        student = student_notebook(nb, path.name)          # validates the markers first
        before = old["notebooks"].get(name, {})
        if (not force and before.get("source_sha256") == source_hash(nb)
                and before.get("helpers_sha256") == _code_hash(nb, root) and "manual" in before):
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
        key["notebooks"][name] = _notebook_info(nb, name, root, entries)
        key["questions"].update(entries)
        target = root / "notebooks" / path.name
        if not target.exists() or target.read_text() != render(student):
            target.parent.mkdir(exist_ok=True)
            target.write_text(render(student))
            changed.append(target)
    expected = {p.name for p in solution_paths(root)}
    for stale in sorted((root / "notebooks").glob("*.ipynb")):
        if stale.name not in expected:
            log(f"notebooks/{stale.name}: has no solution notebook; left in place (delete it if it is stale)")
    if _load_key(key_path) != key:
        key_path.parent.mkdir(parents=True, exist_ok=True)
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
        info, where = key["notebooks"].get(path.stem), KEY_REL.as_posix()
        if info is None or info["source_sha256"] != source_hash(nb):
            problems.append(f"{where}: out of date for solutions/{path.name}")
        elif info.get("helpers_sha256") != _code_hash(nb, root):
            problems.append(f"{where}: out of date for solutions/{path.name}: helpers it imports changed")
        elif sorted(question_ids(nb)) != info["questions"] or sorted(manual_cells(nb)) != info.get("manual"):
            problems.append(f"{where}: questions of {path.name} differ from its check calls and written answers")
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
    """Replace the hand-out's key by the assessment key (no digests, hints or sealed texts); return its path.

    The instructor keeps the full key in ``root`` (beside ``solutions/``); ``grade`` uses it.
    """
    from helpers.answers.keying import assessment_key
    target = Path(handout) / KEY_REL
    _write_key(target, assessment_key(_load_key(Path(root) / KEY_REL)))
    return target

