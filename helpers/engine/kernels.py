"""Fast NHWC kernels for :mod:`helpers.engine` (float32, numpy + BLAS); Winograd
convolution is in :mod:`helpers.winograd`.

Activations are ``(N, H, W, C)``: channels last, so a convolution's output
``(N*H*W, C_out)`` *is* the next layer's input, with no transpose between
layers, and a receptive-field patch is a few contiguous runs of memory.

Convolution is lowered to GEMMs in pipelines (:func:`pipelines`, one per core),
each over its share of the batch's output rows with a single-threaded BLAS: a block of
rows has its patches gathered into the pipeline's own small workspace
(im2col, columns ordered (row tap, column tap, channel), so that with
dilation 1 each tap row is one contiguous run of ``kw * C`` floats) and is
multiplied with ``np.matmul(..., out=)`` straight into the output array.
"""

from __future__ import annotations

import mmap

import numpy as np
from numpy.lib.stride_tricks import as_strided

from helpers.engine import blas

__all__ = ["workspace", "release_workspace", "workspace_bytes", "items_per_block", "new_output", "outputs_into", "pad_nhwc", "conv2d", "linear", "max_pool", "avg_pool", "local_response_norm", "space_to_depth",
           "pipelines", "segments", "BLOCK_BYTES"]

BLOCK_BYTES = 2 * 2**20
"""Bound on each pipeline's patch matrix in :func:`conv2d`: small enough (a core's L2
here) to stay in the cache between the gather that writes a block and the GEMM that
reads it (Winograd has its own, larger bound: ``winograd.BLOCK_BYTES``). On AlexNet's first two convolutions at
batch 32, 1.5-3 MiB blocks ran 5-15 % faster than 0.5 MiB or 4-48 MiB ones."""

_BUFFERS = {}


def workspace(key, shape):
    """A float32 array of ``shape`` carved from a buffer kept between calls.

    Reusing the same memory avoids a fresh allocation (and its page faults) for
    every layer of every forward pass. Buffers only grow; ``release_workspace``
    frees them. Threads must use different keys (the pipelines add their number).
    """
    size = int(np.prod(shape))
    buf = _BUFFERS.get(key)
    if buf is None or buf.size < size:
        _BUFFERS.pop(key, None)
        buf = _BUFFERS[key] = _mapped(size)
    return buf[:size].reshape(shape)


def _mapped(size):
    """``size`` float32 values in an anonymous memory map of their own.

    Unlike ``np.empty``, whose memory may come from malloc's heap and stay
    there after it is freed (fragmenting it as buffers grow), a map is
    returned to the system as soon as its array is dropped.
    """
    if size == 0:
        return np.empty(0, dtype=np.float32)
    return np.frombuffer(mmap.mmap(-1, 4 * size), dtype=np.float32)


def release_workspace():
    """Free the cached workspaces; return the bytes they held."""
    held = sum(b.nbytes for b in _BUFFERS.values())
    _BUFFERS.clear()
    return held


_OUTPUT = None


def new_output(shape):
    """A layer's result array: fresh memory, or a buffer chosen by :func:`outputs_into`."""
    return np.empty(shape, dtype=np.float32) if _OUTPUT is None else _OUTPUT(shape)


class outputs_into:
    """Context manager: layer results are allocated by ``allocate(shape)`` inside it
    (the engine uses it to alternate two reused activation buffers along a chain)."""

    def __init__(self, allocate):
        self.allocate = allocate

    def __enter__(self):
        global _OUTPUT
        self.saved, _OUTPUT = _OUTPUT, self.allocate
        return self

    def __exit__(self, *exc):
        global _OUTPUT
        _OUTPUT = self.saved
        return False


def workspace_bytes(exclude=("act0", "act1")):
    """Bytes these kernels hold besides weights and activations: cached workspaces (not
    counting the activation buffers named in ``exclude``) and cached GEMM-layout weights.
    (Winograd's transformed weights: :func:`helpers.engine.winograd.cache_bytes`.)"""
    held = sum(b.nbytes for key, b in _BUFFERS.items() if key not in exclude)
    return held + sum(entry[2].nbytes for entry in _W_CACHE.values())


