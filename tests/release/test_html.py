"""``python -m helpers html``: offline pages of the worked solutions, an index, no authoring marks,
and no file of the user's overwritten."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.release.build import ROOT, solution_paths
from helpers.release.html import render_html, to_mathml

DATA = Path(__file__).parent.parent / "data" / "release"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    return out, render_html(out)


def test_one_page_per_solution_and_an_index_linking_each(pages):
    out, paths = pages
    stems = [p.stem for p in solution_paths(ROOT)]
    assert [p.stem for p in paths] == [*stems, "index"]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', (out / "index.html").read_text())
    assert [href for href, _ in links] == [f"{s}.html" for s in stems]
    assert all((out / href).is_file() for href, _ in links)
    assert links[0][1].startswith("00")                       # titled by the notebook's heading


def test_pages_show_no_authoring_marks(pages):
    out, paths = pages
    for path in paths:
        page = path.read_text()
        for mark in ("BEGIN SOLUTION", "END SOLUTION", "hint=", "points=", "slips=", "rtol="):
            assert mark not in page, (path.name, mark)
    assert "check</span><span class=\"p\">(</span>" in (out / "08-tpu-utilisation.html").read_text()


def test_pages_load_nothing_from_the_network(pages):
    _, paths = pages
    for path in paths:
        page = path.read_text()
        assert "<script" not in page, path.name                 # no require.js, MathJax, Mermaid
        assert not re.search(r'<link[^>]+href="https?:', page), path.name
        assert not re.search(r'@import\s+url\(["\']?https?:', page), path.name


def test_formulas_are_mathml_and_figures_embedded(pages):
    out, _ = pages
    page = (out / "01-arithmetic-intensity.html").read_text()
    assert page.count("<math") > 20                                 # formulas as MathML
    assert "WBMATH" not in page and "<msup><mi>V</mi>" in page      # Markdown maths intact, not mangled
    assert "data:image/png;base64" in page                          # figures embedded
    assert "Lagrange" in page                                       # the worked proof is there


def test_mathml_conversion():
    html = to_mathml(r"inline $\lfloor L/S \rfloor + 1$ and display $$I = \frac{MNK}{MK+KN+MN}$$ and \$5")
    assert html.count("<math") == 2 and 'display="block"' in html and r"\$5" in html


def html_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "helpers", "html", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_refuses_a_folder_holding_other_files(tmp_path):
    (tmp_path / "notes.html").write_text("keep me")
    result = html_cli("--out", tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "notes.html" in result.stderr and "--force" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.html"]
    assert (tmp_path / "notes.html").read_text() == "keep me"


def test_force_writes_beside_other_files_and_rerunning_is_allowed(tmp_path):
    root = tmp_path / "project"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(DATA / "01-fixture.ipynb", root / "solutions")
    out = tmp_path / "html"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="notes.txt"):
        render_html(out, root)
    written = render_html(out, root, force=True)
    assert sorted(p.name for p in written) == ["01-fixture.html", "index.html"]
    assert (out / "notes.txt").read_text() == "keep me"
    assert render_html(out / "again", root) and render_html(out / "again", root)   # its own files: fine


def test_refuses_without_solutions_and_writes_nothing(tmp_path):
    (tmp_path / "notebooks").mkdir()
    result = html_cli("--out", tmp_path / "site", "--root", tmp_path)
    assert result.returncode == 2 and "no solution notebooks" in result.stderr
    assert not (tmp_path / "site").exists()
