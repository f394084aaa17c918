"""Reading notebooks and finding their parts: the one place that knows the authoring conventions.

- ``check("topic.part", value, ...)`` calls: :func:`check_calls` (one parser,
  used by release, blanking, restoring and grading);
- answer stubs: lines ending in :data:`STUB` (``name = ...  # your answer``);
- cells tagged ``given`` (plain values), ``solution`` (removed from the student
  copy), ``solution`` + ``manual`` (a written answer, metadata
  ``{"workbook": {"manual": qid, "points": N}}``) and ``unlock`` (an explanation
  shown after a correct answer, metadata ``{"workbook": {"unlock": qid}}``);
- what a notebook imports from ``helpers``: :func:`code_hash`, the hash of
  those modules' source (a change elsewhere does not re-execute it).

Examples
--------
>>> [c.qid for c in check_calls('x = 1\\ncheck("a.b", x, hint="h")\\nprint(check("c.d", 2))')]
['a.b', 'c.d']
>>> check_calls('check("a.b", x, hint="h")')[0].options
{'hint': 'h'}
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ReleaseError", "BEGIN", "END", "STUB", "ANSWER_MD", "ANSWER_CODE", "CheckCall", "check_calls",
           "is_stub", "tags", "workbook_meta", "question_ids", "question_cells", "manual_cells", "unlock_cells",
           "read", "render", "source_hash", "imported_modules", "code_hash", "solution_paths", "NAME"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# your answer"
"""Every blanked answer line ends with this comment: ``name = ...  # your answer``."""
ANSWER_MD = "*Your answer here.*"
ANSWER_CODE = "# Your answer here."
NAME = re.compile(r"^\d\d-[a-z0-9-]+\.ipynb$")
_QID = re.compile(r"^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$")
_CHECK_LINE = re.compile(r"""^\s*check\(\s*["']([A-Za-z0-9_]+\.[A-Za-z0-9_.]+)["']""")


class ReleaseError(ValueError):
    """A solution notebook that cannot be released as it is."""


@dataclass(frozen=True)
class CheckCall:
    """One ``check("qid", ...)`` call found in a cell's source."""

    qid: str
    first_line: int
    """0-based line of the call's start."""
    last_line: int
    start: int = -1
    """Character offsets of the call in the source (-1 when the source does not parse)."""
    end: int = -1
    options: dict = field(default_factory=dict)
    """Keyword arguments given as literals (hint, points, rtol, slips)."""
    statement: bool = True
    """True when the call is a statement of its own at the top level of the cell."""


def _offsets(source):
    starts = [0]
    for line in source.split("\n"):
        starts.append(starts[-1] + len(line) + 1)

    def offset(lineno, byte_col):
        line = source.split("\n")[lineno - 1]
        return starts[lineno - 1] + len(line.encode()[:byte_col].decode(errors="ignore"))
    return offset


