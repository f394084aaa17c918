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
    ALEX_TV_MACS,
    ALEX_TV_PARAMS,
    VGG16,
    VGG19,
    inception_macs,
    inception_params,
)
from reference.resnet20 import BN_CHANNELS, KEPT_PER_IMAGE, resnet20_counts  # noqa: E402

INCEPTION_3X3_PER_R = 32 * 32 * (256 + 192 * 9)      # 1x1 256 -> r, then 3x3 r -> 192, per unit of r


# notebook 06's model answer for (e): stem 3 -> 64, three modules, classifier 352 -> 10
DESIGN_PARAMS = (3 * 3 * 3 * 64 + 64) + inception_params(64, 32, 48, 64, 8, 16, 16) \
    + inception_params(128, 64, 64, 96, 16, 48, 32) + inception_params(240, 96, 96, 128, 24, 64, 64) \
    + 352 * 10 + 10
DESIGN_MACS = 32 * 32 * 64 * 3 * 9 + inception_macs(32, 64, 32, 48, 64, 8, 16, 16) \
    + inception_macs(16, 128, 64, 64, 96, 16, 48, 32) + inception_macs(8, 240, 96, 96, 128, 24, 64, 64) + 352 * 10

def field_sizes(layers):
    """Receptive-field recurrence on (name, kernel, stride): [(name, size, jump)] after each layer."""
    size, jump, out = 1, 1, []
    for name, k, s in layers:
        size, jump = size + (k - 1) * jump, jump * s
        out.append((name, size, jump))
    return out


ALEX_SPATIAL = [("conv1", 11, 4), ("pool1", 3, 2), ("conv2", 5, 1), ("pool2", 3, 2), ("conv3", 3, 1),
                ("conv4", 3, 1), ("conv5", 3, 1), ("pool5", 3, 2)]
ALEX_SPATIAL_NORM = [*ALEX_SPATIAL[:1], ("norm1", 1, 1), *ALEX_SPATIAL[1:3], ("norm2", 1, 1), *ALEX_SPATIAL[3:]]
# zoo tiny-cnn, 3x16x16: conv 3x3 pad 1 -> 4 maps; maxpool 2; conv 3x3 stride 2 -> 8 maps of 3x3;
# avgpool 3 stride 1 pad 1; dense 72 -> 10. (params, MACs) per layer with weights.
TINY = {"conv1": (4 * 3 * 9 + 4, 16 * 16 * 4 * 3 * 9), "conv2": (8 * 4 * 9 + 8, 3 * 3 * 8 * 4 * 9),
        "fc": (72 * 10 + 10, 72 * 10)}
GEMV = 4096**2 / (4096**2 + 2 * 4096)              # MACs per element of a 4096 x 4096 matrix-vector product
HASWELL_GEMV = 51e9 * 2 * GEMV / 4                 # bandwidth x FLOPs per byte (Jouppi et al. 2017, Table 2)
HD = 3 * 1024 * 2048


