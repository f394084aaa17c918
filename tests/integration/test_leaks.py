"""No student notebook shows a keyed answer; ``test_answer_cells.py`` checks that no answer
cell is one call to a helper.

Every student notebook (``notebooks/``) is run top to bottom with its answers blank
(:mod:`student_run`, once per notebook for all tests here). From what a student then
sees — every markdown source; every stream, plain-text, HTML (tags stripped), LaTeX
and Markdown output; error messages; the text of every figure (titles, axis labels,
legends, annotations, table cells, tick labels the author placed — not those matplotlib
places by itself along a numeric axis, which follow the data's range) — every number and every word is taken and judged
with the project's own :func:`~helpers.answers.judge.judge` against every question of
that notebook; so is every question's hint (shown after a wrong answer). Any value
judged correct is a leak: the test names notebook, cell and question.

Numbers are read as written (``61,100,840``, ``0.0117``, ``2.5e6``, ``3 \\times 10^{6}``),
also scaled by a unit or percent sign right after them (``61.1 M``, ``1.17 %``), as
simple fractions (``3/256``), and pairs/triples (``16 × 32``, ``(1, 2)``) for tuple
answers. Words are runs of letters, digits and ``_`` (two characters or more).

Two exemptions, both because the value is part of the question, not of its answer:

- a value written in one of the notebook's ``given`` cells (the problem's givens,
  stated in its table too): when an answer equals a given (the output side of a
  stride-1 "same" convolution is its input side), stating the given is not a leak;
- for yes/no questions, the words yes/no/true/false in *markdown* and hints (the prose
  offers both); in outputs and figures they are judged like every other word.

Not covered (a reviewer's eye is): symbolic answers written as formulas, and numbers
that only their product or sum would reveal.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from helpers.answers.judge import KEY_PATH, judge, load_key
from helpers.answers.keying import make_entry
from helpers.release.build import ROOT
from helpers.release.notebooks import question_cells, tags
from integration.student_copies import NOTEBOOKS, TIMING

YES_NO = {"yes", "no", "true", "false"}

# --- what a student sees ------------------------------------------------------------------------

_GROUPED = r"\d{1,3}(?:(?:,|\{,\}|\\,|\u2009|\u202f|_)\d{3})+"
_NUMBER = re.compile(
    r"(?<![\w.])([-−])?(" + _GROUPED + r"(?:\.\d+)?|\d+\.\d*|\.\d+|\d+)(?:[eE]([-+]?\d+))?"
    r"(?:\s*(?:×|\\times|\\cdot)\s*10\^\{?([-+−]?\d+)\}?)?"
    r"(?:\s*(%|\\%|Ki|Mi|Gi|Ti|k|K|M|G|T)(?![A-Za-z]))?")
_FRACTION = re.compile(r"(?<![\w.])(\d+)\s*/\s*(\d+)(?![\w.])")
_SEQUENCE = re.compile(r"(?<![\w.])(?=(\d+)\s*(?:,|×|x|\\times)\s*(\d+)(?:\s*(?:,|×|x|\\times)\s*(\d+))?(?![\w.]))")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_SCALE = {"%": 0.01, "\\%": 0.01, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def numbers(text):
    """Every number written in ``text`` (ints stay ints), with its scaled readings.

    Examples
    --------
    >>> sorted(numbers("61,100,840 params; 1.17 % of 3/256; 2.5e6 and 61.1 M in conv1"))
    [0.0117, 0.01171875, 1.17, 3, 61.1, 256, 2500000.0, 61100000.0, 61100840]
    """
    found = set()
    for match in _NUMBER.finditer(text):
        sign, digits, exponent, power, unit = match.groups()
        digits = re.sub(r"\{,\}|\\,|[,\u2009\u202f_]", "", digits)
        try:
            value = float(f"{digits}e{exponent}") if exponent else float(digits) if "." in digits else int(digits)
            if power:
                value = value * 10.0 ** int(power.replace("−", "-"))
        except (ValueError, OverflowError):
            continue
        values = {value, value * _SCALE[unit]} if unit else {value}
        found |= values | ({-v for v in values} if sign else set())
    found |= {int(a) / int(b) for a, b in _FRACTION.findall(text) if int(b)}
    return found


def sequences(text):
    """Pairs and triples of whole numbers written together: ``16 × 32``, ``(1, 2)``."""
    found = set()
    for match in _SEQUENCE.finditer(text):
        items = tuple(int(g) for g in match.groups() if g is not None)
        found |= {items, items[:2]}
    return found


def words(text):
    return {w.lower() for w in _WORD.findall(text)}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def html_text(source):
    parser = _Text()
    parser.feed(source)
    return " ".join(parser.parts)


def seen(nb, executed):
    """``(cell index, where, text)`` for everything a student sees in the executed notebook.

    Outputs of cells that start with ``# NBVAL_IGNORE_OUTPUT`` are left out (their source,
    like every cell's, is not judged either; markdown is): they are timings of this machine
    under its current load, which land anywhere, so one run's "77 % of the time" or "400.0 ms"
    can fall within tolerance of an answer by chance and fail the test at random, and no fixed
    set of outputs exists to review. What such a cell prints is in the reviewer's hands: it
    must print measurements only, never a count the exercise asks for.
    """
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            yield index, "markdown", cell.source
    for cell in executed["cells"]:
        if nb.cells[cell["cell"]].source.startswith(TIMING):
            continue
        for kind, text in cell["outputs"]:
            yield cell["cell"], kind, html_text(text) if kind == "text/html" else text


def given_values(nb):
    """Numbers and words written as values in the notebook's ``given`` cells."""
    values = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "given" in tags(cell):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) \
                        and not isinstance(node.value, bool):
                    values.add(node.value.lower() if isinstance(node.value, str) else node.value)
    return values


