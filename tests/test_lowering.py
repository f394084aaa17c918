"""Convolution lowerings against an independent direct loop; GEMM shapes and roofline points."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import lowering, roofline
from helpers.formulas import conv2d_macs
from helpers.symbols import F_c, F_r, M_c, M_r, N_i, N_o
from reference.conv import naive_conv_counting


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 2), st.integers(1, 2), st.integers(4, 9), st.integers(0, 2**16))
def test_lowerings_equal_the_direct_loop(groups, cg, og, k, stride, padding, dilation, size, seed):
    if dilation * (k - 1) + 1 > size + 2 * padding:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((groups * cg, size, size))
    w = rng.standard_normal((groups * og, cg, k, k))
    expected, mults = naive_conv_counting(x, w, stride, padding, dilation, groups)
    for conv in (lowering.conv2d_im2col, lowering.conv2d_shifted_gemms, lowering.conv2d_direct):
        np.testing.assert_allclose(conv(x, w, stride, padding, dilation, groups), expected,
                                   rtol=1e-10, atol=1e-10)
    oh, ow = expected.shape[1:]
    assert mults == conv2d_macs(oh, ow, groups * cg, groups * og, k, k, groups)


def test_im2col_columns_are_patches():
    x = np.arange(2 * 5 * 5, dtype=float).reshape(2, 5, 5)
    cols = lowering.im2col(x, 3, stride=2, padding=1)
    assert cols.shape == (2 * 9, 9)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    np.testing.assert_array_equal(cols[:, 4], xp[:, 2:5, 2:5].reshape(-1))   # output (1, 1)


def test_lowered_shapes_are_consistent_with_macs():
    shapes = lowering.lowered_shapes(N_i, N_o, F_r, F_c, M_r, M_c)
    m, n, k = shapes["shifted"]
    assert sp.simplify(F_r * F_c * m * n * k - conv2d_macs(M_r, M_c, N_i, N_o, F_r, F_c)) == 0
    m, n, k = shapes["im2col"]
    assert sp.simplify(m * n * k - conv2d_macs(M_r, M_c, N_i, N_o, F_r, F_c)) == 0


def test_kernel_too_large_is_an_error():
    with pytest.raises(ValueError, match="does not fit"):
        lowering.im2col(np.zeros((1, 2, 2)), 3)
    with pytest.raises(ValueError, match="groups"):
        lowering.conv2d_im2col(np.zeros((3, 4, 4)), np.zeros((4, 1, 1, 1)), groups=2)


def test_roofline_hand_computed_points():
    cpu, tpu = roofline.HASWELL, roofline.TPU_V1
    assert roofline.attainable(cpu, 1.0) == 51e9                 # memory bound: 51 GB/s x 1 op/B
    assert roofline.attainable(cpu, 100.0) == 1.3e12             # compute bound
    assert roofline.attainable(cpu, [0.5, 1000]).tolist() == [25.5e9, 1.3e12]
    assert roofline.ridge(cpu) == pytest.approx(25.49, abs=0.01)
    assert roofline.ridge(tpu) == pytest.approx(2705.9, abs=0.1)
    # the paper's 92 Tops/s is 65,536 MACs x 2 ops x 700 MHz, rounded
    assert 2 * 65536 * 700e6 == pytest.approx(tpu.peak, rel=0.005)


def test_intensity_exact_and_symbolic():
    assert roofline.gemm_intensity(2, 3, 4) == sp.Rational(24, 26)
    n = sp.Symbol("n", positive=True)
    assert sp.simplify(roofline.gemm_intensity(n, n, n) - n / 3) == 0
    # matrix-vector: intensity tends to 1 MAC per element, 0.5 FLOP/byte in fp32
    assert float(roofline.flops_per_byte(4096, 1, 4096)) == pytest.approx(0.4998, abs=1e-4)


def test_layer_intensity_from_first_principles():
    from helpers.layers import Conv2d, Linear, ReLU
    # VGG conv3_2 on a batch of 2: FLOPs / (input + output + weights) bytes
    flops = 2 * 2 * 56 * 56 * 256 * 256 * 9
    moved = 4 * (2 * 256 * 56 * 56 + 2 * 256 * 56 * 56 + 256 * 256 * 9)
    assert (roofline.layer_intensity(Conv2d(256, 3, padding=1, bias=False), (256, 56, 56), batch=2)
            == pytest.approx(flops / moved))
    flops = 2 * 8 * 9216 * 4096
    moved = 4 * (9216 * 4096 + 8 * 9216 + 8 * 4096)
    assert roofline.layer_intensity(Linear(4096), (9216,), batch=8) == pytest.approx(flops / moved)
    with pytest.raises(ValueError, match="covers Conv2d and Linear"):
        roofline.layer_intensity(ReLU(), (3, 4, 4))
