"""Student copies: blanked functions read as "not answered", and no import a student copy does not need."""

import ast
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.answers.judge import judge
from helpers.answers.keying import make_entry
from helpers.release.blank import blank_source, prune_imports, student_notebook, used_names
from helpers.release.build import ROOT
from helpers.release.notebooks import BEGIN, END, tags


def nb_with(*cells):
    nb = new_notebook()
    nb.cells = list(cells)
    return nb


def solution_cell(source, *cell_tags):
    cell = new_code_cell(source)
    cell.metadata["tags"] = list(cell_tags)
    return cell


# --- a blanked function ------------------------------------------------------------------------------

FUNCTION = f"""{BEGIN}
def step(y, g):
    # the new state
    return g * y
{END}
y_small = step(2.0, 0.5)"""


def test_a_blanked_function_returns_ellipsis_and_reads_as_not_answered():
    blank = blank_source(FUNCTION, "nb", 0)
    assert blank.splitlines()[:2] == ["def step(y, g):", "    return ...  # your answer"]
    namespace = {}
    exec(blank, namespace)                                      # calling the blank does not raise
    assert namespace["y_small"] is ...
    entry = make_entry("t.step", 1.0)
    assert judge("t.step", namespace["y_small"], entry).status == "blank"
    assert "not answered yet" in judge("t.step", namespace["y_small"], entry).line()


def test_a_students_function_without_return_still_says_so():
    """Issue #15: ``None`` is a function that returned nothing, not a blank answer."""
    namespace = {}
    exec("def step(y, g):\n    g * y\ny_small = step(2.0, 0.5)", namespace)
    verdict = judge("t.step", namespace["y_small"], make_entry("t.step", 1.0))
    assert verdict.status == "wrong" and "not answered" not in verdict.line()
    assert "None" in verdict.message and "return" in verdict.message


def test_the_repository_checks_of_functions_run_with_the_blank():
    """Every released function check (09's rnn_step, 08's uses_per_weight) runs and says 'not answered'."""
    for name in ("08-tpu-utilisation.ipynb", "09-pooling-and-rnn.ipynb"):
        nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
        blanks = [c.source for c in nb.cells if c.cell_type == "code" and "    return ...  # your answer" in c.source]
        assert blanks, f"{name}: no blanked function"
        for source in blanks:
            said = []
            namespace = {"np": __import__("numpy"),
                         "check": lambda qid, value, said=said, **_: said.append((qid, value))}
            exec(re.sub(r"^from helpers import .*$", "", source, flags=re.M), namespace)
            assert said and all(value is ... for _, value in said), (name, said)


# --- imports a student copy does not need ---------------------------------------------------------------

def test_prune_drops_unused_names_keeps_used_ones_and_comments():
    source = ("import math\n\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
              "from matplotlib.colors import LogNorm\n\n"
              "from helpers import (check,\n    summary, systolic)  # tools\n\nx = 1")
    assert prune_imports(source, {"check", "np", "math"}) == (
        "import math\n\nimport numpy as np\n\nfrom helpers import check  # tools\n\nx = 1")
    assert prune_imports(source, {"check", "np", "math", "plt", "LogNorm", "summary", "systolic"}) == source


def test_prune_leaves_what_it_cannot_rewrite_safely():
    kept = ["from helpers import *", "import os; import sys", "def f():\n    import math\n    return 1",
            "%matplotlib inline\nimport math"]
    for source in kept:
        assert prune_imports(source, set()) == source
    assert prune_imports("import a.b as c, d.e\n", {"d"}) == "import d.e\n"
    assert prune_imports("import os\n\nx = 1", set()) == "x = 1"
    assert prune_imports("x = 1\n\nimport os", set()) == "x = 1"


def test_used_names_reads_code_and_every_word_of_a_magic_cell():
    assert used_names("y = f'{np.pi}' + str(math.e)") >= {"np", "math", "y", "str"}
    assert "plt" in used_names("%timeit plt.plot([1])")
    assert "systolic" not in used_names("from helpers import systolic\nx = 1")


def test_student_copy_imports_only_what_its_cells_and_answer_regions_use():
    imports = solution_cell("import math\n\nimport numpy as np\n\nfrom helpers import check, summary, systolic")
    answer = solution_cell(f"{BEGIN}\nside = math.ceil(2.5)\n{END}\ncheck('t.side', side)")
    proof = solution_cell("x = np.zeros(1)", "solution")                     # numpy: only a solution cell
    verify = solution_cell("assert systolic.utilisation(3, 48) > 0\nsummary('alexnet')", "solution")
    student = student_notebook(nb_with(imports, answer, proof, verify), "08-demo.ipynb")
    assert [c.source for c in student.cells] == ["import math\n\nfrom helpers import check",
                                                 "side = ...  # your answer\ncheck('t.side', side)"]


def test_a_cell_left_empty_by_pruning_is_dropped_but_an_empty_cell_stays():
    nb = nb_with(solution_cell("from helpers import check"), solution_cell("import sympy as sp"),
                 solution_cell(""), new_markdown_cell("text"), solution_cell("sp.symbols('x')", "solution"),
                 solution_cell("check('t.a', 1)"))
    assert [c.source for c in student_notebook(nb, "01-demo.ipynb").cells] == [
        "from helpers import check", "", "text", "check('t.a', 1)"]


def test_written_code_answers_count_as_using_their_imports():
    manual = solution_cell("print(np.pi)", "solution", "manual")
    manual.metadata["workbook"] = {"manual": "t.w", "points": 1}
    nb = nb_with(solution_cell("import numpy as np\nfrom helpers import check"), manual,
                 solution_cell("check('t.a', 1)"))
    assert student_notebook(nb, "01-demo.ipynb").cells[0].source == "import numpy as np\nfrom helpers import check"


def _bound_names(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {alias.asname or alias.name.split(".")[0] for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb")))
def test_released_copies_import_no_name_only_solution_cells_use(name):
    """Read independently of the release (words in the solution's kept cells, not its ast walk)."""
    solution = nbformat.read(str(ROOT / "solutions" / name), as_version=4)
    student = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    kept_text = "\n".join(c.source for c in solution.cells if c.cell_type == "code" and (
        "solution" not in tags(c) or "manual" in tags(c)))
    words = {}
    for cell in student.cells:
        if cell.cell_type == "code":
            for bound in _bound_names(cell.source):
                uses = len(re.findall(rf"(?<![\w.]){re.escape(bound)}\b", kept_text))
                words[bound] = uses - 1                    # the import itself is one
    assert not [w for w, uses in words.items() if uses < 1], f"{name}: imported but used by no student cell"
