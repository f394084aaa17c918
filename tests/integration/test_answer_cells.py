"""Answer cells are work, and no student copy hands over an exercise's quantity through a helper.

An answer cell (a code cell that calls ``check``, solution-only cells excluded) of a solution
or a student copy neither imports nor calls a helper that returns a whole exercise's quantity
(``WHOLE_ANSWER``), nor answers with exactly one call to a one-quantity module
(``ONE_CALL_MODULES``). A student copy draws no figure from such a helper and imports none
before its last question (``EARLY_TOOLS`` lists the few reviewed exceptions).
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from helpers.release.build import ROOT
from helpers.release.notebooks import check_calls, tags
from integration.student_copies import NOTEBOOKS, TIMING

# --- answer cells are work, not one call -------------------------------------------------------------

WHOLE_ANSWER = {"summary", "final_field", "receptive_field", "utilisation", "tiles", "balance_reuse",
                "min_square_side", "ridge", "attainable", "gemm_intensity", "flops_per_byte",
                "layer_intensity", "lowered_shapes", "walk", "trace"}
"""Helpers that return a whole exercise's quantity: only solution-only cells may call them."""
ONE_CALL_MODULES = {"formulas"}
"""Helpers whose functions return one quantity: an answer must not be exactly one such call."""


def _callee(node):
    """``summary`` / ``systolic.utilisation`` / ``helpers.formulas.linear_macs`` -> its parts."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def helper_calls(source):
    """Problems with one answer cell's source (the empty list when it is work).

    Examples
    --------
    >>> helper_calls("util = systolic.utilisation(3, 48)\\ncheck('tpu.a', util)")
    ['calls utilisation']
    >>> helper_calls("macs = formulas.linear_macs(n, m)\\ncheck('d.m', macs)")
    ['answers d.m with one call to formulas.linear_macs']
    >>> helper_calls("macs = sum(formulas.conv2d_macs(*l) for l in layers)\\ncheck('v.m', macs)")
    []
    """
    tree = ast.parse(source)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            problems += [f"imports {a.name}" for a in node.names if a.name in WHOLE_ANSWER]
        if isinstance(node, ast.Call):
            parts = _callee(node.func)
            if parts and parts[-1] in WHOLE_ANSWER and parts[-1] not in defined and (
                    len(parts) == 1 or parts[0] in ("helpers", "systolic", "roofline", "receptive", "summaries",
                                                    "lowering", "model")):
                problems.append(f"calls {'.'.join(parts[-1:])}")
    assigned = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
    for call in check_calls(source):
        tree_call = ast.parse(source[call.start:call.end], mode="eval").body if call.start >= 0 else None
        if tree_call is None or len(tree_call.args) < 2:
            continue
        value = tree_call.args[1]
        value = assigned.get(value.id, value) if isinstance(value, ast.Name) else value
        if isinstance(value, ast.Call):
            parts = _callee(value.func)
            if len(parts) >= 2 and parts[-2] in ONE_CALL_MODULES:
                problems.append(f"answers {call.qid} with one call to {'.'.join(parts[-2:])}")
    return problems


def answer_cells(nb):
    """``(index, source)`` of the code cells that check an answer (solution-only cells excluded)."""
    return [(i, c.source) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "solution" not in tags(c) and check_calls(c.source)]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_answer_cells_are_work_not_a_helper_call(name):
    problems = []
    for tree in ("solutions", "notebooks"):
        nb = nbformat.read(str(ROOT / tree / name), as_version=4)
        problems += [f"{tree}/{name} cell {i}: {p}" for i, source in answer_cells(nb) for p in helper_calls(source)]
    assert not problems, "\n".join(problems)


def test_answer_cell_rules():
    assert helper_calls("s = summary('alexnet').totals['params']\ncheck('a.p', s)") == ["calls summary"]
    assert helper_calls("from helpers.receptive import final_field\nx = 1\ncheck('r.f', x)") == ["imports final_field"]
    assert helper_calls("def utilisation(r, c):\n    return r * c / 256**2\ncheck('t.a', utilisation(3, 48))") == []


# --- figures and imports that would hand over an answer ---------------------------------------------

def _calls(source):
    """``module.function`` (or ``function``) of every call in ``source``."""
    return {".".join(_callee(n.func)[-2:]) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_figures_are_not_drawn_from_counted_answers(name):
    """A figure in a student copy (a cell ending in ``plt.show()``) is not drawn from a helper
    that returns an exercise's quantity (``WHOLE_ANSWER``, ``formulas``): its bars, curves or
    brightest cell would show the answer even where no label states it, and the text judge
    above reads labels, not plotted values. Measurement cells (``# NBVAL_IGNORE_OUTPUT``) plot
    timings; such figures belong in solution-only cells."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    drawn = [(i, sorted(c for c in _calls(cell.source) if c.split(".")[-1] in WHOLE_ANSWER
                        or c.split(".")[0] in ONE_CALL_MODULES))
             for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and "plt.show()" in cell.source and not cell.source.startswith(TIMING)]
    assert not [d for d in drawn if d[1]], f"{name}: figures drawn from answer helpers: {drawn}"


EARLY_TOOLS = {   # whole-answer helpers a student copy may import before its last question, and why
    "00-getting-started.ipynb": {"summary", "receptive_field"},   # the tour of the tools, on tiny-cnn
    "10-alexnet-inference-cpu.ipynb": {"summary", "trace"},       # imported after (a)-(c), for the measurements
    "06-inception.ipynb": {"summary"},        # (h), written: check your design with it; (a)-(f) come before
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_copy_imports_no_whole_answer_helper_before_its_last_question(name):
    """``final_field``, ``summary`` and the like return a whole exercise's quantity: a student
    copy imports them only after its last question (a check or a written answer)."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    last = max(i for i, c in enumerate(nb.cells)
               if (c.cell_type == "code" and check_calls(c.source)) or "manual" in c.metadata.get("workbook", {}))
    early = {a.name for c in nb.cells[:last] if c.cell_type == "code" for node in ast.walk(ast.parse(c.source))
             if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers")
             for a in node.names if a.name in WHOLE_ANSWER}
    assert early <= EARLY_TOOLS.get(name, set()), f"{name} imports {sorted(early)} before its last question"
