"""Rebuild a student's submission on top of the released notebook, for grading.

What the release locks comes back from the release; what the student wrote stays:

- **locked** cells (imports, the ``given`` values, discussion code) run as released,
  so an edited given or a deleted cell cannot change a grade;
- in an **answer** cell (one with ``name = ...  # your answer`` stubs) the student's
  lines replace the stubs, and the cell's other lines, its ``check`` calls above all,
  come from the release (a ``check`` line the student edited or deleted is restored);
- a **written** answer (a cell tagged ``solution``: "*Your answer here.*") is the
  student's, as it is (graded by hand when it is tagged ``manual``);
- a code cell the student **added** (a helper function, an intermediate value) is
  kept where the student put it.

Student cells are matched to released cells by cell id, else by content: a
locked or markdown cell by its text, an answer cell by the question ids of its
``check`` calls, a written answer by where it sits between matched cells. So a
notebook saved without ids, pasted into a new notebook, with a cell added, deleted
or moved, still lines up; no cell is matched by its index alone. The cells run in
the student's order, each locked cell the student deleted restored after the
released cell before it.

Restored ``check(...)`` calls call an alias the grader binds before any student code.

Examples
--------
>>> released = ["x = 2", "ratio = ...  # your answer", 'check("a.b", ratio)']
>>> student = ["x = 2", "ratio = 3 / 256", "check = print", 'check("a.b", 0.5)']
>>> answer_lines(released, student)
(['ratio = 3 / 256', 'check = print'], True)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from helpers.release.notebooks import ANSWER_CODE, ANSWER_MD, check_calls, is_stub

__all__ = ["CHECK_ALIAS", "Restored", "answer_lines", "restore", "match_score", "cells_of", "kind_of_cell",
           "checked_ids"]

CHECK_ALIAS = "__workbook_check__"


def checked_ids(source):
    """Question ids of the ``check("topic.part", ...)`` calls in a cell's source, in order."""
    return [call.qid for call in check_calls(source)]


@dataclass
class Restored:
    """A notebook ready to run, and what restoring it changed."""

    cells: list
    """``[{"id": label, "source": code}]`` in run order; a label is the released cell's index,
    or ``"added N"`` for the student's own cell N."""
    restored: list = field(default_factory=list)
    """Released indices of locked cells or check lines put back (edited or missing)."""
    added: list = field(default_factory=list)
    """Indices (in the submission) of code cells the student added, kept."""
    written: dict = field(default_factory=dict)
    """Released index of a written answer -> the student's text ('' if none was found)."""
    notes: list = field(default_factory=list)


def cells_of(data):
    """``[(cell_type, source, id, tags)]`` of a notebook's JSON, leniently.

    Raises ``ValueError`` (with a reason) for what is not a notebook at all.
    A cell with a missing or unknown type, or a source that is not text, is skipped,
    and said so in the second element of the returned pair.

    Examples
    --------
    >>> cells_of({"cells": [{"cell_type": "code", "source": ["a = 1\\r\\n", "b = 2"]}, {"source": 3}]})
    ([('code', 'a = 1\\nb = 2', None, [])], ['cell 1 has no valid cell type: skipped'])
    """
    if not isinstance(data, dict):
        raise ValueError("not a notebook (the file is JSON but not an object)")
    raw = data.get("cells")
    if raw is None and isinstance(data.get("worksheets"), list):
        raise ValueError("an old (nbformat 3) notebook: open and save it in Jupyter first")
    if not isinstance(raw, list):
        raise ValueError("not a notebook (it has no list of cells)")
    cells, problems = [], []
    for number, cell in enumerate(raw):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            problems.append(f"cell {number} has no valid cell type: skipped")
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            problems.append(f"cell {number}'s source is not text: read as empty")
            source = ""
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        ident = cell.get("id") if isinstance(cell.get("id"), str) else None
        cells.append((cell["cell_type"], source.replace("\r\n", "\n").replace("\r", "\n"), ident,
                      [t for t in tags if isinstance(t, str)]))
    return cells, problems


