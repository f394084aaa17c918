"""Winograd F(2x2, 3x3) convolution for :mod:`helpers.engine` (NHWC, float32).

Each 4x4 input tile gives a 2x2 output tile with 16 multiplies per (in, out)
channel pair instead of 36 (Lavin & Gray, *Fast Algorithms for Convolutional
Neural Networks*, CVPR 2016): an input transform ``B^T d B``, sixteen GEMMs
``(tiles x C_in) @ (C_in x C_out)``, an output transform ``A^T m A``. The
transforms are memory-bound numpy passes, so the engine uses it only when
there are enough tiles for the saved multiplies to pay for them.
"""

from __future__ import annotations

import numpy as np

from helpers.engine.buffers import DTYPE, workspace
from helpers.engine.elementwise import add_bias
from helpers.engine.kernels import finish, items_per_block, with_ones
from helpers.engine.nhwc import pad_nhwc
from helpers.engine.threads import pipelines, segments

__all__ = ["BLOCK_BYTES", "WINOGRAD_MIN_TILES", "cache_bytes", "clear_cache", "conv2d_winograd", "tile_count",
           "tile_grid", "winograd_applies", "winograd_weights"]


def tile_grid(out_hw):
    """Rows and columns of 2x2 output tiles that cover an ``(H_out, W_out)`` output
    (an odd size gets a last tile that hangs over by one).

    >>> tile_grid((7, 8))
    (4, 4)
    """
    return tuple(-(-n // 2) for n in out_hw)


def tile_count(batch, out_hw):
    """2x2 output tiles in a batch of ``(H_out, W_out)`` outputs: the ``tiles`` of
    :func:`winograd_applies`.

    >>> tile_count(2, (7, 8))
    32
    """
    th, tw = tile_grid(out_hw)
    return batch * th * tw


def winograd_applies(kernel, stride, dilation, groups, tiles, channels=None):
    """Whether the Winograd kernel is used: 3x3, stride 1, dilation 1, ungrouped, with
    enough output tiles (``tiles``, in the batch) and channels (``channels``, the smaller of
    ``C_in`` and ``C_out``; ``None``: not limited) for the sixteen GEMMs to be efficient.

    >>> winograd_applies((3, 3), (1, 1), (1, 1), 1, tiles=49, channels=256)     # ResNet-50, 14x14
    True
    >>> winograd_applies((3, 3), (1, 1), (1, 1), 1, tiles=784, channels=64)     # 56x56, narrow
    False
    """
    return (kernel == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and tiles >= WINOGRAD_MIN_TILES and (channels is None or channels >= WINOGRAD_MIN_CHANNELS))


WINOGRAD_MIN_TILES = 40
"""Below this many 2x2 output tiles in a batch, im2col's single GEMM is faster: on
ResNet-50's last 3x3 layer at batch 1 (16 tiles, 512 channels) Winograd took 1.4 times
as long, on the 14x14 one (49 tiles, 256 channels) 0.6 times (2 pipelines)."""

WINOGRAD_MIN_CHANNELS = 128
"""Below this many channels the transforms cost about what the saved multiplies save:
64-channel layers ran at 0.9-1.1 times im2col's time on 56x56 and 224x224 inputs
(ResNet-50, VGG-16), 128 to 512 channels at 0.5-0.8 times."""

BLOCK_BYTES = 16 * 2**20
"""Bound on each pipeline's buffers. The sixteen GEMMs have as many rows as the block
has tiles, so bigger blocks run faster: on AlexNet's conv3/conv4 at batch 32, 2, 4, 16
and 48 MiB reached about 95, 105, 125 and 135 % of the GEMM peak in useful-MAC terms.
16 MiB is the compromise with memory (each pipeline holds a block)."""


_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float32)
_U_CACHE = {}


def winograd_weights(weight):
    """``U = G g G^T`` for every (out, in) pair: ``(16, C_in, C_out)``, cached per array."""
    key = id(weight)
    hit = _U_CACHE.get(key)
    if hit is not None and hit[0] is weight:
        return hit[1]
    u = np.einsum("xa,oiab,yb->xyio", _G, weight, _G, optimize=True)
    u = np.ascontiguousarray(u.reshape(16, weight.shape[1], weight.shape[0]), dtype=np.float32)
    if len(_U_CACHE) > 256:
        _U_CACHE.clear()
    _U_CACHE[key] = (weight, u)
    return u


def _input_transform(xp, th, tw, v, rows):
    """``v[4r + c]`` = entry (r, c) of ``B^T d B`` for every 4x4 tile ``d`` of ``xp``.

    ``B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`` is applied along the rows of
    the whole padded image first (tiles overlap, so this reads each row once, not
    twice), then along the columns straight into the GEMM buffer ``v``.
    """
    n, c = xp.shape[0], xp.shape[3]
    x = [xp[:, i:i + 2 * th:2] for i in range(4)]                 # row i of every tile row
    np.subtract(x[0], x[2], out=rows[0])
    np.add(x[1], x[2], out=rows[1])
    np.subtract(x[2], x[1], out=rows[2])
    np.subtract(x[1], x[3], out=rows[3])
    for r in range(4):
        e = [rows[r][:, :, j:j + 2 * tw:2] for j in range(4)]
        out = [v[4 * r + k].reshape(n, th, tw, c) for k in range(4)]
        np.subtract(e[0], e[2], out=out[0])
        np.add(e[1], e[2], out=out[1])
        np.subtract(e[2], e[1], out=out[2])
        np.subtract(e[1], e[3], out=out[3])


def _output_transform(m, y, n, th, tw, thread=0):
    """``y`` tiles = ``A^T m A`` with ``A^T = [[1,1,1,0],[0,1,-1,-1]]``."""
    c = m.shape[-1]
    mm = m.reshape(4, 4, n, th, tw, c)
    s0 = np.add(mm[0], mm[1], out=workspace(f"wino_s0{thread}", mm[0].shape))
    s0 += mm[2]
    s1 = np.subtract(mm[1], mm[2], out=workspace(f"wino_s1{thread}", mm[0].shape))
    s1 -= mm[3]
    block = np.reshape(y, (n, th, 2, tw, 2, c), copy=False)     # y may be a view: never a copy
    for i, s in enumerate((s0, s1)):
        np.add(s[0], s[1], out=block[:, :, i, :, 0])
        block[:, :, i, :, 0] += s[2]
        np.subtract(s[1], s[2], out=block[:, :, i, :, 1])
        block[:, :, i, :, 1] -= s[3]


def cache_bytes():
    """Bytes of cached transformed weights."""
    return sum(entry[1].nbytes for entry in _U_CACHE.values())


def clear_cache():
    """Forget the cached transformed weights."""
    _U_CACHE.clear()


def conv2d_winograd(x, weight, bias, pads, out_hw, budget=None, *, relu=False, add=None, then=None, ones=False):
    """3x3, stride 1, dilation 1, ungrouped convolution by Winograd F(2x2, 3x3).

    Each 4x4 input tile gives a 2x2 output tile with 16 multiplies per
    (in, out) channel pair instead of 36: sixteen GEMMs
    ``(tiles x C_in) @ (C_in x C_out)`` between an input transform
    ``B^T d B`` and an output transform ``A^T m A`` (Lavin & Gray, 2016).
    The rows of tiles of the batch are split between the pipelines
    (:func:`helpers.engine.threads.pipelines`, one per core), each transforming, multiplying and
    transforming back a block of rows at a time in buffers of about ``budget``
    bytes (default ``BLOCK_BYTES``). The bias, ``add`` (a residual of the output's
    shape) and ``relu`` are applied to each block of output rows as soon as it is
    transformed (:func:`helpers.engine.kernels.finish`; the bias is added before the output
    transform, to the one entry of each tile that reaches all four outputs); ``then``, the
    next layer of a chain, is run by each pipeline on the output pixels of its share once
    computed, and ``ones`` adds a channel of ones, as in :func:`helpers.engine.kernels.conv2d`.
    Returns ``(y, workspace_bytes)``.
    """
    n, _, _, c_in = x.shape
    c_out = weight.shape[0]
    oh, ow = out_hw
    th, tw = tile_grid(out_hw)
    (top, bottom), (left, right) = pads
    xp = pad_nhwc(x, top, bottom + 2 * th - oh, left, right + 2 * tw - ow, key="padded")
    u = winograd_weights(weight)
    per_row = (tw * 16 * (c_in + c_out) + 4 * xp.shape[2] * c_in) * DTYPE.itemsize     # v, m, rows below
    exact = (2 * th, 2 * tw) == (oh, ow)
    y_full, width = with_ones((n, oh, ow, c_out), ones)
    y = y_full[..., :c_out]
    held = []

    def work(thread, start, stop):
        block = items_per_block(stop - start, per_row, budget or BLOCK_BYTES)
        v = workspace(f"wino_v{thread}", (16, block * tw, c_in))
        m = workspace(f"wino_m{thread}", (16, block * tw, c_out))
        rows = workspace(f"wino_rows{thread}", (4, block, xp.shape[2], c_in))
        held.append(v.nbytes + m.nbytes + rows.nbytes)
        for first in range(start, stop, block):
            last = min(stop, first + block)
            t = (last - first) * tw
            pieces = list(segments(first, last, th))
            for image, r0, r1, offset in pieces:
                _input_transform(xp[image:image + 1, 2 * r0:2 * r1 + 2], r1 - r0, tw,
                                 v[:, offset * tw:(offset + r1 - r0) * tw],
                                 rows[:, None, :r1 - r0])
            np.matmul(v[:, :t], u, out=m[:, :t])
            if bias is not None:
                # entry (1, 1) of a transformed tile reaches its four outputs with weight 1
                # (column 1 of A^T is (1, 1)): the bias added there, on a quarter of the values
                add_bias(m[5, :t], bias)
            for image, r0, r1, offset in pieces:
                # an odd output size: transform into a scratch block, keep its inside
                tiles = (y[image:image + 1, 2 * r0:2 * r1] if exact else
                         workspace(f"wino_out{thread}", (1, 2 * (r1 - r0), 2 * tw, c_out)))
                _output_transform(m[:, offset * tw:(offset + r1 - r0) * tw], tiles, 1, r1 - r0, tw, thread)
                inside = min(oh, 2 * r1) - 2 * r0
                if not exact:
                    np.copyto(y[image, 2 * r0:2 * r0 + inside], tiles[0, :inside, :ow])
                if add is None:            # whole rows, the ones too (ReLU keeps a 1): faster than a view
                    finish(y_full[image, 2 * r0:2 * r0 + inside].reshape(-1, width), None, None, relu)
                else:
                    finish(np.reshape(y[image, 2 * r0:2 * r0 + inside], (-1, c_out), copy=False), None,
                           add[image, 2 * r0:2 * r0 + inside].reshape(-1, c_out), relu)
    y_rows = y_full.reshape(n * oh * ow, width)

    def pixel(tile_row):
        """The first output pixel of a row of tiles (or the end of the batch)."""
        image, row = divmod(tile_row, th)
        return (image * oh + 2 * row) * ow

    def rows(thread, start, stop):
        work(thread, start, stop)
        if then is not None:
            then(thread, y_rows, pixel(start), pixel(stop))
    pipelines(n * th, rows)
    return y_full, sum(held) + (xp.nbytes if xp is not x else 0)
