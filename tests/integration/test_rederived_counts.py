"""Notebooks 00-06: numbers in the solutions' tables and prose that the pin lists
(``test_pinned_numbers.py``) do not cover, each against its own computation here: summary
tables row by row, the Lagrange point of notebook 01's proof, im2col copies, resized
fields, the CS231n VGG-16 figure, the Inception design's prose."""

import math

import nbformat

from helpers.release.build import ROOT
from integration.solution_numbers import DESIGN_MODULES, TINY, alexnet_outputs, prose, shown
from reference.counts import ALEX_CONV, ALEX_FC_PARAMS, ALEX_MACS, ALEX_TV_PARAMS, VGG16


def table_rows(rows):
    """The rows and totals a summary table should print for ``(name, kind, output, params, MACs)``:
    activations = output elements, bytes = 4 per value, totals = column sums."""
    expected = []
    for name, kind, out, params, macs in rows:
        acts = math.prod(out)
        expected.append([name, kind, "x".join(map(str, out)), params, macs, acts, 4 * params, 4 * acts])
    return expected + [["total", *[sum(r[i] for r in expected) for i in range(3, 8)]]]


def printed_table(text, title, names):
    """The rows of the summary table printed under ``title`` whose first field is one of
    ``names``, then its total row, numbers as ints."""
    table = text.split(title)[1].split("\ntotal")
    lines = [line.split() for line in table[0].splitlines()[1:] if line and line.split()[0] in names]

    def numbers(fields):
        return [int(v.replace(",", "")) for v in fields]
    return [row[:3] + numbers(row[3:]) for row in lines] + [["total", *numbers(table[1].split("\n")[0].split())]]


