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


def assert_delta_matches_finite_differences(loss, f, z, y, eps=1e-6):
    """delta^L = loss.output_delta against central differences of the loss in each z."""
    delta = loss.output_delta(z, f(z), y, f)
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += eps
        zm[i] -= eps
        numeric = (loss.value(zp, f(zp), y, f) - loss.value(zm, f(zm), y, f)) / (2 * eps)
        assert delta[i] == pytest.approx(numeric, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_entropy_is_the_books_cost_summed_over_the_outputs(seed):
    """The book's C = -1/n sum_x sum_j [y ln a + (1 - y) ln(1 - a)]: k times Keras's binary_crossentropy,
    and the twin's own loss (keras_impl/twin.py) to rounding, from the logits and from the outputs alike."""
    import keras

    from keras_impl.twin import CrossEntropyCost

    rng = np.random.default_rng(seed)
    z, y = rng.normal(0, 4, size=(6, 3)), rng.uniform(size=(6, 3))
    sigmoid, linear = activations.get("sigmoid"), activations.get("linear")
    a = sigmoid(z)
    books = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / 6
    value = losses.cross_entropy(z, a, y, sigmoid)
    assert value == pytest.approx(books, rel=1e-12)
    assert losses.cross_entropy(a, a, y, linear) == pytest.approx(books, rel=1e-12)  # from the outputs alone
    from_logits = keras_value(keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64"), y, z)
    assert value == pytest.approx(3 * from_logits, rel=1e-13)
    assert value == pytest.approx(keras_value(CrossEntropyCost(dtype="float64"), y, a), rel=1e-13)


def test_cross_entropy_from_the_outputs_counts_a_zero_factor_as_zero():
    """A network of yours shows only a: a saturated output whose own term has factor 0 adds 0, not 0 * log(0)."""
    linear = activations.get("linear")
    a, y = np.array([[1.0, 0.0, 0.25]]), np.array([[1.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert losses.cross_entropy(a, a, y, linear) == pytest.approx(-np.log(0.25))


@pytest.mark.parametrize("name", ["quadratic", "mse", "binary_crossentropy", "cross_entropy"])
def test_output_delta_matches_finite_differences_in_z(name):
    z, _, y = batch(seed=3)
    assert_delta_matches_finite_differences(losses.get(name), activations.get("sigmoid"), z, y)


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
    with warnings.catch_warnings():  # the book's: the sum over the outputs, BP1 = (a - y) / n
        warnings.simplefilter("error")
        assert losses.cross_entropy(z, f(z), y, f) == pytest.approx(2000.0)
        np.testing.assert_allclose(losses.cross_entropy_delta(z, f(z), y, f), [[-1.0, 1.0]])


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*quadratic"):
        losses.get("hinge")


def class_targets(rng, n, k):
    """Class labels t (n,) and their one-hot rows y (n, k)."""
    t = rng.integers(0, k, size=n)
    return t.astype(float), np.eye(k)[t]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_categorical_crossentropies_match_kerass(seed):
    """From the logits for a softmax output. For any other output as Keras computes it: the
    categorical loss normalises the outputs to sum 1 and then clips them to [1e-7, 1 - 1e-7], the
    sparse one clips first and normalises after (here some outputs lie below the clip)."""
    import keras

    rng = np.random.default_rng(seed)
    z = rng.normal(0, 4, size=(6, 4))
    t, y = class_targets(rng, 6, 4)
    softmax, sigmoid = activations.get("softmax"), activations.get("sigmoid")
    cce, scce = keras.losses.CategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy
    assert losses.categorical_crossentropy(z, softmax(z), y, softmax) == pytest.approx(
        keras_value(cce(from_logits=True, dtype="float64"), y, z), rel=1e-13)
    assert losses.sparse_categorical_crossentropy(z, softmax(z), t, softmax) == pytest.approx(
        keras_value(scce(from_logits=True, dtype="float64"), t, z), rel=1e-13)
    a = rng.uniform(0, 1, size=(6, 4))
    a[0, 0], a[1, 1] = 1e-9, 0.0  # below the clip
    assert losses.categorical_crossentropy(a, a, y, sigmoid) == pytest.approx(
        keras_value(cce(dtype="float64"), y, a), rel=1e-12)
    assert losses.sparse_categorical_crossentropy(a, a, t, sigmoid) == pytest.approx(
        keras_value(scce(dtype="float64"), t, a), rel=1e-12)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_categorical_output_delta_matches_finite_differences_in_z(name, output):
    """delta^L = dC/dz: the fused (a - y) / n after a softmax, the general BP1 after a sigmoid."""
    loss = losses.get(name)
    rng = np.random.default_rng(4)
    z = rng.normal(size=(5, 3))
    t, y = class_targets(rng, 5, 3)
    assert_delta_matches_finite_differences(loss, activations.get(output), z, t if loss.sparse else y)


def test_categorical_crossentropy_is_finite_at_large_logits():
    f, loss = activations.get("softmax"), losses.get("categorical_crossentropy")
    z = np.array([[-1000.0, 1000.0, 0.0], [1000.0, -1000.0, 999.0]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.value(z, f(z), y, f)
        delta = loss.output_delta(z, f(z), y, f)
    assert value == pytest.approx((2000.0 + 1 + np.log1p(np.exp(-1.0))) / 2, rel=1e-15)  # -log a_t per row
    s = 1 / (1 + np.exp(-1.0))  # row 2: softmax([1000, -1000, 999]) = [s, 0, 1 - s]
    np.testing.assert_allclose(delta, [[-0.5, 0.5, 0.0], [s / 2, 0.0, -s / 2]], rtol=1e-15, atol=1e-300)
