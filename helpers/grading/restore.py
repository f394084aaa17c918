"""Rebuild a student's submission on top of the released notebook, for grading.

Every cell that is not an answer comes from the release, so an edited or
deleted ``check`` line, a deleted cell or a redefined helper cannot change a
grade. What the student wrote survives only where it is an answer:

- the lines that replace a released ``name = ...  # your answer`` region
  (everything between the region's unchanged prefix and suffix lines);
- a whole cell the release marks ``solution`` ("Your answer here.").

Student cells are matched to released cells by cell id, or else by
position. Restored ``check(...)`` calls are rewritten to call an alias that the
grader binds before any student code runs.

Examples
--------
>>> released = ["x = 2", "ratio = ...  # your answer", 'check("a.b", ratio)']
>>> student = ["x = 2", "ratio = 3 / 256", "check = print", 'check("a.b", 0.5)']
>>> answer_lines(released, student)
(['ratio = 3 / 256', 'check = print'], True)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from helpers.release.notebooks import ANSWER_CODE, ANSWER_MD, check_calls, is_stub

__all__ = ["CHECK_ALIAS", "Restored", "answer_lines", "restore", "match_score"]

CHECK_ALIAS = "__workbook_check__"


@dataclass
class Restored:
    """A notebook ready to grade, and what restoring it changed."""

    nb: object
    restored: list = field(default_factory=list)
    """Indices (in the release) of cells whose student version was replaced."""
    notes: list = field(default_factory=list)


def _lines(cell):
    return cell.source.split("\n") if cell is not None else []


def answer_lines(released, student):
    """The student's answer lines for a released cell with a ``# your answer`` region.

    Returns ``(lines, edited)``: ``edited`` is True when the student changed
    lines outside the region (they are dropped, and restored from the release).
    """
    stubs = [i for i, line in enumerate(released) if is_stub(line)]
    prefix, suffix = released[: stubs[0]], released[stubs[-1] + 1:]
    if (student[: len(prefix)] == prefix and len(student) >= len(prefix) + len(suffix)
            and (not suffix or student[-len(suffix):] == suffix)):
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


def match_score(released_nb, submitted_nb):
    """Fraction of the release's cells the submission has (by id, else by markdown text)."""
    ids = {c.get("id") for c in submitted_nb.cells if c.get("id")}
    by_id = sum(1 for c in released_nb.cells if c.get("id") in ids) / max(1, len(released_nb.cells))
    texts = {c.source.strip() for c in submitted_nb.cells if c.cell_type == "markdown"}
    markdown = [c for c in released_nb.cells if c.cell_type == "markdown" and c.source.strip() not in
                (ANSWER_MD,)]
    by_text = sum(1 for c in markdown if c.source.strip() in texts) / max(1, len(markdown))
    return max(by_id, by_text)


def restore(released_nb, submitted_nb):
    """The notebook to execute: the release, with the student's answers put back."""
    nb = copy.deepcopy(released_nb)
    by_id = {c.get("id"): c for c in submitted_nb.cells if c.get("id")}
    result = Restored(nb)
    positional = 0
    for index, cell in enumerate(nb.cells):
        theirs = by_id.get(cell.get("id"))
        if theirs is None and index < len(submitted_nb.cells) \
                and submitted_nb.cells[index].cell_type == cell.cell_type:
            theirs = submitted_nb.cells[index]
            positional += 1
        mine = _lines(cell)
        if "solution" in cell.metadata.get("tags", []) or cell.source in (ANSWER_MD, ANSWER_CODE):
            if theirs is not None:
                cell.source = theirs.source
            continue
        if cell.cell_type == "code" and any(is_stub(line) for line in mine):
            if theirs is None:
                result.restored.append(index)
                result.notes.append(f"cell {index} missing: graded as unanswered")
                answer, edited = [line for line in mine if is_stub(line)], False
            else:
                answer, edited = answer_lines(mine, _lines(theirs))
            stubs = [i for i, line in enumerate(mine) if is_stub(line)]
            cell.source = "\n".join(mine[: stubs[0]] + answer + _alias_checks(mine[stubs[-1] + 1:]))
            if edited:
                result.restored.append(index)
            continue
        if theirs is None or theirs.source != cell.source:
            result.restored.append(index)
        if cell.cell_type == "code":
            cell.source = "\n".join(_alias_checks(mine))
    if positional:
        result.notes.append(f"{positional} cell(s) matched by position (cell ids missing)")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return result
