"""Plots for the notebooks. The only module of ``helpers`` that imports matplotlib.

Every function takes ``ax=None`` (a new figure is made) and returns the Axes.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = conv_diagram(5, 3, stride=2, padding=1)
>>> ax.get_title()
'input 5, kernel 3, stride 2, padding 1'
>>> conv_diagram(5, 3, dilation=2).get_title()
'input 5, kernel 3, stride 1, dilation 2'
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

# The counting helpers are imported inside the functions that use them, not here: a student
# copy that imports plots before its questions must not find formulas.output_size or
# roofline.ridge as attributes of this module (``plots.output_size(224, 3, 2, 1)``).

__all__ = ["conv_diagram", "roofline", "heatmap", "grouped_bars"]


def _axes(ax, size=(6, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def conv_diagram(size, kernel_size, stride=1, padding=0, dilation=1, position=(0, 0), ax=None):
    """One-axis-per-side convolution diagram in the style of Dumoulin & Visin's
    *A guide to convolution arithmetic for deep learning* (2016).

    The padded input (zeros hatched) is on the left with the taps of the kernel
    at output ``position`` shaded; the output grid is on the right with that
    output value shaded. ``padding`` is an int or a ``(before, after)`` pair.
    The title states the layer (padding and dilation only where there are some), not its
    output size: a notebook that asks for output sizes draws diagrams in the student copy,
    where a title stating it would make this a calculator.
    """
    from helpers.formulas import output_size

    before, after = (padding, padding) if np.isscalar(padding) else padding
    out = output_size(size, kernel_size, stride, (before, after), dilation)
    if out < 1:
        raise ValueError(f"kernel {kernel_size} does not fit input {size} with padding {padding}")
    ax = _axes(ax, (8, 4))
    full = size + before + after
    taps = {(position[0] * stride + a * dilation, position[1] * stride + b * dilation)
            for a in range(kernel_size) for b in range(kernel_size)}
    for r in range(full):
        for c in range(full):
            inside = before <= r < before + size and before <= c < before + size
            ax.add_patch(Rectangle((c, full - 1 - r), 1, 1, facecolor="#4c72b0" if (r, c) in taps
                                   else ("white" if inside else "#eeeeee"),
                                   edgecolor="#555555", hatch=None if inside else "//", lw=0.6))
    gap = full + 1.5
    for r in range(out):
        for c in range(out):
            ax.add_patch(Rectangle((gap + c, full - 1 - r), 1, 1, lw=0.6, edgecolor="#555555",
                                   facecolor="#dd8452" if (r, c) == tuple(position) else "white"))
    ax.annotate("", xy=(gap - 0.2, full / 2), xytext=(full + 0.2, full / 2),
                arrowprops={"arrowstyle": "->"})
    ax.set_xlim(-0.5, gap + out + 0.5)
    ax.set_ylim(-0.5, full + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    pad_text = before if before == after else f"({before}, {after})"
    ax.set_title(f"input {size}, kernel {kernel_size}, stride {stride}"   # no output size: the grid shows it
                 + (f", padding {pad_text}" if before or after else "")
                 + (f", dilation {dilation}" if dilation != 1 else ""))
    return ax


def _ridge_text(value):
    """A ridge as the legend writes it: whole numbers from 10 up, one decimal below.

    >>> _ridge_text(2706.2), _ridge_text(3.74)
    ('2,706', '3.7')
    """
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def roofline(machines, points=(), ax=None, intensities=None, measured=(), unit="ops"):
    """Log-log roofline of each machine.

    ``unit`` names the operations on the axes and in the legend ("ops", or
    "FLOP" for a floating-point machine), so a notebook's printed ridge can
    use the same unit and precision as the legend.

    ``points`` are ``(label, intensity, machine)``, placed at their attainable
    throughput on that machine's roof and labelled beside the point.
    ``measured`` are ``(label, intensity, ops_per_s)``, placed where they were
    measured; each gets its own marker and colour and is named in a legend to the
    right of the plot, so that labels of nearby points never overlap.
    """
    from helpers.roofline import attainable, ridge

    ax = _axes(ax, (9, 4.5) if len(measured) else (7, 4.5))
    xs = np.logspace(-1, 4.5, 200) if intensities is None else intensities
    for m in machines:
        ax.loglog(xs, attainable(m, xs), label=f"{m.name}: ridge {_ridge_text(ridge(m))} {unit}/B")
    for label, intensity, machine in points:
        y = attainable(machine, intensity)
        ax.plot([intensity], [y], "o", color="black", ms=4)
        ax.annotate(label, (intensity, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
    markers = "osD^vP*Xh<>"
    colours = plt.get_cmap("tab10").colors
    for k, (label, intensity, achieved) in enumerate(measured):
        ax.plot([intensity], [achieved], linestyle="none", marker=markers[k % len(markers)],
                color=colours[(k + len(machines)) % len(colours)], ms=6, label=f"{label} (measured)")
    ops = "operations" if unit == "ops" else unit
    ax.set_xlabel(f"arithmetic intensity ({ops} per byte)")
    ax.set_ylabel(f"attainable throughput ({ops}/s)")
    if len(measured):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
        ax.figure.subplots_adjust(right=0.7)
    else:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def heatmap(values, xticks, yticks, ax=None, xlabel="", ylabel="", title="", label="",
            fmt=None, cmap="viridis", norm=None):
    """Colour map of a 2-D array with labelled ticks (and the values, if ``fmt``)."""
    ax = _axes(ax, (6, 4.5))
    values = np.asarray(values, dtype=float)
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, norm=norm)
    labels = [str(t) for t in xticks]
    ax.set_xticks(range(len(labels)), labels, rotation=45 if max(map(len, labels)) > 4 else 0)
    ax.set_yticks(range(len(yticks)), [str(t) for t in yticks])
    if fmt:
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                    color="white" if v < np.nanmean(values) else "black")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return ax


def grouped_bars(labels, series, ax=None, ylabel="", title="", log=False):
    """Side-by-side bars: ``series`` maps a legend name to one value per label."""
    ax = _axes(ax, (8, 4))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for k, (name, values) in enumerate(series.items()):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return ax
