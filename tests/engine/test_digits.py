"""The digits split: real data from scikit-learn, stratified, seeded, normalised."""

import numpy as np
import pytest

from helpers.engine import digits


@pytest.fixture(scope="module")
def split():
    return digits.load()


def test_shapes_types_and_sizes(split):
    assert split.x_train.shape == (1437, 1, 8, 8) and split.x_test.shape == (360, 1, 8, 8)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert len(split.y_train) == 1437 and len(split.y_test) == 360


def test_every_image_is_one_of_the_originals_with_its_label(split):
    from sklearn.datasets import load_digits
    raw = load_digits()
    assert raw.images.shape == (1797, 8, 8) and raw.images.max() == digits.PIXEL_MAX
    train = split.x_train[:, 0]
    # the normalisation is affine and the training set holds pixels of 0 and 16, so its
    # minimum and maximum give the map back to the integer pixels
    originals = {(img.tobytes(), int(label))
                 for img, label in zip(raw.images.astype(np.int64), raw.target, strict=True)}
    scale = (train.max() - train.min()) / digits.PIXEL_MAX
    restored = np.rint((train - train.min()) / scale).astype(np.int64)
    assert all((img.tobytes(), int(label)) in originals for img, label in zip(restored, split.y_train, strict=True))


def test_train_and_test_are_disjoint_and_cover_the_data(split):
    from sklearn.datasets import load_digits
    raw = load_digits()
    both = np.concatenate([split.x_train, split.x_test])
    assert len(np.unique(both.reshape(len(both), -1), axis=0)) == len(np.unique(raw.data, axis=0))
    assert sorted(np.concatenate([split.y_train, split.y_test]).tolist()) == sorted(raw.target.tolist())


def test_split_is_stratified_and_seeded(split):
    counts_train = np.bincount(split.y_train, minlength=10) / len(split.y_train)
    counts_test = np.bincount(split.y_test, minlength=10) / len(split.y_test)
    assert np.abs(counts_train - counts_test).max() < 0.01
    again = digits.load()
    np.testing.assert_array_equal(again.x_train, split.x_train)
    np.testing.assert_array_equal(again.y_test, split.y_test)
    other = digits.load(seed=1)
    assert not np.array_equal(other.y_test, split.y_test)


def test_training_set_is_normalised(split):
    assert abs(float(split.x_train.mean())) < 1e-5
    assert float(split.x_train.std()) == pytest.approx(1.0, abs=1e-5)