def pad_nhwc(x, top, bottom, left, right, value=0.0, key=None):
    """``x`` with rows/columns of ``value`` added (a copy, in workspace ``key`` if
    given; ``x`` itself if there is no padding)."""
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    shape = (n, h + top + bottom, w + left + right, c)
    out = workspace(key, shape) if key else np.empty(shape, dtype=x.dtype)
    out[:, :top], out[:, top + h:] = value, value
    out[:, top:top + h, :left], out[:, top:top + h, left + w:] = value, value
    out[:, top:top + h, left:left + w] = x
    return out


def _windows(xp, kh, kw, stride, dilation, oh, ow):
    """View ``(N, oh, ow, kh, kw, C)`` of every window of the padded input."""
    sn, sh, sw, sc = xp.strides
    (s_h, s_w), (d_h, d_w) = stride, dilation
    return as_strided(xp, (xp.shape[0], oh, ow, kh, kw, xp.shape[3]),
                      (sn, s_h * sh, s_w * sw, d_h * sh, d_w * sw, sc), writeable=False)


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


def pipelines(total, work):
    """Run ``work(pipeline, start, stop)`` over ``range(total)`` split into one part per
    BLAS thread, each part on its own thread with a single-threaded BLAS (so that each
    GEMM keeps one core and its own cache); or the whole range on this thread, with
    the BLAS's own threads, where the BLAS cannot be switched or there is one item."""
    if total < 2:
        work(0, 0, total)
        return
    with blas.single_threaded() as cores:
        if cores:
            _split(total, work, cores)
            return
    work(0, 0, total)


def segments(start, stop, per_image):
    """Split the flattened row range ``[start, stop)`` of a batch with ``per_image`` rows
    per image into ``(image, first row, end row, offset)`` pieces within single images
    (``offset``: rows before the piece in the range).

    >>> list(segments(3, 9, 4))
    [(0, 3, 4, 0), (1, 0, 4, 1), (2, 0, 1, 5)]
    """
    offset = 0
    while start < stop:
        image, row = divmod(start, per_image)
        end = min(per_image, row + stop - start)
        yield image, row, end, offset
        offset += end - row
        start += end - row


_W_CACHE = {}


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
    w_mat[:k] = weight[g * co_g:(g + 1) * co_g].transpose(2, 3, 1, 0).reshape(k, co_g)
    w_mat[k] = 0.0 if bias is None else bias[g * co_g:(g + 1) * co_g]
    if len(_W_CACHE) > 512:
        _W_CACHE.clear()
    _W_CACHE[key] = (weight, bias, w_mat)
    return w_mat


