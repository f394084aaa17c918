"""Answer cells are work, and no student copy hands over an exercise's quantity through a helper.

An answer cell (a code cell that calls ``check``, solution-only cells excluded) of a solution
or a student copy neither imports nor calls a helper that returns a whole exercise's quantity
(``WHOLE_ANSWER``), nor answers with exactly one call to a one-quantity module
(``ONE_CALL_MODULES``). A student copy draws no figure from such a helper and imports none
before its last question (``EARLY_TOOLS`` lists the few reviewed exceptions), nor binds a
helper that hands over a question's answer or its parts before that question (``QUESTION_TOOLS``).
Convolution diagrams: ``test_diagrams.py``.
"""

from __future__ import annotations

import ast
import importlib
import types

import nbformat
import pytest

from helpers.release.build import ROOT
from helpers.release.notebooks import check_calls, question_cells, tags
from integration.student_copies import NOTEBOOKS, TIMING, callee_parts

# --- answer cells are work, not one call -------------------------------------------------------------

WHOLE_ANSWER = {"summary", "final_field", "receptive_field", "utilisation", "tiles", "balance_reuse",
                "min_square_side", "ridge", "attainable", "gemm_intensity", "flops_per_byte",
                "layer_intensity", "lowered_shapes", "walk", "trace"}
