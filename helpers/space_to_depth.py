r"""Space-to-depth restacking of an input and of a strided convolution's weights.

A convolution with stride :math:`b` equals a stride-1 convolution on the
input restacked by :func:`space_to_depth` (each :math:`b \times b` tile
becomes :math:`b^2` channels, ordered (row offset, column offset, channel))
with the kernel restacked by :func:`restack_weights` (zero-padded to a
multiple of :math:`b`, then cut the same way): an :math:`F \times F` kernel
becomes :math:`\lceil F/b \rceil \times \lceil F/b \rceil` with :math:`b^2`
times the input channels. This is how the TPU exercise turns AlexNet-style
``7x7``, stride 4, ``3 -> 48`` into ``2x2``, ``48 -> 48``.

Examples
--------
>>> import numpy as np
>>> space_to_depth(np.zeros((3, 220, 220)), 4).shape
(48, 55, 55)
>>> restack_weights(np.zeros((48, 3, 7, 7)), 4).shape
(48, 48, 2, 2)
"""

from __future__ import annotations

import numpy as np

__all__ = ["space_to_depth", "restack_weights"]


def space_to_depth(x, block):
    """``(C, H, W) -> (C*b*b, H/b, W/b)``; channel ``(dy*b + dx)*C + c``."""
    c, h, w = x.shape
    if h % block or w % block:
        raise ValueError(f"input {h}x{w} is not divisible by block {block}")
    tiles = x.reshape(c, h // block, block, w // block, block)
    return tiles.transpose(2, 4, 0, 1, 3).reshape(c * block * block, h // block, w // block)


def restack_weights(w, block):
    """``(N_o, C, F, F) -> (N_o, C*b*b, ceil(F/b), ceil(F/b))`` matching :func:`space_to_depth`."""
    n_o, c, fh, fw = w.shape
    gh, gw = -(-fh // block), -(-fw // block)
    padded = np.zeros((n_o, c, gh * block, gw * block), dtype=w.dtype)
    padded[:, :, :fh, :fw] = w
    tiles = padded.reshape(n_o, c, gh, block, gw, block)
    return tiles.transpose(0, 3, 5, 1, 2, 4).reshape(n_o, c * block * block, gh, gw)
