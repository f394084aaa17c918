"""Numbers the solution notebooks display (beyond keyed answers), each against a value
written here from first principles or a cited figure. Timing outputs are not checked."""

import math

import nbformat
import pytest

from helpers.release import ROOT
from reference_resnet import resnet50_counts


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


full = resnet50_counts(1.0)
half = resnet50_counts(0.5)
ALEX_FC = 9216 * 4096 + 4096 * 4096 + 4096 * 1000
VGG16_CONV_OUT = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 3 * 56 * 56 * 256 + 3 * 28 * 28 * 512 + 3 * 14 * 14 * 512

EXPECTED = {
    "02-dense-layers": [f"{n * n + 2 * n:,} elements" for n in (784, 3072, 150528, 3 * 512 * 1024, 3 * 1024 * 2048)],
    "03-conv-as-gemm": [repr(math.sqrt((256 * 256 * 9) / (256 + 256)))],               # filter = activations
    "04-padding-and-stride": [f"({(224 + 4 - 3) // 1 + 1}, {(224 + 4 - 3) // 2 + 1})",
                              f"(64, {224 * 224}, {64 * 9})", f"(64, {112 * 112}, {64 * 9})", "(2048, 16, 32)"],
    "05-alexnet-vgg": [
        # two-GPU AlexNet: conv2, conv4, conv5 see half the input maps
        f"{55 * 55 * 96 * 363 + 27 * 27 * 256 * 48 * 25 + 13 * 13 * 384 * 256 * 9 + 13 * 13 * 384 * 192 * 9 + 13 * 13 * 256 * 192 * 9 + ALEX_FC:,}",
        # torchvision AlexNet: 64/192/384/256/256 maps on 224 x 224
        f"{55 * 55 * 64 * 363 + 27 * 27 * 192 * 64 * 25 + 13 * 13 * 384 * 192 * 9 + 13 * 13 * 256 * 384 * 9 + 13 * 13 * 256 * 256 * 9 + ALEX_FC:,}",
        # VGG-16, every leaf output: convs twice (ReLU), pools, flatten, dense twice (ReLU), dropouts, fc8
        f"{2 * VGG16_CONV_OUT + 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512 * 2 + 4096 * 6 + 1000:,}",
    ],
    "06-inception": [f"{1024 * 128 * 256:,}", f"{1024 * 192 * 256 * 9:,}", f"{1024 * 96 * 256 * 25:,}",
                     f"{1024 * (256 * 128 + 128 * 192 * 9):,}", f"{1024 * (256 * 32 + 32 * 96 * 25):,}",
                     f"{1024 * 256 * 64:,}", "(672, 32, 32)", "(480, 32, 32)", repr(6912 / 31)],
    "07-receptive-field-and-width": [f"{v:,}" for v in full + half]
        + [f"ratio {h / f:.4f}" for f, h in zip(full, half)] + ["size=483", "size=427", "impulse span: 17"],
    "08-tpu-utilisation": [f"{65536 * 700e6 / 34e9:,.1f}", f"{54 * 54 * 48 * 3 * 49:,}", f"{54 * 54 * 48 * 48 * 4:,}",
                           f"{(54 * 54 * 48 * 48 * 4) / (54 * 54 * 48 * 3 * 49):.3f}", "(16 x)",
                           "1,400: 38", ": 37"],
    "09-pooling-and-rnn": [f"{1024 * 512:,}", f"{1024 * 16 * 32 * 1024:,}", f"full {64 * 64:,}, diagonal 64"],
}


@pytest.mark.parametrize("notebook", sorted(EXPECTED))
def test_displayed_numbers(notebook):
    text = shown(notebook)
    missing = [value for value in EXPECTED[notebook] if value not in text]
    assert not missing, missing
