"""Weights in the layouts the engine's kernels use, derived once and cached: a
convolution's filter as a GEMM operand (with its bias as an extra row), and a
convolution with the inference batch norm after it folded into one.

Caches are keyed by the parameter arrays' identities: treat parameter arrays as
immutable (replace, don't edit in place), or call :func:`clear_weight_caches` after an
edit in place.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cache_bytes", "clear_weight_caches", "filter_matrix", "fold_batchnorm", "gemm_weights", "tap_layout",
           "torch_filter"]

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
    return tap_layout(weight[g * co_g:(g + 1) * co_g]).reshape(kh * kw * c_g, co_g)


def tap_layout(weight):
    """A filter in torch's layout ``(C_out, C_in/g, K_h, K_w)`` as ``(K_h, K_w, C_in/g, C_out)``
    (a view), the order of the im2col columns; :func:`torch_filter` undoes it.

    >>> tap_layout(np.zeros((4, 3, 2, 1))).shape
    (2, 1, 3, 4)
    """
    return weight.transpose(2, 3, 1, 0)


def torch_filter(taps):
    """A filter in the tap layout ``(K_h, K_w, C_in/g, C_out)`` back in torch's layout
    ``(C_out, C_in/g, K_h, K_w)`` (a view): the inverse of :func:`tap_layout`.

    >>> w = np.arange(24.0).reshape(2, 3, 2, 2)
    >>> bool((torch_filter(tap_layout(w)) == w).all())
    True
    >>> bool((torch_filter(filter_matrix(w, 0, 1).reshape(2, 2, 3, 2)) == w).all())
    True
    """
    return taps.transpose(3, 2, 0, 1)


def gemm_weights(weight, bias, g, groups):
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
    :func:`helpers.engine.kernels.conv2d` uses it: folding costs no memory beyond the layout the unfolded
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
        np.multiply(tap_layout(weight), scale, out=layout)
        w_mat[k] = folded_b
        result = torch_filter(layout), w_mat[k]
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


def cache_bytes():
    """Bytes of the cached GEMM layouts and folded batch norms (a folded layout that is a
    view of a cached GEMM layout counts once)."""
    folded = sum(r[0].nbytes + r[1].nbytes for _, r in _FOLDED.values() if r[0].base is None)
    return sum(entry[2].nbytes for entry in _W_CACHE.values()) + folded
