"""Numbers the solution notebooks display (beyond keyed answers), pinned: every value of
``EXPECTED`` appears in a notebook's stored outputs, every value of ``WRITTEN`` in its
markdown, each written here from first principles or a cited figure
(:mod:`solution_numbers`). Timing outputs are not checked."""

import math

import pytest

from integration.solution_numbers import (
    ALEX_POOL5_SIDE,
    ALEX_SPATIAL,
    ALEX_SPATIAL_NORM,
    DESIGN_MACS,
    DESIGN_MODULES,
    DESIGN_PARAMS,
    GEMV,
    HASWELL_GEMV,
    HD,
    IMPULSE,
    INCEPTION_3X3_PER_R,
    R20,
    R20_HALF,
    RESNET50_FINAL,
    TINY,
    VGG19_EARLY,
    VGG19_ROWS,
    conv_intensity,
    dense_intensity,
    field_sizes,
    full,
    half,
    shown,
    tex,
    vgg_leaf_values,
    written,
)
from reference.counts import (
    ALEX_CONV,
    ALEX_CONV_MACS,
    ALEX_FC_MACS,
    ALEX_FC_PARAMS,
    ALEX_GROUPED_CONV,
    ALEX_MACS,
    ALEX_TV_MACS,
    ALEX_TV_PARAMS,
    VGG16,
    VGG19,
)
from reference.resnet import resnet50_conv_weights

EXPECTED = {
    "00-getting-started": [
        *[f"{v:,}" for params, macs in TINY.values() for v in (params, macs)],
        f"{sum(p for p, _ in TINY.values()):,}", f"{sum(m for _, m in TINY.values()):,}",
        *[f"('{n}', '{kind}', {r}, {j})" for (n, r, j), kind in
          zip(field_sizes([("conv1", 3, 1), ("pool1", 2, 2), ("conv2", 3, 2), ("pool2", 3, 1)]),
              ("Conv2d", "MaxPool2d", "Conv2d", "AvgPool2d"), strict=True)],
        f"{11 * 11 * 3 * 96 + 96:,}", f"{55 * 55 * 96 * 363:,}",
        f"{ALEX_CONV + ALEX_FC_PARAMS:,}", f"{ALEX_MACS:,}",
        *[f"('{n}', {r}, {j})" for n, r, j in field_sizes(ALEX_SPATIAL_NORM)],   # LRN: a 1 x 1 window
        f"conv1 output is {(227 - 11) // 4 + 1} x {(227 - 11) // 4 + 1}",
    ],
    "01-arithmetic-intensity": [
        "{1: 1, 3: 1}",                                   # eigenvalues of [[2, 1], [1, 2]]
        f"TPU ridge {92e12 / 34e9:,.1f} ops/B", f"Haswell ridge {1.3e12 / 51e9:.1f} FLOP/B",
        f"matvec {HASWELL_GEMV / 1e9:.2f} GFLOP/s",
    ],
    "02-dense-layers": [f"{n * n + 2 * n:,} elements = {4 * (n * n + 2 * n) / 10**power:.1f} {unit}B"
                        for n, power, unit in ((784, 6, "M"), (3072, 6, "M"), (150528, 9, "G"),
                                               (3 * 512 * 1024, 12, "T"), (3 * 1024 * 2048, 12, "T"))]
    + [f"{name:>10}  N_i = {n:>9,}  MACs = {n * n:>22,}  memory = {n * n + 2 * n:>22,} elements"
       for name, n in (("mnist", 28 * 28), ("cifar", 3 * 32 * 32), ("imagenet", 3 * 224 * 224),
                       ("quarter_hd", 3 * 512 * 1024), ("hd", HD))],
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
               + 13 * 13 * 256 * 192 * 9 + ALEX_FC_MACS, ","),
        # torchvision AlexNet: 64/192/384/256/256 maps on 224 x 224
        f"params {ALEX_TV_PARAMS:>11,}   MACs {ALEX_TV_MACS:>14,}",
        # VGG-16 and VGG-19, every leaf output, of which the stored values less the input, plus the
        # ReLU outputs, the dropouts and the flatten
        *[f"every leaf output {leaf:,} (= stored - input + {repeated:,} ReLU/dropout/flatten values)"
          for leaf, repeated in (vgg_leaf_values((2, 2, 3, 3, 3)), vgg_leaf_values((2, 2, 4, 4, 4)))],
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
                     f"{INCEPTION_3X3_PER_R}*r", "6912/(31*r)", f"parameters {DESIGN_PARAMS:,}, MACs {DESIGN_MACS:,}",
                     "the largest cheaper width is "
                     f"{max(r for r in range(1, 257) if r * (256 + 9 * 192) < 256 * 192 * 9)}",
                     *[f"{name}: reads {reads} maps; the reductions keep {r3 / reads:g} (3x3) and {r5 / reads:g} (5x5) "
                       f"of them; outputs {out} maps" for name, reads, r3, r5, out in DESIGN_MODULES]],
    "07-receptive-field-and-width": [f"{v:,}" for v in full + half]
        + [f"ratio {h / f:.4f}" for f, h in zip(full, half, strict=True)] + [*RESNET50_FINAL, IMPULSE,
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
        # single-tower AlexNet: one fp32 bias per output channel of its five convolutions
        f"conv biases {4 * (96 + 256 + 384 + 384 + 256):,} B", f"input tile {(16 + 5 - 1) ** 2}",
        f"MACs {half[1] / full[1]:.2f}",
        f"intensity at batch 8 (FLOP/B): convolutions {conv_intensity(227, 55, 3, 96, 11):.0f} to "
        f"{conv_intensity(27, 27, 96, 256, 5):.0f}, dense layers {dense_intensity(4096, 1000):.2f} to "
        f"{dense_intensity(9216, 4096):.2f}"],
}


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
                              f"covers {2 * (3 - 1) + 1} positions",
                              # the diagrams: window starts 0, 2, 4 on 8 inputs; a 5-wide window on 7 + 2 positions
                              "over 8 inputs, without padding, at stride 2: it fits at "
                              f"{len(range(0, 8 - 3 + 1, 2))} positions",
                              f"padded with one zero on each side it fits at {len(range(0, 7 + 2 - 5 + 1))}.",
                              # the per-side reading: 2 zeros each side of 224, a 3-wide window
                              f"that is {len(range(0, 224 + 4 - 3 + 1))} rows",
                              f"and {len(range(0, 224 + 4 - 3 + 1, 2))} at stride 2"],
    "05-alexnet-vgg": [
        f"$256 \\cdot {ALEX_POOL5_SIDE} \\cdot {ALEX_POOL5_SIDE} = {256 * ALEX_POOL5_SIDE**2}$ values into 4096"
        " outputs",
        # torchvision's documented "GFLOPS" (MACs in this workbook), against the hand counts
        f"{ALEX_TV_MACS / 1e9:.2f}, {VGG16[1] / 1e9:.2f} and {VGG19[1] / 1e9:.2f}"],
    "06-inception": [f"$128 + 192 + 96 + 256 = {128 + 192 + 96 + 256}$",
                     f"$128 + 192 + 96 + 64 = {128 + 192 + 96 + 64}$", "$352 \\times 10$"],
    "08-tpu-utilisation": [
        f"${34e9 / 1 / 1e10:.1f} \\times 10^{{10}}$ weights/s",                 # 34 GB/s, one byte per weight
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
