"""Hand-outs: the student package leaks no solution; the HTML answers need no network for maths."""

import re
import subprocess
import sys

from helpers.release.blank import BEGIN, END
from helpers.release.publish import package, render_html, to_mathml
from helpers.release.build import ROOT, read, solution_paths


def solution_text():
    """``{notebook file name: non-trivial lines only its solution contains}``: region bodies
    and solution cells, less the lines its student copy has anyway (a plotting line of a
    solution-only cell may also draw a plot the student sees)."""
    secrets = {}
    for path in solution_paths(ROOT):
        found, shared = set(), set()
        for cell in read(path).cells:
            if "solution" in cell.metadata.get("tags", []):
                found |= {line.strip() for line in cell.source.splitlines() if len(line.strip()) > 25}
            elif BEGIN in cell.source:
                head, body = cell.source.split(BEGIN, 1)
                found |= {line.strip() for line in body.split(END)[0].splitlines()
                          if len(line.strip()) > 12 and not line.strip().startswith("def ")}  # signatures stay
                shared |= {line.strip() for line in (head + body.split(END, 1)[1]).splitlines()}
            else:
                shared |= {line.strip() for line in cell.source.splitlines()}
        secrets[path.name] = found - shared
    return secrets


def test_student_package_has_no_solution(tmp_path):
    files = package(tmp_path / "handout")
    names = {str(f) for f in files}
    assert "helpers/answers/answer_key.json" in names and "notebooks/00-getting-started.ipynb" in names
    assert not any(n.startswith(("solutions", "tests", ".ci")) for n in names)
    secrets = solution_text()
    assert sum(map(len, secrets.values())) > 50
    for f in files:
        if f.suffix == ".ipynb":
            text = (tmp_path / "handout" / f).read_text()
            leaked = [s for s in secrets[f.name] if s in text]
            assert not leaked, (f, leaked[:3])


def test_package_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").write_text("keep me")
    result = subprocess.run([sys.executable, "-m", "helpers", "release", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is not empty" in result.stderr
    assert (tmp_path / "x").read_text() == "keep me"


def test_mathml_conversion():
    html = to_mathml(r"inline $\lfloor L/S \rfloor + 1$ and display $$I = \frac{MNK}{MK+KN+MN}$$ and \$5")
    assert html.count("<math") == 2 and 'display="block"' in html and r"\$5" in html


def test_html_answers_are_self_contained(tmp_path):
    paths = render_html(tmp_path)
    assert [p.stem for p in paths] == [p.stem for p in solution_paths(ROOT)]
    page = (tmp_path / "01-arithmetic-intensity.html").read_text()
    assert page.count("<math") > 20                                 # formulas as MathML
    assert "WBMATH" not in page and "<msup><mi>V</mi>" in page      # Markdown maths intact, not mangled
    assert "data:image/png;base64" in page                          # figures embedded
    assert not re.search(r'<script[^>]+src="[^"]*mathjax', page, re.I)
    assert "Lagrange" in page                                       # the worked proof is there
