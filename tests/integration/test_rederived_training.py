"""Notebook 11 (training cost): its memory figures, lettered parts, full-run accuracy
paragraph, first loss (re-computed in float64 here, and with PyTorch where installed), the
digits split and the training settings it states, each against its own computation."""

import math

import nbformat
import pytest

from helpers.release.build import ROOT
from integration.solution_numbers import R20, prose, shown, written
from reference.resnet20 import BN_CHANNELS, KEPT_PER_IMAGE


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
