"""Written answers graded by hand: a review page, a points sheet, and merging the sheet back.

A cell tagged ``solution`` and ``manual`` with metadata ``{"workbook": {"manual":
"topic.part", "points": N}}`` is graded by hand. ``grade --review DIR`` writes

- ``DIR/review.html``: per question, the model answer (from ``solutions/``) and every
  student's answer beside it (escaped text, no scripts);
- ``DIR/points.csv``: ``student,notebook,question,max_points,points,comment``, one row
  per student and question, ``points`` left empty for the instructor to fill.

``grade ... --merge DIR/points.csv`` folds the filled sheet into ``grades.csv`` (the
question's column and the score) and the feedback files (the comment).

Examples
--------
>>> _parse_points("1.5", 2), _parse_points("", 2), _parse_points("3", 2)
(1.5, None, 'more than the 2 points the question is worth')
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

__all__ = ["write_review", "read_points", "merge", "HEADER"]

HEADER = ["student", "notebook", "question", "max_points", "points", "comment"]


def write_review(rows, notebooks, folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sheet = io.StringIO()
    writer = csv.writer(sheet, lineterminator="\n")
    writer.writerow(HEADER)
    sections = []
    for name in sorted({r["notebook"] for r in rows}):
        for info in notebooks[name]["manual"].values():
            q = info["qid"]
            answers = [r for r in rows if r["notebook"] == name and r["status"] != "missing"]
            items = "".join(
                f"<tr><td>{html.escape(r['student'])}</td><td><pre>{html.escape(r['written'].get(q) or '(no answer)')}"
                f"</pre></td></tr>" for r in answers)
            sections.append(f"<h2>{html.escape(name)}: <code>{html.escape(q)}</code> ({info['points']} pt)</h2>"
                            f"<h3>Model answer</h3><pre>{html.escape(info['model'])}</pre>"
                            f"<table><tr><th>student</th><th>answer</th></tr>{items}</table>")
            for r in answers:
                writer.writerow([r["student"], name, q, info["points"], "", ""])
    (folder / "review.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>Answers to grade by hand</title>"
        "<style>pre{white-space:pre-wrap;max-width:60em}td{vertical-align:top;border-top:1px solid #ccc}</style>"
        "<h1>Answers to grade by hand</h1>" + ("".join(sections) or "<p>No question is graded by hand.</p>"))
    (folder / "points.csv").write_text(sheet.getvalue())


def _parse_points(text, most):
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return f"not a number: {text!r}"
    if value < 0:
        return "negative"
    if value > most:
        return f"more than the {most:g} points the question is worth"
    return value


def read_points(path, log):
    """``{(student, notebook, question): (points, comment)}`` from a filled points sheet."""
    entries = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(HEADER[:5]) <= set(reader.fieldnames):
            raise ValueError(f"{path}: not a points sheet (expected columns {', '.join(HEADER)})")
        for line, rec in enumerate(reader, 2):
            try:
                most = float(rec["max_points"])
            except (TypeError, ValueError):
                log(f"{path}, line {line}: max_points is not a number; row ignored")
                continue
            value = _parse_points(rec["points"], most)
            if isinstance(value, str):
                log(f"{path}, line {line}: points {value}; row ignored")
                continue
            if value is not None:
                entries[rec["student"], rec["notebook"], rec["question"]] = (value, (rec.get("comment") or "").strip())
    return entries


def merge(rows, points, log):
    """Put hand-graded points (and comments) into the rows; report sheet rows that match nothing."""
    used = set()
    for r in rows:
        for q in r.get("manual", {}):
            key = (r["student"], r["notebook"], q)
            if key in points and r["status"] != "missing":
                value, comment = points[key]
                r["manual"][q] = value
                r["feedback"][q] = "graded by hand" + (f": {comment}" if comment else "")
                used.add(key)
    for key in sorted(set(points) - used):
        log(f"points sheet: no submission {key[0]}/{key[1]} with question {key[2]}; row ignored")