def test_tiny_cnn_table_rows():
    """Notebook 00's summary of tiny-cnn (3x16x16), every column of every row and the
    totals: outputs by hand, activations = output elements, bytes = 4 per value."""
    c1, c2, fc = TINY["conv1"], TINY["conv2"], TINY["fc"]
    rows = [("conv1", "Conv2d", (4, 16, 16), *c1), ("relu1", "ReLU", (4, 16, 16), 0, 0),
            ("pool1", "MaxPool2d", (4, 8, 8), 0, 0), ("conv2", "Conv2d", (8, (8 - 3) // 2 + 1, (8 - 3) // 2 + 1), *c2),
            ("relu2", "ReLU", (8, 3, 3), 0, 0), ("pool2", "AvgPool2d", (8, (3 + 2 - 3) + 1, (3 + 2 - 3) + 1), 0, 0),
            ("flatten", "Flatten", (72,), 0, 0), ("fc", "Linear", (10,), *fc)]
    names = [name for name, *_ in rows]
    assert printed_table(shown("00-getting-started"), "tiny-cnn  input 3x16x16", names) == table_rows(rows)


def test_alexnet_table_rows():
    """Notebook 00's summary of AlexNet (3x227x227), all 23 rows (LRN, ReLU, dropout and
    flatten included) and the totals, from the layer list by hand (:func:`alexnet_outputs`)."""
    rows = alexnet_outputs()
    got = printed_table(shown("00-getting-started"), "alexnet  input 3x227x227", [name for name, *_ in rows])
    assert got == table_rows(rows)
    assert got[-1][1:3] == [ALEX_CONV + ALEX_FC_PARAMS, ALEX_MACS]     # the hand count of reference.counts


def test_notebook_01_givens_are_the_cited_figures():
    """Notebook 01 states the machine figures as plain givens; they must be helpers.machines'."""
    from helpers.machines import HASWELL, TPU_V1
    nb = nbformat.read(str(ROOT / "solutions" / "01-arithmetic-intensity.ipynb"), 4)
    values = {}
    for cell in nb.cells:
        if "given" in cell.metadata.get("tags", []):
            exec(cell.source, {}, values)
    assert (values["tpu_peak"], values["tpu_bandwidth"]) == (TPU_V1.peak, TPU_V1.bandwidth)
    assert (values["cpu_peak"], values["cpu_bandwidth"]) == (HASWELL.peak, HASWELL.bandwidth)


def test_matvec_intensity_is_just_under_half_a_flop_per_byte():
    """Notebook 01: a 4096 x 4096 matrix-vector product in fp32, 2 FLOPs per MAC."""
    fpb = 2 * 4096**2 / (4 * (4096**2 + 2 * 4096))
    assert 0.5 - 0.001 < fpb < 0.5
    assert "just under 0.5 FLOP per byte in fp32" in prose("01-arithmetic-intensity")


def test_lagrange_point_of_the_proof():
    """Notebook 01's proof: M = N = K = V^(1/3) with lambda = 2 V^(-1/3) solves the Lagrange
    conditions of minimising MK + KN + MN under MNK = V (put in, not solved for), the bounds
    D >= 3 V^(2/3) and MNK <= (A/3)^(3/2) hold on random shapes, and the printed solution is
    that point."""
    import numpy as np
    import sympy as sp

    V, lam = sp.symbols("V lambda", positive=True)
    m, n, k = sp.symbols("M N K", positive=True)
    point = {m: sp.cbrt(V), n: sp.cbrt(V), k: sp.cbrt(V), lam: 2 * V ** sp.Rational(-1, 3)}
    data, work = m * k + k * n + m * n, m * n * k
    for v in (m, n, k):
        assert sp.simplify((sp.diff(data, v) - lam * sp.diff(work, v)).subs(point)) == 0
    assert sp.simplify(work.subs(point) - V) == 0
    # numerically, at V = 1000, the point itself: central differences of data and work give
    # grad data = lambda grad work, MNK = V, and the data there is the bound 3 V^(2/3)
    at = {s: float(e.subs(V, 1000)) for s, e in point.items()}
    shape, h = np.array([at[m], at[n], at[k]]), 1e-5
    data_of, work_of = (lambda s: s[0] * s[2] + s[2] * s[1] + s[0] * s[1]), np.prod
    for step in np.eye(3) * h:
        d_data = (data_of(shape + step) - data_of(shape - step)) / (2 * h)
        d_work = (work_of(shape + step) - work_of(shape - step)) / (2 * h)
        assert abs(d_data - at[lam] * d_work) < 1e-8 * abs(d_data)
    assert abs(work_of(shape) - 1000) < 1e-9 * 1000
    assert abs(data_of(shape) - 3 * 1000 ** (2 / 3)) < 1e-9 * data_of(shape)
    rng = np.random.default_rng(0)
    mm, nn = np.exp(rng.uniform(-3, 3, (2, 10_000)))
    kk = 1000.0 / (mm * nn)
    assert (mm * kk + kk * nn + mm * nn >= 3 * 1000 ** (2 / 3) * (1 - 1e-12)).all()
    total = mm * kk + kk * nn + mm * nn
    assert (mm * nn * kk <= (total / 3) ** 1.5 * (1 + 1e-12)).all()
    text = prose("01-arithmetic-intensity")
    assert "$M = N = K = V^{1/3}$, $\\lambda = 2 V^{-1/3}$" in text and "$D \\ge 3\\,(V^2)^{1/3} = 3V^{2/3}$" in text
    assert "$MNK = \\sqrt{MK \\cdot KN \\cdot MN} \\le (A/3)^{3/2}$" in text
    sp.init_printing(use_latex="mathjax")
    expected = sp.pretty([{k: sp.cbrt(V), m: sp.cbrt(V), n: sp.cbrt(V), lam: 2 / sp.cbrt(V)}])
    assert expected in shown("01-arithmetic-intensity")


def test_shifted_gemm_copies_a_window_narrower_than_the_row():
    """Notebook 03: a tap's window is a matrix a GEMM can read in place only when M_c = L_c."""
    import numpy as np

    from helpers import lowering
    x = np.arange(2 * 6 * 6, dtype=float).reshape(2, 6, 6)
    tap = lowering._shifted(x, 1, 1, 4, 4, 1, 1)          # 3x3 filter, tap (1, 1): M_c = 4 < L_c = 6
    assert not np.shares_memory(tap.reshape(2, -1), x)
    whole = lowering._shifted(x, 0, 0, 6, 6, 1, 1)        # 1x1 filter, stride 1: M_c = L_c
    assert np.shares_memory(whole.reshape(2, -1), x)


def test_im2col_of_a_size_keeping_3x3_is_nine_times_the_input():
    """Notebook 03: build the im2col matrix of a 3x3, stride-1, padding-1 convolution
    window by window; count its entries and each input value's copies."""
    maps, side = 2, 6
    copies, entries = {}, 0
    for r in range(side):                      # output positions = input positions
        for c in range(side):
            for m in range(maps):
                for a in range(3):
                    for b in range(3):
                        entries += 1
                        y, x = r + a - 1, c + b - 1
                        if 0 <= y < side and 0 <= x < side:
                            copies[m, y, x] = copies.get((m, y, x), 0) + 1
    assert entries == 9 * maps * side * side
    assert copies[0, 2, 2] == 9 and copies[0, 0, 0] == 4        # fewer at the borders
    assert (f"makes a matrix {entries // (maps * side * side)} times the input, its padding zeros included"
            in prose("03-conv-as-gemm"))


def test_resized_receptive_field_fractions():
    """Notebook 04: a fixed field of r pixels covers r/rows of the height and r/cols of
    the width; the trained-on image is 1024 x 2048."""
    words = {2: "twice", 4: "four times"}
    (h0, w0), half, square = (1024, 2048), (512, 1024), (512, 512)
    text = prose("04-padding-and-stride")
    assert f"covers {words[h0 // half[0]]} the fraction of its height and of its width" in text
    assert (f"covers {words[h0 // square[0]]} the fraction of the height and {words[w0 // square[1]]} the fraction "
            "of the width") in text
    assert f"squeezed {words[(w0 // square[1]) // (h0 // square[0])]} as much horizontally as vertically" in text


# The CS231n notes' VGG-16 memory table ("Convolutional Neural Networks (CNNs / ConvNets)", section
# "VGGNet in detail", https://cs231n.github.io/convolutional-networks/#case): the products its rows
# write, from INPUT to the last FC, as transcribed from the page, and the total it prints.
CS231N_VGG16_ROWS = [224 * 224 * 3, 224 * 224 * 64, 224 * 224 * 64, 112 * 112 * 64, 112 * 112 * 128,
                     112 * 112 * 128, 56 * 56 * 128, 56 * 56 * 256, 56 * 56 * 256, 56 * 56 * 256, 28 * 28 * 256,
                     28 * 28 * 512, 28 * 28 * 512, 28 * 28 * 512, 14 * 14 * 512, 14 * 14 * 512, 14 * 14 * 512,
                     14 * 14 * 512, 7 * 7 * 512, 4096, 4096, 1000]
CS231N_TOTAL = "24M * 4 bytes ~= 93MB / image"


def test_cs231n_vgg16_memory_figure():
    """Notebook 05 quotes the CS231n table's total with its address; its own rows add up to
    the (h) count for VGG-16, which is not 24 million."""
    total = sum(CS231N_VGG16_ROWS)
    assert total == VGG16[2] and round(total / 1e6) != 24
    text = prose("05-alexnet-vgg")
    assert "<https://cs231n.github.io/convolutional-networks/#case>" in text and f'"{CS231N_TOTAL}"' in text
    assert f"about {total / 1e6:.1f} million values, not 24 million" in text


def test_torchvision_alexnet_parameters_by_hand():
    """torchvision's documented 61,100,840 parameters (notebook 05) is the hand count of its layers."""
    assert ALEX_TV_PARAMS == 61_100_840


def test_inception_design_prose_matches_the_design():
    """Notebook 06's model answer quotes the design's 3x3 reduction fractions."""
    nb = nbformat.read(str(ROOT / "solutions" / "06-inception.ipynb"), 4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    fractions = [f"{r3 / reads:g}" for _, reads, r3, _, _ in DESIGN_MODULES]
    assert f"{fractions[0]}, {fractions[1]} and {fractions[2]} of it" in prose
    assert max(r5 / reads for _, reads, _, r5, _ in DESIGN_MODULES) <= 1 / 8   # "at most an eighth"


def test_inception_design_head_prose():
    """Notebook 06's model answer: a dense layer on the flattened 352 x 8 x 8 map against the
    352 x 10 of the global-pooling head."""
    maps, side = 96 + 128 + 64 + 64, 32 // 2 // 2
    assert f"flattened ${maps} \\times {side} \\times {side}$ map would need {side * side} times as many" \
        in prose("06-inception")
