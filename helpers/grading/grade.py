"""``python -m helpers grade``: grade a class's notebooks against the answer key.

Layout: one folder per student holding that student's notebooks under their
release names (``class/alice/08-tpu-utilisation.ipynb``). Each PATH is a class
folder (its sub-folders are students) or a student folder (it holds
notebooks). Stray files and unknown notebook names are reported, not graded.

Each submission is read (never modified: it is parsed from its bytes),
restored onto the release (:mod:`helpers.restore`), run in a fresh sandboxed
kernel (:mod:`helpers.sandbox`), and its recorded answers are judged against
the key here, in the grader. A question scores its points when correct and 0
otherwise, with a reason (wrong, blank, its cell raised, never reached).

Outputs: ``grades.csv`` (``student,notebook,status,score,max_score``, one
column per question id, ``notes``), written atomically and identical on
re-runs; with ``--feedback DIR`` a Markdown and an HTML file per student
(verdicts and hints, never answers); a summary on stdout.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from helpers.answers.checking import judge
from helpers.release.build import KEY_REL, ROOT, question_cells, question_ids
from helpers.grading import reports

__all__ = ["find_submissions", "grade_one", "run", "parse_size"]


def parse_size(text):
    """``"2G"``, ``"512M"``, ``"1.5GiB"`` or bytes -> bytes.

    Examples
    --------
    >>> parse_size("2G"), parse_size("512m"), parse_size("100000000")
    (2147483648, 536870912, 100000000)
    """
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"malformed size {text!r}: use e.g. 2G, 512M or a number of bytes") from None
    if value < 64 * 2**20:
        raise ValueError(f"memory limit {text!r} is too small to start a kernel (minimum 64M)")
    return int(value)


def _release(root):
    import nbformat
    key = json.loads((Path(root) / KEY_REL).read_text())
    notebooks = {}
    for name, info in sorted(key["notebooks"].items()):
        path = Path(root) / "notebooks" / f"{name}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        order = question_ids(nb)                      # columns follow the notebook, not the key
        notebooks[f"{name}.ipynb"] = {"nb": nb, "questions": order + sorted(set(info["questions"]) - set(order))}
    return key["questions"], notebooks


def find_submissions(paths, release_names):
    """``(submissions, notices)``: submissions are ``(student, notebook, path)``; notices
    name what was found but not graded."""
    found, notices, seen = [], [], {}
    for base in map(Path, paths):
        if not base.is_dir():
            notices.append(f"{base}: not a folder, skipped")
            continue
        students = [base] if any(p.suffix == ".ipynb" for p in base.iterdir() if p.is_file()) \
            else sorted(p for p in base.iterdir() if p.is_dir())
        if students != [base]:
            notices += [f"{p}: stray file in the class folder, not graded"
                        for p in sorted(base.iterdir()) if p.is_file()]
        for folder in students:
            for path in sorted(folder.iterdir()):
                real = path.resolve()
                if real in seen:
                    continue
                seen[real] = True
                if path.is_dir():
                    notices.append(f"{path}: unexpected folder, not graded")
                elif path.name not in release_names:
                    notices.append(f"{path}: unknown notebook name, not graded")
                else:
                    found.append((folder.name, path.name, str(path)))
    return found, notices


def grade_one(task):
    """Grade one submission; ``task`` is a dict (picklable, for worker processes)."""
    import nbformat

    from helpers.grading.restore import match_score, restore
    from helpers.grading.sandbox import run_notebook
    from helpers.answers.serial import decode
    questions, notebooks = _release(task["root"])
    release = notebooks[task["notebook"]]
    qids = release["questions"]
    row = {"student": task["student"], "notebook": task["notebook"], "status": "ok",
           "points": dict.fromkeys(qids, 0), "max_score": sum(questions[q]["points"] for q in qids),
           "feedback": {}, "notes": []}

    def fail(status, note):
        row["status"] = status
        row["notes"].append(note)
        for q in qids:
            row["feedback"][q] = f"not graded: {note}"
        return row

    data = Path(task["path"]).read_bytes()
    try:
        submitted = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as err:  # noqa: BLE001 - anything unreadable is "invalid"
        return fail("invalid", f"not a readable notebook ({type(err).__name__})")
    if not submitted.cells:
        return fail("empty", "the notebook has no cells")
    score = match_score(release["nb"], submitted)
    if score < 0.5:
        best = max(notebooks, key=lambda n: match_score(notebooks[n]["nb"], submitted))
        if best != task["notebook"] and match_score(notebooks[best]["nb"], submitted) >= 0.5:
            return fail("wrong-notebook", f"this is {best}, not {task['notebook']}")
        row["notes"].append(f"only {score:.0%} of the released cells were found")
    restored = restore(release["nb"], submitted)
    if restored.restored:
        row["notes"].append("restored cells " + ", ".join(map(str, restored.restored)))
    row["notes"] += restored.notes
    cell_of = question_cells(release["nb"])          # restoring keeps the release's cell indices
    outcome = run_notebook(restored.nb, task["deny"], task["memory"], task["cell_timeout"], task["timeout"])
    row["status"] = outcome.status
    row["notes"] += outcome.notes
    for index, message in sorted(outcome.errors.items()):
        row["notes"].append(f"cell {index} raised {message}")
    for q in qids:
        index = cell_of.get(q)
        record = outcome.records.get(q)
        if record is not None and record[0] == index:
            try:
                verdict = judge(q, decode(record[1]), questions[q])
                message = verdict.message
            except (ValueError, KeyError, TypeError):
                verdict, message = None, "not correct: the value could not be recorded."
            if verdict is not None and verdict.status == "correct":
                row["points"][q] = questions[q]["points"]
            row["feedback"][q] = message
        elif index in outcome.errors:
            row["feedback"][q] = f"0 points: its cell raised {outcome.errors[index].split(':')[0]}"
        elif index not in outcome.reached:
            row["feedback"][q] = "0 points: never reached (an earlier problem stopped the notebook)"
        else:
            row["feedback"][q] = "0 points: its check did not run"
    row["answers_digest"] = _answers_digest(restored.nb)
    return row


def _answers_digest(nb):
    return hashlib.sha256("\n".join(c.source for c in nb.cells if c.cell_type == "code").encode()).hexdigest()


def run(paths, out, feedback=None, jobs=1, timeout=300, cell_timeout=60, memory=2 * 2**30,
        root=ROOT, log=print, progress=True):
    """Grade everything under ``paths``; returns the rows (also written to ``out``)."""
    questions, notebooks = _release(root)
    submissions, notices = find_submissions(paths, set(notebooks))
    from helpers.answers.checking import KEY_PATH
    deny = [str(Path(root) / "solutions"), str(Path(root) / KEY_REL),
            str(KEY_PATH), str(ROOT / "solutions"), *[str(Path(p).resolve()) for p in paths]]
    _warm_matplotlib()
    tasks, rows, first = [], [], {}
    for student, notebook, path in submissions:
        if (student, notebook) in first:
            rows.append({"student": student, "notebook": notebook, "status": "duplicate", "points": {},
                         "max_score": sum(questions[q]["points"] for q in notebooks[notebook]["questions"]),
                         "feedback": {}, "notes": [f"also submitted as {first[student, notebook]}; "
                                                   "the first copy is graded"]})
            continue
        first[student, notebook] = path
        tasks.append({"student": student, "notebook": notebook, "path": path, "root": str(root),
                      "deny": deny, "memory": memory, "cell_timeout": cell_timeout, "timeout": timeout})
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(grade_one, t) for t in tasks]
            for done, future in enumerate(futures, 1):
                rows.append(future.result())
                if progress:
                    reports.progress(done, len(tasks))
    else:
        for done, task in enumerate(tasks, 1):
            rows.append(grade_one(task))
            if progress:
                reports.progress(done, len(tasks))
    _flag_identical(rows)
    rows.sort(key=lambda r: (r["student"], r["notebook"], r["status"] == "duplicate"))
    qids = [q for name in notebooks for q in notebooks[name]["questions"]
            if any(r["notebook"] == name for r in rows)]
    reports.write_csv(rows, qids, out)
    if feedback:
        reports.write_feedback(rows, feedback)
    for notice in notices:
        log(notice)
    reports.summary(rows, qids, log)
    return rows


def _flag_identical(rows):
    by_digest = {}
    for r in rows:
        if r.get("answers_digest"):
            by_digest.setdefault((r["notebook"], r["answers_digest"]), []).append(r)
    for group in by_digest.values():
        if len(group) > 1 and any(sum(r["points"].values()) for r in group):
            for r in group:
                others = sorted(o["student"] for o in group if o is not r)
                r["notes"].append("identical answers to " + ", ".join(others))
    for r in rows:
        r.pop("answers_digest", None)


def _warm_matplotlib():
    """Build matplotlib's font cache here, so that sandboxed kernels never need to write it."""
    try:
        import matplotlib.font_manager  # noqa: F401
    except ImportError:  # pragma: no cover
        pass


