"""``python -m helpers grade``: grade a class's notebooks against the instructor's key.

Each submission (found by :mod:`~helpers.grading.collect`) is read, never modified;
restored onto the release (:mod:`~helpers.grading.restore`, with what
:mod:`~helpers.grading.released` reads of the release and the key); run alone in a fresh
sandbox (:mod:`~helpers.grading.sandbox`); and its recorded answers are judged
here, outside, against the instructor's key (the project's key, which holds every
digest; a handout made with ``release --assessment`` holds none). A question
scores its points when correct and 0 otherwise, with a reason.

Whatever one submission does, it becomes that submission's row: a notebook that
is not JSON, a sandbox that fails to start (retried), a kernel that dies, a
grader error. The run always ends with a CSV, also when interrupted, and leaves
no process or temporary folder behind. Existing outputs are never overwritten
without ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers.grading import collect, reports, sandbox
from helpers.grading.released import ROOT, key_path, release_info
from helpers.grading.restore import CHECK_ALIAS, cells_of, match_score, restore

__all__ = ["run", "grade_one", "verdict", "release_info", "parse_size", "OutputExists", "benchmark", "main"]

START_ATTEMPTS = 3
"""Tries to start a sandbox that failed before running any cell (e.g. a busy machine)."""


class OutputExists(ValueError):
    """An output file or folder exists and ``--force`` was not given."""


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


def _new_row(sub, questions, notebooks):
    """A row with every question at 0 points, before grading."""
    release = notebooks[sub.notebook]
    manual = [m["qid"] for m in release["manual"].values()]
    return {"student": sub.student, "notebook": sub.notebook, "status": "ok",
            "points": dict.fromkeys(release["questions"], 0), "feedback": {}, "notes": list(sub.notes),
            "max_score": sum(questions[q]["points"] for q in release["questions"] + manual),
            "manual": dict.fromkeys(manual), "written": {}, "file_digest": None, "wrong": {}}


def grade_one(task, questions, notebooks):
    """Grade one submission; never raises (a failure is the row's status and note)."""
    release = notebooks[task.notebook]
    row = _new_row(task, questions, notebooks)
    try:
        _grade(task, row, questions, notebooks, release)
    except Exception as err:  # noqa: BLE001 - one submission must never stop the class
        row["status"] = "grader-error"
        row["notes"].append(f"the grader failed on this submission ({type(err).__name__}: {str(err)[:200]}); "
                            "please report it")
    return row


def _fail(row, status, note):
    row["status"] = status
    row["notes"].append(note)
    for q in row["points"]:
        row["feedback"][q] = f"not graded: {note}"
    return row


def _grade(task, row, questions, notebooks, release):
    if task.path is None:
        return _fail(row, "missing", "no submission")
    data = Path(task.path).read_bytes()
    row["file_digest"] = hashlib.sha256(data).hexdigest()
    try:
        submitted, problems = cells_of(json.loads(data.decode("utf-8-sig")))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        return _fail(row, "invalid", f"not a readable notebook ({str(err)[:80] or type(err).__name__})")
    row["notes"] += problems
    if not submitted:
        return _fail(row, "empty", "the notebook has no cells")
    score = match_score(release["cells"], submitted)
    if score < 0.5:
        best = max(notebooks, key=lambda n: match_score(notebooks[n]["cells"], submitted))
        if best != task.notebook and match_score(notebooks[best]["cells"], submitted) >= 0.5:
            return _fail(row, "wrong-notebook", f"this is {best}, not {task.notebook}")
        row["notes"].append(f"only {score:.0%} of the released cells were found")
    restored = restore(release["cells"], submitted)
    row["notes"] += restored.notes
    for index, info in release["manual"].items():
        row["written"][info["qid"]] = restored.written.get(index, "")
    outcome = None
    for attempt in range(START_ATTEMPTS):
        outcome = sandbox.run(restored.cells, prelude=f"from helpers import check as {CHECK_ALIAS}",
                              memory=task.memory, cell_timeout=task.cell_timeout, timeout=task.timeout,
                              runtime=task.runtime, slot=task.slot, deny=task.deny)
        if outcome.reached or outcome.ended or outcome.status == "timeout":
            break
        if attempt + 1 < START_ATTEMPTS:
            outcome.notes.append("retrying: the sandbox did not start")
    row["status"] = outcome.status
    row["cpu"] = outcome.cpu
    row["notes"] += outcome.notes
    for cell, message in outcome.errors.items():            # in the order the cells ran
        row["notes"].append(f"cell {cell} raised {message}")
    _judge(row, questions, release, outcome)
    return row


def verdict(qid, payload, entry):
    """The grader's verdict on a recorded (encoded) value: the student's ``check`` verdict on it."""
    from helpers.answers import Verdict, judge
    from helpers.answers.serial import decode
    try:
        value = decode(payload)
    except (ValueError, KeyError, TypeError, OverflowError, AttributeError):
        return Verdict(qid, "wrong", "not correct: the value could not be recorded.")
    return judge(qid, value, entry)


def _judge(row, questions, release, outcome):
    for q in release["questions"]:
        cell = release["owner"].get(q)
        points = questions[q]["points"]
        if (q, cell) in outcome.records:
            result = verdict(q, outcome.records[q, cell], questions[q])
            if result.status == "correct":
                row["points"][q] = points
            elif result.status == "wrong":
                row["wrong"][q] = json.dumps(outcome.records[q, cell], sort_keys=True)
            row["feedback"][q] = result.message
        elif cell in outcome.errors:
            row["feedback"][q] = f"0 points: its cell raised {outcome.errors[cell].split(':')[0]} before the check"
        elif cell not in outcome.reached:
            row["feedback"][q] = "0 points: its cell never ran (the notebook stopped before it)"
        elif cell not in outcome.finished:
            row["feedback"][q] = "0 points: its cell did not finish (time limit, or the process died in it)"
        else:
            row["feedback"][q] = "0 points: its cell ran to the end but its check recorded nothing"
    for info in release["manual"].values():
        row["feedback"][info["qid"]] = "graded by hand" + ("" if row["written"].get(info["qid"])
                                                          else " (no written answer was found)")


class _Task:
    def __init__(self, submission, **limits):
        self.student, self.notebook, self.path = submission.student, submission.notebook, submission.path
        self.notes = submission.notes
        self.__dict__.update(limits)


def _check_outputs(paths, force):
    for path in paths:
        if path is not None and Path(path).exists() and not force:
            kind = "folder" if Path(path).is_dir() else "file"
            raise OutputExists(f"{path}: the {kind} exists; refusing to overwrite it "
                               "(pass --force, or choose another name)")


def run(paths, out, feedback=None, jobs=1, timeout=300, cell_timeout=60, memory=2 * 2**30, root=ROOT,
        log=print, progress=True, force=False, canvas=False, review=None, merge=None, only=None, key=None):
    """Grade everything under ``paths``; returns the rows (also written to ``out``)."""
    from helpers.grading import manual
    canvas_out = reports.canvas_path(out) if canvas else None
    _check_outputs([out, feedback, canvas_out, review], force)
    questions, notebooks = release_info(root, key)
    submissions, notices = collect.collect(paths, set(notebooks), only)
    points = manual.read_points(merge, log) if merge else {}
    log(sandbox.isolation())
    deny = [str(Path(root).resolve() / "solutions"), str(key_path(root).resolve()), str(Path(root).resolve() / "tests"),
            *[str(Path(p).resolve()) for p in paths]]
    rows = [None] * len(submissions)
    public = tempfile.mkdtemp(prefix="workbook-runtime-")
    slots, lock, stop = list(range(max(1, jobs))), threading.Lock(), threading.Event()

    def work(index):
        with lock:
            slot = slots.pop()
        try:
            task = _Task(submissions[index], memory=memory, cell_timeout=cell_timeout, timeout=timeout,
                         runtime=runtime, slot=slot, deny=deny)
            row = grade_one(task, questions, notebooks) if not stop.is_set() else None
            rows[index] = row if not stop.is_set() else None      # a sandbox killed by the interrupt
        finally:
            with lock:
                slots.append(slot)
        return index

    try:
        runtime = sandbox.prepare(public, key_path(ROOT))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(work, i) for i in range(len(submissions))]
            try:
                for done, future in enumerate(futures, 1):
                    future.result()
                    if progress:
                        reports.progress(done, len(futures))
            except BaseException:
                stop.set()
                for f in futures:
                    f.cancel()
                sandbox.kill_all()
                raise
    finally:
        for i, row in enumerate(rows):
            if row is None:
                rows[i] = grade_one(_Task(submissions[i]), questions, notebooks) if submissions[i].path is None \
                    else _fail(_new_row(submissions[i], questions, notebooks), "interrupted",
                               "grading was interrupted before this submission finished")
        _finish(rows, notebooks, questions, points, out, feedback, canvas_out, review, notices, log)
        shutil.rmtree(public, ignore_errors=True)
    return rows


