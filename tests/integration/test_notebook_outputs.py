"""Numbers the solution notebooks display (beyond keyed answers), each against a value
written here from first principles or a cited figure. Timing outputs are not checked."""

import math

import nbformat
import pytest

from helpers.release.build import ROOT
from reference.resnet import resnet50_conv_weights, resnet50_counts


def shown(notebook):
    """Everything the stored outputs of a solution notebook print."""
    nb = nbformat.read(str(ROOT / "solutions" / f"{notebook}.ipynb"), 4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            parts += ["".join(v) if isinstance(v, list) else str(v) for k, v in out.get("data", {}).items()
                      if k in ("text/plain", "text/html")]
    return "\n".join(parts)


from reference.counts import (  # noqa: E402
    ALEX_CONV,
    ALEX_CONV_MACS,
    ALEX_FC_PARAMS,
    ALEX_GROUPED_CONV,
    ALEX_MACS,
    VGG16,
    VGG19,
    inception_params,
)
from reference.resnet20 import BN_CHANNELS, KEPT_PER_IMAGE, resnet20_counts  # noqa: E402

INCEPTION_3X3_PER_R = 32 * 32 * (256 + 192 * 9)      # 1x1 256 -> r, then 3x3 r -> 192, per unit of r


# notebook 06's model answer for (e): stem 3 -> 64, three modules, classifier 352 -> 10
DESIGN_PARAMS = (3 * 3 * 3 * 64 + 64) + inception_params(64, 32, 48, 64, 8, 16, 16) \
    + inception_params(128, 64, 64, 96, 16, 48, 32) + inception_params(240, 96, 96, 128, 24, 64, 64) \
    + 352 * 10 + 10

def field_sizes(layers):
    """Receptive-field recurrence on (name, kernel, stride): [(name, size, jump)] after each layer."""
    size, jump, out = 1, 1, []
    for name, k, s in layers:
        size, jump = size + (k - 1) * jump, jump * s
        out.append((name, size, jump))
    return out


ALEX_SPATIAL = [("conv1", 11, 4), ("pool1", 3, 2), ("conv2", 5, 1), ("pool2", 3, 2), ("conv3", 3, 1),
                ("conv4", 3, 1), ("conv5", 3, 1), ("pool5", 3, 2)]
# zoo tiny-cnn, 3x16x16: conv 3x3 pad 1 -> 4 maps; maxpool 2; conv 3x3 stride 2 -> 8 maps of 3x3;
# avgpool 3 stride 1 pad 1; dense 72 -> 10. (params, MACs) per layer with weights.
TINY = {"conv1": (4 * 3 * 9 + 4, 16 * 16 * 4 * 3 * 9), "conv2": (8 * 4 * 9 + 8, 3 * 3 * 8 * 4 * 9),
        "fc": (72 * 10 + 10, 72 * 10)}
GEMV = 4096**2 / (4096**2 + 2 * 4096)              # MACs per element of a 4096 x 4096 matrix-vector product
HASWELL_GEMV = 51e9 * 2 * GEMV / 4                 # bandwidth x FLOPs per byte (Jouppi et al. 2017, Table 2)
HD = 3 * 1024 * 2048


# notebook 06's design: (module, input maps, 3x3 reduction, 5x5 reduction, output maps)
DESIGN_MODULES = [("inc1", 64, 48, 8, 32 + 64 + 16 + 16), ("inc2", 128, 64, 16, 64 + 96 + 48 + 32),
                  ("inc3", 240, 96, 24, 96 + 128 + 64 + 64)]


def vgg19_rows():
    """(name, output, values, params, MACs) per convolution, pooling and dense layer of
    VGG-19 (Simonyan & Zisserman 2015, configuration E) on 3x224x224."""
    rows, cin, side = [], 3, 224
    for stage, (n, maps) in enumerate(zip((2, 2, 4, 4, 4), (64, 128, 256, 512, 512), strict=True), 1):
        for i in range(1, n + 1):
            rows.append((f"conv{stage}_{i}", f"{maps}x{side}x{side}", maps * side * side,
                         9 * cin * maps + maps, side * side * maps * cin * 9))
            cin = maps
        side //= 2
        rows.append((f"pool{stage}", f"{cin}x{side}x{side}", cin * side * side, 0, 0))
    fan_in = cin * side * side
    for name, out in (("fc6", 4096), ("fc7", 4096), ("fc8", 1000)):
        rows.append((name, str(out), out, fan_in * out + out, fan_in * out))
        fan_in = out
    return rows


VGG19_ROWS = vgg19_rows()
VGG19_EARLY = 3 * 224 * 224 + 2 * 64 * 224 * 224 + 64 * 112 * 112 + 2 * 128 * 112 * 112 + 128 * 56 * 56

full = resnet50_counts(1.0)
half = resnet50_counts(0.5)
ALEX_FC = 9216 * 4096 + 4096 * 4096 + 4096 * 1000
VGG16_CONV_OUT = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 3 * 56 * 56 * 256 + 3 * 28 * 28 * 512 + 3 * 14 * 14 * 512

def conv_intensity(side_in, side_out, c_in, c_out, k, batch=8):
    """FLOPs per byte of a square convolution on a batch: input, output and weights moved once (fp32)."""
    macs = batch * side_out**2 * c_out * c_in * k * k
    return 2 * macs / (4 * (batch * c_in * side_in**2 + batch * c_out * side_out**2 + c_out * c_in * k * k))


def dense_intensity(n_in, n_out, batch=8):
    return 2 * batch * n_in * n_out / (4 * (n_in * n_out + batch * n_in + batch * n_out))


R20, R20_HALF = resnet20_counts(16), resnet20_counts(8)
EXPECTED = {
    "00-getting-started": [
        *[f"{v:,}" for params, macs in TINY.values() for v in (params, macs)],
        f"{sum(p for p, _ in TINY.values()):,}", f"{sum(m for _, m in TINY.values()):,}",
        *[f"('{n}', '{kind}', {r}, {j})" for (n, r, j), kind in
          zip(field_sizes([("conv1", 3, 1), ("pool1", 2, 2), ("conv2", 3, 2), ("pool2", 3, 1)]),
              ("Conv2d", "MaxPool2d", "Conv2d", "AvgPool2d"), strict=True)],
        f"{11 * 11 * 3 * 96 + 96:,}", f"{55 * 55 * 96 * 363:,}",
        f"{ALEX_CONV + ALEX_FC_PARAMS:,}", f"{ALEX_MACS:,}",
        *[f"('{n}', {r}, {j})" for n, r, j in field_sizes(ALEX_SPATIAL)],
        f"conv1 output is {(227 - 11) // 4 + 1} x {(227 - 11) // 4 + 1}",
    ],
    "01-arithmetic-intensity": [
        "{1: 1, 3: 1}",                                   # eigenvalues of [[2, 1], [1, 2]]
        f"TPU ridge {92e12 / 34e9:,.1f} ops/B", f"Haswell ridge {1.3e12 / 51e9:.1f} FLOP/B",
        f"matvec {HASWELL_GEMV / 1e9:.2f} GFLOP/s",
    ],
    "02-dense-layers": [f"{n * n + 2 * n:,} elements = {4 * (n * n + 2 * n) / 10**power:.1f} {unit}B"
                        for n, power, unit in ((784, 6, "M"), (3072, 6, "M"), (150528, 9, "G"),
                                               (3 * 512 * 1024, 12, "T"), (3 * 1024 * 2048, 12, "T"))],
    "03-conv-as-gemm": [repr(math.sqrt((256 * 256 * 9) / (256 + 256))),              # filter = activations
                        "3x3 tap: the matrix shares memory with the input: False",
                        "1x1 tap: the matrix shares memory with the input: True"],
    "04-padding-and-stride": [f"(F + L - 1, {(224 + 4 - 3) // 1 + 1}, {(224 + 4 - 3) // 2 + 1})",
                              f"(64, {224 * 224}, {64 * 9})", f"(64, {112 * 112}, {64 * 9})", "(2048, 16, 32)"],
    "05-alexnet-vgg": [
        f"weights {4 * (ALEX_GROUPED_CONV + ALEX_FC_PARAMS) / 1e6:.1f} MB",
        f"weights {4 * 61_100_840 / 1e6:.1f} MB",          # torchvision's documented parameter count
        # two-GPU AlexNet: conv2, conv4, conv5 see half the input maps
        format(55 * 55 * 96 * 363 + 27 * 27 * 256 * 48 * 25 + 13 * 13 * 384 * 256 * 9 + 13 * 13 * 384 * 192 * 9
               + 13 * 13 * 256 * 192 * 9 + ALEX_FC, ","),
        # torchvision AlexNet: 64/192/384/256/256 maps on 224 x 224
        format(55 * 55 * 64 * 363 + 27 * 27 * 192 * 64 * 25 + 13 * 13 * 384 * 192 * 9 + 13 * 13 * 256 * 384 * 9
               + 13 * 13 * 256 * 256 * 9 + ALEX_FC, ","),
        # VGG-16, every leaf output: convs twice (ReLU), pools, flatten, dense twice (ReLU), dropouts, fc8
        "every leaf output " + format(2 * VGG16_CONV_OUT + 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256
                                      + 14 * 14 * 512 + 7 * 7 * 512 * 2 + 4096 * 6 + 1000, ","),
        # ... which is the stored values less the input, plus the ReLU outputs, the dropouts and the flatten
        f"+ {VGG16_CONV_OUT + 4 * 4096 + 7 * 7 * 512:,} ReLU/dropout/flatten values",
        f"{ALEX_GROUPED_CONV + ALEX_FC_PARAMS:,}   MACs",
        "61,100,840   MACs",                                   # torchvision's documented count
        *[f"stored {stored:,} values = {4 * stored / 2**20:.1f} MiB" for _, _, stored in (VGG16, VGG19)],
        *[f"weights {4 * params / 2**20:.1f} MiB" for params, _, _ in (VGG16, VGG19)],
        # the student's VGG-19 table, row by row
        *[f"{name:<8}{shape:>13}{values:>12,}{params:>13,}{macs:>16,}"
          for name, shape, values, params, macs in VGG19_ROWS],
        f"fc6 holds {(7 * 7 * 512 * 4096 + 4096) / VGG19[0]:.1%} of the parameters",
        f"the convolutions do {(VGG19[1] - 7 * 7 * 512 * 4096 - 4096 * 4096 - 4096 * 1000) / VGG19[1]:.1%} of the MACs",
        f"stages 1-2 (with the input) hold {VGG19_EARLY / VGG19[2]:.1%} of the stored values",
    ],
    "06-inception": [f"{1024 * 128 * 256:,}", f"{1024 * 192 * 256 * 9:,}", f"{1024 * 96 * 256 * 25:,}",
                     f"{1024 * (256 * 128 + 128 * 192 * 9):,}", f"{1024 * (256 * 32 + 32 * 96 * 25):,}",
                     f"{1024 * 256 * 64:,}", "(672, 32, 32)", "(480, 32, 32)", repr(6912 / 31),
                     f"{INCEPTION_3X3_PER_R}*r", "6912/(31*r)", f"parameters {DESIGN_PARAMS:,}",
                     "the largest cheaper width is "
                     f"{max(r for r in range(1, 257) if r * (256 + 9 * 192) < 256 * 192 * 9)}",
                     *[f"{name}: reads {reads} maps; the reductions keep {r3 / reads:g} (3x3) and {r5 / reads:g} (5x5) "
                       f"of them; outputs {out} maps" for name, reads, r3, r5, out in DESIGN_MODULES]],
    "07-receptive-field-and-width": [f"{v:,}" for v in full + half]
        + [f"ratio {h / f:.4f}" for f, h in zip(full, half, strict=True)] + ["size=483", "size=427", "impulse span: 17",
           "(one layer: 1/2)", "(one layer: 1/4)",
           f"convolution weights only: ratio {resnet50_conv_weights(0.5) / resnet50_conv_weights(1.0):.4f}"],
    "08-tpu-utilisation": [
        f"{65536 * 700e6 / 34e9:,.1f} uses per weight", f"MACs {54 * 54 * 48 * 3 * 49:,}",
        f"MACs {54 * 54 * 48 * 48 * 4:,}",
        f"{(54 * 54 * 48 * 48 * 4) / (54 * 54 * 48 * 3 * 49):.3f}", f"params {7 * 7 * 3 * 48 + 48:,}",
        f"params {2 * 2 * 48 * 48 + 48:,}", "output (48, 54, 54)", "(48, 4, 4) (48, 4, 4) - same values: True",
        # a 1x1 layer needs n^2 >= 1400 (37^2 = 1369); the 7x7 stride-4 layer 38 outputs per side, 37 * 4 + 7 inputs
        "1x1 reading 38", f"strided reading {37 * 4 + 7} (38 outputs per side)", "paper's balance gives 37",
        f"centre tap {3 * 48 / 65536:.5f}", f"restacked tap {48 * 48 / 65536:.5f} (16 x)",
        f"stacked {4 * 48 * 48 / 65536:.5f} (4 x)",
        f"49 weight loads x {54 * 54:,} vectors = {49 * 54 * 54:,} vectors",
        f" 4 weight loads x {54 * 54:,} vectors = {4 * 54 * 54:,} vectors",
        f"147 x 48 weights, utilisation {147 * 48 / 65536:.5f}"],
    "09-pooling-and-rnn": [
        f"{1024 * 512:,} MACs = {2 * 1024 * 512:,} FLOPs", f"directly: {1024 * 511 + 1024:,} operations",
        f"a dense layer {1024 * 512:,} -> 1,024: {1024 * 16 * 32 * 1024:,} MACs",
        "equals the mean over positions: True",
        f"Jacobian: {64 * 64 - 64:,} of {64 * 64:,} entries zero; MACs per step: full G {64 * 64 + 64 * 16:,},"
        f" diagonal G {64 + 64 * 16:,} (of which H x_t {64 * 16:,})"],
    # single-tower AlexNet: one fp32 bias per output channel of its five convolutions
    "11-training-cost": [   # ResNet-20 on 1x8x8, batch 128, counted by reference.resnet20
        f"({(2 * R20[1] - 8 * 8 * 16 * 9) / R20[1]:.3f} x forward; "
        f"a step {(3 * R20[1] - 8 * 8 * 16 * 9) / R20[1]:.3f} x)",
        f"derived {128 * 2 * 8 * 8 * 16 * 16 * 9:,} MACs, counted by the engine {128 * 2 * 8 * 8 * 16 * 16 * 9:,}",
        f"forward {128 * R20[1]:,}, backward {128 * (2 * R20[1] - 8 * 8 * 16 * 9):,} MACs",
        f"weights {4 * R20[0] / 2**20:.2f} MiB",
        f"MACs of a training step {(3 * R20[1] - 8 * 8 * 16 * 9) / (3 * R20_HALF[1] - 8 * 8 * 8 * 9):.2f}",
        f"seed's GPU epoch time {59 / 36:.2f}"],
    "10-alexnet-inference-cpu": [
        f"per image: {ALEX_MACS:,} MACs, {ALEX_CONV + ALEX_FC_PARAMS:,} parameters = "
        f"{4 * (ALEX_CONV + ALEX_FC_PARAMS) / 2**20:.1f} MiB, "
        f"convolutions {ALEX_CONV_MACS / ALEX_MACS:.3f} of the MACs",
        f"conv biases {4 * (96 + 256 + 384 + 384 + 256):,} B", f"input tile {(16 + 5 - 1) ** 2}",
        f"MACs {half[1] / full[1]:.2f}",
        f"intensity at batch 8 (FLOP/B): convolutions {conv_intensity(227, 55, 3, 96, 11):.0f} to "
        f"{conv_intensity(27, 27, 96, 256, 5):.0f}, dense layers {dense_intensity(4096, 1000):.2f} to "
        f"{dense_intensity(9216, 4096):.2f}"],
}


def test_inception_design_prose_matches_the_design():
    """Notebook 06's model answer quotes the design's 3x3 reduction fractions."""
    nb = nbformat.read(str(ROOT / "solutions" / "06-inception.ipynb"), 4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    fractions = [f"{r3 / reads:g}" for _, reads, r3, _, _ in DESIGN_MODULES]
    assert f"{fractions[0]}, {fractions[1]} and {fractions[2]} of it" in prose
    assert max(r5 / reads for _, reads, _, r5, _ in DESIGN_MODULES) <= 1 / 8   # "at most an eighth"


def test_prose_sizes_match_the_engine():
    """The block sizes notebook 10 prints are the engine's."""
    from helpers.engine import kernels, winograd
    text = shown("10-alexnet-inference-cpu")
    assert (f"engine block for im2col patches: {kernels.BLOCK_BYTES / 2**20:g} MiB per pipeline;"
            f" Winograd's: {winograd.BLOCK_BYTES / 2**20:g} MiB") in text


def written(notebook):
    """All markdown of a solution notebook: problem text, unlocked explanations, model answers."""
    nb = nbformat.read(str(ROOT / "solutions" / f"{notebook}.ipynb"), 4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def tex(n):
    """An integer as the notebooks' LaTeX writes it: 65{,}536."""
    return f"{n:,}".replace(",", "{,}")


WRITTEN = {   # numbers stated in markdown, each from first principles or a cited figure
    "00-getting-started": [f"$4 \\cdot 2 \\cdot 2 = {4 * 2 * 2}$", f"$2 \\times 16 = {2 * 16}$",
                           f"`conv1` added {11 - 1}", f"After `pool5` the jump is {field_sizes(ALEX_SPATIAL)[-1][2]}"],
    "01-arithmetic-intensity": [
        f"≈ {65536 * 2 * 700e6 / 1e12:.2f} × 10¹²",
        f"$1024/3 \\approx {1024 / 3:.1f}$", f"$4096/4098 \\approx {4096 / 4098:.4f}$",
        f"{4096**2 // 64**3} times the", f"$64/3 \\approx {64 / 3:.1f}$",
        f"more than {int((64 / 3) / GEMV)} times higher", f"about {round(100 * HASWELL_GEMV / 1.3e12)} % of the peak",
        "eigenvalues 3\nand 1",
    ],
    "02-dense-layers": [
        "$N_i = " + f"{HD:,}".replace(",", "{,}") + "$", f"{HD**2 / 1e13:.1f} \\times",
        f"more than {(HD**2 // (ALEX_CONV + ALEX_FC_PARAMS)) // 100_000 * 100_000:,}",
        f"{(ALEX_CONV + ALEX_FC_PARAMS) / 1e6:.1f} million parameters",
        f"multiplies the pixel count by {2 * 2} and the work and the weights by {(2 * 2)**2}",
    ],
    "03-conv-as-gemm": [f"{2 * 256 * 56 * 56:,} elements", f"{256 * 256 * 9:,}."],
    "04-padding-and-stride": ["$112^2 = " + f"{112**2:,}".replace(",", "{,}") + "$ columns",
                              "$224^2 = " + f"{224**2:,}".replace(",", "{,}") + "$)",
                              f"covers {2 * (3 - 1) + 1} positions"],
    "08-tpu-utilisation": [
        f"(3/256)\\cdot(48/256) = {3 * 48}/{tex(65536)} \\approx {3 * 48 / 65536:.4f}",
        f"leaves {256 - 3} rows empty and the output depth {256 - 48} columns",
        f"= {65536 * 700e6 / 1e13:.2f} \\times 10^{{13}}$ MACs/s", f"about {65536 * 700e6 / 34e9:,.0f} uses per weight",
        "$38 \\times 38$ output positions", f"$n = 37 \\cdot 4 + 7 = {37 * 4 + 7}$",
        f"$54 \\times 54 = {tex(54 * 54)}$", f"about {round(49 / 4)} times fewer vectors",
        f"about {round(100 * (4 * 48 * 48 / (49 * 3 * 48) - 1))} % more MACs", "$192 \\times 48$ matrix",
        f"${7 * 7 * 3} \\times 48$", f"extra {4 * 48 - 7 * 7 * 3} rows hold only the kernel's zero padding"],
    "09-pooling-and-rnn": [
        f"$1024 \\cdot 511 + 1024 = {tex(1024 * 511 + 1024)}$",
        f"does ${tex(1024 * 512)}$ multiplications and ${tex(1024 * 512)}$ additions, ${tex(2 * 1024 * 512)}$ FLOPs",
        f"({64 * 64:,} to 64 here; the input's {64 * 16:,} MACs stay)"],
    "10-alexnet-inference-cpu": [
        f"about {round(100 * ALEX_CONV_MACS / ALEX_MACS)} % of the MACs",
        f"only about {round(100 * ALEX_CONV / (ALEX_CONV + ALEX_FC_PARAMS))} % of the weights",
        "$(16 + 5 - 1)^2 = 20 \\times 20$", f"{20 * 20} values loaded once, each reused\nby up to {5 * 5} outputs"],
}


@pytest.mark.parametrize("where, notebook", [("outputs", nb) for nb in sorted(EXPECTED)]
                         + [("markdown", nb) for nb in sorted(WRITTEN)])
def test_shown_numbers(where, notebook):
    """Every expected number appears in the notebook's outputs (EXPECTED) or markdown (WRITTEN)."""
    text, expected = (shown(notebook), EXPECTED[notebook]) if where == "outputs" else \
        (written(notebook), WRITTEN[notebook])
    missing = [value for value in expected if value not in text]
    assert not missing, missing


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


def test_shifted_gemm_copies_a_window_narrower_than_the_row():
    """Notebook 03: a tap's window is a matrix a GEMM can read in place only when M_c = L_c."""
    import numpy as np

    from helpers import lowering
    x = np.arange(2 * 6 * 6, dtype=float).reshape(2, 6, 6)
    tap = lowering._shifted(x, 1, 1, 4, 4, 1, 1)          # 3x3 filter, tap (1, 1): M_c = 4 < L_c = 6
    assert not np.shares_memory(tap.reshape(2, -1), x)
    whole = lowering._shifted(x, 0, 0, 6, 6, 1, 1)        # 1x1 filter, stride 1: M_c = L_c
    assert np.shares_memory(whole.reshape(2, -1), x)


# ---- prose and table numbers no test above pinned, each against its own computation here ----

def prose(notebook):
    """A notebook's markdown with its line breaks folded to spaces."""
    return " ".join(written(notebook).split())


def test_tiny_cnn_table_rows():
    """Notebook 00's summary of tiny-cnn (3x16x16), every column of every row and the
    totals: outputs by hand, activations = output elements, bytes = 4 per value."""
    c1, c2, fc = TINY["conv1"], TINY["conv2"], TINY["fc"]
    rows = [("conv1", "Conv2d", (4, 16, 16), *c1), ("relu1", "ReLU", (4, 16, 16), 0, 0),
            ("pool1", "MaxPool2d", (4, 8, 8), 0, 0), ("conv2", "Conv2d", (8, (8 - 3) // 2 + 1, (8 - 3) // 2 + 1), *c2),
            ("relu2", "ReLU", (8, 3, 3), 0, 0), ("pool2", "AvgPool2d", (8, (3 + 2 - 3) + 1, (3 + 2 - 3) + 1), 0, 0),
            ("flatten", "Flatten", (72,), 0, 0), ("fc", "Linear", (10,), *fc)]
    expected = []
    for name, kind, out, params, macs in rows:
        acts = math.prod(out)
        expected.append([name, kind, "x".join(map(str, out)), params, macs, acts, 4 * params, 4 * acts])
    expected.append(["total", *[sum(r[i] for r in expected) for i in range(3, 8)]])
    names = [name for name, *_ in rows]
    table = shown("00-getting-started").split("tiny-cnn  input 3x16x16")[1].split("\ntotal")
    lines = [line.split() for line in table[0].splitlines()[1:] if line and line.split()[0] in names]
    lines.append(["total", *table[1].split("\n")[0].split()])

    def numbers(fields):
        return [int(v.replace(",", "")) for v in fields]
    got = [row[:3] + numbers(row[3:]) for row in lines[:-1]] + [["total", *numbers(lines[-1][1:])]]
    assert got == expected


def test_matvec_intensity_is_just_under_half_a_flop_per_byte():
    """Notebook 01: a 4096 x 4096 matrix-vector product in fp32, 2 FLOPs per MAC."""
    fpb = 2 * 4096**2 / (4 * (4096**2 + 2 * 4096))
    assert 0.5 - 0.001 < fpb < 0.5
    assert "just under 0.5 FLOP per byte in fp32" in prose("01-arithmetic-intensity")


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


def test_training_memory_figures():
    """Notebook 11: ResNet-20 at batch 128 on 1x8x8 in fp32, kept tensors by the problem's
    rule (reference.resnet20: per image, and 2 values per batch-norm channel)."""
    batch, mib = 128, 2**20
    kept = 4 * (batch * KEPT_PER_IMAGE + 2 * BN_CHANNELS)
    weights = 4 * R20[0]
    inference = weights + 3 * batch * 16 * 8 * 8 * 4
    assert (f"kept for backward {kept / mib:.2f} MiB, weights {weights / mib:.2f} MiB, "
            f"training total {(3 * weights + kept) / mib:.2f} MiB, inference {inference / mib:.2f} MiB"
            ) in shown("11-training-cost")
    assert kept > 10 * weights                # "outweigh the weights more than ten times over"
    text = prose("11-training-cost")
    assert "activations kept for backward outweigh the weights more than ten times over" in text
    assert f"only 59/36 = {59 / 36:.2f} times faster" in text


def test_notebook_11_parts_are_lettered_in_order():
    """The problem table's parts run a, b, c, ... and each heading names parts of the table."""
    import re
    text = written("11-training-cost")
    letters = re.findall(r"^\| ([a-z]) \|", text, flags=re.M)
    assert letters == [chr(ord("a") + i) for i in range(len(letters))]
    headed = {x for h in re.findall(r"^## \(([a-z, ]+)\)", text, flags=re.M) for x in h.split(", ")}
    assert headed <= set(letters) and headed
    referred = set(re.findall(r"parts? \(?([a-z])\b", text.split("## (a)")[1]))
    assert referred <= set(letters)


def test_full_run_accuracy_paragraph_is_consistent():
    """Notebook 11's full-run accuracies (measured on the authoring machine, too slow to
    repeat here): the spreads it states are those of the ranges it gives, one test image is
    1/360, and the seed's CIFAR-10 gap is 91.03 - 89.31 points."""
    import re
    text = " ".join(prose("11-training-cost").split())
    full, half = re.search(r"ended at ([\d.]+) to ([\d.]+) % test accuracy for the full network and "
                           r"([\d.]+) to ([\d.]+) % for the half-width one", text).groups()[:2], \
        re.search(r"and ([\d.]+) to ([\d.]+) % for the half-width one", text).groups()
    spread = [round(float(b) - float(a), 1) for a, b in (full, half)]
    assert f"spreads the full network over {spread[0]} points and the half-width one over {spread[1]}" in text
    assert f"One test image is {100 / 360:.2f} % of the 360" in text
    assert f"put the full network {91.03 - 89.31:.1f} points ahead" in text


def test_resnet50_full_against_half_sizes():
    """Notebook 10: the full ResNet-50's weights and activations against the half-width
    one's, from the independent ResNet-50 counter."""
    (p_full, _, a_full), (p_half, _, a_half) = resnet50_counts(1.0), resnet50_counts(0.5)
    assert (f"the full network's weights are {p_full / p_half:.1f} times larger and its activations "
            f"{a_full / a_half:.1f} times") in prose("10-alexnet-inference-cpu")
