"""Pooling from its definition, one window at a time (an oracle for the engine's pooling)."""

import numpy as np


def torch_free_pool_reference(x, k, s, p, op, ceil_mode=False, count_include_pad=True):
    """Pooling from the definition, one window at a time (NCHW, PyTorch rules): an average
    divides by the window's positions inside the padded input, or with
    ``count_include_pad=False`` by those inside the input itself."""
    n, c, h, w = x.shape
    from helpers.formulas import pool_output_size
    oh, ow = pool_output_size(h, k, s, p, 1, ceil_mode), pool_output_size(w, k, s, p, 1, ceil_mode)
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - p, j * s - p
            r1, c1 = min(r0 + k, h + p), min(c0 + k, w + p)        # window clipped to padded input
            window = x[:, :, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if op == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                inside = ((r1 - r0) * (c1 - c0) if count_include_pad
                          else (min(r1, h) - max(r0, 0)) * (min(c1, w) - max(c0, 0)))
                out[:, :, i, j] = window.sum(axis=(2, 3)) / inside
    return out
