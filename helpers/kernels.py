"""Fast NHWC kernels for :mod:`helpers.engine` (float32, numpy + BLAS); Winograd
convolution is in :mod:`helpers.winograd`.

Activations are ``(N, H, W, C)``: channels last, so a convolution's output
``(N*H*W, C_out)`` *is* the next layer's input, with no transpose between
layers, and a receptive-field patch is a few contiguous runs of memory.

Convolution is lowered to one GEMM per batch chunk: the patches of a chunk
are gathered into a reused workspace (im2col, columns ordered (row tap,
column tap, channel), so that with dilation 1 each tap row is one contiguous
run of ``kw * C`` floats) and multiplied with ``np.matmul(..., out=)``
straight into the output array. The chunk is sized to bound the workspace.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["workspace", "release_workspace", "workspace_bytes", "new_output", "outputs_into", "pad_nhwc", "conv2d", "max_pool", "avg_pool", "local_response_norm", "space_to_depth",
           "WORKSPACE_BYTES"]

WORKSPACE_BYTES = 48 * 2**20
"""Upper bound on one convolution's im2col workspace (one chunk of the batch)."""

_BUFFERS = {}


def workspace(key, shape):
    """A float32 array of ``shape`` carved from a buffer kept between calls.

    Reusing the same memory avoids a fresh allocation (and its page faults) for
    every layer of every forward pass. Buffers only grow; ``release_workspace``
    frees them. Not for concurrent use from several threads.
    """
    size = int(np.prod(shape))
    buf = _BUFFERS.get(key)
    if buf is None or buf.size < size:
        buf = _BUFFERS[key] = np.empty(size, dtype=np.float32)
    return buf[:size].reshape(shape)


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
    """Bytes the engine holds besides weights and activations: cached workspaces (not
    counting the activation buffers named in ``exclude``) and cached derived weights."""
    from .winograd import cache_bytes
    held = sum(b.nbytes for key, b in _BUFFERS.items() if key not in exclude)
    return held + sum(entry[2].nbytes for entry in _W_CACHE.values()) + cache_bytes()


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


