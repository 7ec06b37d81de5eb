"""L2 regularization (weight decay), the book's chapter 3: a cost C0 (scratch/losses.py) grows by a
term that keeps the weights small,

    C = C0 + (lambda / 2n) sum_w w^2        over the weights, not the biases; n the training set size

so that backprop's gradients of C0 gain one term each, for the weights alone,

    dC/dw = dC0/dw + (lambda / n) w,        dC/db = dC0/db

and a step of gradient descent shrinks every weight before it moves it (scratch/optimizers.py):

    w -> (1 - eta lambda / n) w - eta dC0/dw

Keras writes the same term as keras.regularizers.L2(l2) on each kernel, l2 sum w^2, so l2 = lambda / 2n.
"""
import math
from dataclasses import dataclass

import numpy as np


def check_lmbda(lmbda):
    """lambda as a float; ValueError unless it is finite and not negative."""
    value = float(lmbda)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"lmbda must be a number >= 0, got {lmbda}: the book uses 5.0 on MNIST's 50,000 images")
    return value


@dataclass(frozen=True)
class L2:
    """The L2 term of a cost: lambda (`lmbda`, as the book spells it) over a training set of n examples."""

    lmbda: float = 0.0
    n: int = 1

    def __bool__(self):
        return self.lmbda != 0

    @property
    def rate(self):
        """lambda / n: the weight decay's rate, and the factor of w in dC/dw."""
        return self.lmbda / self.n

    def penalty(self, weights):
        """(lambda / 2n) sum over the weight arrays W^l of sum w^2."""
        return self.lmbda / (2 * self.n) * sum(float(np.vdot(w, w)) for w in weights) if self else 0.0

    def gradient(self, w):
        """(lambda / n) w: what the L2 term adds to dC0/dw, for one weight array."""
        return self.rate * w

    def gradients(self, parameters):
        """What the term adds to each gradient of [W^1, b^1, W^2, b^2, ...] (Keras's order): (lambda / n) W
        for a weight array, 0 for a bias."""
        return [self.gradient(p) if i % 2 == 0 else np.zeros_like(p) for i, p in enumerate(parameters)]

    def decays(self, num_layers):
        """The decay rate of each array of [W^1..W^L, b^1..b^L] (weights, then biases): lambda / n, then 0;
        None without a term (SGD then takes its plain step)."""
        return [self.rate] * num_layers + [0.0] * num_layers if self else None


NONE = L2()
