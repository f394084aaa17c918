"""Central finite differences: the gradient oracle of the training tests."""

import numpy as np


def numeric_gradient(loss, array, eps=1e-6, indices=None):
    """d loss / d array by central differences, at every index (or at ``indices``).

    ``loss()`` is re-evaluated with one element of ``array`` moved by ``+-eps``
    (in place, restored after); float64 arrays keep the error near ``eps**2``.
    """
    grad = np.zeros_like(array, dtype=np.float64)
    for idx in (np.ndindex(array.shape) if indices is None else indices):
        old = array[idx]
        array[idx] = old + eps
        up = loss()
        array[idx] = old - eps
        down = loss()
        array[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def assert_close(analytic, numeric, rtol=1e-6, atol=1e-8):
    """Gradients agree elementwise within ``rtol`` of the largest entry (plus ``atol``)."""
    scale = max(np.abs(numeric).max(), np.abs(analytic).max(), 1.0)
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=rtol * scale + atol)
