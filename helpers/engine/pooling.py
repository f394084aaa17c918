"""Pooling, local response normalisation and space-to-depth for :mod:`helpers.engine`
(NHWC, float32). Pooling and LRN split their rows of output between threads
(:func:`helpers.engine.threads.split`), so that one image uses every core too;
space-to-depth is one copy.
"""

from __future__ import annotations

import numpy as np

from helpers.engine.buffers import new_output, workspace
from helpers.engine.nhwc import pad_nhwc
from helpers.engine.threads import segments, split
from helpers.formulas import dilated_extent

__all__ = ["avg_pool", "avg_pool_divisor", "local_response_norm", "max_pool", "padded_size", "pool_padded",
           "pool_windows", "reduce_along", "space_to_depth"]


def padded_size(x_hw, kernel, stride, padding, out_hw):
    """Rows and columns of a pooling input once padded: ``padding`` on each side, and
    on the bottom and right whatever the last window (``ceil_mode``) hangs over.

    Notes
    -----
    ``max(H + 2 P, (H_out - 1) S + K)`` per axis (``K`` the dilated extent
    for a dilated window).

    Examples
    --------
    >>> padded_size((6, 6), (3, 3), (2, 2), (0, 0), (3, 3))   # ceil_mode: 3 windows need 7
    (7, 7)
    >>> padded_size((6, 6), (3, 3), (2, 2), (1, 1), (3, 3))   # padding covers them
    (8, 8)
    """
    return tuple(max(n + 2 * p, (o - 1) * s + k)
                 for n, k, s, p, o in zip(x_hw, kernel, stride, padding, out_hw, strict=True))


def pool_padded(x, kernel, stride, padding, out_hw, fill, key=None):
    """NHWC ``x`` padded with ``fill`` to :func:`padded_size` (in workspace ``key`` if
    given, else in ``x``'s dtype; ``x`` itself if no padding is needed)."""
    (h, w), (ph, pw) = x.shape[1:3], padding
    hp, wp = padded_size((h, w), kernel, stride, padding, out_hw)
    return pad_nhwc(x, ph, hp - h - ph, pw, wp - w - pw, fill, key=key)


def avg_pool_divisor(x_hw, kernel, stride, padding, out_hw, count_include_pad=True, dtype=np.float32):
    """Each average-pooling window's divisor, PyTorch's rules, shaped ``(1, H_out, W_out, 1)``.

    The divisor counts the window's positions inside the input, and with
    ``count_include_pad`` those in the padding too, but never those that hang over
    the padded input (``ceil_mode``'s last window).

    Examples
    --------
    >>> avg_pool_divisor((4, 4), (3, 3), (2, 2), (0, 0), (2, 2))[0, :, :, 0].tolist()   # ceil_mode
    [[9.0, 6.0], [6.0, 4.0]]
    >>> avg_pool_divisor((3, 3), (2, 2), (2, 2), (1, 1), (2, 2), False)[0, :, :, 0].tolist()
    [[1.0, 2.0], [2.0, 4.0]]
    """
    (h, w), (ph, pw) = x_hw, padding
    if count_include_pad:                   # the padding counts: ones over the padded input
        ones, top, left = np.ones((1, h + 2 * ph, w + 2 * pw, 1), dtype), 0, 0
    else:
        ones, top, left = np.ones((1, h, w, 1), dtype), -ph, -pw
    rows = np.empty((1, out_hw[0], ones.shape[2], 1), dtype)
    return pool_windows(ones, kernel, stride, top, left, (1, 1), rows, np.empty((1, *out_hw, 1), dtype), np.add)


