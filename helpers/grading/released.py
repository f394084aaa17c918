"""What the grader grades against: the instructor's key and the released notebooks.

For each released notebook: its cells (as :mod:`~helpers.grading.restore` matches
them), the cell whose ``check`` records each question, the automatically judged
questions in notebook order, and the written answers graded by hand with their
model answers from ``solutions/``. Which cell asks which question, and which cells
are written answers, is read by :mod:`helpers.release.notebooks`, the one parser
of the authoring conventions (the same one that made the release).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helpers.grading.restore import cells_of
from helpers.release.notebooks import manual_cells, question_cells, read

__all__ = ["ROOT", "key_path", "release_info"]

ROOT = Path(__file__).resolve().parents[2]


def key_path(root):
    """The instructor's key of the project at ``root``."""
    from helpers.answers import KEY_PATH
    return Path(root) / KEY_PATH.resolve().relative_to(ROOT)


def release_info(root, key=None):
    """``(questions, notebooks)``: the key's entries, and per released notebook its cells,
    automatically judged question ids (in notebook order) and written answers graded by hand."""
    key = json.loads(Path(key or key_path(root)).read_text())
    notebooks = {}
    for name, info in sorted(key["notebooks"].items()):
        path = Path(root) / "notebooks" / f"{name}.ipynb"
        nb = read(path)
        cells, _ = cells_of(nb)                # one parse: cell indices agree with question_cells'
        owner = question_cells(nb)
        auto = [q for q in info["questions"] if key["questions"][q]["kind"] != "manual"]
        order = [q for q in owner if q in auto] + sorted(set(auto) - set(owner))
        notebooks[f"{name}.ipynb"] = {"cells": cells, "owner": owner, "questions": order,
                                      "digest": hashlib.sha256(path.read_bytes()).hexdigest(),
                                      "manual": _manual(root, name, nb, key["questions"])}
    return key["questions"], notebooks


def _manual(root, name, nb, questions):
    """``{released cell index: {"qid", "points", "model"}}`` of written answers graded by hand.

    The cell is the released one whose metadata names the question (``workbook.manual``);
    the model answer is the solution's cell with the same id (if ``solutions/`` is there).
    """
    solution = Path(root) / "solutions" / f"{name}.ipynb"
    models = {cell.get("id"): cell.source for cell in read(solution).cells} if solution.exists() else {}
    return {index: {"qid": qid, "points": questions[qid]["points"],
                    "model": models.get(nb.cells[index].get("id"), "(the model answer is in solutions/)")}
            for qid, (index, _) in manual_cells(nb, f"notebooks/{name}.ipynb").items() if qid in questions}
