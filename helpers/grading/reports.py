"""Grading reports: the grades CSV, a Canvas gradebook CSV, feedback, the summary, a progress bar.

Examples
--------
>>> _fmt(2.0), _fmt(0.5)
('2', '0.5')
>>> canvas_path("out/grades.csv").as_posix()
'out/grades.canvas.csv'
"""

from __future__ import annotations

import csv
import html
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["write_csv", "write_canvas", "canvas_path", "write_feedback", "summary", "progress",
           "flag_coincidences", "score"]


def _fmt(points):
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


def score(row):
    """Points earned: automatic plus any hand-graded points merged in."""
    return sum(row["points"].values()) + sum(v for v in row.get("manual", {}).values() if v is not None)


def _atomic_write(text, out):
    """Write ``out`` through a temporary file renamed over it, readable as a normal new file is."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, (0o666 & ~mask) | 0o040)   # mkstemp makes 0600; grades are shared with the group
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(rows, qids, out):
    """``student,notebook,status,score,max_score,<qid>...,notes``, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "notebook", "status", "score", "max_score", *qids, "notes"])
    for r in rows:
        values = {**r["points"], **{q: v for q, v in r.get("manual", {}).items() if v is not None}}
        writer.writerow([r["student"], r["notebook"], r["status"], _fmt(score(r)), _fmt(r["max_score"]),
                         *[_fmt(values[q]) if q in values else "" for q in qids], "; ".join(r["notes"])])
    _atomic_write(buffer.getvalue(), out)


def canvas_path(out):
    out = Path(out)
    return out.with_name(f"{out.stem}.canvas{out.suffix or '.csv'}")


def write_canvas(rows, out):
    """A Canvas gradebook import: one row per student, one column per notebook, a points-possible row.

    The student folder name goes in ``SIS Login ID``, which Canvas matches on import.
    """
    names = sorted({r["notebook"] for r in rows})
    maxima = {r["notebook"]: r["max_score"] for r in rows}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     *[n.removesuffix(".ipynb") for n in names]])
    writer.writerow(["Points Possible", "", "", "", "", *[_fmt(maxima[n]) for n in names]])
    for student in sorted({r["student"] for r in rows}):
        mine = {r["notebook"]: r for r in rows if r["student"] == student}
        writer.writerow([student, "", "", student, "", *[_fmt(score(mine[n])) if n in mine else "" for n in names]])
    _atomic_write(buffer.getvalue(), out)


def write_feedback(rows, questions, notebooks, folder):
    """One Markdown and one HTML file per student: earned/maximum points, verdicts and hints, never answers."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))   # renamed into place
    for student in sorted({r["student"] for r in rows}):
        md, body = [f"# Feedback for {student}", ""], []
        for r in (r for r in rows if r["student"] == student):
            head = f"{r['notebook']}: {_fmt(score(r))} / {_fmt(r['max_score'])} points (status: {r['status']})"
            items = []
            for q, message in r["feedback"].items():
                if q in r.get("manual", {}):
                    earned, most = r["manual"][q], _manual_max(notebooks[r["notebook"]], q)
                    shown = "pending" if earned is None else _fmt(earned)
                else:
                    shown, most = _fmt(r["points"].get(q, 0)), questions[q]["points"]
                items.append((q, f"{shown}/{_fmt(most)} pt", message))
            md += [f"## {head}", ""] + [f"- `{q}` ({pts}): {m}" for q, pts, m in items]
            md += [f"- note: {n}" for n in r["notes"]] + [""]
            cells = "".join(f"<tr><td><code>{html.escape(q)}</code></td><td>{html.escape(pts)}</td>"
                            f"<td>{html.escape(m)}</td></tr>" for q, pts, m in items)
            notes = "".join(f"<li>{html.escape(n)}</li>" for n in r["notes"])
            body.append(f"<h2>{html.escape(head)}</h2><table><tr><th>question</th><th>points</th>"
                        f"<th>feedback</th></tr>{cells}</table><ul>{notes}</ul>")
        (staging / f"{student}.md").write_text("\n".join(md))
        (staging / f"{student}.html").write_text(
            f"<!doctype html><meta charset='utf-8'><title>Feedback for {html.escape(student)}</title>"
            f"<h1>Feedback for {html.escape(student)}</h1>{''.join(body)}")
    staging.chmod(0o777 & ~_umask())
    if folder.exists():
        shutil.rmtree(folder)                  # only reached with --force
    staging.rename(folder)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _manual_max(release, qid):
    return next(m["points"] for m in release["manual"].values() if m["qid"] == qid)


def flag_coincidences(rows, notebooks):
    """Note byte-identical submissions, and identical sets of two or more identical wrong answers.

    Equal correct answers are no coincidence and are not flagged, nor are untouched copies
    of the released notebook.
    """
    groups = {}
    for r in rows:
        if r.get("file_digest") and r["file_digest"] != notebooks[r["notebook"]]["digest"]:
            groups.setdefault(("file", r["notebook"], r["file_digest"]), []).append(r)
        if len(r.get("wrong", {})) >= 2:
            groups.setdefault(("wrong", r["notebook"], tuple(sorted(r["wrong"].items()))), []).append(r)
    for (kind, _, _), group in sorted(groups.items(), key=lambda kv: kv[0][:2]):
        students = sorted({r["student"] for r in group})
        if len(students) < 2:
            continue
        for r in group:
            others = ", ".join(s for s in students if s != r["student"])
            if kind == "file":
                r["notes"].append(f"byte-identical file to {others}'s")
            else:
                r["notes"].append(f"the same {len(r['wrong'])} wrong answers as {others}")


def progress(done, total, stream=sys.stderr):
    width = 30
    filled = width * done // max(total, 1)
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        stream.write("\n")
    stream.flush()


def summary(rows, notebooks, questions, log, review=None):
    """Per notebook: how many graded, the mean score and it as a percentage of the maximum;
    per question how many were right; the parts graded by hand."""
    submitted = [r for r in rows if r["status"] != "missing"]
    if not submitted:
        log("nothing graded: every expected notebook is missing")
        return
    log(f"graded {len(submitted)} notebook(s) from {len({r['student'] for r in submitted})} student(s); "
        f"{len(rows) - len(submitted)} missing; statuses: "
        + ", ".join(f"{s} {sum(r['status'] == s for r in rows)}" for s in sorted({r['status'] for r in rows})))
    for name in sorted({r["notebook"] for r in rows}):
        mine = [r for r in submitted if r["notebook"] == name]
        if not mine:
            log(f"{name}: no submissions")
            continue
        top = mine[0]["max_score"]
        mean = sum(score(r) for r in mine) / len(mine)
        log(f"{name}: {len(mine)} submitted, mean {mean:.2f} / {_fmt(top)} = {100 * mean / top:.1f} % of the maximum")
        for q in notebooks[name]["questions"]:
            right = sum(1 for r in mine if r["points"].get(q, 0) > 0)
            log(f"  {q:<34} {right}/{len(mine)} correct")
        for info in notebooks[name]["manual"].values():
            pending = sum(1 for r in mine if r["manual"].get(info["qid"]) is None)
            log(f"  {info['qid']:<34} graded by hand ({_fmt(info['points'])} pt): {pending} pending"
                + (f"; review page in {review}" if review else "; write the review page with --review DIR"))
