"""Every keyed question, answered from an independent computation or a published figure.

Nothing here calls helpers' counting code: the values are written from the
definitions (or cited), so a wrong helper or a wrong solution notebook fails here.
"""

import math
import subprocess
import sys

import pytest

from helpers.answers.checking import judge, load_key
from reference.counts import ALEX_CONV_MACS, ALEX_FC_PARAMS, ALEX_MACS, ALEX_PARAMS, VGG16, VGG19
from reference.resnet import resnet50_conv_weights, resnet50_counts
from reference.resnet20 import BN_CHANNELS, KEPT_PER_IMAGE, resnet20_counts


def resnet_rf(stride_on_1x1):
    r, j = 7, 2                       # conv1 7x7 stride 2
    r, j = r + 2 * j, j * 2           # max pool 3x3 stride 2
    for blocks, stride in ((3, 1), (4, 2), (6, 2), (3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            if stride_on_1x1:
                j *= s
                r += 2 * j
            else:
                r += 2 * j
                j *= s
    return r



R20_PARAMS, R20_MACS, _ = resnet20_counts(16)
R20_HALF_MACS = resnet20_counts(8)[1]
R20_KEPT = 128 * KEPT_PER_IMAGE + 2 * BN_CHANNELS
TRAINING = {   # notebook 11 at batch 128, fp32
    "train.conv_backward_macs": "2*M_r*M_c*N_o*F_r*F_c*N_i",
    "train.backward_macs": 128 * (2 * R20_MACS - 8 * 8 * 16 * 9),
    "train.weight_bytes": 4 * R20_PARAMS,
    "train.kept_bytes": 4 * R20_KEPT,
    "train.train_bytes": 3 * 4 * R20_PARAMS + 4 * R20_KEPT,
    "train.inference_bytes": 4 * R20_PARAMS + 3 * 4 * 128 * 16 * 64,
    "train.memory_ratio": (3 * 4 * R20_PARAMS + 4 * R20_KEPT) / (4 * R20_PARAMS + 3 * 4 * 128 * 16 * 64),
    "train.width_mac_ratio": (3 * R20_MACS - 8 * 8 * 16 * 9) / (3 * R20_HALF_MACS - 8 * 8 * 8 * 9),
}

INDEPENDENT = {
    "start.conv1_params": 11 * 11 * 3 * 96 + 96,
    "start.gflop": 2 * ALEX_MACS / 1e9,
    "start.rf_pool5": 195,                                   # google-research receptive_field table
    "intensity.gemm_macs": "M*N*K",
    "intensity.gemm_elems": "M*K + K*N + M*N",
    "intensity.square_flops_per_byte": 2 * 1024**3 / (3 * 1024**2 * 4),
    "intensity.max_at_fixed_macs": 1024 / 3,
    "roofline.tpu_ridge": 92e12 / 34e9,
    "roofline.matvec_gflops": 51e9 * 2 * 4096**2 / ((4096**2 + 2 * 4096) * 4) / 1e9,
    "dense.cost_small": (4 * 4, 4 * 4 + 4 + 4),              # 1x2x2: a 4x4 matrix and two 4-vectors
    "dense.mnist_macs": 784**2,
    "dense.cifar_macs": 3072**2,
    "dense.imagenet_macs": 150528**2,
    "dense.quarter_hd_macs": (3 * 512 * 1024) ** 2,
    "dense.hd_macs": (3 * 1024 * 2048) ** 2,
    **{f"dense.{name}_memory": n * n + 2 * n for name, n in
       (("mnist", 784), ("cifar", 3072), ("imagenet", 150528), ("quarter_hd", 3 * 512 * 1024),
        ("hd", 3 * 1024 * 2048))},
    "dense.macs_formula": "(L_d*L_r*L_c)**2",
    "dense.memory_formula": "(L_d*L_r*L_c)**2 + 2*L_d*L_r*L_c",
    "dense.hd_weight_tb": (3 * 1024 * 2048) ** 2 * 4 / 1e12,
    "dense.cifar_batch64_intensity": 3072**2 * 64 / (3072**2 + 2 * 3072 * 64),
    "dense.apply_2048": "no",
    "dense.apply_512": "no",
    "conv.macs_per_output": "F_r*F_c*N_i",
    "conv.total_macs": "F_r*F_c*N_i*N_o*M_r*M_c",
    "conv.memory": "N_i*L_r*L_c + N_o*M_r*M_c + N_o*N_i*F_r*F_c",
    "conv.scale_image_macs": 4,
    "conv.scale_image_memory": (2 * 256 * 112 * 112 + 256 * 256 * 9) / (2 * 256 * 56 * 56 + 256 * 256 * 9),
    "conv.scale_filter_macs": 25 / 9,
    "conv.scale_filter_memory": (2 * 256 * 56 * 56 + 256 * 256 * 25) / (2 * 256 * 56 * 56 + 256 * 256 * 9),
    "conv.scale_channels_macs": 4,
    "conv.scale_channels_memory": (2 * 512 * 56 * 56 + 512 * 512 * 9) / (2 * 256 * 56 * 56 + 256 * 256 * 9),
    "conv.im2col_blowup": (3 * 11 * 11) * (55 * 55) / (3 * 227 * 227),
    "padding.same_total": "F - 1",
    "padding.f1": 0, "padding.f3": 1, "padding.f5": 2, "padding.f4": (1, 2),
    "stride.fn_small": 6,                                    # 13 padded positions, windows at 0, 2, ..., 10
    "stride.s1_symbolic": "L",
    "stride.s2_symbolic": "ceiling(L/2)",
    "stride.s1_output": 224,
    "stride.s2_output": (224 + 2 - 3) // 2 + 1,
    "stride.lowered_n": 112 * 112,
    "resize.apply_512x1024": "yes",
    "resize.apply_512x512": "yes",
    "resize.resnet_final_map": (512 // 32, 1024 // 32),
    "alexnet.params": ALEX_PARAMS,
    "alexnet.fc_param_share": ALEX_FC_PARAMS / ALEX_PARAMS,
    "alexnet.conv_mac_share": ALEX_CONV_MACS / ALEX_MACS,
    "vgg16.params": 138_357_544,                              # torchvision documentation
    "vgg19.params": 143_667_240,                              # torchvision documentation
    "vgg16.activations": VGG16[2],
    "vgg19.activations": VGG19[2],
    "inception.naive_macs": 1024 * 256 * (128 + 192 * 9 + 96 * 25),
    "inception.reduced_macs": 1024 * (256 * 128 + 256 * 128 + 128 * 192 * 9 + 256 * 32 + 32 * 96 * 25 + 256 * 64),
    "inception.ratio": (256 * (128 + 192 * 9 + 96 * 25))
                       / (256 * 128 + 256 * 128 + 128 * 192 * 9 + 256 * 32 + 32 * 96 * 25 + 256 * 64),
    "inception.branch3_macs": "1024*256*r + 1024*r*192*9",
    "rf.resnet50": resnet_rf(stride_on_1x1=True),
    "rf.resnet50_torchvision": resnet_rf(stride_on_1x1=False),
    "width.feature_memory": 1 / 2,                           # one layer, both channel counts halved
    "width.filter_memory": 1 / 4,
    "width.compute": 1 / 4,
    "width.params_ratio": resnet50_counts(0.5)[0] / resnet50_counts(1.0)[0],
    "rf.fn_small": (1 + 2 * 1 + 2 * 2 + 2 * 4, 2 * 2 * 1),   # 3x3/2, 3x3/2, 3x3/1 by hand
    "rf.three_layers": "k1 + (k2 - 1)*s1 + (k3 - 1)*s1*s2",
    "alexnet.out_shape_fn": (4, (5 + 2 * 1 - 3) // 2 + 1, (5 + 2 * 1 - 3) // 2 + 1),
    "alexnet.cost_fn": (3 * 3 * 3 * 4 + 4, 3 * 3 * 4 * (3 * 3 * 3)),
    "vgg19.macs": VGG19[1],
    "inception.conv_macs_fn": 2 * 3 * 5 * (3 * 3 * 4),
    "inception.max_reduce3": max(r for r in range(1, 257) if r * (256 + 9 * 192) < 256 * 192 * 9),
    "tpu.a": 3 * 48 / 65536,
    "tpu.balance_reuse": 65536 * 700e6 / 34e9,
    "tpu.b": 38,                                             # 37^2 = 1369 < 1400 <= 38^2
    "tpu.b_strided": 37 * 4 + 7,                             # 38 outputs per side: (n - 7) // 4 + 1 >= 38
    "tpu.uses_small": 3 * 3,                                 # a 7-wide window starts at pixels 0, 4, 8 of 15
    "tpu.c": 48 * 48 / 65536,
    "tpu.c_stacked": 4 * 48 * 48 / 65536,                    # 2 x 2 taps of 48 x 48 stacked: 192 x 48
    "gap.output_shape": (1024, 1, 1),                        # one mean per map
    "gap.macs": 1024 * 16 * 32,
    "gap.direct_ops": 1024 * (16 * 32 - 1) + 1024,           # 511 additions and one scaling per map
    "rnn.step_small": math.tanh(2.0 * -1.0 + 1.0 * 0.5),     # second component of tanh(G y + H x)
    "rnn.jacobian_zeros": 64 * 64 - 64,                      # only the diagonal can be non-zero
    "rnn.mixes": "no",
    "rnn.step_macs_diagonal": 64 + 64 * 16,                  # G y: one product per component; H x: 64 x 16
    "rnn.step_macs_full": 64 * 64 + 64 * 16,
    "cpu.macs_per_image": ALEX_MACS,
    "cpu.weight_mib": ALEX_PARAMS * 4 / 2**20,
    "cpu.conv_share": ALEX_CONV_MACS / ALEX_MACS,
    "gpu.conv_bias_bytes": (96 + 256 + 384 + 384 + 256) * 4,
    "gpu.input_tile": (16 + 5 - 1) ** 2,
    **TRAINING,
}

WRONG_TRAINING = {   # forgetting that the stem needs no input gradient; forgetting batch norm's statistics
    "train.backward_macs": 2 * R20_MACS * 128, "train.kept_bytes": 4 * 128 * 24448,
    "train.conv_backward_macs": "M_r*M_c*N_o*F_r*F_c*N_i",
}

WRONG = {   # plausible mistakes that must not pass
    "dense.mnist_macs": 6_150_000, "alexnet.params": 61_100_344, "vgg16.activations": 24_000_000,
    "inception.naive_macs": 17_748_038_336, "rf.resnet50": 142, "width.filter_memory": 1 / 2,
    "width.feature_memory": 1 / 4, "stride.s2_output": 111, "tpu.a": 144 / 65536 * 100,
    "tpu.b_strided": 38, "tpu.uses_small": (15 - 7 + 1) ** 2, "tpu.c_stacked": 48 * 48 / 65536,
    "gap.direct_ops": 2 * 1024 * 16 * 32,
    "rnn.step_macs_full": 2 * (64 * 64 + 64 * 16), "rnn.step_macs_diagonal": 64, "gap.output_shape": (1024,),
    "cpu.conv_share": 100 * ALEX_CONV_MACS / ALEX_MACS,
    "resize.apply_512x512": "no", "conv.macs_per_output": "F_r*F_c*N_i*N_o",
    "dense.mnist_memory": 784**2, "dense.cost_small": (16, 16), "padding.same_total": "(F - 1)/2",
    "conv.scale_filter_memory": 25 / 9, "conv.scale_image_memory": 4, "stride.s2_symbolic": "L/2",
    "stride.s1_symbolic": "L - F + 1",
    "width.params_ratio": 1 / 4, "inception.max_reduce3": 223, "rf.resnet50_torchvision": 483,
    "rf.three_layers": "k1 + k2*s1 + k3*s1*s2", "alexnet.cost_fn": (108, 972),
}


def test_every_keyed_question_has_an_independent_answer():
    keyed = {qid for qid, entry in load_key().items() if entry["kind"] != "manual"}    # written answers: by hand
    assert keyed - set(INDEPENDENT) == set(), "add an independent value for new questions"
    assert set(INDEPENDENT) - keyed == set()


@pytest.mark.parametrize("qid", sorted(INDEPENDENT))
def test_keyed_answer_matches_independent_value(qid):
    verdict = judge(qid, INDEPENDENT[qid], load_key()[qid])
    assert verdict.status == "correct", verdict.line()


@pytest.mark.parametrize("qid", sorted(WRONG))
def test_plausible_mistakes_are_rejected(qid):
    assert judge(qid, WRONG[qid], load_key()[qid]).status == "wrong"


@pytest.mark.parametrize("value", [0.3, 0.26, 0.24, 1 / 2])
def test_width_ratios_are_checked_to_the_stated_tolerance(value):
    """Notebook 07 says its fractions are checked to the default 0.5 %: 0.3 must not pass."""
    assert judge("width.filter_memory", value, load_key()["width.filter_memory"]).status == "wrong"


def _params_ratio_without_batch_norm():
    head = {1.0: 2048 * 1000 + 1000, 0.5: 1024 * 1000 + 1000}      # classifier weights and biases
    return (resnet50_conv_weights(0.5) + head[0.5]) / (resnet50_conv_weights(1.0) + head[1.0])


def test_params_ratio_counts_batch_norm():
    """Notebook 07 (h) asks for batch norm's parameters too; leaving them out (0.18 % off) must not pass."""
    ratio = _params_ratio_without_batch_norm()
    assert abs(ratio / INDEPENDENT["width.params_ratio"] - 1) < 0.005       # the default tolerance would pass it
    assert judge("width.params_ratio", ratio, load_key()["width.params_ratio"]).status == "wrong"


@pytest.mark.parametrize("qid, factor, says", [
    ("vgg19.macs", 2, "FLOPs"), ("inception.naive_macs", 2, "FLOPs"),      # MAC counts: the slip is real
    ("alexnet.fc_param_share", 100, "percentage"), ("width.params_ratio", 100, "percentage"),
    ("width.filter_memory", 2, None), ("rf.resnet50", 2, None), ("inception.ratio", 2, None),
    ("vgg16.params", 2, None), ("inception.max_reduce3", 2, None)])
def test_slip_messages_only_where_true(qid, factor, says):
    """Notebooks 05-07 declare slips per question: a factor that is not a slip gets only the hint."""
    verdict = judge(qid, INDEPENDENT[qid] * factor, load_key()[qid])
    assert verdict.status == "wrong"
    if says:
        assert says in verdict.message, verdict.message
    else:
        assert "FLOPs" not in verdict.message and "percentage" not in verdict.message, verdict.message


@pytest.mark.parametrize("qid", sorted(WRONG_TRAINING))
def test_plausible_training_mistakes_are_rejected(qid):
    assert judge(qid, WRONG_TRAINING[qid], load_key()[qid]).status == "wrong"


@pytest.mark.parametrize("qid, value", [("rf.resnet50", "483"), ("tpu.c", "0.03515625"),
                                        ("conv.total_macs", "M_r*M_c*N_o*N_i*F_r*F_c"),
                                        ("padding.f4", "(1, 2)"), ("rnn.mixes", "no")])
def test_cli_check_accepts_each_kind(qid, value):
    result = subprocess.run([sys.executable, "-m", "helpers", "check", qid, value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