def _is_yes_no(qid, entry):
    return entry["kind"] == "text" and any(judge(qid, w, entry) for w in ("yes", "no"))


def leaks(name, texts, questions, givens=frozenset()):
    """Every ``"cell N (where): value is accepted for qid"`` in ``texts`` (see the module docstring)."""
    candidates = {}                                   # (kind, value) -> first (cell, where)
    for index, where, text in texts:
        for value in numbers(text):
            candidates.setdefault(("number", value), (index, where))
        for value in sequences(text):
            candidates.setdefault(("tuple", value), (index, where))
        for value in words(text):
            candidates.setdefault(("word", value), (index, where))
            if where != "markdown" and not where.startswith("hint"):      # prose offers both yes and no
                candidates.setdefault(("output word", value), (index, where))
    accepts = {"number": ("int", "real"), "tuple": ("tuple",), "word": ("text",), "output word": ("text",)}
    jobs = []
    for (kind, value), (index, where) in sorted(candidates.items(), key=lambda kv: (kv[1][0], str(kv[0]))):
        if value in givens:
            continue
        for qid, entry in questions.items():
            if entry["kind"] not in accepts[kind]:
                continue
            if kind == "word" and value in YES_NO and _is_yes_no(qid, entry):
                continue                              # judged in outputs only ("output word")
            if kind == "number" and entry["kind"] == "int" and not float(value).is_integer():
                continue
            jobs.append((qid, value, entry, f"{name} cell {index} ({where}): {value!r} is accepted for {qid}"))
    # PBKDF2 releases the GIL: two threads judge twice as fast when the other core is free
    with ThreadPoolExecutor(max_workers=2) as pool:
        accepted = pool.map(lambda job: judge(*job[:3]).status == "correct", jobs)
        return sorted({job[3] for job, ok in zip(jobs, accepted, strict=True) if ok})