def benchmark(copies, jobs, notebook="08-tpu-utilisation.ipynb", root=ROOT, log=print):
    """Grade ``copies`` copies of a worked notebook (a perfect submission); return notebooks/min."""
    import time
    source = Path(root) / "solutions" / notebook
    with tempfile.TemporaryDirectory(prefix="workbook-bench-") as tmp:
        for i in range(copies):
            folder = Path(tmp) / "class" / f"student{i:03d}"
            folder.mkdir(parents=True)
            shutil.copy(source, folder / notebook)
        start = time.perf_counter()
        rows = run([Path(tmp) / "class"], Path(tmp) / "grades.csv", jobs=jobs, root=root, log=lambda *a: None)
        seconds = time.perf_counter() - start
    full = sum(1 for r in rows if sum(r["points"].values()) == r["max_score"])
    rate = 60 * copies / seconds
    log(f"graded {copies} copies of {notebook} with --jobs {jobs} in {seconds:.1f} s: "
        f"{rate:.1f} notebooks/min, {seconds / copies:.2f} s each; {full}/{copies} full marks")
    return rate


def main(args):
    """Entry point for the CLI subcommand."""
    if args.benchmark:
        benchmark(args.benchmark, args.jobs, root=args.root)
        return 0
    if not args.paths or not args.out:
        raise ValueError("grade needs PATH... and --out (or --benchmark N)")
    run(args.paths, args.out, args.feedback, args.jobs, args.timeout, args.cell_timeout,
        parse_size(args.memory), args.root, progress=not args.quiet)
    return 0