def kind_of_cell(cell):
    """``answer``, ``written``, ``locked`` (code) or ``text`` (markdown) for a released cell."""
    kind, source, _, tags = cell
    if "solution" in tags or source in (ANSWER_MD, ANSWER_CODE):
        return "written"
    if kind == "code" and any(is_stub(line) for line in source.split("\n")):
        return "answer"
    return "locked" if kind == "code" else "text"


def _norm(source):
    return "\n".join(line.rstrip() for line in source.strip().split("\n"))


def answer_lines(released, student):
    """The student's answer lines for a released cell with a ``# your answer`` region.

    Returns ``(lines, edited)``: ``edited`` is True when the student changed
    lines outside the region (they are dropped, and restored from the release).
    """
    stubs = [i for i, line in enumerate(released) if is_stub(line)]
    prefix, suffix = released[: stubs[0]], released[stubs[-1] + 1:]
    strip = [line.rstrip() for line in student]
    if (strip[: len(prefix)] == [p.rstrip() for p in prefix] and len(student) >= len(prefix) + len(suffix)
            and (not suffix or strip[len(strip) - len(suffix):] == [s.rstrip() for s in suffix])):
        return student[len(prefix): len(student) - len(suffix)], False
    kept = {line.strip() for line in prefix + suffix}
    drop = _check_statement_lines(student)
    answer = [line for number, line in enumerate(student)
              if number not in drop and line.strip() not in kept]
    return answer, True


def _check_statement_lines(lines):
    """Line numbers (0-based) of ``check("topic.part", ...)`` calls, however they wrap."""
    return {n for call in check_calls("\n".join(lines)) for n in range(call.first_line, call.last_line + 1)}


def _alias_checks(lines):
    """The lines with each ``check("topic.part", ...)`` call renamed to the grader's alias."""
    source = "\n".join(lines)
    calls = check_calls(source)
    if all(call.start >= 0 for call in calls):
        for call in sorted(calls, key=lambda c: -c.start):
            source = source[:call.start] + CHECK_ALIAS + source[call.start + len("check"):]
        return source.split("\n")
    lines = list(lines)
    for call in calls:
        lines[call.first_line] = lines[call.first_line].replace("check(", f"{CHECK_ALIAS}(", 1)
    return lines


def _match(released, submitted):
    """``{submitted index: released index}``: by id, then by content, then written answers by place."""
    kinds = [kind_of_cell(c) for c in released]
    match, taken = {}, set()
    by_id = {}
    for s, cell in enumerate(submitted):
        if cell[2] is not None:
            by_id.setdefault(cell[2], s)
    for r, cell in enumerate(released):
        s = by_id.get(cell[2])
        if s is not None and submitted[s][0] == cell[0] and s not in match:
            match[s] = r
            taken.add(r)
    free = [s for s in range(len(submitted)) if s not in match]
    texts = {}
    for s in free:
        texts.setdefault((submitted[s][0], _norm(submitted[s][1])), []).append(s)
    for r, cell in enumerate(released):             # locked and markdown cells by their text
        if r in taken or kinds[r] not in ("locked", "text"):
            continue
        candidates = [s for s in texts.get((cell[0], _norm(cell[1])), []) if s not in match]
        if candidates:
            match[candidates[0]] = r
            taken.add(r)
    for r, cell in enumerate(released):             # answer cells by the questions they check
        if r in taken or kinds[r] != "answer":
            continue
        qids = set(checked_ids(cell[1]))
        best = max((s for s in range(len(submitted)) if s not in match and submitted[s][0] == "code"),
                   key=lambda s: (len(qids & set(checked_ids(submitted[s][1]))), -s), default=None)
        if best is not None and qids & set(checked_ids(submitted[best][1])):
            match[best] = r
            taken.add(r)
    _match_by_place(released, submitted, kinds, match, taken)
    return match


