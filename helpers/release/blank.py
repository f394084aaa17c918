"""Turn a solution notebook into its student copy (pure transformations, no execution).

Authoring convention (see also :mod:`helpers.release.notebooks`):

- In a code cell, lines between ``### BEGIN SOLUTION`` and ``### END
  SOLUTION`` are the answer. In the student copy each assignment in the region
  becomes ``name = ...  # your answer`` (its target kept), and each function
  the region defines keeps its signature with a body of ``return ...  # your
  answer``: a blank function returns ``...``, which ``check`` reads as "not
  answered yet" (``None`` would read as a function that returns nothing).
- A cell tagged ``solution`` is removed from the student copy (verification,
  tables and plots that show answers); one also tagged ``manual`` is a written
  answer: it becomes "*Your answer here.*" (``# Your answer here.`` in code)
  and keeps its ``workbook`` metadata (qid, points) for the grader.
- A markdown cell tagged ``unlock`` is removed; the release stores it in the
  key, sealed under the answer (:mod:`helpers.answers.unlock`).
- ``check(qid, value, hint=..., points=..., rtol=..., slips=...)`` calls lose
  their keywords in the student copy: hints, points, tolerances and slips live
  in the answer key, and a hint shows only after a wrong answer.
- Names that an import binds and no code cell of the student copy uses (its
  answer regions counted: the student writes that work) are dropped from the
  import (:func:`prune_imports`): a helper only solution-only cells need, such
  as ``systolic`` whose ``utilisation`` answers a question in one call, is not
  handed to the student ready-made.
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
import re
import textwrap

from helpers.release.notebooks import (
    ANSWER_CODE,
    ANSWER_MD,
    BEGIN,
    END,
    STUB,
    ReleaseError,
    check_calls,
    manual_cells,
    tags,
    unlock_cells,
)

__all__ = ["ReleaseError", "blank_source", "strip_check_options", "prune_imports", "student_notebook", "normalise",
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
            lines += [indent + head, f"{indent}    return ...  {STUB}"]
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


def used_names(source):
    r"""Names that ``source`` reads or binds (an import's own names aside).

    A cell that does not parse (an IPython magic) counts every word in it.

    Examples
    --------
    >>> sorted(used_names("from math import pi\nprint(f'{np.pi:.2f}')"))
    ['np', 'print']
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _bound(alias):
    """The name an import binds: ``import a.b`` binds ``a``, ``import a as b`` and ``from a import x as b`` ``b``."""
    return alias.asname or alias.name.split(".")[0]


def prune_imports(source, used):
    r"""``source`` without the names its top-level imports bind that are not in ``used``.

    An import left with no name is deleted with its line (and a blank line it
    leaves doubled); one that keeps some names is rewritten on one line, its
    comment kept. Imports sharing a line with other code, star imports and
    sources that do not parse are left as they are.

    Examples
    --------
    >>> print(prune_imports("import math\nimport numpy as np\n\n"
    ...                     "from helpers import check, systolic  # tools\nx = np.ones(2)",
    ...                     {"check", "np"}))
    import numpy as np
    <BLANKLINE>
    from helpers import check  # tools
    x = np.ones(2)
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.split("\n")
    for node in reversed(tree.body):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or any(a.name == "*" for a in node.names):
            continue
        keep = [alias for alias in node.names if _bound(alias) in used]
        first, last = node.lineno - 1, node.end_lineno - 1
        rest = lines[last].encode()[node.end_col_offset:].decode()
        if len(keep) == len(node.names) or node.col_offset or (rest.strip() and not rest.strip().startswith("#")):
            continue
        if keep:
            shorter = copy.copy(node)
            shorter.names = keep
            lines[first:last + 1] = [ast.unparse(shorter) + rest]
            continue
        del lines[first:last + 1]
        before_blank = first == 0 or not lines[first - 1].strip()
        if first < len(lines) and not lines[first].strip() and before_blank:
            del lines[first]                                 # no doubled (or leading) blank line
        elif first == len(lines) and lines and not lines[-1].strip():
            del lines[-1]                                    # no trailing blank line
    return "\n".join(lines)


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
    used = set().union(*(used_names(cell.source) for index, cell in enumerate(solution.cells)
                         if cell.cell_type == "code" and index not in dropped
                         and ("solution" not in tags(cell) or "manual" in tags(cell))))
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
            source = strip_check_options(blank_source(cell.source, name, index))
            cell.source = prune_imports(source, used)
            if source.strip() and not cell.source.strip():
                continue                                     # it only imported what the student copy lacks
        elif _has_marker(cell.source):
            raise ReleaseError(f"{where}: solution markers belong in code cells; tag a markdown "
                               "answer cell 'solution' instead")
        cells.append(cell)
    nb.cells = cells
    return normalise(nb, clear_outputs=True)
