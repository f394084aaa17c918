"""Turn a solution notebook into its student copy (pure transformations, no execution).

Authoring convention (see also :mod:`helpers.release.notebooks`):

- In a code cell, lines between ``### BEGIN SOLUTION`` and ``### END
  SOLUTION`` are the answer. In the student copy each assignment in the region
  becomes ``name = ...  # your answer`` (its target kept), and each function
  the region defines keeps its signature with a body of ``...``.
- A cell tagged ``solution`` is removed from the student copy (verification,
  tables and plots that show answers); one also tagged ``manual`` is a written
  answer: it becomes "*Your answer here.*" (``# Your answer here.`` in code)
  and keeps its ``workbook`` metadata (qid, points) for the grader.
- A markdown cell tagged ``unlock`` is removed; the release stores it in the
  key, sealed under the answer (:mod:`helpers.answers.unlock`).
- ``check(qid, value, hint=..., points=..., rtol=..., slips=...)`` calls lose
  their keywords in the student copy: hints, points, tolerances and slips live
  in the answer key, and a hint shows only after a wrong answer.
- Everything else is kept as it is (tags such as ``given`` included); outputs
  and execution counts are cleared and metadata normalised, so regenerating is
  byte-stable.

A marker out of place (missing END, END without BEGIN, nested BEGIN, a
marker in markdown or in a cell tagged ``solution``, a region with nothing to
keep) raises :class:`ReleaseError` naming the notebook and the cell.

Examples
--------
>>> print(blank_source("x = 1\\n### BEGIN SOLUTION\\nutil = 3 / 256\\n### END SOLUTION\\ncheck('a.b', util)", "nb", 0))
x = 1
util = ...  # your answer
check('a.b', util)
"""

from __future__ import annotations

import ast
import copy
import textwrap

from helpers.release.notebooks import (ANSWER_CODE, ANSWER_MD, BEGIN, END, STUB, ReleaseError, check_calls,
                                       manual_cells, tags, unlock_cells)

__all__ = ["ReleaseError", "blank_source", "strip_check_options", "student_notebook", "normalise",
           "BEGIN", "END", "ANSWER_MD", "ANSWER_CODE"]

_KEEP_CELL_META = ("tags", "workbook")


def _flatten(targets):
    """``a, (b, c) = ...`` -> a, b, c: each name gets its own blank (unpacking ... fails)."""
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            yield from _flatten(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _flatten([target.value])
        else:
            yield target


def _stubs(region, indent, where):
    try:
        tree = ast.parse(textwrap.dedent("\n".join(region)))
    except SyntaxError as err:
        raise ReleaseError(f"{where}: the solution region is not valid Python ({err.msg}, line {err.lineno})") from None
    lines, seen = [], set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            head = ast.unparse(node).splitlines()[len(node.decorator_list)]
            lines += [indent + head, f"{indent}    ...  {STUB}"]
            continue
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        for target in _flatten(targets):
            text = ast.unparse(target)
            if text not in seen:
                seen.add(text)
                lines.append(f"{indent}{text} = ...  {STUB}")
    if not lines:
        raise ReleaseError(f"{where}: the solution region assigns nothing; give it a variable to "
                           "fill in, or tag the whole cell 'solution'")
    return lines


def blank_source(source, notebook, index):
    """The student version of one code cell's source."""
    where = f"{notebook}, cell {index}"
    out, region, indent = [], None, ""
    for number, line in enumerate(source.split("\n"), 1):
        marker = line.strip()
        if marker == BEGIN:
            if region is not None:
                raise ReleaseError(f"{where}, line {number}: BEGIN SOLUTION inside another solution region")
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif marker == END:
            if region is None:
                raise ReleaseError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            out += _stubs(region, indent, where)
            region = None
        elif marker.startswith("#") and any(w in marker.upper() for w in ("BEGIN", "END SOL", "SOLUTION")):
            raise ReleaseError(f"{where}, line {number}: malformed marker {marker!r}; write {BEGIN!r} or {END!r}")
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise ReleaseError(f"{where}: BEGIN SOLUTION without an END SOLUTION")
    return "\n".join(out)


def strip_check_options(source):
    r"""Drop the keyword arguments of every ``check(...)`` call in ``source``.

    Examples
    --------
    >>> strip_check_options('check("a.b", x,\n      hint="think", points=2, slips=("flops",))')
    'check("a.b", x)'
    """
    spans = []
    for call in check_calls(source):
        if call.options and call.start >= 0:
            node = ast.parse(source[call.start:call.end], mode="eval").body
            args = ", ".join(ast.get_source_segment(source[call.start:call.end], a) for a in node.args)
            spans.append((call.start, call.end, f"check({args})"))
    for begin, end, text in sorted(spans, reverse=True):
        source = source[:begin] + text + source[end:]
    return source


def _has_marker(text):
    return BEGIN in text or END in text


def normalise(nb, clear_outputs):
    """Drop volatile metadata (and, if asked, outputs) in place; return ``nb``."""
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in _KEEP_CELL_META}
        if cell.cell_type == "code":
            if clear_outputs:
                cell.outputs, cell.execution_count = [], None
            for output in cell.outputs:
                if "metadata" in output:
                    output["metadata"] = {}
    return nb


def student_notebook(solution, name):
    """The student copy of a solution notebook (a new object; ``solution`` is unchanged)."""
    manual_cells(solution, name)                         # validates the written-answer cells
    unlock = unlock_cells(solution, name)
    dropped = {i for indices in unlock.values() for i in indices}
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if "solution" in tags(cell) or index in dropped:
            if _has_marker(cell.source):
                raise ReleaseError(f"{where}: a cell tagged 'solution' must not also contain markers")
            if "manual" in tags(cell):
                cell.source = ANSWER_MD if cell.cell_type == "markdown" else ANSWER_CODE
                cells.append(cell)
            continue
        if cell.cell_type == "code":
            cell.source = strip_check_options(blank_source(cell.source, name, index))
        elif _has_marker(cell.source):
            raise ReleaseError(f"{where}: solution markers belong in code cells; tag a markdown "
                               "answer cell 'solution' instead")
        cells.append(cell)
    nb.cells = cells
    return normalise(nb, clear_outputs=True)