def alexnet_outputs():
    """(name, kind, output shape, params, MACs) of every leaf of the zoo's single-tower AlexNet on
    3x227x227 (Krizhevsky et al. 2012: LRN after relu1 and relu2, dropout before fc6 and fc7)."""
    rows, (c, side) = [], (3, 227)
    for name, kind, out, k, s, p in (("conv1", "Conv2d", 96, 11, 4, 0), ("relu1", "ReLU", 0, 1, 1, 0),
                                     ("norm1", "LocalResponseNorm", 0, 1, 1, 0), ("pool1", "MaxPool2d", 0, 3, 2, 0),
                                     ("conv2", "Conv2d", 256, 5, 1, 2), ("relu2", "ReLU", 0, 1, 1, 0),
                                     ("norm2", "LocalResponseNorm", 0, 1, 1, 0), ("pool2", "MaxPool2d", 0, 3, 2, 0),
                                     ("conv3", "Conv2d", 384, 3, 1, 1), ("relu3", "ReLU", 0, 1, 1, 0),
                                     ("conv4", "Conv2d", 384, 3, 1, 1), ("relu4", "ReLU", 0, 1, 1, 0),
                                     ("conv5", "Conv2d", 256, 3, 1, 1), ("relu5", "ReLU", 0, 1, 1, 0),
                                     ("pool5", "MaxPool2d", 0, 3, 2, 0)):
        side = (side + 2 * p - k) // s + 1
        params, macs = (k * k * c * out + out, side * side * out * c * k * k) if out else (0, 0)
        c = out or c
        rows.append((name, kind, (c, side, side), params, macs))
    n = c * side * side
    rows += [("flatten", "Flatten", (n,), 0, 0), ("drop6", "Dropout", (n,), 0, 0)]
    for fc, (n_in, n_out), extra in (("fc6", (n, 4096), ("relu6", "drop7")), ("fc7", (4096, 4096), ("relu7",)),
                                     ("fc8", (4096, 1000), ())):
        rows.append((fc, "Linear", (n_out,), n_in * n_out + n_out, n_in * n_out))
        rows += [(e, "ReLU" if e.startswith("relu") else "Dropout", (n_out,), 0, 0) for e in extra]
    return rows


ALEX_POOL5_SIDE = alexnet_outputs()[14][2][1]


# notebook 06's design: (module, input maps, 3x3 reduction, 5x5 reduction, output maps)
DESIGN_MODULES = [("inc1", 64, 48, 8, 32 + 64 + 16 + 16), ("inc2", 128, 64, 16, 64 + 96 + 48 + 32),
                  ("inc3", 240, 96, 24, 96 + 128 + 64 + 64)]


def field_interval(path, interval=(0, 0)):
    """The input positions (unbounded: padding included) that output positions ``interval`` of a
    chain of (kernel, stride, padding, dilation) layers read, walked backwards: output o of a
    layer reads its input at o*s - p + d*t for t = 0 .. k-1."""
    first, last = interval
    for k, s, p, d in reversed(path):
        first, last = first * s - p, last * s - p + d * (k - 1)
    return first, last


def resnet50_field(stride_on_1x1):
    """(size, effective padding) of the field of one value at ResNet-50's global pooling, walked
    backwards block by block through the main path and the shortcut (the addition reads both)."""
    first = last = 0
    for blocks, stride in reversed(((3, 1), (4, 2), (6, 2), (3, 2))):
        for i in reversed(range(blocks)):
            s = stride if i == 0 else 1
            main = [(1, s, 0, 1), (3, 1, 1, 1), (1, 1, 0, 1)] if stride_on_1x1 else \
                [(1, 1, 0, 1), (3, s, 1, 1), (1, 1, 0, 1)]
            shortcut = [(1, s, 0, 1)] if i == 0 else []
            ends = [field_interval(main, (first, last)), field_interval(shortcut, (first, last))]
            first, last = min(e[0] for e in ends), max(e[1] for e in ends)
    first, last = field_interval([(7, 2, 3, 1), (3, 2, 1, 1)], (first, last))      # conv1, max pooling
    return last - first + 1, -first


RESNET50_FINAL = [f"Field(name='final', kind='final', size={size}, stride={2 * 2 * 1 * 2 * 2 * 2}, padding={pad})"
                  for size, pad in (resnet50_field(True), resnet50_field(False))]


