"""The hand-written digits that scikit-learn ships: 1,797 grey 8x8 images of 0-9.

They are the test set of the UCI "Optical Recognition of Handwritten Digits"
data (Alpaydin & Kaynak, 1998): 32x32 bitmaps whose 4x4 blocks were counted,
so each pixel is an integer from 0 to 16. ``sklearn.datasets.load_digits``
reads them from a file inside the package: no download.

:func:`load` splits them once, stratified by digit and seeded, into a training
and a test set, as float32 ``(N, 1, 8, 8)`` batches scaled to zero mean and
unit variance with the training set's statistics.

Examples
--------
>>> d = load()
>>> d.x_train.shape, d.x_test.shape
((1437, 1, 8, 8), (360, 1, 8, 8))
>>> sorted(set(d.y_test.tolist())) == list(range(10))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Digits", "load", "PIXEL_MAX"]

PIXEL_MAX = 16
"""The largest pixel value: a pixel counts the set bits of a 4x4 block."""


@dataclass(frozen=True)
class Digits:
    """A train/test split: images ``(N, 1, 8, 8)`` float32, labels ``(N,)`` int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load(test_fraction=0.2, seed=0):
    """The digits split into training and test sets, stratified by label.

    Parameters
    ----------
    test_fraction : float
        Share of the images held out for testing (rounded up, as scikit-learn does).
    seed : int
        Seed of the shuffle: the same seed gives the same split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = data.images.astype(np.float32)[:, None] / PIXEL_MAX
    x_train, x_test, y_train, y_test = train_test_split(
        images, data.target.astype(np.int64), test_size=test_fraction, random_state=seed,
        stratify=data.target)
    mean, std = x_train.mean(), x_train.std()
    return Digits(((x_train - mean) / std).astype(np.float32), y_train,
                  ((x_test - mean) / std).astype(np.float32), y_test)
