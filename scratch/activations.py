"""Activation functions a = f(z) and their derivatives f'(z).

Each neuron computes z = w . x + b and fires a = f(z). Backpropagation needs f'(z);
`backward` turns dC/da into dC/dz = dC/da * f'(z) for a whole layer at once
(softmax mixes its outputs, so it multiplies by its Jacobian instead).
Derivatives take both z and a = f(z) because some are cheapest from a
(sigmoid' = a(1 - a)) and the forward pass already computed it.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit


def step(z):
    """Step function of the perceptron: 1 if z > 0 else 0."""
    return (z > 0).astype(z.dtype)


def step_prime(z, a):
    """The step is flat everywhere except at 0, where it has no derivative: 0."""
    return np.zeros_like(z)


EXPIT_MAX_SIZE = 800  # up to about this many numbers, one call of scipy's expit beats NumPy's four


def sigmoid(z):
    """sigma(z) = 1 / (1 + exp(-z)), finite and silent for any z, accurate to an ulp or two.

    Where -z is so large that exp(-z) overflows to inf, sigma(z) = 1 / inf = 0, as it should be.
    A small array (one mini-batch of 10, say) goes to scipy's expit, which is this formula in one
    call; a large one to NumPy's vectorized exp, four times faster per number but four calls.
    """
    if z.size <= EXPIT_MAX_SIZE:
        return expit(z)
    t = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    t += 1
    return np.divide(1, t, out=t)


def sigmoid_prime(z, a):
    """sigma'(z) = sigma(z) (1 - sigma(z)) = a (1 - a)."""
    return a * (1 - a)


def relu(z):
    """relu(z) = max(0, z)."""
    return np.maximum(z, 0)


def relu_prime(z, a):
    """relu'(z) = 1 if z > 0 else 0; at exactly 0 it is 0, as in TensorFlow."""
    return (z > 0).astype(z.dtype)


def tanh(z):
    """tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))."""
    return np.tanh(z)


def tanh_prime(z, a):
    """tanh'(z) = 1 - tanh(z)^2 = 1 - a^2."""
    return 1 - a * a


def linear(z):
    """The identity: a = z."""
    return z


def linear_prime(z, a):
    """linear'(z) = 1."""
    return np.ones_like(z)


def softmax(z):
    """softmax(z)_j = exp(z_j) / sum_k exp(z_k), per row; shifted by max(z) so exp never overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_backward(z, a, grad_a):
    """dC/dz = J^T dC/da with J_jk = a_j (delta_jk - a_k), i.e. a * (dC/da - sum(dC/da * a))."""
    return a * (grad_a - (grad_a * a).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class Activation:
    """An activation by name: f, its derivative, and how backprop passes through it."""

    name: str
    f: Callable
    prime: Callable | None  # f'(z, a), a new array, for elementwise activations; None for softmax
    has_kink: bool = False  # finite differences are meaningless across a kink at z = 0
    _backward: Callable | None = None

    def __call__(self, z):
        return self.f(z)

    def backward(self, z, a, grad_a):
        """dC/dz from dC/da: elementwise grad_a * f'(z), or the Jacobian product for softmax."""
        if self._backward is not None:
            return self._backward(z, a, grad_a)
        d = self.prime(z, a)  # a new array, so it can take the product in place
        d *= grad_a
        return d


ACTIVATIONS = {
    "step": Activation("step", step, step_prime, has_kink=True),
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime),
    "relu": Activation("relu", relu, relu_prime, has_kink=True),
    "tanh": Activation("tanh", tanh, tanh_prime),
    "linear": Activation("linear", linear, linear_prime),
    "softmax": Activation("softmax", softmax, None, _backward=softmax_backward),
}


def get(name):
    """The Activation called `name`; ValueError naming the choices otherwise."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}"
        ) from None
