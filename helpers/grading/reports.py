"""Grading reports: the CSV of grades, per-student feedback, the summary and a progress bar.

Examples
--------
>>> _fmt(2.0), _fmt(0.5)
('2', '0.5')
"""

from __future__ import annotations

import csv
import html
import io
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["write_csv", "write_feedback", "summary", "progress"]


def _fmt(points):
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


def write_csv(rows, qids, out):
    """Write the grades atomically (a temporary file renamed over ``out``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "notebook", "status", "score", "max_score", *qids, "notes"])
    for r in rows:
        writer.writerow([r["student"], r["notebook"], r["status"], _fmt(sum(r["points"].values())),
                         _fmt(r["max_score"]), *[_fmt(r["points"][q]) if q in r["points"] else "" for q in qids],
                         "; ".join(r["notes"])])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(buffer.getvalue())
    os.replace(tmp, out)


def write_feedback(rows, folder):
    """One Markdown and one HTML file per student: verdicts and hints, never answers."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for student in sorted({r["student"] for r in rows}):
        md, body = [f"# Feedback for {student}", ""], []
        for r in (r for r in rows if r["student"] == student):
            head = (f"{r['notebook']}: {_fmt(sum(r['points'].values()))} / {_fmt(r['max_score'])} "
                    f"(status: {r['status']})")
            md += [f"## {head}", ""] + [f"- `{q}` ({_fmt(r['points'][q])} pt): {m}" for q, m in r["feedback"].items()]
            md += [f"- note: {n}" for n in r["notes"]] + [""]
            items = "".join(f"<tr><td><code>{html.escape(q)}</code></td><td>{_fmt(r['points'][q])}</td>"
                            f"<td>{html.escape(m)}</td></tr>" for q, m in r["feedback"].items())
            notes = "".join(f"<li>{html.escape(n)}</li>" for n in r["notes"])
            body.append(f"<h2>{html.escape(head)}</h2><table><tr><th>question</th><th>points</th>"
                        f"<th>feedback</th></tr>{items}</table><ul>{notes}</ul>")
        (folder / f"{student}.md").write_text("\n".join(md))
        (folder / f"{student}.html").write_text(
            f"<!doctype html><meta charset='utf-8'><title>Feedback for {html.escape(student)}</title>"
            f"<h1>Feedback for {html.escape(student)}</h1>{''.join(body)}")


def progress(done, total, stream=sys.stderr):
    width = 30
    filled = width * done // max(total, 1)
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        stream.write("\n")
    stream.flush()


def summary(rows, qids, log):
    graded = [r for r in rows if r["status"] != "duplicate"]
    if not graded:
        log("nothing graded")
        return
    mean = sum(sum(r["points"].values()) for r in graded) / len(graded)
    log(f"graded {len(graded)} notebook(s) from {len({r['student'] for r in graded})} student(s); "
        f"mean score {mean:.2f}; statuses: " + ", ".join(
            f"{s} {sum(r['status'] == s for r in graded)}" for s in sorted({r['status'] for r in graded})))
    for q in qids:
        tried = [r for r in graded if q in r["points"]]
        right = sum(1 for r in tried if r["points"][q] > 0)
        log(f"  {q:<34} {right}/{len(tried)} correct")
