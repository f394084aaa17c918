"""release.notebooks: check calls found one way, stubs, and what a notebook imports."""

from nbformat.v4 import new_code_cell, new_notebook

from helpers.grading.restore import _alias_checks, answer_lines
from helpers.release.blank import blank_source
from helpers.release.notebooks import STUB, check_calls, imported_modules, is_stub, question_cells


def test_check_calls_wrapped_nested_and_unparsable():
    source = 'x = 1\ncheck("a.b", x,\n      hint="h")\nif x:\n    check("c.d", 2)\ncheck(name, 3)'
    calls = check_calls(source)
    assert [(c.qid, c.first_line, c.last_line, c.statement) for c in calls] == [
        ("a.b", 1, 2, True), ("c.d", 4, 4, False)]
    assert source[calls[0].start:calls[0].end] == 'check("a.b", x,\n      hint="h")'
    broken = 'x = (\ncheck("a.b", x)\n  check("c.d", 1)'
    assert [(c.qid, c.first_line, c.start) for c in check_calls(broken)] == [("a.b", 1, -1), ("c.d", 2, -1)]


def test_one_stub_constant_for_blanking_and_restoring():
    blanked = blank_source("### BEGIN SOLUTION\nu = 3 / 256\n### END SOLUTION\ncheck('t.a', u)", "n", 0)
    lines = blanked.split("\n")
    assert lines[0].endswith(STUB) and is_stub(lines[0]) and not is_stub(lines[1])
    assert answer_lines(lines, ["u = 1 / 256", "check('t.a', u)"]) == (["u = 1 / 256"], False)


def test_restore_aliases_exactly_the_check_calls():
    lines = ['print("check(")', 'check("a.b", x,', '      hint="h")', 'y = check', 'check(1, 2)']
    assert _alias_checks(lines) == ['print("check(")', '__workbook_check__("a.b", x,', '      hint="h")',
                                    'y = check', 'check(1, 2)']
    assert _alias_checks(['x = (', 'check("a.b", x)']) == ['x = (', '__workbook_check__("a.b", x)']


def test_question_cells_are_the_first_cell_asking():
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell('check("a.b", 1)'),
                             new_code_cell('check("c.d", 1)\ncheck("a.b", 2)')])
    assert question_cells(nb) == {"a.b": 1, "c.d": 2}


def test_imports_follow_lazy_names_and_modules(tmp_path):
    pkg = tmp_path / "helpers"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('_MODULES = ("zoo",)\n_NAMES = {"check": "sub.checking", '
                                     '**dict.fromkeys(("Conv2d",), "layers")}\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "checking.py").write_text("def check():\n    from helpers.sub import judge\n")
    (pkg / "sub" / "judge.py").write_text("")
    (pkg / "layers.py").write_text("")
    (pkg / "zoo.py").write_text("from helpers.layers import Conv2d\n")
    (pkg / "cli.py").write_text("from helpers.sub import checking\n")
    nb = new_notebook(cells=[new_code_cell("from helpers import check, zoo")])
    files = sorted(p.relative_to(pkg).as_posix() for p in imported_modules(nb, pkg))
    assert files == ["__init__.py", "layers.py", "sub/__init__.py", "sub/checking.py", "sub/judge.py", "zoo.py"]
