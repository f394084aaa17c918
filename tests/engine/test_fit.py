"""Training for real: a short seeded run learns, and repeats exactly."""

import numpy as np

from helpers import zoo
from helpers.engine import digits, fit


def short_run(epochs, images, seed=0):
    model = zoo.get("resnet20-half")
    params = fit.init_params(model, (1, 8, 8), seed=seed)
    return fit.fit(model, params, digits.load(), epochs=epochs, batch_size=32, lr=0.05, seed=seed,
                   train_images=images), params


def test_a_short_run_learns():
    history, _ = short_run(2, 320)
    assert [e.epoch for e in history] == [1, 2]
    assert history[-1].loss < history[0].loss < np.log(10) + 0.5
    assert history[-1].test_accuracy > 0.25                 # chance is 0.1; 20 steps only


def test_a_seeded_run_repeats_exactly():
    (first,), params = short_run(1, 64)
    (again,), params_again = short_run(1, 64)
    assert (first.loss, first.test_accuracy) == (again.loss, again.test_accuracy)
    np.testing.assert_array_equal(params["fc"]["weight"], params_again["fc"]["weight"])


def test_initial_batch_norm_is_the_identity_and_weights_are_seeded():
    model = zoo.get("resnet20")
    a, b = fit.init_params(model, (1, 8, 8), seed=0), fit.init_params(model, (1, 8, 8), seed=1)
    assert a["bn1"]["weight"].tolist() == [1.0] * 16 and a["bn1"]["running_var"].tolist() == [1.0] * 16
    assert not np.array_equal(a["conv1"]["weight"], b["conv1"]["weight"])


def test_accuracy_counts_hits():
    model = zoo.get("resnet20-half")
    params = fit.init_params(model, (1, 8, 8))
    d = digits.load()
    from helpers.engine.forward import forward
    predicted = forward(model, params, d.x_test).argmax(axis=1)
    assert fit.accuracy(model, params, d.x_test, d.y_test, batch=100) == np.mean(predicted == d.y_test)
