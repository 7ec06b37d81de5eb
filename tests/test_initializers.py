"""The initial weights against independent references: Keras's own initializers for the same
distribution, drawn as large samples and compared statistically, and the primer's formulas.

On n = 240,000 draws each bound below is at least 7 standard errors wide, so a correct initializer
fails with probability below 1e-11 per check; a wrong scale (sqrt(6 / n_in) for Glorot's limit,
1/n_in for the scaled normal's standard deviation) misses by 20 to 300 standard errors.
"""
import numpy as np
import pytest

from scratch.initializers import initialize

N_IN, N_OUT = 400, 600  # 240,000 weights; n_in and n_out differ, so every mix-up of the two shows
N = N_IN * N_OUT


def keras_draw(initializer):
    return np.asarray(initializer(shape=(N_IN, N_OUT), dtype="float64"))


def assert_same_spread(ours, reference):
    """Mean 0 within 7 standard errors, variances equal within 7 standard errors (3 %)."""
    assert abs(ours.mean()) < 7 * reference.std() / np.sqrt(N)
    assert ours.var() / reference.var() == pytest.approx(1, abs=0.03)


def test_glorot_uniform_matches_keras():
    import keras

    (w,), (b,) = initialize("glorot_uniform", [N_IN, N_OUT], seed=1)
    reference = keras_draw(keras.initializers.GlorotUniform(seed=2))
    # U(-l, l): the largest of N draws lies within l (1 - 20 / N) of l but for a chance of e^-20
    limit = np.abs(reference).max()
    assert np.abs(w).max() == pytest.approx(limit, rel=40 / N)
    assert_same_spread(w, reference)
    assert np.histogram(w, bins=10, range=(-limit, limit))[0].min() > 0.95 * N / 10  # flat, not bell-shaped
    assert not b.any()  # Keras's Dense starts its biases at zero


def test_scaled_normal_matches_keras_fan_in_normal():
    import keras

    (w,), (b,) = initialize("scaled_normal", [N_IN, N_OUT], seed=1)
    reference = keras_draw(keras.initializers.VarianceScaling(1.0, "fan_in", "untruncated_normal", seed=2))
    assert_same_spread(w, reference)
    assert b.var() == pytest.approx(1, abs=7 * np.sqrt(2 / N_OUT))  # the primer: b ~ N(0, 1)


def test_standard_normal_matches_keras_random_normal():
    import keras

    (w,), (b,) = initialize("standard_normal", [N_IN, N_OUT], seed=1)
    assert_same_spread(w, keras_draw(keras.initializers.RandomNormal(0.0, 1.0, seed=2)))
    assert b.var() == pytest.approx(1, abs=7 * np.sqrt(2 / N_OUT))


def test_each_layer_gets_its_own_draw_and_the_seed_repeats_it():
    first = initialize("glorot_uniform", [5, 5, 5], seed=3)[0]
    again = initialize("glorot_uniform", [5, 5, 5], seed=3)[0]
    assert not np.array_equal(first[0], first[1])
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
