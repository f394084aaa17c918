"""Fast NHWC kernels for :mod:`helpers.engine` (float32, numpy + BLAS): convolution
and dense layers. Winograd convolution is in :mod:`helpers.engine.winograd`; pooling,
LRN and space-to-depth in :mod:`helpers.engine.pooling` (importable from here too);
workspaces in :mod:`helpers.engine.buffers`; the pipelines in :mod:`helpers.engine.threads`.

Activations are ``(N, H, W, C)``: channels last, so a convolution's output
``(N*H*W, C_out)`` *is* the next layer's input, with no transpose between
layers, and a receptive-field patch is a few contiguous runs of memory.

Convolution is lowered to GEMMs in pipelines (:func:`pipelines`, one per core),
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

from helpers.engine.buffers import (  # noqa: F401
    DTYPE,
    POOL,
    new_output,
    outputs_into,
    release_workspace,
    workspace,
    workspace_bytes_held,
)
from helpers.engine.nhwc import _windows, pad_nhwc

# pooling and normalisation live in their own module; their names stay importable from here
from helpers.engine.pooling import (
    avg_pool,
    local_response_norm,
    max_pool,
    space_to_depth,
)
from helpers.engine.threads import pipelines, segments, threads

__all__ = [
    "BLOCK_BYTES",
    "COLUMN_SPLIT_ROWS",
    "avg_pool",
    "clear_weight_caches",
    "conv2d",
    "filter_matrix",
    "finish",
    "fold_batchnorm",
    "items_per_block",
    "linear",
    "local_response_norm",
    "max_pool",
    "new_output",
    "outputs_into",
    "pad_nhwc",
    "pipelines",
    "release_workspace",
    "segments",
    "space_to_depth",
    "workspace",
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
    folded = sum(r[0].nbytes + r[1].nbytes for _, r in _FOLDED.values() if r[0].base is None)
    return workspace_bytes_held() + sum(entry[2].nbytes for entry in _W_CACHE.values()) + folded


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


_W_CACHE = {}


def _remember(key, weight, bias, w_mat):
    if len(_W_CACHE) > 512:
        _W_CACHE.clear()
    _W_CACHE[key] = (weight, bias, w_mat)


def filter_matrix(weight, g, groups):
    """Group ``g``'s filter (torch layout ``(C_out, C_in/g, K_h, K_w)``) as the
    ``(K_h K_w C_g, C_out/g)`` GEMM operand whose rows follow the im2col columns
    (row tap, column tap, channel); a view where numpy can make one.

    >>> filter_matrix(np.arange(8.0).reshape(2, 1, 2, 2), 0, 1)[:, 1].tolist()   # output 1's taps
    [4.0, 5.0, 6.0, 7.0]
    """
    c_out, c_g, kh, kw = weight.shape
    co_g = c_out // groups
    return weight[g * co_g:(g + 1) * co_g].transpose(2, 3, 1, 0).reshape(kh * kw * c_g, co_g)


def _gemm_weights(weight, bias, g, groups):
    """Group ``g``'s filter as a ``(kh*kw*C_g + 1, C_out/g)`` GEMM operand whose last row is
    the bias; cached per weight array (it is rebuilt only if the arrays change)."""
    key = (id(weight), id(bias), g)
    hit = _W_CACHE.get(key)
    if hit is not None and hit[0] is weight and hit[1] is bias:
        return hit[2]
    c_out, c_g, kh, kw = weight.shape
    co_g, k = c_out // groups, kh * kw * c_g
    w_mat = np.empty((k + 1, co_g), dtype=np.float32)
    w_mat[:k] = filter_matrix(weight, g, groups)
    w_mat[k] = 0.0 if bias is None else bias[g * co_g:(g + 1) * co_g]
    _remember(key, weight, bias, w_mat)
    return w_mat


_FOLDED = {}


def fold_batchnorm(weight, bias, bn, eps, groups=1):
    """A convolution followed by an inference batch norm ``bn`` (a dict of ``weight``,
    ``bias``, ``running_mean``, ``running_var``), as one convolution:
    ``(weight * scale, (bias - mean) * scale + shift)`` with ``scale = gamma / sqrt(var + eps)``.

    The per-channel scale and the bias are computed in float64 and rounded once; each
    weight is then one float32 product, so the folded layer differs from the two
    layers only by float32 rounding (and no weight-sized float64 temporaries are made).
    Cached per set of arrays, like the GEMM layouts (treat parameter arrays as immutable,
    or call :func:`clear_weight_caches` after editing one in place). For an ungrouped
    convolution the returned arrays are views of their GEMM layout, cached as
    :func:`conv2d` uses it: folding costs no memory beyond the layout the unfolded
    convolution would cache.

    >>> w = np.ones((2, 1, 1, 1), np.float32)
    >>> bn = {"weight": np.float32([2, 3]), "bias": np.float32([0.5, -1]),
    ...       "running_mean": np.float32([0, 0]), "running_var": np.float32([1, 1])}
    >>> fw, fb = fold_batchnorm(w, None, bn, eps=0.0)
    >>> fw.ravel().tolist(), fb.tolist()
    ([2.0, 3.0], [0.5, -1.0])
    """
    arrays = (weight, bias, bn["weight"], bn["bias"], bn["running_mean"], bn["running_var"])
    key = (*map(id, arrays), eps, groups)
    hit = _FOLDED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], arrays, strict=True)):
        return hit[1]
    scale = bn["weight"].astype(np.float64) / np.sqrt(bn["running_var"].astype(np.float64) + eps)
    shift = bn["bias"].astype(np.float64) - bn["running_mean"].astype(np.float64) * scale
    folded_b = ((0.0 if bias is None else bias.astype(np.float64)) * scale + shift).astype(np.float32)
    scale = scale.astype(np.float32)           # per channel; the weights are scaled in float32
    if groups != 1:
        result = weight * scale[:, None, None, None], folded_b
    else:
        c_out, c_in, kh, kw = weight.shape
        k = kh * kw * c_in
        w_mat = np.empty((k + 1, c_out), dtype=np.float32)
        layout = w_mat[:k].reshape(kh, kw, c_in, c_out)        # a view: no weight-sized temporaries
        np.multiply(weight.transpose(2, 3, 1, 0), scale, out=layout)
        w_mat[k] = folded_b
        result = layout.transpose(3, 2, 0, 1), w_mat[k]
        _remember((id(result[0]), id(result[1]), 0), *result, w_mat)
    if len(_FOLDED) > 512:
        _FOLDED.clear()
    _FOLDED[key] = (arrays, result)
    return result


def clear_weight_caches():
    """Forget the cached GEMM layouts and folded batch norms (needed only after a
    parameter array was edited in place; :func:`helpers.engine.forward.clear_weight_caches`
    also forgets Winograd's transforms)."""
    _W_CACHE.clear()
    _FOLDED.clear()


def finish(rows, bias=None, add=None, relu=False):
    """End a layer on one block of its output, in place while the block is in cache:
    ``rows += bias``, then ``rows += add`` (a residual, same shape), then ReLU.

    >>> r = np.array([[1.0, -2.0]], np.float32)
    >>> finish(r, np.float32([1, 0]), np.float32([[0, 1]]), relu=True).tolist()
    [[2.0, 0.0]]
    """
    if bias is not None:
        rows += bias
    if add is not None:
        rows += add
    if relu:
        np.maximum(rows, 0, out=rows)
    return rows


COLUMN_SPLIT_ROWS = 128
"""Below this many output pixels per pipeline, an ungrouped convolution splits its
output channels between the pipelines instead of its pixels: each GEMM then keeps all
the rows (a GEMM of 25 rows ran at about 2/3 of the speed of one of 49 on ResNet-50's
last 3x3 layer) at the price of each pipeline gathering every patch."""


def conv2d(x, weight, bias, stride, pads, dilation, groups, out_hw, budget=None, *, relu=False, add=None):
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
    Returns ``(y, workspace_bytes)``, ``y`` of shape ``(N, oh, ow, C_out)``.
    """
    n = x.shape[0]
    c_out, c_g, kh, kw = weight.shape
    oh, ow = out_hw
    co_g, k = c_out // groups, kh * kw * c_g
    y = new_output((n, oh, ow, c_out))
    w_mats = [_gemm_weights(weight, bias, g, groups) for g in range(groups)]
    add_rows = None if add is None else add.reshape(n * oh * ow, c_out)
    by_columns = groups == 1 and n * oh * ow < COLUMN_SPLIT_ROWS * (threads() or 1) and c_out >= 128
    if (kh, kw, groups) == (1, 1, 1) and stride == (1, 1) and not any(pads[0] + pads[1]):
        _pointwise(np.ascontiguousarray(x).reshape(n * oh * ow, c_g), w_mats[0], bias is not None,
                   y.reshape(n * oh * ow, c_out), add_rows, relu, by_columns, budget)
        return y, 0
    xp = pad_nhwc(x, *pads[0], *pads[1], key="padded")
    windows = _windows(xp, kh, kw, stride, dilation, oh, ow)
    out_rows = y.reshape(n * oh, ow * c_out)
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
            target = out_rows[first:last].reshape(m, c_out)
            for g in range(groups):
                for image, r0, r1, offset in segments(first, last, oh):
                    patches = as_strided(cols[offset * ow:], (r1 - r0, ow, kh, kw, c_g),
                                         (ow * row_bytes, row_bytes, kw * c_g * item, c_g * item, item))
                    np.copyto(patches, windows[image, r0:r1, ..., g * c_g:(g + 1) * c_g])
                if groups == 1:
                    np.matmul(cols[:m], w_mats[0][:, c0:c1], out=target[:, c0:c1])
                else:
                    target[:, g * co_g:(g + 1) * co_g] = cols[:m] @ w_mats[g]
            finish(target[:, c0:c1], None, None if add is None else add_rows[first * ow:last * ow, c0:c1], relu)
    if by_columns:
        pipelines(c_out, lambda thread, c0, c1: work(thread, 0, n * oh, c0, c1))
    else:
        pipelines(n * oh, lambda thread, start, stop: work(thread, start, stop, 0, c_out))
    return y, sum(held) + (xp.nbytes if xp is not x else 0)


def _pointwise(x_rows, w_mat, has_bias, y_rows, add_rows, relu, by_columns, budget):
    """A 1x1 stride-1 convolution as GEMMs straight from its input rows, in blocks whose
    input and output fit ``budget`` bytes, each finished (:func:`finish`) in cache."""
    k, c_out = x_rows.shape[1], y_rows.shape[1]
    w, b = w_mat[:k], (w_mat[k] if has_bias else None)

    def rows(_, start, stop):
        step = items_per_block(stop - start, k * x_rows.itemsize + c_out * y_rows.itemsize, budget or BLOCK_BYTES)
        for first in range(start, stop, step):
            last = min(stop, first + step)
            np.matmul(x_rows[first:last], w, out=y_rows[first:last])
            finish(y_rows[first:last], b, None if add_rows is None else add_rows[first:last], relu)

    def columns(_, c0, c1):
        np.matmul(x_rows, w[:, c0:c1], out=y_rows[:, c0:c1])
        finish(y_rows[:, c0:c1], None if b is None else b[c0:c1],
               None if add_rows is None else add_rows[:, c0:c1], relu)
    if by_columns:
        pipelines(c_out, columns)
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
