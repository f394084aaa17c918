"""What the solution notebooks show, and the values the tests compare it with.

Readers of a solution notebook's stored outputs (:func:`shown`) and markdown (:func:`written`,
:func:`prose`, :func:`tex`), and the numbers written here from first principles or a cited
figure, independently of ``helpers``, for ``test_pinned_numbers.py`` (the pin lists) and the
``test_rederived_*.py`` files (each number's own computation). Timing outputs are not checked.
"""

import nbformat

from helpers.release.build import ROOT
from reference.counts import inception_macs, inception_params
from reference.resnet import resnet50_counts
from reference.resnet20 import resnet20_counts


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


def written(notebook):
    """All markdown of a solution notebook: problem text, unlocked explanations, model answers."""
    nb = nbformat.read(str(ROOT / "solutions" / f"{notebook}.ipynb"), 4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def tex(n):
    """An integer as the notebooks' LaTeX writes it: 65{,}536."""
    return f"{n:,}".replace(",", "{,}")


def prose(notebook):
    """A notebook's markdown with its line breaks folded to spaces."""
    return " ".join(written(notebook).split())


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
