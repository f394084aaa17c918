"""Fast NHWC kernels for :mod:`helpers.engine` (float32, numpy + BLAS): convolution
and dense layers. Winograd convolution is in :mod:`helpers.engine.winograd`; pooling,
LRN and space-to-depth in :mod:`helpers.engine.pooling`; workspaces in
:mod:`helpers.engine.buffers`; the pipelines in :mod:`helpers.engine.threads`; the GEMM
layouts of the weights and folded batch norms in :mod:`helpers.engine.weights`.

Activations are ``(N, H, W, C)``: channels last, so a convolution's output
``(N*H*W, C_out)`` *is* the next layer's input, with no transpose between
layers, and a receptive-field patch is a few contiguous runs of memory.

Convolution is lowered to GEMMs in pipelines (:func:`helpers.engine.threads.pipelines`, one per core),
each over its share of the batch's output rows with a single-threaded BLAS: a block of
rows has its patches gathered into the pipeline's own small workspace
(im2col, columns ordered (row tap, column tap, channel), so that with
dilation 1 each tap row is one contiguous run of ``kw * C`` floats) and is
multiplied with ``np.matmul(..., out=)`` straight into the output array, where
the block is finished (:func:`finish`: bias, residual, ReLU) while it is in cache.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from helpers.engine import elementwise, weights
from helpers.engine.buffers import DTYPE, new_output, workspace, workspace_bytes_held
from helpers.engine.nhwc import _windows, pad_nhwc
from helpers.engine.threads import pipelines, segments, threads
from helpers.engine.weights import gemm_weights

__all__ = [
    "BLOCK_BYTES",
    "COLUMN_SPLIT_ROWS",
    "conv2d",
    "finish",
    "items_per_block",
    "linear",
    "is_pointwise",
    "pointwise_then",
    "splits_channels",
    "with_ones",
    "workspace_bytes",
]

BLOCK_BYTES = 2 * 2**20
"""Bound on each pipeline's patch matrix in :func:`conv2d`: small enough to stay in the
caches between the gather that writes a block and the GEMM that reads it (on the machine
it was tuned on, twice a core's 1 MiB L2, well inside the shared 32 MiB L3, as sysfs
reports them). Winograd has its own, larger bound: ``winograd.BLOCK_BYTES``. On AlexNet's
first two convolutions at batch 32, 1.5-3 MiB blocks ran 5-15 % faster than 0.5 MiB or
4-48 MiB ones."""

def workspace_bytes():
    """Bytes these kernels hold besides weights and activation buffers: cached workspaces
    and cached derived weights (GEMM layouts, batch norms folded into them). (Winograd's transformed weights:
    :func:`helpers.engine.winograd.cache_bytes`.)"""
    return workspace_bytes_held() + weights.cache_bytes()


def items_per_block(n, per_image, budget):
    """Items per chunk: as many as ``budget`` bytes hold (at least one), balanced over the chunks.

    >>> items_per_block(10, 3, 12)      # 4 fit, so 3 chunks of at most 4
    4
    >>> items_per_block(10, 100, 12)
    1
    """
    most = max(1, min(n, budget // max(per_image, 1)))
    pieces = -(-n // most)
    return -(-n // pieces)


def finish(rows, bias=None, add=None, relu=False):
    """End a layer on one block of its output, in place while the block is in cache:
    ``rows += bias``, then ``rows += add`` (a residual, same shape), then ReLU.

    >>> r = np.array([[1.0, -2.0]], np.float32)
    >>> finish(r, np.float32([1, 0]), np.float32([[0, 1]]), relu=True).tolist()
    [[2.0, 0.0]]
    """
    if bias is not None:
        elementwise.add_bias(rows, bias)
    if add is not None:
        rows += add
    if relu:
        elementwise.relu(rows)
    return rows


COLUMN_SPLIT_ROWS = 128
"""Below this many output pixels per pipeline, an ungrouped convolution splits its
output channels between the pipelines instead of its pixels: each GEMM then keeps all
the rows (a GEMM of 25 rows ran at about 2/3 of the speed of one of 49 on ResNet-50's
last 3x3 layer) at the price of each pipeline gathering every patch."""


def conv2d(x, weight, bias, stride, pads, dilation, groups, out_hw, budget=None, *, relu=False, add=None,
           then=None, ones=False):
    """Convolution of NHWC ``x`` with a torch-layout ``weight`` ``(C_out, C_in/g, kh, kw)``.

    ``pads`` is ``((top, bottom), (left, right))``; ``out_hw`` the output size.
    The output rows of the whole batch are split between the pipelines
    (:func:`pipelines`, one per core); each gathers the patches of a block of rows into its
    own workspace of at most ``budget`` bytes (default ``BLOCK_BYTES``) and
    multiplies them into the output with a single-threaded GEMM. The patch
    matrix has one extra column of ones, so that the bias rides along in the
    GEMM instead of costing a pass over the output. A 1x1, stride-1, unpadded
    convolution needs no gather: its input *is* the patch matrix, multiplied
    block by block. With few output pixels per pipeline (``COLUMN_SPLIT_ROWS``) the
    pipelines split the output channels instead.

    ``add`` (an array of the output's shape) is added and ``relu`` applied to each
    block right after its GEMM (:func:`finish`), while it is still in cache: a
    residual connection and its ReLU cost no extra pass over memory.

    ``then(thread, y_rows, start, stop)``, if given, is the next layer of a chain that
    needs only the output pixels it is given (:func:`pointwise_then`: a 1x1 convolution);
    ``y_rows`` is the output as ``(N oh ow, C_out)`` rows (``C_out + 1`` with ``ones``). Each pipeline calls it once it
    has computed its whole share, on that share's pixels, so that the next layer costs no
    hand-over between threads. A layer whose pipelines split its channels instead
    (:func:`splits_channels`) refuses a ``then``: no pipeline has whole pixels to hand on.
    With ``ones``, ``y`` has one more channel after its ``C_out``, all ones (see
    :func:`with_ones`), for a chained 1x1 layer's bias.
    Returns ``(y, workspace_bytes)``, ``y`` of shape ``(N, oh, ow, C_out)`` (``C_out + 1``
    with ``ones``).
    """
    n = x.shape[0]
    c_out, c_g, kh, kw = weight.shape
    oh, ow = out_hw
    co_g, k = c_out // groups, kh * kw * c_g
    y, width = with_ones((n, oh, ow, c_out), ones)
    w_mats = [gemm_weights(weight, bias, g, groups) for g in range(groups)]
    add_rows = None if add is None else add.reshape(n * oh * ow, c_out)
    by_columns = splits_channels(n * oh * ow, c_out, groups)
    if by_columns and then is not None:
        raise ValueError("then= needs a layer split by pixels, and this one splits its channels "
                         "(splits_channels): run the next layer after it")
    if is_pointwise((kh, kw), stride, pads, groups):
        y_rows = y.reshape(n * oh * ow, width)
        _pointwise(np.ascontiguousarray(x).reshape(n * oh * ow, c_g), w_mats[0], bias is not None,
                   y_rows[:, :c_out], add_rows, relu, by_columns, budget,
                   then and (lambda thread, _, start, stop: then(thread, y_rows, start, stop)))
        return y, 0
    xp = pad_nhwc(x, *pads[0], *pads[1], key="padded")
    windows = _windows(xp, kh, kw, stride, dilation, oh, ow)
    out_rows = y.reshape(n * oh, ow * width)
    held = []

    def work(thread, start, stop, c0, c1):
        block = items_per_block(stop - start, ow * (k + 1) * DTYPE.itemsize, budget or BLOCK_BYTES)
        cols = workspace(f"cols{thread}", (block * ow, k + 1))
        held.append(cols.nbytes)
        cols[:, k] = 1.0
        row_bytes, item = cols.strides[0], cols.itemsize
        for first in range(start, stop, block):
            last = min(stop, first + block)
            m = (last - first) * ow
            target = out_rows[first:last].reshape(m, width)[:, :c_out]
            for g in range(groups):
                for image, r0, r1, offset in segments(first, last, oh):
                    patches = as_strided(cols[offset * ow:], (r1 - r0, ow, kh, kw, c_g),
                                         (ow * row_bytes, row_bytes, kw * c_g * item, c_g * item, item))
                    np.copyto(patches, windows[image, r0:r1, ..., g * c_g:(g + 1) * c_g])
                if groups == 1:
                    np.matmul(cols[:m], w_mats[0][:, c0:c1], out=target[:, c0:c1])
                else:
                    target[:, g * co_g:(g + 1) * co_g] = cols[:m] @ w_mats[g]
            if add is None and (c0, c1) == (0, c_out):
                # whole rows, the ones too (ReLU keeps a 1): elementwise.relu ran 3.3-5.3 x slower on the
                # strided view of 3136 x 64 and 12544 x 64 rows (a reviewer's timing, 2026-11-22)
                finish(out_rows[first:last].reshape(m, width), None, None, relu)
            else:
                finish(target[:, c0:c1], None, None if add is None else add_rows[first * ow:last * ow, c0:c1], relu)
    y_rows = y.reshape(n * oh * ow, width)

    def rows(thread, start, stop):
        work(thread, start, stop, 0, c_out)
        if then is not None:
            then(thread, y_rows, start * ow, stop * ow)
    if by_columns:
        pipelines(c_out, lambda thread, c0, c1: work(thread, 0, n * oh, c0, c1))
    else:
        pipelines(n * oh, rows)
    return y, sum(held) + (xp.nbytes if xp is not x else 0)


def with_ones(shape, ones):
    """A fresh output (:func:`helpers.engine.buffers.new_output`) of NHWC ``shape`` and its
    channel count: with ``ones``, one channel more, set to 1 at every pixel, after the
    ``shape[-1]`` channels a kernel computes. A 1x1 layer chained after it
    (:func:`pointwise_then` with ``ones``) multiplies its bias by that channel inside its
    GEMM instead of adding it in a pass over its output, and the GEMMs that compute the
    layer keep their ``C_out`` columns (a zero filter for the ones would add a column to them).

    >>> y, width = with_ones((1, 1, 2, 3), True)
    >>> width, y[..., 3].tolist()
    (4, [[[1.0, 1.0]]])
    """
    width = shape[-1] + bool(ones)
    y = new_output((*shape[:-1], width))
    if ones:
        y[..., -1] = 1.0
    return y, width


def splits_channels(pixels, c_out, groups=1):
    """Whether :func:`conv2d` splits a layer's output channels between the pipelines rather
    than its ``pixels`` (rows of the batch's output): too few pixels per pipeline
    (``COLUMN_SPLIT_ROWS``), an ungrouped layer, and channels enough to split.

    >>> splits_channels(49, 512), splits_channels(49, 64), splits_channels(100_000, 512)
    (True, False, False)
    """
    return groups == 1 and pixels < COLUMN_SPLIT_ROWS * (threads() or 1) and c_out >= 128


def is_pointwise(kernel, stride, pads, groups):
    """Whether a convolution is 1x1, stride 1, unpadded and ungrouped: its NHWC input rows
    are its patch matrix, and each output pixel needs only the input pixel at its place.

    >>> is_pointwise((1, 1), (1, 1), ((0, 0), (0, 0)), 1), is_pointwise((1, 1), (2, 2), ((0, 0), (0, 0)), 1)
    (True, False)
    """
    return tuple(kernel) == (1, 1) and tuple(stride) == (1, 1) and groups == 1 and not any(pads[0] + pads[1])


def _weights_and_bias(w_mat, has_bias):
    """A cached GEMM operand (:func:`helpers.engine.weights.gemm_weights`) as its filter rows
    and its bias row (``None`` without a bias)."""
    k = w_mat.shape[0] - 1
    return w_mat[:k], (w_mat[k] if has_bias else None)


def pointwise_then(weight, bias, out, add=None, relu=False, ones=False):
    """The ``then`` of :func:`conv2d` that runs a 1x1, stride-1, unpadded, ungrouped
    convolution (torch-layout ``weight`` ``(C_out, C_in, 1, 1)``, ``bias``) on the pixels
    it is given, writing them into ``out`` ``(N, H, W, C_out)``, finished with ``add``
    and ``relu`` like :func:`conv2d`'s output. With ``ones``, the pixels it is given have
    one more channel, all ones (the layer before was run with ``ones``: :func:`with_ones`),
    and the bias rides along in the GEMM as that channel's weights instead of costing a
    pass over the output.

    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 3, 2)        # 3 pixels, 2 channels
    >>> out = np.zeros((1, 1, 3, 1), np.float32)
    >>> then = pointwise_then(np.ones((1, 2, 1, 1), np.float32), np.float32([-2]), out, relu=True)
    >>> then(0, x.reshape(3, 2), 1, 3)                                  # pixels 1 and 2 only
    >>> out.ravel().tolist()
    [0.0, 3.0, 7.0]
    """
    w_mat = gemm_weights(weight, bias, 0, 1)
    w, b = (w_mat, None) if ones else _weights_and_bias(w_mat, bias is not None)
    c_out = w.shape[1]
    out_rows = out.reshape(-1, c_out)
    add_rows = None if add is None else add.reshape(-1, c_out)

    def then(_, x_rows, start, stop):
        _pointwise_rows(x_rows, w, b, out_rows, add_rows, relu, start, stop, None)
    return then


def _pointwise_rows(x_rows, w, b, y_rows, add_rows, relu, start, stop, budget):
    """Rows ``[start, stop)`` of a 1x1 convolution, in blocks whose input and output fit
    ``budget`` bytes, each finished (:func:`finish`) in cache."""
    k, c_out = w.shape
    step = items_per_block(stop - start, k * x_rows.itemsize + c_out * y_rows.itemsize, budget or BLOCK_BYTES)
    for first in range(start, stop, step):
        last = min(stop, first + step)
        np.matmul(x_rows[first:last], w, out=y_rows[first:last])
        finish(y_rows[first:last], b, None if add_rows is None else add_rows[first:last], relu)


def _pointwise(x_rows, w_mat, has_bias, y_rows, add_rows, relu, by_columns, budget, then=None):
    """A 1x1 stride-1 convolution as GEMMs straight from its input rows (:func:`_pointwise_rows`),
    or with few rows, each pipeline on a share of the output channels."""
    w, b = _weights_and_bias(w_mat, has_bias)

    def rows(thread, start, stop):
        _pointwise_rows(x_rows, w, b, y_rows, add_rows, relu, start, stop, budget)
        if then is not None:
            then(thread, y_rows, start, stop)

    def columns(_, c0, c1):
        np.matmul(x_rows, w[:, c0:c1], out=y_rows[:, c0:c1])
        finish(y_rows[:, c0:c1], None if b is None else b[c0:c1],
               None if add_rows is None else add_rows[:, c0:c1], relu)
    if by_columns:
        pipelines(y_rows.shape[1], columns)
    else:
        pipelines(len(x_rows), rows)


def linear(x, weight, bias):
    """``x @ weight.T + bias`` for ``x`` ``(N, in)`` and a torch-layout ``weight`` ``(out, in)``.

    Computed as ``weight @ x.T`` (the faster orientation for a small batch), the
    output features split between the pipelines, so that no GEMM in a
    forward pass wakes the BLAS's own threads (their spinning after a call
    would steal the cores from the next layer's pipelines).
    """
    y_t = new_output((weight.shape[0], x.shape[0]))
    pipelines(weight.shape[0], lambda _, i, j: np.matmul(weight[i:j], x.T, out=y_t[i:j]))
    y = y_t.T
    if bias is not None:
        y += bias
    return y
