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


def keras_value(loss, y, output):
    """Keras's loss in float64 (dtype=float64 on the loss and its inputs)."""
    import keras

    tensors = (keras.ops.convert_to_tensor(v, dtype="float64") for v in (y, output))
    return float(keras.ops.convert_to_numpy(loss(*tensors)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quadratic_and_mse_match_kerass_mean_squared_error(seed):
    """Keras's mse is mean over the k outputs, then over the batch; the primer's C is k/2 times it."""
    import keras

    z, a, y = batch(n=7, k=5, seed=seed)
    f = activations.get("sigmoid")
    reference = keras_value(keras.losses.MeanSquaredError(dtype="float64"), y, a)
    assert losses.mse(z, a, y, f) == pytest.approx(reference, rel=1e-14)
    assert losses.quadratic(z, a, y, f) == pytest.approx(5 / 2 * reference, rel=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_crossentropy_matches_kerass(seed):
    """From the logits for a sigmoid output; from probabilities, clipped to [1e-7, 1 - 1e-7], for
    any other output (here some lie outside (0, 1), as a linear output's may)."""
    import keras

    rng = np.random.default_rng(seed)
    z, y = rng.normal(0, 4, size=(6, 3)), rng.uniform(size=(6, 3))
    sigmoid, linear = activations.get("sigmoid"), activations.get("linear")
    from_logits = keras_value(keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64"), y, z)
    assert losses.binary_crossentropy(z, sigmoid(z), y, sigmoid) == pytest.approx(from_logits, rel=1e-13)
    a = rng.uniform(-0.2, 1.2, size=(6, 3))
    clipped = keras_value(keras.losses.BinaryCrossentropy(dtype="float64"), y, a)
    assert losses.binary_crossentropy(a, a, y, linear) == pytest.approx(clipped, rel=1e-12)


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
