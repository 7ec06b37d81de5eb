import warnings

import numpy as np
import pytest

from scratch import activations, losses


def batch(n=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k))
    return z, activations.sigmoid(z), rng.uniform(size=(n, k))


def test_quadratic_is_the_primers_cost():
    z, a, y = batch()
    expected = sum(np.linalg.norm(y[i] - a[i]) ** 2 for i in range(len(a))) / (2 * len(a))
    assert losses.quadratic(z, a, y, activations.get("sigmoid")) == pytest.approx(expected, rel=1e-14)


def test_mse_is_keras_mean_over_outputs_then_batch():
    z, a, y = batch()
    expected = np.mean([np.mean((y[i] - a[i]) ** 2) for i in range(len(a))])
    assert losses.mse(z, a, y, activations.get("sigmoid")) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("output", ["sigmoid", "tanh", "linear"])
def test_binary_crossentropy_value(output):
    f = activations.get(output)
    z, _, y = batch()
    a = f(z)
    p = np.clip(a, 1e-7, 1 - 1e-7)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert losses.binary_crossentropy(z, a, y, f) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["quadratic", "mse", "binary_crossentropy"])
def test_output_delta_matches_finite_differences_in_z(name):
    loss, f = losses.get(name), activations.get("sigmoid")
    z, a, y = batch(seed=3)
    delta = loss.output_delta(z, a, y, f)
    eps = 1e-6
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += eps
        zm[i] -= eps
        numeric = (loss.value(zp, f(zp), y, f) - loss.value(zm, f(zm), y, f)) / (2 * eps)
        assert delta[i] == pytest.approx(numeric, rel=1e-6, abs=1e-10)


def test_cross_entropy_is_finite_at_saturated_sigmoid():
    f = activations.get("sigmoid")
    z = np.array([[-1000.0, 1000.0]])
    y = np.array([[1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = losses.binary_crossentropy(z, f(z), y, f)
        delta = losses.binary_crossentropy_delta(z, f(z), y, f)
    assert value == pytest.approx(1000.0)
    np.testing.assert_allclose(delta, [[-0.5, 0.5]])


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*quadratic"):
        losses.get("hinge")