# --- the notebooks -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    """What each student notebook shows when run with blank answers (one run each)."""
    out = tmp_path_factory.mktemp("student-run") / "shown.json"
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env.pop("WORKBOOK_MODE", None), env.pop("WORKBOOK_RECORD", None)
    subprocess.run([sys.executable, str(Path(__file__).with_name("student_run.py")), str(out),
                    *(str(ROOT / "notebooks" / n) for n in NOTEBOOKS)],
                   check=True, timeout=900, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _questions(name):
    return {q: e for q, e in load_key(KEY_PATH).items()
            if e.get("notebook") == Path(name).stem and e["kind"] != "manual"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_runs_with_blank_answers(name, shown):
    errors = [f"cell {c['cell']}: {text}" for c in shown[name]["cells"] for kind, text in c["outputs"]
              if kind == "error"]
    assert not errors, f"{name} raised with blank answers: " + "; ".join(errors)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_shows_no_keyed_answer(name, shown):
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    assert _questions(name), f"{name}: the key has no questions for it"
    cells = question_cells(nb)
    hints = [(cells.get(q, "?"), f"hint of {q}", e["hint"]) for q, e in _questions(name).items()]
    found = leaks(name, [*seen(nb, shown[name]), *hints], _questions(name), given_values(nb))
    assert not found, f"{len(found)} keyed answer(s) shown by the student copy:\n" + "\n".join(found)


# --- the detector itself ---------------------------------------------------------------------------

def test_the_detector_finds_planted_leaks_and_spares_givens():
    questions = {"t.params": make_entry("t.params", 62378344), "t.util": make_entry("t.util", 3 / 256),
                 "t.side": make_entry("t.side", 224), "t.map": make_entry("t.map", (16, 32)),
                 "t.fits": make_entry("t.fits", "no"), "t.layer": make_entry("t.layer", "conv2")}
    texts = [(1, "markdown", "Does it fit? Answer yes or no. The input is 224 × 224."),
             (2, "stream", "total params 62,378,344"),
             (3, "text/html", html_text("<td>1.17&nbsp;%</td><td>3/256</td>")),
             (4, "plot", "feature map 16 × 32"),
             (5, "stream", "False"),
             (6, "plot", "slowest: conv2")]
    found = leaks("demo", texts, questions, givens={224})
    assert found == ["demo cell 2 (stream): 62378344 is accepted for t.params",
                     "demo cell 3 (text/html): 0.0117 is accepted for t.util",
                     "demo cell 3 (text/html): 0.01171875 is accepted for t.util",
                     "demo cell 4 (plot): (16, 32) is accepted for t.map",
                     "demo cell 5 (stream): 'false' is accepted for t.fits",
                     "demo cell 6 (plot): 'conv2' is accepted for t.layer"]
    assert leaks("demo", texts[:1], questions) == ["demo cell 1 (markdown): 224 is accepted for t.side"]


def test_timing_outputs_are_not_judged_but_other_outputs_and_markdown_are():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("about 400 values"),
                                         nbformat.v4.new_code_cell(f"{TIMING}\nprint(t)"),
                                         nbformat.v4.new_code_cell("print(n)")])
    executed = {"cells": [{"cell": 1, "outputs": [["stream", "400.0 ms"]]},
                          {"cell": 2, "outputs": [["stream", "400 values"]]}]}
    assert list(seen(nb, executed)) == [(0, "markdown", "about 400 values"), (2, "stream", "400 values")]


# --- tolerances are what the notebooks say ------------------------------------------------------------

def _percent_forms(rtol):
    """How a notebook may write a tolerance: ``10 %``, ``10%``, ``10\\,\\%``, ``0.1``."""
    pct = f"{rtol * 100:g}"
    return [f"{pct} %", f"{pct}%", f"{pct}\\,\\%", f"{pct} \\%", f"{pct}\\%", f"{pct}~\\%", f"rtol={rtol:g}"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stated_tolerances_match_the_key(name):
    """A real answer with a tolerance other than the default says it in the student copy."""
    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    unstated = [f"{q} (rtol {e['rtol']:g})" for q, e in _questions(name).items()
                if e["kind"] == "real" and e["rtol"] != 0.005
                and not any(form in text for form in _percent_forms(e["rtol"]))]
    assert not unstated, f"{name}: tolerances the problem text does not state: {', '.join(unstated)}"