def _chunk(n, per_image, budget):
    """Images per chunk: as many as the workspace holds, balanced over the chunks."""
    most = max(1, min(n, (budget or WORKSPACE_BYTES) // max(per_image, 1)))
    pieces = -(-n // most)
    return -(-n // pieces)


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
    The patch matrix has one extra column of ones, so that the bias rides
    along in the GEMM instead of costing a pass over the output.
    Returns ``(y, workspace_bytes)``, ``y`` of shape ``(N, oh, ow, C_out)``.
    """
    n = x.shape[0]
    c_out, c_g, kh, kw = weight.shape
    oh, ow = out_hw
    xp = pad_nhwc(x, *pads[0], *pads[1], key="padded")
    windows = _windows(xp, kh, kw, stride, dilation, oh, ow)
    co_g, k = c_out // groups, kh * kw * c_g
    y = new_output((n, oh, ow, c_out))
    rows = y.reshape(n * oh * ow, c_out)
    chunk = _chunk(n, oh * ow * (k + 1) * 4, budget)
    cols = workspace("cols", (chunk * oh * ow, k + 1))
    cols[:, k] = 1.0
    for g in range(groups):
        w_mat = _gemm_weights(weight, bias, g, groups)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            m = (stop - start) * oh * ow
            row_bytes = cols.strides[0]
            patches = as_strided(cols, (stop - start, oh, ow, kh, kw, c_g),
                                 (oh * ow * row_bytes, ow * row_bytes, row_bytes,
                                  kw * c_g * 4, c_g * 4, 4))
            if stop - start > 1:                   # two threads: halves of the chunk's images
                _split(stop - start, lambda i, j: np.copyto(
                    patches[i:j], windows[start + i:start + j, ..., g * c_g:(g + 1) * c_g]))
            else:                                  # one image: halves of its output rows
                _split(oh, lambda i, j: np.copyto(
                    patches[:, i:j], windows[start:stop, i:j, ..., g * c_g:(g + 1) * c_g]))
            target = rows[start * oh * ow: stop * oh * ow]
            if groups == 1:
                np.matmul(cols[:m], w_mat, out=target)
            else:
                target[:, g * co_g:(g + 1) * co_g] = cols[:m] @ w_mat
    return y, cols.nbytes + (xp.nbytes if xp is not x else 0)


def _pool_padded(x, kernel, stride, padding, out_hw, fill):
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    need_h, need_w = (oh - 1) * sh + kh, (ow - 1) * sw + kw
    extra_h = max(0, need_h - (x.shape[1] + 2 * ph))
    extra_w = max(0, need_w - (x.shape[2] + 2 * pw))
    return pad_nhwc(x, ph, ph + extra_h, pw, pw + extra_w, fill)


def _pool_reduce(xp, kernel, stride, out_hw, op):
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    out = np.array(xp[:, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw])
    for a in range(kh):
        for b in range(kw):
            if a or b:
                op(out, xp[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw], out=out)
    return out


def max_pool(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling (PyTorch semantics, ``ceil_mode`` included via ``out_hw``)."""
    return _batched(x, out_hw, lambda part, _: _max_pool(part, kernel, stride, padding, dilation, out_hw))


def _batched(x, out_hw, one, step=4):
    """Apply ``one(images, thread)`` to the batch, each half on its own thread (0 or 1),
    ``step`` images at a time (so that temporaries stay small); gather the results."""
    y = new_output((x.shape[0], *out_hw, x.shape[3]))

    def part(i, j):
        for k in range(i, j, step):
            y[k:min(j, k + step)] = one(x[k:min(j, k + step)], int(i > 0))
    _split(x.shape[0], part)
    return y


def _max_pool(x, kernel, stride, padding, dilation, out_hw):
    if dilation != (1, 1):
        xp = _pool_padded(x, tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation)), stride,
                          padding, out_hw, -np.inf)
        win = _windows(xp, *kernel, stride, dilation, *out_hw)
        return win.max(axis=(3, 4))
    xp = _pool_padded(x, kernel, stride, padding, out_hw, -np.inf)
    return _pool_reduce(xp, kernel, stride, out_hw, np.maximum)


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

    def one(part, _):
        total = _pool_reduce(_pool_padded(part, kernel, stride, padding, out_hw, 0.0), kernel, stride, out_hw, np.add)
        total /= count
        return total
    return _batched(x, out_hw, one)


def _window_sums(mask, k, s, n):
    return np.array([mask[i * s:i * s + k].sum() for i in range(n)], dtype=np.float32)


def local_response_norm(x, size, alpha, beta, k):
    """Cross-channel LRN as ``torch.nn.LocalResponseNorm`` (channels are the last axis),
    on two threads."""
    return _batched(x, x.shape[1:3], lambda part, thread: _lrn(part, size, alpha, beta, k, thread))


def _lrn(x, size, alpha, beta, k, thread=0):
    """One thread's share of :func:`local_response_norm`.

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
        window *= np.sqrt(window)
    else:
        window **= beta
    return np.divide(x, window, out=window)


def space_to_depth(x, block):
    """NHWC space-to-depth; channel order (row offset, column offset, channel)."""
    n, h, w, c = x.shape
    tiles = x.reshape(n, h // block, block, w // block, block, c)
    y = new_output((n, h // block, w // block, block * block * c))
    np.copyto(y.reshape(n, h // block, w // block, block, block, c), tiles.transpose(0, 1, 3, 2, 4, 5))
    return y


_POOL = None


def _split(n, work):
    """Run ``work(start, stop)`` over halves of ``range(n)`` on two threads (numpy
    releases the GIL in copies and ufuncs), or inline for a single item."""
    global _POOL
    if n < 2:
        work(0, n)
        return
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(2, thread_name_prefix="workbook-kernel")
    half = n // 2
    done = [_POOL.submit(work, 0, half), _POOL.submit(work, half, n)]
    for future in done:
        future.result()