def impulse_line():
    """Notebook 07's impulse: 3x3; 3x3 stride 2; 3x3 dilated by 2; 3x3 stride 2; no padding, a row of
    41, all weights 1 (so every input the central output reads reaches it)."""
    path, n = [(3, 1, 0, 1), (3, 2, 0, 1), (3, 1, 0, 2), (3, 2, 0, 1)], 41
    for k, s, _, d in path:
        n = (n - d * (k - 1) - 1) // s + 1
    first, last = field_interval(path, (n // 2, n // 2))
    return f"impulse span: {last - first + 1}  recurrence: {last - first + 1}  first pixel: {first}  predicted: {first}"


IMPULSE = impulse_line()


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


def vgg_leaf_values(convs_per_stage):
    """(every leaf output, the ReLU/dropout/flatten values among them) of VGG on 3x224x224 as
    summary lists it: each convolution and its ReLU, each pooling, the flatten, fc6 and fc7
    with a ReLU and a dropout each, fc8."""
    conv_out = sum(n * maps * side * side for n, maps, side in
                   zip(convs_per_stage, (64, 128, 256, 512, 512), (224, 112, 56, 28, 14), strict=True))
    pools = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512
    repeated = conv_out + 4 * 4096 + 7 * 7 * 512
    return conv_out + pools + 2 * 4096 + 1000 + repeated, repeated

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
               + 13 * 13 * 256 * 192 * 9 + ALEX_FC, ","),
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
    # numerically, at V = 1000: the multiplier is the ratio of the two gradients at the cube
    h, cube = 1e-6, 10.0
    d_data = ((cube + h) * cube + cube * cube + (cube + h) * cube - 3 * cube**2) / h
    assert abs(d_data / (cube * cube) - 2 * 1000 ** (-1 / 3)) < 1e-6
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


def test_inception_design_head_prose():
    """Notebook 06's model answer: a dense layer on the flattened 352 x 8 x 8 map against the
    352 x 10 of the global-pooling head."""
    maps, side = 96 + 128 + 64 + 64, 32 // 2 // 2
    assert f"flattened ${maps} \\times {side} \\times {side}$ map would need {side * side} times as many" \
        in prose("06-inception")


def test_first_training_loss_from_an_independent_forward():
    """Notebook 11's first loss: ResNet-20 in float64 written here from its definition (batch
    norm on batch statistics, mean cross-entropy), on the same initial weights and digits."""
    import re

    from helpers import zoo
    from helpers.engine import digits, fit
    from reference.resnet20 import resnet20_loss
    params = fit.init_params(zoo.get("resnet20"), (1, 8, 8), seed=0)
    data = digits.load()
    loss = resnet20_loss(params, data.x_train[:128], data.y_train[:128])
    printed = float(re.search(r"on 128 digits of shape \(1, 8, 8\): loss ([\d.]+)", shown("11-training-cost"))[1])
    assert abs(printed - loss) <= 0.0005 + 1e-9


def test_first_training_loss_with_torch():
    """The same loss computed by PyTorch's functional layers (only where torch is installed)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from helpers import zoo
    from helpers.engine import digits, fit
    from reference.resnet20 import resnet20_loss
    params = fit.init_params(zoo.get("resnet20"), (1, 8, 8), seed=0)
    data = digits.load()
    x, y = data.x_train[:128], data.y_train[:128]
    t = {name: {k: torch.from_numpy(v.astype("float64")) for k, v in p.items()} for name, p in params.items()}
    ops = {"conv": lambda a, w, s, p: F.conv2d(a, w, stride=s, padding=p),
           "bn": lambda a, g, b: F.batch_norm(a, None, None, g, b, training=True, eps=1e-5),
           "relu": torch.relu, "pool": lambda a: a.mean(dim=(2, 3)),
           "loss": lambda z, labels: float(F.cross_entropy(z, torch.from_numpy(labels)))}
    loss = resnet20_loss(t, torch.from_numpy(x.astype("float64")), y, ops=ops)
    assert abs(loss - resnet20_loss(params, x, y)) < 1e-9


def test_digits_split_sizes():
    """Notebook 11: scikit-learn ships 1,797 digits; a 20 % test split rounded up keeps 360."""
    from sklearn.datasets import load_digits
    n = len(load_digits().target)
    test = math.ceil(0.2 * n)
    text = prose("11-training-cost")
    assert f"The data are the {n:,} 8 × 8 hand-written digits" in text
    assert f"into {n - test:,} training and {test} test images" in text
    assert f"classifies the {test} test images" in text and f"train on all {n - test:,} images" in text


def test_training_settings_stated_are_the_ones_used():
    """Notebook 11's prose names the run's settings: the fit call and fit's defaults must agree."""
    import inspect

    from helpers.engine import fit
    nb = nbformat.read(str(ROOT / "solutions" / "11-training-cost.ipynb"), 4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    defaults = {k: v.default for k, v in inspect.signature(fit.fit).parameters.items()}
    assert (defaults["momentum"], defaults["weight_decay"]) == (0.9, 5e-4)
    assert "batch_size=64, lr=0.05" in code and "epochs, images = (8, None) if FULL_RUN else (2, 256)" in code
    text = prose("11-training-cost")
    assert ("trains with SGD (learning rate 0.05, momentum 0.9, weight decay $5 \\times 10^{-4}$, batches of 64,"
            in text)
    assert "runs a short version (2 epochs on 256 images)" in text and "for 8 epochs" in text
    assert "(the stages run at 8 × 8, 4 × 4 and 2 × 2)" in text          # side 8, stride 2 into stages 2 and 3


def test_perturbation_demo_prose():
    """Notebook 09's solution demo, re-run here step by step: a perturbation of component 0 of an
    8-component state spreads to every component within two steps with the full G, and with the
    diagonal G every other component of the two runs stays exactly equal."""
    import numpy as np
    rng = np.random.default_rng(1)
    n, steps = 8, 12
    G = 1.5 * rng.standard_normal((n, n)) / np.sqrt(n)
    H, inputs = rng.standard_normal((n, 2)), rng.standard_normal((steps, 2))
    spread = {}
    for name, g in (("full", G), ("diagonal", np.diag(np.diag(G)))):
        a, b = np.zeros(n), np.zeros(n)
        b[0] = 0.5
        spread[name] = []
        for t in range(steps):
            a, b = np.tanh(g @ a + H @ inputs[t]), np.tanh(g @ b + H @ inputs[t])
            spread[name].append(a != b)
    assert spread["full"][1].all()
    assert all(d[0] and not d[1:].any() for d in spread["diagonal"])
    text = prose("09-pooling-and-rnn")
    assert "With a full $G$ it spreads to every component within a step or two; with a diagonal $G$ it stays in" \
        " component 0, and every other component of the two runs is exactly equal" in text


def test_resnet50_field_mostly_padding():
    """Notebook 07: both fields are wider than the 224 x 224 input, so most of a field's area
    lies in the zero padding, even for the central value (largest share inside the image)."""
    for size, _ in (resnet50_field(True), resnet50_field(False)):
        assert size > 224 and (224 / size) ** 2 < 0.5
    assert "most of the field of a value at the global pooling's input lies in the zero padding" \
        in prose("07-receptive-field-and-width")


def test_published_resnet50_field_and_its_padding():
    """Notebook 07 cites google-research/receptive_field's RECEPTIVE_FIELD_TABLE.md
    (resnet_v1_50/block4 at 224: field 483, effective stride 32, effective padding 239). The
    2 pixels against this workbook's 241: TensorFlow's SAME 3 x 3 stride-2 pooling of a 112-wide
    map pads (55 * 2 + 3 - 112) = 1 zero in total, all of it after, where this workbook pads one
    before; a zero before the row, at jump 2, moves the field's start by 2."""
    size, padding = resnet50_field(True)
    slim = [("conv1", 7, 2), ("pool1", 3, 2)]         # TF-Slim: the stride in the last unit's 3 x 3, blocks 1-3
    for units, stride in ((3, 2), (4, 2), (6, 2), (3, 1)):
        slim += [(f"unit{u}.{k}", k, stride if (u == units and k == 3) else 1) for u in range(1, units + 1)
                 for k in (1, 3, 1)]
    assert field_sizes(slim)[-1][1:] == (size, 32)
    same_total = (56 - 1) * 2 + 3 - 112
    assert (size, same_total, same_total // 2) == (483, 1, 0)
    assert padding - 1 * 2 == 239
    text = prose("07-receptive-field-and-width")
    assert "`resnet_v1_50/block4`) reports 483 pixels at effective stride 32 for TF-Slim's ResNet-50 v1" in text
    assert f"padding, 239 at a 224 × 224 input, is 2 less than the {padding} above" in text
