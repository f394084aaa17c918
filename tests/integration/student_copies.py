"""The student copies the integration tests read, how a timing cell is marked, and how a
call's name is read."""

import ast

from helpers.release.build import ROOT

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
"""File names of the student notebooks (``notebooks/*.ipynb``)."""

TIMING = "# NBVAL_IGNORE_OUTPUT"
"""First line of a cell whose outputs are machine-dependent measurements: they are not judged
(``test_leaks.seen``); after a notebook's last question such a cell may draw any figure
(``test_answer_cells``)."""


def callee_parts(node):
    """``summary`` / ``systolic.utilisation`` / ``helpers.formulas.linear_macs`` -> its parts."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]
