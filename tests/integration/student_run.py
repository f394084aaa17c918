"""Run student notebooks top to bottom in one IPython shell and record everything they show.

Used by ``test_leaks.py`` as ``python student_run.py OUT.json NOTEBOOK...``: one process
runs the notebooks one after another (each in a fresh namespace, imports shared), so
the suite pays the start-up of Python, numpy, sympy and matplotlib once. For every cell
it records what a student would see: stream text, each MIME type of displayed and
returned values, errors, and the text of every figure drawn (titles, axis labels, tick
labels the author placed, legends, annotations, table cells), read from the figure as the
inline backend renders it. Tick labels matplotlib placed by itself on a numeric axis are
left out: they follow the data's range (round numbers such as 0, 100, 400), and what the
data shows is judged through the labels and annotations that state it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

_KEEP = ("text/plain", "text/markdown", "text/latex", "text/html")


def _automatic_ticks(figure):
    """Ids of tick labels matplotlib placed by itself on a numeric axis (they follow the
    data range, so the author did not choose them); ticks set with ``set_xticks`` or
    categories are kept."""
    from matplotlib.ticker import FixedLocator
    skip = set()
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for locator, ticks in ((axis.get_major_locator(), axis.get_major_ticks()),
                                   (axis.get_minor_locator(), axis.get_minor_ticks())):
                if isinstance(locator, FixedLocator) or type(locator).__module__ == "matplotlib.category":
                    continue
                skip |= {id(t) for tick in ticks for t in (tick.label1, tick.label2)}
                skip.add(id(axis.offsetText))
    return skip


def _figure_texts(sink):
    """Record the text of every figure rendered from now on into ``sink`` (a list)."""
    import matplotlib.backend_bases as backend_bases
    import matplotlib.text as mtext
    original = backend_bases.FigureCanvasBase.print_figure

    def print_figure(self, *args, **kwargs):
        result = original(self, *args, **kwargs)        # drawn: tick labels are final now
        skip = _automatic_ticks(self.figure)
        sink.extend(t.get_text() for t in self.figure.findobj(mtext.Text)
                    if t.get_visible() and t.get_text() and id(t) not in skip)
        return result
    backend_bases.FigureCanvasBase.print_figure = print_figure


def run(path, shell):
    """``[{"cell": i, "outputs": [(kind, text), ...]}, ...]`` for the code cells of ``path``."""
    import nbformat
    from IPython.utils.capture import capture_output
    nb = nbformat.read(str(path), as_version=4)
    shell.reset(new_session=False)
    shell.run_line_magic("matplotlib", "inline")
    os.chdir(Path(path).parent)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        plots = _SINK[0] = []
        returned = _RESULTS[0] = []
        with capture_output() as captured:
            result = shell.run_cell(cell.source, store_history=True)
        outputs = [("stream", captured.stdout), ("stderr", captured.stderr)]
        for data in [out.data for out in captured.outputs] + returned:
            outputs += [(mime, data[mime]) for mime in _KEEP if mime in data]
        error = result.error_in_exec or result.error_before_exec
        if error is not None:
            outputs.append(("error", f"{type(error).__name__}: {error}"))
        outputs += [("plot", text) for text in plots]
        cells.append({"cell": index, "outputs": [(k, v) for k, v in outputs if v]})
    import matplotlib.pyplot as plt
    plt.close("all")
    return cells


_SINK = [[]]
"""The list the current cell's figure texts go to."""
_RESULTS = [[]]
"""The list the current cell's returned value (its MIME bundle) goes to."""


def _as_kernel_displayhook(shell):
    """Make the shell's displayhook hand a cell's value over as a MIME bundle, as a
    kernel's does (an ``execute_result``), instead of printing ``Out[n]: repr``."""
    hook = shell.displayhook
    hook.write_output_prompt = lambda: None
    hook.write_format_data = lambda format_dict, md_dict=None: _RESULTS[0].append(format_dict)


class _CellSink:
    def extend(self, items):
        _SINK[0].extend(items)


def main(out, paths):
    from IPython.core.interactiveshell import InteractiveShell

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):           # the inline backend needs no GUI loop
            pass
    shell = Shell.instance()
    _as_kernel_displayhook(shell)
    _figure_texts(_CellSink())
    results = {}
    for path in [Path(p).resolve() for p in paths]:
        start = time.perf_counter()
        results[Path(path).name] = {"cells": run(path, shell), "seconds": time.perf_counter() - start}
    Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
