"""Pooling from its definition, one window at a time (an oracle for the engine's pooling).

No helpers code: the windows are enumerated from PyTorch's rules stated in words.
"""

import numpy as np


def window_starts(size, k, s, p, ceil_mode=False, d=1):
    """First input position (negative in the left padding) of each pooling window along one
    axis. Windows start every ``s`` positions from ``-p`` and span ``d (k - 1) + 1``
    positions; a window is kept while it lies inside the padded input or, with
    ``ceil_mode``, hangs over the padded input's end by less than a stride and starts
    inside the input or the left padding. An empty list means PyTorch refuses the input."""
    extent, starts = d * (k - 1) + 1, []
    while True:
        start = len(starts) * s - p
        overhang = start + extent - (size + p)
        if not (overhang <= 0 or (ceil_mode and overhang < s and start < size)):
            return starts
        starts.append(start)


def _taps(size, k, s, p, ceil_mode, d):
    """Per window along one axis: its taps inside the input, and how many of its taps lie
    inside the padded input (the taps hanging over its end are not counted)."""
    for start in window_starts(size, k, s, p, ceil_mode, d):
        taps = [start + a * d for a in range(k)]
        yield [t for t in taps if 0 <= t < size], sum(t < size + p for t in taps)


def _per_axis(value):
    """``(rows, columns)`` of a setting given as one number or a pair."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _windows(x_hw, k, s, p, ceil_mode, d, count_include_pad):
    """``(i, j, rows, cols, divisor)`` of every window: its output position, the input rows
    and columns it reads, and PyTorch's average divisor: its positions inside the padded
    input, or with ``count_include_pad=False`` those inside the input itself. ``k``, ``s``,
    ``p`` and ``d`` are numbers or ``(rows, columns)`` pairs."""
    axes = [list(_taps(n, *settings, ceil_mode, dd))
            for n, *settings, dd in zip(x_hw, _per_axis(k), _per_axis(s), _per_axis(p), _per_axis(d), strict=True)]
    for i, (rows, padded_rows) in enumerate(axes[0]):
        for j, (cols, padded_cols) in enumerate(axes[1]):
            yield i, j, rows, cols, (padded_rows * padded_cols if count_include_pad else len(rows) * len(cols))


def torch_free_pool_reference(x, k, s, p, op, ceil_mode=False, count_include_pad=True, d=1):
    """Pooling from the definition, one window at a time (NCHW, PyTorch rules; settings as
    numbers or ``(rows, columns)`` pairs): a maximum over the window's taps inside the
    input (``-inf`` if none is; NaN if one is NaN), or their sum over the divisor of
    :func:`_windows`."""
    n, c, h, w = x.shape
    settings = zip((h, w), _per_axis(k), _per_axis(s), _per_axis(p), _per_axis(d), strict=True)
    sizes = [len(window_starts(size, kk, ss, pp, ceil_mode, dd)) for size, kk, ss, pp, dd in settings]
    out = np.full((n, c, *sizes), -np.inf)
    for i, j, rows, cols, divisor in _windows((h, w), k, s, p, ceil_mode, d, count_include_pad):
        window = x[:, :, rows][:, :, :, cols]
        if op == "max":
            if window.size:
                out[:, :, i, j] = window.max(axis=(2, 3))
        else:
            out[:, :, i, j] = window.sum(axis=(2, 3)) / divisor
    return out


def torch_free_pool_gradient(x, dy, k, s, p, op, ceil_mode=False, count_include_pad=True):
    """The input gradient of :func:`torch_free_pool_reference` for the output gradient ``dy``
    (NCHW), window by window: a maximum passes its gradient to the first input position
    (row by row) holding it; an average gives each input position of the window its share,
    the gradient over the divisor."""
    n, c, h, w = x.shape
    dx = np.zeros(x.shape)
    for i, j, rows, cols, divisor in _windows((h, w), k, s, p, ceil_mode, 1, count_include_pad):
        if op == "max":
            for a in range(n):
                for b in range(c):
                    window = x[a, b][rows][:, cols]
                    r, q = np.unravel_index(np.argmax(window), window.shape)      # argmax: the first maximum
                    dx[a, b, rows[r], cols[q]] += dy[a, b, i, j]
        else:
            dx[:, :, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] += (dy[:, :, i, j] / divisor)[:, :, None, None]
    return dx