def _match_by_place(released, submitted, kinds, match, taken):
    """A released cell still unmatched takes an unmatched student cell of its type lying between the
    student's copies of its neighbours: a written answer always, an answer or locked cell only when
    the two look alike (an edited cell, not one the student added)."""
    where = {r: s for s, r in match.items()}
    for r, cell in enumerate(released):
        if r in taken or kinds[r] == "text":
            continue
        before = max((where[p] for p in where if p < r), default=-1)
        after = min((where[n] for n in where if n > r), default=len(submitted))
        gap = [s for s in range(before + 1, after) if s not in match and submitted[s][0] == cell[0]]
        if kinds[r] == "written":
            chosen = gap if cell[0] == "markdown" else gap[:1] if len(gap) == 1 else []
        else:
            alike = [s for s in gap if difflib.SequenceMatcher(None, _norm(cell[1]), _norm(submitted[s][1]))
                     .ratio() >= 0.6]
            chosen = alike[:1]
        for s in chosen:
            match[s] = r
        if chosen:
            taken.add(r)
            where[r] = chosen[0]


def match_score(released, submitted):
    """Fraction of the release's locked and markdown cells found in the submission (by id or text)."""
    kinds = [kind_of_cell(c) for c in released]
    fixed = [c for c, k in zip(released, kinds, strict=True) if k in ("locked", "text")]
    ids = {c[2] for c in submitted if c[2]}
    texts = {(c[0], _norm(c[1])) for c in submitted}
    found = sum(1 for c in fixed if c[2] in ids or (c[0], _norm(c[1])) in texts)
    return found / max(1, len(fixed))


def restore(released, submitted):
    """The cells to run: the release's locked parts with the student's answers and added cells.

    ``released`` and ``submitted`` are lists from :func:`cells_of`.
    """
    kinds = [kind_of_cell(c) for c in released]
    match = _match(released, submitted)
    result = Restored(cells=[])
    present = set(match.values())
    host = {}                                          # missing released cell -> released cell it follows
    for r in range(len(released)):
        if r not in present:
            host.setdefault(max((p for p in present if p < r), default=-1), []).append(r)

    def emit(r, student_cells):
        kind, source = kinds[r], released[r][1]
        if kind == "written":
            text = "\n\n".join(submitted[s][1] for s in student_cells).strip()
            result.written[r] = "" if text in (ANSWER_MD, ANSWER_CODE) else text
            if released[r][0] == "code" and result.written[r]:
                result.cells.append({"id": r, "source": result.written[r]})
            return
        if kind == "text":
            return
        mine = source.split("\n")
        if kind == "answer":
            stubs = [i for i, line in enumerate(mine) if is_stub(line)]
            if student_cells:
                answer, edited = answer_lines(mine, submitted[student_cells[0]][1].split("\n"))
            else:
                answer, edited = [mine[i] for i in stubs], True
                result.notes.append(f"cell {r} (an answer cell) is missing: graded as unanswered")
            if edited:
                result.restored.append(r)
            result.cells.append({"id": r, "source": "\n".join(mine[: stubs[0]] + answer
                                                               + _alias_checks(mine[stubs[-1] + 1:]))})
            return
        if not student_cells or _norm(submitted[student_cells[0]][1]) != _norm(source):
            result.restored.append(r)
        result.cells.append({"id": r, "source": "\n".join(_alias_checks(mine))})

    def emit_missing(after):
        for r in host.get(after, []):
            emit(r, [])

    emit_missing(-1)
    done = set()
    students_of = {}
    for s, r in sorted(match.items()):
        students_of.setdefault(r, []).append(s)
    for s, cell in enumerate(submitted):
        r = match.get(s)
        if r is None:
            if cell[0] == "code" and cell[1].strip():
                result.added.append(s)
                result.cells.append({"id": f"added {s}", "source": cell[1]})
            continue
        if r in done:
            continue
        done.add(r)
        emit(r, students_of[r])
        emit_missing(r)
    result.restored.sort()
    if result.restored:
        result.notes.append("restored released cell(s) " + ", ".join(map(str, result.restored)))
    if result.added:
        result.notes.append("kept cell(s) the student added: " + ", ".join(map(str, result.added)))
    return result
