"""Cost functions C over a batch of n examples with k outputs, and dC/dz at the output layer.

- `quadratic`: the primer's C = 1/(2n) sum_x ||y(x) - a||^2.
- `mse`: Keras's mean squared error, mean over the k outputs then over the batch:
  C = 1/(n k) sum_x ||y(x) - a||^2 (so its gradient is 2/k times the quadratic one).
- `binary_crossentropy`: C = -1/(n k) sum [y log a + (1 - y) log(1 - a)], as Keras computes it:
  from the logits z when a = sigmoid(z) (stable, unclipped), otherwise with a clipped to
  [1e-7, 1 - 1e-7].

`value(z, a, y, activation)` is the cost; `output_delta(z, a, y, activation)` is
delta^L = dC/dz^L, where backprop starts.
"""
from dataclasses import dataclass

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon(), the clip of probabilities in cross-entropy


def quadratic(z, a, y, activation):
    """C = 1/(2n) sum ||y - a||^2."""
    r = a - y
    return 0.5 * np.vdot(r, r) / len(a)


def quadratic_prime(z, a, y, activation):
    """dC/da = (a - y) / n."""
    return (a - y) / len(a)


def mse(z, a, y, activation):
    """C = 1/(n k) sum ||y - a||^2."""
    r = a - y
    return np.vdot(r, r) / a.size


def mse_prime(z, a, y, activation):
    """dC/da = 2 (a - y) / (n k)."""
    return (a - y) * (2 / a.size)


def binary_crossentropy(z, a, y, activation):
    """C = -mean[y log a + (1 - y) log(1 - a)].

    For a = sigmoid(z) this is mean[max(z, 0) - z y + log(1 + exp(-|z|))], finite for any z.
    """
    if activation.name == "sigmoid":
        return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()
    p = np.clip(a, EPSILON, 1 - EPSILON)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()


def binary_crossentropy_prime(z, a, y, activation):
    """dC/da = (a - y) / (a (1 - a) n k), zero where the clip holds a fixed."""
    p = np.clip(a, EPSILON, 1 - EPSILON)
    inside = (a >= EPSILON) & (a <= 1 - EPSILON)
    return inside * (p - y) / (p * (1 - p) * a.size)


def binary_crossentropy_delta(z, a, y, activation):
    """The fused BP1 for a sigmoid output: dC/da * sigma'(z) = (a - y) / (a (1 - a) n k) * a (1 - a)
    = (a - y) / (n k), sigma' cancelling the denominator. Other outputs take the general BP1."""
    if activation.name == "sigmoid":
        return (a - y) / a.size
    return activation.backward(z, a, binary_crossentropy_prime(z, a, y, activation))


@dataclass(frozen=True)
class Loss:
    """A cost by name: its value and delta^L = dC/dz at the output layer."""

    name: str
    value: callable
    prime: callable  # dC/da
    delta: callable = None  # dC/dz, when it is better than activation.backward(dC/da)

    def output_delta(self, z, a, y, activation):
        """delta^L = dC/da^L * f'(z^L) (BP1 of the primer), in matrix form for the batch; or the
        loss's own fused form of that product, where it has one."""
        if self.delta is not None:
            return self.delta(z, a, y, activation)
        return activation.backward(z, a, self.prime(z, a, y, activation))


LOSSES = {
    "quadratic": Loss("quadratic", quadratic, quadratic_prime),
    "mse": Loss("mse", mse, mse_prime),
    "binary_crossentropy": Loss(
        "binary_crossentropy", binary_crossentropy, binary_crossentropy_prime, binary_crossentropy_delta
    ),
}
LOSSES["bce"] = LOSSES["binary_crossentropy"]


def get(name):
    """The Loss called `name`; ValueError naming the choices otherwise."""
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}") from None