def conv2d(x, weight, bias, stride, pads, dilation, groups, out_hw, budget=None):
    """Convolution of NHWC ``x`` with a torch-layout ``weight`` ``(C_out, C_in/g, kh, kw)``.

    ``pads`` is ``((top, bottom), (left, right))``; ``out_hw`` the output size.
    The output rows of the whole batch are split between the pipelines
    (:func:`pipelines`, one per core); each gathers the patches of a block of rows into its
    own workspace of at most ``budget`` bytes (default ``BLOCK_BYTES``) and
    multiplies them into the output with a single-threaded GEMM. The patch
    matrix has one extra column of ones, so that the bias rides along in the
    GEMM instead of costing a pass over the output.
    Returns ``(y, workspace_bytes)``, ``y`` of shape ``(N, oh, ow, C_out)``.
    """
    n = x.shape[0]
    c_out, c_g, kh, kw = weight.shape
    oh, ow = out_hw
    xp = pad_nhwc(x, *pads[0], *pads[1], key="padded")
    windows = _windows(xp, kh, kw, stride, dilation, oh, ow)
    co_g, k = c_out // groups, kh * kw * c_g
    y = new_output((n, oh, ow, c_out))
    out_rows = y.reshape(n * oh, ow * c_out)
    w_mats = [_gemm_weights(weight, bias, g, groups) for g in range(groups)]
    held = []

    def work(thread, start, stop):
        block = items_per_block(stop - start, ow * (k + 1) * 4, budget or BLOCK_BYTES)
        cols = workspace(f"cols{thread}", (block * ow, k + 1))
        held.append(cols.nbytes)
        cols[:, k] = 1.0
        row_bytes = cols.strides[0]
        for first in range(start, stop, block):
            last = min(stop, first + block)
            m = (last - first) * ow
            target = out_rows[first:last].reshape(m, c_out)
            for g in range(groups):
                for image, r0, r1, offset in segments(first, last, oh):
                    patches = as_strided(cols[offset * ow:], (r1 - r0, ow, kh, kw, c_g),
                                         (ow * row_bytes, row_bytes, kw * c_g * 4, c_g * 4, 4))
                    np.copyto(patches, windows[image, r0:r1, ..., g * c_g:(g + 1) * c_g])
                if groups == 1:
                    np.matmul(cols[:m], w_mats[0], out=target)
                else:
                    target[:, g * co_g:(g + 1) * co_g] = cols[:m] @ w_mats[g]
    pipelines(n * oh, work)
    return y, sum(held) + (xp.nbytes if xp is not x else 0)


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


def _pool_padded(x, kernel, stride, padding, out_hw, fill, key):
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    need_h, need_w = (oh - 1) * sh + kh, (ow - 1) * sw + kw
    extra_h = max(0, need_h - (x.shape[1] + 2 * ph))
    extra_w = max(0, need_w - (x.shape[2] + 2 * pw))
    return pad_nhwc(x, ph, ph + extra_h, pw, pw + extra_w, fill, key=key)


def _pool_reduce(xp, kernel, stride, out_hw, op, out):
    """``out`` = ``op`` over the ``kernel`` window of ``xp`` (undilated), one shifted slice at a time."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    np.copyto(out, xp[:, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw])
    for a in range(kh):
        for b in range(kw):
            if a or b:
                op(out, xp[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw], out=out)
    return out


def max_pool(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling (PyTorch semantics, ``ceil_mode`` included via ``out_hw``)."""
    return _batched(x, out_hw, lambda part, thread, out: _max_pool(part, kernel, stride, padding, dilation,
                                                                   out_hw, out, f"pool_pad{thread}"))


def _batched(x, out_hw, one, step=4):
    """Apply ``one(images, thread, out)`` to the batch, split between threads (see :func:`_split`),
    ``step`` images at a time (so that temporaries stay small and in cache); ``one``
    writes the images' results into ``out``, a slice of the returned array."""
    y = new_output((x.shape[0], *out_hw, x.shape[3]))

    def part(thread, i, j):
        for k in range(i, j, step):
            one(x[k:min(j, k + step)], thread, y[k:min(j, k + step)])
    _split(x.shape[0], part)
    return y


def _max_pool(x, kernel, stride, padding, dilation, out_hw, out, key):
    if dilation != (1, 1):
        xp = _pool_padded(x, tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation)), stride,
                          padding, out_hw, -np.inf, key)
        win = _windows(xp, *kernel, stride, dilation, *out_hw)
        return win.max(axis=(3, 4), out=out)
    xp = _pool_padded(x, kernel, stride, padding, out_hw, -np.inf, key)
    return _pool_reduce(xp, kernel, stride, out_hw, np.maximum, out)


