"""Plot helpers: the convolution diagram shows exactly the taps and grid the arithmetic says."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from helpers import plots, roofline  # noqa: E402
from helpers.formulas import output_size  # noqa: E402


def cells(ax, colour):
    return [p for p in ax.patches if to_hex(p.get_facecolor()) == colour]


@pytest.mark.parametrize("size, k, s, p, d, pos", [(5, 3, 1, 1, 1, (0, 0)), (5, 3, 2, 1, 1, (1, 2)),
                                                   (7, 3, 1, 2, 2, (0, 1)), (5, 4, 1, (1, 2), 1, (1, 1))])
def test_conv_diagram_counts(size, k, s, p, d, pos):
    ax = plots.conv_diagram(size, k, stride=s, padding=p, dilation=d, position=pos)
    before, after = (p, p) if np.isscalar(p) else p
    full, out = size + before + after, output_size(size, k, s, (before, after), d)
    taps = cells(ax, "#4c72b0")
    assert len(taps) == k * k                                     # one shaded cell per kernel tap
    xs = sorted({t.get_x() for t in taps})
    assert xs[0] == pos[1] * s and xs[1] - xs[0] == d             # first tap and the dilation gap
    assert len(cells(ax, "#dd8452")) == 1                         # the output value they make
    assert len(ax.patches) == full * full + out * out
    matplotlib.pyplot.close("all")


def test_conv_diagram_title_states_the_layer_not_its_output_size():
    """Notebook 04 asks for output sizes and draws diagrams in the student copy: a title that
    stated the output (6 for this layer, stride.fn_small) would make the diagram a calculator."""
    ax = plots.conv_diagram(11, 3, stride=2, padding=1)
    assert ax.get_title() == "input 11, kernel 3, stride 2, padding 1"
    matplotlib.pyplot.close("all")


def test_conv_diagram_rejects_an_impossible_layer():
    with pytest.raises(ValueError, match="does not fit"):
        plots.conv_diagram(2, 5)


def test_roofline_points_sit_on_the_roof():
    """Haswell (Jouppi et al. 2017, Table 2): 51 GB/s and 1.3 TFLOP/s. At 0.5 FLOP/B the
    memory roof gives 25.5 GFLOP/s; at 100 FLOP/B (past the ridge, 25.5) the peak."""
    ax = plots.roofline([roofline.HASWELL], [("matvec", 0.5, roofline.HASWELL), ("gemm", 100, roofline.HASWELL)])
    placed = [line.get_data() for line in ax.lines[1:]]
    assert [(x[0], y[0]) for x, y in placed] == [(0.5, pytest.approx(25.5e9)), (100, pytest.approx(1.3e12))]
    matplotlib.pyplot.close("all")


def test_roofline_places_measured_points_where_measured():
    this = roofline.Machine("test", 1e11, 1e10, "made up")
    ax = plots.roofline([this], measured=[("conv", 50.0, 4e10), ("fc", 0.5, 3e9)])
    placed = [line.get_data() for line in ax.lines[1:]]
    assert [(x[0], y[0]) for x, y in placed] == [(50.0, 4e10), (0.5, 3e9)]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1:] == ["conv (measured)", "fc (measured)"]
    assert ax.get_xlabel() and ax.get_ylabel()
    matplotlib.pyplot.close("all")


def test_roofline_legend_names_the_unit_and_gives_small_ridges_a_decimal():
    this = roofline.Machine("test", 3.7e10, 1e10, "made up")                  # ridge 3.7
    ax = plots.roofline([this], measured=[("fc", 0.5, 3e9)], unit="FLOP")
    assert ax.get_legend().get_texts()[0].get_text() == "test: ridge 3.7 FLOP/B"
    assert "FLOP" in ax.get_xlabel() and "FLOP" in ax.get_ylabel()
    ax = plots.roofline([roofline.TPU_V1])          # Jouppi et al. 2017: 92 Tops/s / 34 GB/s = 2,705.9 ops/B
    assert ax.get_legend().get_texts()[0].get_text().endswith("ridge 2,706 ops/B")
    matplotlib.pyplot.close("all")