"""Helpers that return a whole exercise's quantity: only solution-only cells may call them."""
ONE_CALL_MODULES = {"formulas"}
"""Helpers whose functions return one quantity: an answer must not be exactly one such call."""


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
            parts = callee_parts(node.func)
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
            parts = callee_parts(value.func)
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
    return {".".join(callee_parts(n.func)[-2:]) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_figures_are_not_drawn_from_counted_answers(name):
    """A figure in a student copy (a cell ending in ``plt.show()``) is not drawn from a helper
    that returns an exercise's quantity (``WHOLE_ANSWER``, ``formulas``): its bars, curves or
    brightest cell would show the answer even where no label states it, and the text judge
    above reads labels, not plotted values; such figures belong in solution-only cells.
    Measurement cells (``# NBVAL_IGNORE_OUTPUT``) after the last checked question may draw
    them: by then every counted answer is given (a written one may follow: 10's (f))."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    last = max((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and check_calls(c.source)), default=-1)
    drawn = [(i, sorted(c for c in _calls(cell.source) if c.split(".")[-1] in WHOLE_ANSWER
                        or c.split(".")[0] in ONE_CALL_MODULES))
             for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "plt.show()" in cell.source
             and not (cell.source.startswith(TIMING) and i > last)]
    assert not [d for d in drawn if d[1]], f"{name}: figures drawn from answer helpers: {drawn}"


def _last_question(nb):
    """Index of a notebook's last question cell (a check or a written answer)."""
    return max(i for i, c in enumerate(nb.cells)
               if (c.cell_type == "code" and check_calls(c.source)) or "manual" in c.metadata.get("workbook", {}))


EARLY_TOOLS = {   # whole-answer helpers a student copy may import before its last question, and why
    "10-alexnet-inference-cpu.ipynb": {"summary", "trace"},   # measurements, after (a)-(e); then only (f), written
    "06-inception.ipynb": {"summary"},        # (h), written: check your design with it; (a)-(g) come before
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_copy_imports_no_whole_answer_helper_before_its_last_question(name):
    """``final_field``, ``summary`` and the like return a whole exercise's quantity: a student
    copy imports them only after its last question (a check or a written answer)."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    last = _last_question(nb)
    early = {a.name for c in nb.cells[:last] if c.cell_type == "code" for node in ast.walk(ast.parse(c.source))
             if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers")
             for a in node.names if a.name in WHOLE_ANSWER}
    assert early == EARLY_TOOLS.get(name, set()), f"{name} imports {sorted(early)} before its last question" \
        f" (EARLY_TOOLS lists {sorted(EARLY_TOOLS.get(name, set()))}: keep the list exact)"


# --- a question's tools come after it ------------------------------------------------------------------

QUESTION_TOOLS = {   # helpers (bound names) that hand over a question's answer or its parts in one step
    "00-getting-started.ipynb": {
        "formulas": ("start.conv1_params", "start.gflop"),        # conv2d_params, conv2d_macs, linear_macs
        "zoo": ("start.rf_pool5",),                               # zoo.entry("alexnet").published["rf"]
    },
    "03-conv-as-gemm.ipynb": {      # lowered_shapes' im2col GEMM: K = N_i F_r F_c is (a), M N K (b); im2col (g)
        "lowering": ("conv.macs_per_output", "conv.total_macs", "conv.im2col_blowup"),
    },
    "04-padding-and-stride.ipynb": {                              # same_padding(5); output_size(224, 3, 2, 1)
        "formulas": ("padding.f1", "padding.f3", "padding.f5", "padding.f4", "stride.fn_small",
                     "stride.s1_symbolic", "stride.s2_symbolic", "stride.s1_output", "stride.s2_output",
                     "stride.lowered_n"),
    },
    "07-receptive-field-and-width.ipynb": {
        "lowering": ("width.feature_memory", "width.filter_memory", "width.compute"),   # lowered_shapes: MN, MK, MNK
        "Conv2d": ("width.feature_memory", "width.filter_memory", "width.compute",      # a layer's output_shape,
                   "width.params_ratio"),                                                # params and macs
    },
    "08-tpu-utilisation.ipynb": {   # restack_weights(w, 4).shape == (48, 48, 2, 2): (c)'s depth, (d)'s taps
        "space_to_depth": ("tpu.c", "tpu.c_stacked"),
    },
    "10-alexnet-inference-cpu.ipynb": {   # a layer's MACs and parameters (trace: each layer with its input shape)
        **dict.fromkeys(("formulas", "Conv2d", "Linear", "trace", "summary", "bench"),     # bench.summary
                        ("cpu.macs_per_image", "cpu.weight_mib", "cpu.conv_share")),
        "roofline": ("cpu.macs_per_image", "cpu.conv_share"),                     # roofline.gemm_macs (formulas')
        "zoo": ("cpu.weight_mib",),                                               # entry("alexnet").published
        # param_count(init_params(...)); its biases' nbytes. (helpers.engine defines no function of
        # its own, so only the by-name test below applies to it, not the carried-helper one.)
        "engine": ("cpu.weight_mib", "gpu.conv_bias_bytes"),
    },
    "11-training-cost.ipynb": {     # init_params' arrays, their sizes summed, are the weights of (c)
        "fit": ("train.weight_bytes", "train.train_bytes", "train.inference_bytes", "train.memory_ratio"),
    },
}


def _names(source):
    """Every name ``source`` binds by an import or reads (``fit`` of ``fit.init_params(...)``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return names


def _imported(source):
    """``{bound name: object}`` of what ``source``'s imports of ``helpers`` bind (a module,
    function or class); ``import helpers.formulas`` also gives ``"helpers.formulas"`` its
    module, and ``helpers.formulas`` read as an attribute counts as a use of that module."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
            for a in node.names:
                value = getattr(importlib.import_module(node.module), a.name, None)
                if value is None:                                   # a submodule not loaded yet
                    value = importlib.import_module(f"{node.module}.{a.name}")
                found[a.asname or a.name] = value
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "helpers":
                    found[a.asname or a.name] = importlib.import_module(a.name)
                    if not a.asname:
                        found["helpers"] = importlib.import_module("helpers")
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "helpers"
              and not node.attr.startswith("_")):
            found[f"helpers.{node.attr}"] = getattr(importlib.import_module("helpers"), node.attr, None)
    return found


def _bound_modules(source):
    """``{bound name: module}`` of the ``helpers`` modules that ``source``'s imports bind."""
    return {k: v for k, v in _imported(source).items() if isinstance(v, types.ModuleType) and "." not in k}


def _tool(name):
    """The object a ``QUESTION_TOOLS`` name stands for: ``helpers.<name>``, else ``helpers.engine.<name>``."""
    helpers = importlib.import_module("helpers")
    return getattr(helpers, name, None) or importlib.import_module(f"helpers.engine.{name}")


def _hands_over(source, tool):
    """Whether a cell's source binds or uses the tool ``QUESTION_TOOLS`` names: by its name, or
    through an import of it, of its module under another name, or of a function of its module."""
    if tool in _names(source):
        return True
    target = _tool(tool)
    module = target.__name__ if isinstance(target, types.ModuleType) else None
    for value in _imported(source).values():
        if value is target or (module and (getattr(value, "__name__", None) == module
                                           or getattr(value, "__module__", None) == module)):
            return True
    return False


@pytest.mark.parametrize("name", sorted(QUESTION_TOOLS))
def test_student_copy_hands_over_no_question_tool_before_its_question(name):
    """A helper listed in ``QUESTION_TOOLS`` for a question is neither imported nor used in a
    student copy until that question's answer cell is behind the student (under its own name,
    another one, or as functions imported from its module): run top to bottom, the copy puts
    the tool in the student's hands only once the question is answered."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    asked = question_cells(nb)
    problems = []
    for tool, qids in QUESTION_TOOLS[name].items():
        assert set(qids) <= set(asked), f"{name}: QUESTION_TOOLS names questions it lacks: {set(qids) - set(asked)}"
        last = max(asked[q] for q in qids)
        problems += [f"cell {i} binds or uses {tool} before {max(qids, key=asked.get)} (cell {last})"
                     for i, cell in enumerate(nb.cells[:last + 1])
                     if cell.cell_type == "code" and _hands_over(cell.source, tool)]
    assert not problems, f"{name}: " + "; ".join(problems)


def carried(module):
    """``{name: function}`` of the helpers functions ``module`` holds as attributes but does not
    define (its own imports): ``plots.output_size`` would be ``formulas.output_size``.

    >>> from helpers import roofline
    >>> sorted(carried(roofline))[:3]
    ['Machine', 'conv2d_elems', 'flops']
    """
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and callable(v)
            and (getattr(v, "__module__", None) or "").startswith("helpers") and v.__module__ != module.__name__}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_copy_modules_carry_no_answer_helper(name):
    """A helpers module a student copy imports does not carry, among its attributes, what the
    copy may not hand over yet: before its last question a whole-answer helper (``EARLY_TOOLS``
    aside), before a ``QUESTION_TOOLS`` question a function of the module listed for it
    (``plots.output_size(224, 3, 2, 1)`` answers notebook 04's strides as ``formulas`` would)."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    asked, last = question_cells(nb), _last_question(nb)
    modules = {k: v for c in nb.cells if c.cell_type == "code" for k, v in _bound_modules(c.source).items()}
    tools = {}           # function -> the last cell of the questions its module answers
    for tool, qids in QUESTION_TOOLS.get(name, {}).items():
        module = modules.get(tool, getattr(importlib.import_module("helpers"), tool, None))   # 04: formulas unbound
        if isinstance(module, types.ModuleType):
            for function in vars(module).values():
                if callable(function) and getattr(function, "__module__", None) == module.__name__:
                    tools[function] = max(tools.get(function, -1), *(asked[q] for q in qids))
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for bound, module in _bound_modules(cell.source).items():
            for attr, function in carried(module).items():
                if i < last and attr in WHOLE_ANSWER - EARLY_TOOLS.get(name, set()):
                    problems.append(f"cell {i}: {bound}.{attr} is a whole-answer helper")
                if i <= tools.get(function, -1):
                    problems.append(f"cell {i}: {bound}.{attr} is {function.__module__}.{attr}, before its questions")
    assert not problems, f"{name}: " + "; ".join(problems)