def _finish(rows, notebooks, questions, points, out, feedback, canvas_out, review, notices, log):
    from helpers.grading import manual
    reports.flag_coincidences(rows, notebooks)
    manual.merge(rows, points, log)
    qids = [q for name in notebooks if any(r["notebook"] == name for r in rows)
            for q in notebooks[name]["questions"] + [m["qid"] for m in notebooks[name]["manual"].values()]]
    reports.write_csv(rows, qids, out)
    if canvas_out:
        reports.write_canvas(rows, canvas_out)
    if feedback:
        reports.write_feedback(rows, questions, notebooks, feedback)
    if review:
        manual.write_review(rows, notebooks, review)
    for notice in notices:
        log(notice)
    reports.summary(rows, notebooks, questions, log, review)


def perfect_submission(solution_path):
    """What a student who answers everything as the solution does hands in: the solution
    notebook without its solution-only cells (its written answers stay), as text."""
    import nbformat
    nb = nbformat.read(str(solution_path), as_version=4)
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])
                or "manual" in c.metadata.get("tags", [])]
    return nbformat.writes(nb)


def benchmark(copies, jobs, notebook="08-tpu-utilisation.ipynb", root=ROOT, log=print):
    """Grade ``copies`` copies of a worked notebook (a perfect submission); return notebooks/min."""
    import time
    perfect = perfect_submission(Path(root) / "solutions" / notebook)
    with tempfile.TemporaryDirectory(prefix="workbook-bench-") as tmp:
        for i in range(copies):
            folder = Path(tmp) / "class" / f"student{i:03d}"
            folder.mkdir(parents=True)
            (folder / notebook).write_text(perfect, encoding="utf-8")
        start = time.perf_counter()
        rows = run([Path(tmp) / "class"], Path(tmp) / "grades.csv", jobs=jobs, root=root, log=lambda *a: None,
                   progress=False)
        seconds = time.perf_counter() - start
    full = sum(1 for r in rows if r["status"] == "ok"                  # every automatically graded answer right
               and all(p for p in r["points"].values() if p is not None and p != ""))
    rate = 60 * copies / seconds
    cpu = [r["cpu"] for r in rows if r.get("cpu")]
    mean = sum(cpu) / max(1, len(cpu))
    log(f"graded {copies} copies of {notebook} with --jobs {jobs} in {seconds:.1f} s: "
        f"{rate:.1f} notebooks/min, {seconds / copies:.2f} s each; {full}/{copies} with every checked answer right; "
        f"{mean:.2f} CPU s per notebook inside the sandbox; {sandbox.isolation()}")
    return rate


def main(args):
    """Entry point for the CLI subcommand; a user mistake is one line and a non-zero exit."""
    if args.benchmark:
        benchmark(args.benchmark, args.jobs, root=args.root)
        return 0
    if not args.paths or not args.out:
        raise ValueError("grade needs PATH... and --out (or --benchmark N)")
    import signal
    signal.signal(signal.SIGTERM, signal.default_int_handler)     # a terminated run also ends with a CSV
    try:
        run(args.paths, args.out, args.feedback, args.jobs, args.timeout, args.cell_timeout,
            parse_size(args.memory), args.root, progress=not args.quiet, force=args.force,
            canvas=args.format == "canvas", review=args.review, merge=args.merge,
            only=[n if n.endswith(".ipynb") else f"{n}.ipynb" for n in args.notebooks] if args.notebooks else None,
            key=args.key)
    except KeyboardInterrupt:
        print(f"interrupted: the rows graded so far are in {args.out}", file=__import__("sys").stderr)
        return 130
    except (collect.ClassError, OutputExists, FileNotFoundError) as err:
        print(f"python -m helpers grade: error: {err}", file=__import__("sys").stderr)
        return 2
    return 0