def max_pool(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling (PyTorch semantics, ``ceil_mode`` included via ``out_hw``) by
    :func:`pool_windows`, output rows split between threads."""
    return _by_rows(x, out_hw, kernel, stride, padding, dilation, np.maximum)


def avg_pool(x, kernel, stride, padding, out_hw, count_include_pad=True):
    """Average pooling with PyTorch's divisor rules (padding, ``ceil_mode`` overhang): the
    sums of :func:`pool_windows` over :func:`avg_pool_divisor`, output rows split between threads."""
    count = avg_pool_divisor(x.shape[1:3], kernel, stride, padding, out_hw, count_include_pad)
    return _by_rows(x, out_hw, kernel, stride, padding, (1, 1), np.add, count)


def pool_windows(x, kernel, stride, top, left, dilation, rows, out, op=np.maximum):
    """Windowed maxima (``op=np.maximum``) or sums (``np.add``) of NHWC ``x`` into ``out``,
    separably: over each window's rows first, whole rows of the input at a time, into
    ``rows`` (``out``'s rows by ``x``'s columns), then over its columns
    (:func:`reduce_along`). Output row ``i`` reads input rows from ``i S_h + top``, column
    ``j`` columns from ``j S_w + left`` (negative: padding); taps outside ``x`` are skipped
    rather than padded.

    Notes
    -----
    For ResNet-50's 3x3 stride-2 max pooling of 112 x 112 x 64 this reads and writes
    74,760 values per channel where nine taps over a padded copy did 107,076 (70 %), and
    makes no copy.

    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> out = np.empty((1, 2, 2, 1))
    >>> pool_windows(x, (3, 3), (2, 2), -1, -1, (1, 1), np.empty((1, 2, 4, 1)), out)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    reduce_along(x, 1, kernel[0], stride[0], top, dilation[0], rows, op)
    return reduce_along(rows, 2, kernel[1], stride[1], left, dilation[1], out, op)


def reduce_along(x, axis, kernel, stride, offset, dilation, out, op=np.maximum):
    """``out[.., j, ..]`` = ``op`` (``np.maximum`` or ``np.add``) over the taps ``t`` of
    ``x[.., j S + offset + t D, ..]`` along ``axis`` that lie inside ``x`` (those outside
    are padding, skipped); ``-inf`` (maximum) or 0 (sum) where none does.

    >>> x = np.float32([1, 5, 2, 7, 3])
    >>> reduce_along(x, 0, 3, 2, -1, 1, np.empty(3, np.float32)).tolist()    # 3 wide, stride 2, pad 1
    [5.0, 7.0, 7.0]
    >>> reduce_along(x, 0, 3, 2, -1, 1, np.empty(3, np.float32), np.add).tolist()
    [6.0, 14.0, 10.0]
    """
    n, count = x.shape[axis], out.shape[axis]
    reads = []
    for t in range(kernel):
        first = offset + t * dilation                  # input index read by output 0
        lo = max(0, -(first // stride))               # outputs whose tap is inside x
        hi = min(count, max(0, (n - 1 - first) // stride + 1))
        if lo < hi:
            reads.append((lo, hi, slice(first + lo * stride, first + (hi - 1) * stride + 1, stride)))
    reads.sort(key=lambda r: r[0] - r[1])              # a tap that every output reads first
    where = [slice(None)] * x.ndim

    def at(index, a):
        where[axis] = index
        return a[tuple(where)]
    if not reads or reads[0][:2] != (0, count):
        out.fill(-np.inf if op is np.maximum else 0)
    for i, (lo, hi, taps) in enumerate(reads):
        if i == 0 and (lo, hi) == (0, count):
            np.copyto(out, at(taps, x))
        else:
            op(at(slice(lo, hi), out), at(taps, x), out=at(slice(lo, hi), out))
    return out


def _by_rows(x, out_hw, kernel, stride, padding, dilation, op, divisor=None):
    """:func:`pool_windows` over the batch, its output rows split between threads
    (:func:`helpers.engine.threads.split`; rows, not images, so that a single image uses
    every core too), each piece of one image's rows reading only the input rows its
    windows reach; divided by ``divisor`` (``(1, H_out, W_out, 1)``) if given."""
    n, h, w, c = x.shape
    oh, ow = out_hw
    (kh, _), (sh, _), (ph, pw), (dh, _) = kernel, stride, padding, dilation
    y = new_output((n, oh, ow, c))

    def part(thread, start, stop):
        for image, r0, r1, _ in segments(start, stop, oh):
            top = r0 * sh - ph                                     # first input row read
            lo, hi = max(0, top), min(h, (r1 - 1) * sh - ph + dilated_extent(kh, dh))
            out = y[image:image + 1, r0:r1]
            pool_windows(x[image:image + 1, lo:hi], kernel, stride, top - lo, -pw, dilation,
                         workspace(f"pool_rows{thread}", (1, r1 - r0, w, c)), out, op)
            if divisor is not None:
                out /= divisor[:, r0:r1]
    split(n * oh, part)
    return y


def local_response_norm(x, size, alpha, beta, k):
    """Cross-channel LRN as ``torch.nn.LocalResponseNorm`` (channels are the last axis),
    split between threads like the convolutions."""
    n, h = x.shape[:2]
    y = new_output(x.shape)

    def part(thread, start, stop):
        for image, r0, r1, _ in segments(start, stop, h):
            _lrn(x[image:image + 1, r0:r1], size, alpha, beta, k, thread, y[image:image + 1, r0:r1])
    split(n * h, part)
    return y


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