def check_calls(source):
    """Every ``check("topic.part", ...)`` call in ``source``, in order.

    Parsed with ``ast``; a source that does not parse (a student's broken
    cell, a magic) falls back to lines that start with ``check("topic.part"``.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [CheckCall(m.group(1), n, n, statement=True)
                for n, line in enumerate(source.split("\n")) if (m := _CHECK_LINE.match(line))]
    top = {id(node.value) for node in tree.body if isinstance(node, ast.Expr)}
    offset, calls = _offsets(source), []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and _QID.match(node.args[0].value)):
            options = {}
            for kw in node.keywords:
                try:
                    options[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    options[kw.arg] = ast.get_source_segment(source, kw.value)
            calls.append(CheckCall(node.args[0].value, node.lineno - 1, node.end_lineno - 1,
                                   offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset),
                                   options, id(node) in top))
    return sorted(calls, key=lambda c: (c.first_line, c.start))


def is_stub(line):
    """True for a blanked answer line (``... # your answer``)."""
    return line.rstrip().endswith(STUB)


def tags(cell):
    return cell.metadata.get("tags", [])


def workbook_meta(cell):
    return cell.metadata.get("workbook", {}) or {}


def question_cells(nb):
    """``{qid: index of the first code cell whose check call asks it}``, in notebook order."""
    cells = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for call in check_calls(cell.source):
                cells.setdefault(call.qid, index)
    return cells


def question_ids(nb):
    """Question ids of the notebook's ``check`` calls, in order (written answers excluded)."""
    return list(question_cells(nb))


def manual_cells(nb, name="notebook"):
    """``{qid: (index, points)}`` of written answers (tags ``solution`` and ``manual``)."""
    found = {}
    for index, cell in enumerate(nb.cells):
        if "manual" not in tags(cell):
            continue
        meta, where = workbook_meta(cell), f"{name}, cell {index}"
        if "solution" not in tags(cell):
            raise ReleaseError(f"{where}: a 'manual' cell must also be tagged 'solution'")
        qid, points = meta.get("manual"), meta.get("points")
        if not isinstance(qid, str) or not _QID.match(qid):
            raise ReleaseError(f"{where}: a 'manual' cell needs metadata workbook.manual = 'topic.part'")
        if not isinstance(points, int) or isinstance(points, bool) or points < 1:
            raise ReleaseError(f"{where}: a 'manual' cell needs metadata workbook.points, a positive integer")
        if qid in found:
            raise ReleaseError(f"{where}: written answer {qid!r} appears twice")
        found[qid] = (index, points)
    return found


def unlock_cells(nb, name="notebook"):
    """``{qid: [index, ...]}`` of markdown cells tagged ``unlock``."""
    found = {}
    for index, cell in enumerate(nb.cells):
        if "unlock" not in tags(cell):
            continue
        qid, where = workbook_meta(cell).get("unlock"), f"{name}, cell {index}"
        if cell.cell_type != "markdown":
            raise ReleaseError(f"{where}: an 'unlock' cell must be markdown")
        if not isinstance(qid, str) or not _QID.match(qid):
            raise ReleaseError(f"{where}: an 'unlock' cell needs metadata workbook.unlock = 'topic.part'")
        found.setdefault(qid, []).append(index)
    return found


def solution_paths(root):
    """``solutions/NN-slug.ipynb`` files, sorted; other names are an error."""
    paths = sorted((Path(root) / "solutions").glob("*.ipynb"))
    bad = [p.name for p in paths if not NAME.match(p.name)]
    if bad:
        raise ReleaseError(f"solution notebooks must be named NN-slug.ipynb: {', '.join(bad)}")
    return paths


def read(path):
    import nbformat
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as err:  # noqa: BLE001 - report any unreadable notebook in one line
        raise ReleaseError(f"{Path(path).name}: not a readable notebook ({err})") from None


def render(nb):
    """Notebook text exactly as written to disk."""
    import nbformat
    return nbformat.writes(nb, version=4) + "\n"


def source_hash(nb):
    """Hash of what an author writes (cell types, tags, workbook metadata, sources), not outputs."""
    text = json.dumps([[c.cell_type, tags(c), workbook_meta(c), c.source] for c in nb.cells], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --- what a notebook imports -----------------------------------------------------------

def _module_file(package_dir, dotted):
    """The file of module ``helpers.<dotted>`` (a package's ``__init__.py``), or None."""
    base = package_dir.joinpath(*dotted.split(".")) if dotted else package_dir
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _helpers_imports(source, package_dir, names):
    """Dotted module names (below ``helpers``) that ``source`` imports, anywhere in it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name[len("helpers."):] if a.name != "helpers" else ""
                      for a in node.names if a.name == "helpers" or a.name.startswith("helpers.")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "helpers" or node.module.startswith("helpers.")):
            mod = node.module[len("helpers."):] if node.module != "helpers" else ""
            found.add(mod)
            for alias in node.names:
                sub = f"{mod}.{alias.name}" if mod else alias.name
                if _module_file(package_dir, sub):
                    found.add(sub)
                elif not mod and alias.name in names:          # helpers' lazy names
                    found.add(names[alias.name])
    return found


def imported_modules(nb, package_dir):
    """Files of every ``helpers`` module ``nb`` imports, directly or through other modules.

    The lazy names of ``helpers/__init__.py`` (``_NAMES``/``_MODULES``) are
    read from its source (a table of plain data), so no module is imported to find them.
    """
    package_dir = Path(package_dir)
    init = package_dir / "__init__.py"
    if not init.is_file():
        return []
    names = {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:   # plain data, possibly built with dict.fromkeys: evaluated with nothing else in reach
                value = eval(compile(ast.Expression(node.value), str(init), "eval"),  # noqa: S307
                             {"__builtins__": {}, "dict": dict})
            except Exception:  # noqa: BLE001 - not a table of names
                continue
            if node.targets[0].id == "_NAMES":
                names.update(value)
            elif node.targets[0].id == "_MODULES":
                names.update({m: m for m in value})
    todo = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            todo |= _helpers_imports(cell.source, package_dir, names)
    seen = {}
    while todo:
        dotted = todo.pop()
        parts = dotted.split(".") if dotted else []
        for i in range(len(parts) + 1):                       # a module loads its packages first
            prefix = ".".join(parts[:i])
            path = _module_file(package_dir, prefix)
            if path and prefix not in seen:
                seen[prefix] = path
                todo |= _helpers_imports(path.read_text(), package_dir, names) - set(seen)
    return sorted(set(seen.values()))


def code_hash(nb, package_dir):
    """Hash of the source of the ``helpers`` modules ``nb`` imports: its outputs depend on them."""
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for path in imported_modules(nb, package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
