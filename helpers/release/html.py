"""``python -m helpers html``: the worked solutions as pages that read offline.

``render_html(out)`` writes one self-contained HTML page per solution notebook and
an ``index.html`` linking them all. Pages carry no authoring marks (no ``### BEGIN
SOLUTION`` lines, no ``check(..., hint=..., points=...)`` keywords: those belong in
the answer key), embed their images and styles, load no script, and show every
formula (Markdown ``$...$`` and ``$$...$$``, and sympy's LaTeX outputs) as MathML,
which browsers display without MathJax or a network connection.

It refuses, writing nothing, when ``out`` holds a file it would not write itself
(unless ``force``), and when the project has no solution notebooks.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from helpers.release.blank import strip_check_options
from helpers.release.build import ROOT, solution_paths
from helpers.release.notebooks import BEGIN, END, read

__all__ = ["render_html", "publishable", "to_mathml", "index_page"]

_MATH = re.compile(r"(?<!\\)\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.S)
_OFFLINE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
"""
"""nbconvert's lab template without its script tags (require.js, MathJax, Mermaid and
widgets all come from CDNs): the pages need no script."""


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


def publishable(nb):
    r"""``nb`` as published: solution markers and ``check`` keywords dropped from code cells.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "### BEGIN SOLUTION\nx = 3\n### END SOLUTION\ncheck('a.b', x, hint='h', points=2)")])
    >>> print(publishable(nb).cells[0].source)
    x = 3
    check('a.b', x)
    """
    for cell in nb.cells:
        if cell.cell_type == "code":
            kept = [line for line in cell.source.split("\n") if line.strip() not in (BEGIN, END)]
            cell.source = strip_check_options("\n".join(kept))
    return nb


def _title(nb, stem):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return stem


def index_page(pages):
    """An ``index.html`` linking ``pages``, a list of ``(file name, title)``.

    Examples
    --------
    >>> 'href="01-x.html">01 &amp; more<' in index_page([("01-x.html", "01 & more")])
    True
    """
    items = "\n".join(f'<li><a href="{html.escape(name)}">{html.escape(title)}</a></li>'
                      for name, title in pages)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>CNN Cost Workbook: worked solutions</title>\n"
            "<style>body { font-family: sans-serif; max-width: 48em; margin: 2em auto; line-height: 1.6 }"
            "</style>\n</head>\n<body>\n"
            f"<h1>CNN Cost Workbook: worked solutions</h1>\n<ol>\n{items}\n</ol>\n</body>\n</html>\n")


def render_html(out, root=ROOT, force=False):
    """Render each solution notebook to ``out/NN-slug.html`` and ``out/index.html``.

    Returns the paths written. Raises ``ValueError``, writing nothing, when there is
    no solution notebook, or when ``out`` holds a file this would not write and
    ``force`` is false (with ``force``, such files are left alone).
    """
    out, paths = Path(out), solution_paths(root)
    if not paths:
        raise ValueError(f"no solution notebooks in {Path(root) / 'solutions'}: nothing to render")
    names = {f"{p.stem}.html" for p in paths} | {"index.html"}
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file: choose a folder for the HTML pages")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in names) if out.exists() else []
    if foreign and not force:
        raise ValueError(f"{out} holds files that html does not write ({', '.join(foreign[:3])}"
                         f"{', ...' if len(foreign) > 3 else ''}): choose another --out, or pass --force")
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(extra_loaders=[DictLoader({"offline.html.j2": _OFFLINE})],
                            template_file="offline.html.j2", embed_images=True)
    out.mkdir(parents=True, exist_ok=True)
    written, pages = [], []
    for path in paths:
        nb = publishable(read(path))
        pages.append((f"{path.stem}.html", _title(nb, path.stem)))
        tokens = _mathml_notebook(nb)
        body, _ = exporter.from_notebook_node(nb)
        for token, mathml in tokens.items():
            body = body.replace(token, mathml)
        target = out / f"{path.stem}.html"
        target.write_text(body)
        written.append(target)
    (out / "index.html").write_text(index_page(pages))
    return [*written, out / "index.html"]
