"""Hand-outs: the student package (``release --out``) and HTML answers (``python -m helpers html``).

``package(out)`` copies what students need — the student notebooks, the
``helpers`` package with its answer key, the README, the requirements and the
Makefile — and nothing of ``solutions/`` or the tests.

``render_html(out)`` renders every solution notebook to one self-contained HTML
file: images embedded, styles inline, and every formula (Markdown ``$...$`` and
``$$...$$``, and sympy's LaTeX outputs) converted to MathML, which browsers
display without MathJax or a network connection.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from helpers.release.build import ROOT, read, solution_paths

__all__ = ["package", "render_html", "to_mathml"]

_PACKAGE_FILES = ("README.md", "requirements.txt", "environment.yml", "pyproject.toml", "Makefile")
_MATH = re.compile(r"(?<!\\)\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.S)


def package(out, root=ROOT):
    """Write the student hand-out into ``out`` (which must not exist or be empty)."""
    root, out = Path(root), Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: choose a new folder for the hand-out")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        shutil.copy2(path, out / "notebooks" / path.name)
    shutil.copytree(root / "helpers", out / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in _PACKAGE_FILES:
        if (root / name).exists():
            shutil.copy2(root / name, out / name)
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def to_mathml(text):
    """Replace ``$...$`` and ``$$...$$`` in Markdown by MathML.

    Examples
    --------
    >>> to_mathml("size $n/3$ here").startswith('size <math')
    True
    """
    from latex2mathml.converter import convert

    def one(match):
        display = match.group(1) is not None
        tex = (match.group(1) if display else match.group(2)).strip()
        try:
            return convert(tex, display="block" if display else "inline")
        except Exception:  # noqa: BLE001 - keep the source if a formula does not convert
            return match.group(0)
    return _MATH.sub(one, text)


def _mathml_notebook(nb):
    """Put MathML in place of LaTeX: outputs directly; Markdown through placeholder
    tokens (nbconvert's Markdown renderer would mangle nested MathML tags), which
    :func:`render_html` replaces in the finished page. Returns the token map."""
    from latex2mathml.converter import convert
    tokens = {}

    def stash(match):
        token = f"WBMATH{len(tokens):05d}X"
        tokens[token] = to_mathml(match.group(0))
        return token
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _MATH.sub(stash, cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            latex = data.get("text/latex")
            if latex:
                try:
                    data["text/html"] = convert(latex.strip().strip("$").strip(), display="block")
                    del data["text/latex"]
                except Exception:  # noqa: BLE001 - keep LaTeX if a formula does not convert
                    pass
    return tokens


def render_html(out, root=ROOT):
    """Render each solution notebook to ``out/NN-slug.html``; return the paths."""
    from nbconvert import HTMLExporter
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    exporter.mathjax_url = ""
    written = []
    for path in solution_paths(root):
        nb = read(path)
        tokens = _mathml_notebook(nb)
        body, _ = exporter.from_notebook_node(nb)
        for token, mathml in tokens.items():
            body = body.replace(token, mathml)
        body = re.sub(r'<script[^>]*src="[^"]*mathjax[^"]*"[^>]*></script>', "", body, flags=re.I)
        target = out / f"{path.stem}.html"
        target.write_text(body)
        written.append(target)
    return written
