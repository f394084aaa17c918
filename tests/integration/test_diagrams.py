"""Convolution diagrams in student copies draw no padding that a question asks for."""

from __future__ import annotations

import ast

import nbformat
import pytest

from helpers.answers.judge import KEY_PATH, judge, load_key
from helpers.formulas import output_size
from helpers.release.build import ROOT
from integration.student_copies import NOTEBOOKS, callee_parts


def _diagrams(source):
    """``(size, kernel, stride, (before, after), dilation)`` of every ``conv_diagram`` call in
    ``source`` (its arguments must be literals, so that this test can read them)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and callee_parts(node.func)[-1:] == ["conv_diagram"]:
            args = dict(zip(("size", "kernel_size", "stride", "padding", "dilation"),
                            map(ast.literal_eval, node.args), strict=False))
            args |= {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg != "ax"}
            padding = args.get("padding", 0)
            found.append((args["size"], args["kernel_size"], args.get("stride", 1),
                          (padding, padding) if isinstance(padding, int) else tuple(padding), args.get("dilation", 1)))
    return found


def diagram_leaks(size, kernel, stride, pads, dilation, key):
    """What a convolution diagram gives away of the key's same-padding questions: a stride-1
    layer whose output is as long as its input (the total padding ``padding.same_total`` asks
    for), or a filter spanning ``s`` positions padded with the zeros per side ``padding.f{s}`` keys.

    Examples
    --------
    >>> from helpers.answers.keying import make_entry
    >>> key = {"padding.f5": make_entry("padding.f5", 2),
    ...        "padding.same_total": make_entry("padding.same_total", "F - 1")}
    >>> diagram_leaks(7, 3, 1, (2, 2), 2, key)
    ['keeps the size at stride 1', 'pads a 5-wide window as padding.f5 asks']
    >>> diagram_leaks(7, 3, 1, (1, 1), 2, key)
    []
    """
    span, found = dilation * (kernel - 1) + 1, []
    if "padding.same_total" in key and stride == 1 and output_size(size, kernel, 1, pads, dilation) == size:
        found.append("keeps the size at stride 1")
    qid = f"padding.f{span}"
    if qid in key and any(judge(qid, value, key[qid]).status == "correct" for value in (pads[0], pads)):
        found.append(f"pads a {span}-wide window as {qid} asks")
    return found


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_conv_diagrams_draw_no_asked_padding(name):
    """A convolution diagram in a student copy draws no "same" padding that the key asks for
    (the title and the hatched zeros would answer it at a glance)."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    key = {q: e for q, e in load_key(KEY_PATH).items() if e.get("notebook") == name.removesuffix(".ipynb")}
    found = [f"cell {i}: conv_diagram{args} {problem}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for args in _diagrams(cell.source) for problem in diagram_leaks(*args, key)]
    assert not found, f"{name}: " + "; ".join(found)
