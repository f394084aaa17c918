"""Independent reference computations for the tests (written from the definitions,
sharing no code with helpers)."""

import numpy as np


def naive_conv_counting(x, w, stride, padding, dilation, groups):
    """Direct convolution with explicit loops; returns (output, multiplies done)."""
    c_in, h, wd = x.shape
    c_out, c_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((c_out, oh, ow))
    mults = 0
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        for i in range(oh):
            for j in range(ow):
                acc = 0.0
                for c in range(c_g):
                    for a in range(kh):
                        for b in range(kw):
                            acc += w[o, c, a, b] * xp[g * c_g + c, i * stride + a * dilation,
                                                      j * stride + b * dilation]
                            mults += 1
                out[o, i, j] = acc
    return out, mults
