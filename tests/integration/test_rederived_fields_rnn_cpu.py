"""Notebooks 07, 09 and 10: numbers in the solutions' prose and outputs that the pin lists
(``test_pinned_numbers.py``) do not cover, each against its own computation here:
ResNet-50's receptive field and TF-Slim's published one, the RNN perturbation demo, the full
and half-width ResNet-50 (the engine's block sizes that notebook 10 prints: nbval compares them)."""

from integration.solution_numbers import field_interval, field_sizes, prose, resnet50_field
from reference.resnet import resnet50_counts


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
    # TF-Slim's own padding, walked back from each block's output: conv2d_same pads a strided
    # convolution explicitly, k // 2 before (conv1: 3, a strided 3 x 3: 1); SAME pads a 3 x 3
    # stride-1 convolution 1 before and the stride-2 pooling 0 before (its one zero goes after).
    # The table lists 15, 47, 143 and 239 for block1 to block4.
    chain, paddings = [(7, 2, 3, 1), (3, 2, 0, 1)], []
    for units, stride in ((3, 2), (4, 2), (6, 2), (3, 1)):
        for u in range(1, units + 1):
            chain += [(1, 1, 0, 1), (3, stride if u == units else 1, 1, 1), (1, 1, 0, 1)]
        paddings.append(-field_interval(chain)[0])
    assert paddings == [15, 47, 143, 239] and padding - 239 == 2
    text = prose("07-receptive-field-and-width")
    assert "`resnet_v1_50/block4`) reports 483 pixels at effective stride 32 for TF-Slim's ResNet-50 v1" in text
    assert f"padding, 239 at a 224 × 224 input, is 2 less than the {padding} above" in text


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


def test_resnet50_full_against_half_sizes():
    """Notebook 10: the full ResNet-50's weights and activations against the half-width
    one's, from the independent ResNet-50 counter."""
    (p_full, _, a_full), (p_half, _, a_half) = resnet50_counts(1.0), resnet50_counts(0.5)
    assert (f"the full network's weights are {p_full / p_half:.1f} times larger and its activations "
            f"{a_full / a_half:.1f} times") in prose("10-alexnet-inference-cpu")