def avg_pool(x, kernel, stride, padding, out_hw, count_include_pad=True):
    """Average pooling with PyTorch's divisor rules (padding, ``ceil_mode`` overhang)."""
    h, w = x.shape[1:3]
    (ph, pw) = padding
    xp_h, xp_w = (max(h + 2 * ph, (n - 1) * s + k) for n, s, k, h, ph in
                  ((out_hw[0], stride[0], kernel[0], h, ph), (out_hw[1], stride[1], kernel[1], w, pw)))
    rows, cols = np.zeros(xp_h, np.float32), np.zeros(xp_w, np.float32)
    if count_include_pad:
        rows[:h + 2 * ph], cols[:w + 2 * pw] = 1, 1
    else:
        rows[ph:ph + h], cols[pw:pw + w] = 1, 1
    count = np.outer(_window_sums(rows, kernel[0], stride[0], out_hw[0]),
                     _window_sums(cols, kernel[1], stride[1], out_hw[1]))[None, :, :, None]

    def one(part, thread, out):
        xp = _pool_padded(part, kernel, stride, padding, out_hw, 0.0, f"pool_pad{thread}")
        _pool_reduce(xp, kernel, stride, out_hw, np.add, out)
        out /= count
    return _batched(x, out_hw, one)


def _window_sums(mask, k, s, n):
    return np.array([mask[i * s:i * s + k].sum() for i in range(n)], dtype=np.float32)


def local_response_norm(x, size, alpha, beta, k):
    """Cross-channel LRN as ``torch.nn.LocalResponseNorm`` (channels are the last axis),
    split between threads like the convolutions."""
    return _batched(x, x.shape[1:3], lambda part, thread, out: _lrn(part, size, alpha, beta, k, thread, out))


def _lrn(x, size, alpha, beta, k, thread, out):
    """One thread's share of :func:`local_response_norm`, written into ``out``.

    ``b_c = a_c / (k + alpha/size * sum of a^2 over channels c - size//2 .. c + (size-1)//2)^beta``;
    the window sum is ``size`` shifted slices of the zero-padded squares, added in place.
    """
    c = x.shape[-1]
    before = size // 2
    sq = workspace(f"lrn_sq{thread}", x.shape[:-1] + (c + size - 1,))
    sq[..., :before], sq[..., before + c:] = 0.0, 0.0
    np.square(x, out=sq[..., before:before + c])
    window = workspace(f"lrn_window{thread}", x.shape)
    np.copyto(window, sq[..., 0:c])
    for shift in range(1, size):
        window += sq[..., shift:shift + c]
    window *= alpha / size
    window += k
    if beta == 0.75:                          # t^0.75 = sqrt(t) * sqrt(sqrt(t)): no pow()
        np.sqrt(window, out=window)
        root = np.sqrt(window, out=sq[..., :c])          # the squares are no longer needed
        window *= root
    else:
        window **= beta
    return np.divide(x, window, out=out)


def space_to_depth(x, block):
    """NHWC space-to-depth; channel order (row offset, column offset, channel)."""
    n, h, w, c = x.shape
    tiles = x.reshape(n, h // block, block, w // block, block, c)
    y = new_output((n, h // block, w // block, block * block * c))
    np.copyto(y.reshape(n, h // block, w // block, block, block, c), tiles.transpose(0, 1, 3, 2, 4, 5))
    return y


_POOL = None
"""``(size, executor)`` shared by the kernels, created on first use."""


def _split(n, work, parts=None):
    """Run ``work(part, start, stop)`` over ``parts`` near-equal pieces of ``range(n)``
    (default: one per BLAS thread, else two), each on a thread of a shared pool
    (numpy releases the GIL in copies, ufuncs and GEMMs), or inline for one piece.

    >>> seen = []
    >>> _split(7, lambda part, i, j: seen.append((part, i, j)), parts=3)
    >>> sorted(seen)
    [(0, 0, 2), (1, 2, 4), (2, 4, 7)]
    """
    global _POOL
    parts = max(1, min(n, parts or blas.threads() or 2))
    if parts == 1:
        work(0, 0, n)
        return
    if _POOL is None or _POOL[0] < parts:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = (parts, ThreadPoolExecutor(parts, thread_name_prefix="workbook-kernel"))
    bounds = [n * p // parts for p in range(parts + 1)]
    done = [_POOL[1].submit(work, p, bounds[p], bounds[p + 1]) for p in range(parts)]
    for future in done:
        future.result()
