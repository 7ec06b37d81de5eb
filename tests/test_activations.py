import math
import warnings

import numpy as np
import pytest

from scratch import activations

ELEMENTWISE = ["sigmoid", "relu", "tanh", "linear"]  # the step function is flat: see below


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_differences(name):
    f = activations.get(name)
    z = np.random.default_rng(1).normal(0, 3, size=200)
    z = z[np.abs(z) > 1e-3]  # away from the kinks of relu and step
    eps = 1e-6
    numeric = (f(z + eps) - f(z - eps)) / (2 * eps)
    np.testing.assert_allclose(f.prime(z, f(z)), numeric, rtol=1e-7, atol=1e-9)


def test_step_is_flat_and_its_derivative_zero():
    """step(z) = 1 if z > 0 else 0: constant on each side of 0, so f' = 0 there (not a 0-vs-0 check:
    the values on either side of each point are asserted equal)."""
    f = activations.get("step")
    z = np.array([-3.0, -1e-3, 1e-3, 2.0])
    np.testing.assert_array_equal(f(z), [0, 0, 1, 1])
    np.testing.assert_array_equal(f(z + 1e-6), f(z - 1e-6))
    np.testing.assert_array_equal(f.prime(z, f(z)), np.zeros(4))


@pytest.mark.parametrize("size", [10, activations.EXPIT_MAX_SIZE, activations.EXPIT_MAX_SIZE + 1, 5000])  # both paths
@pytest.mark.parametrize("dtype, lowest, rtol", [(np.float64, -700, 5e-16), (np.float32, -80, 2.4e-7)])
def test_sigmoid_is_accurate_to_an_ulp_or_two(size, dtype, lowest, rtol):
    z = np.linspace(lowest, 40, size).astype(dtype)
    exact = np.array([1 / (1 + math.exp(-v)) for v in z.tolist()])  # libm's exp on Python floats
    a = activations.sigmoid(z)
    assert a.dtype == dtype
    np.testing.assert_allclose(a, exact, rtol=rtol, atol=0)


def test_relu_derivative_at_zero_is_zero_as_in_tensorflow():
    assert activations.relu_prime(np.array([0.0]), np.array([0.0]))[0] == 0.0


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(4, 5))
    grad_a = rng.normal(size=(4, 5))
    a = activations.softmax(z)
    for row in range(4):
        jacobian = np.diag(a[row]) - np.outer(a[row], a[row])
        np.testing.assert_allclose(activations.softmax_backward(z, a, grad_a)[row], jacobian.T @ grad_a[row], atol=1e-15)
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=1e-15)


@pytest.mark.parametrize("name", list(activations.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [1, 1000])
def test_finite_and_silent_at_large_inputs(name, dtype, rows):
    f = activations.get(name)
    z = np.tile(np.array([[-1000.0, 0.0, 1000.0]], dtype=dtype), (rows, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = f(z)
        d = f.backward(z, a, np.ones_like(z))
    assert np.isfinite(a).all() and np.isfinite(d).all()
    assert a.dtype == dtype and d.dtype == dtype


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*sigmoid"):
        activations.get("swish")
