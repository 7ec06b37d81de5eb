"""Stochastic gradient descent: w -> w - eta * dC/dw, with optional momentum, as Keras's SGD does it.

Plain:     w = w - eta g
Momentum:  v = mu v - eta g;  w = w + v
Nesterov:  v = mu v - eta g;  w = w + mu v - eta g

With L2 regularization (scratch/regularization.py) the book's step decays each weight first,

    w -> (1 - eta lambda / n) w - eta g        g = dC0/dw, the gradient of the unregularized cost

and with momentum the velocity takes the whole gradient g + (lambda / n) w, as Keras's does.

`apply` takes the gradients g from backprop; the learning rate eta lives here alone.
"""
import itertools
import math

import numpy as np


def check_learning_rate(learning_rate):
    """The learning rate eta as a float; ValueError unless it is finite and positive."""
    eta = float(learning_rate)
    if not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate}: try 0.1 or 3.0")
    return eta


class SGD:
    """Updates parameter arrays in place from their gradients, one mini-batch at a time."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.learning_rate = check_learning_rate(learning_rate)
        self.momentum = float(momentum)
        if not 0 <= self.momentum < 1:  # `not` also refuses NaN
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum above 0: try momentum 0.9")
        self.nesterov = bool(nesterov)
        self.velocities = None

    def apply(self, parameters, gradients, decays=None):
        """One step of gradient descent on each parameter array w (in place), given g = dC/dw; with
        `decays`, one rate lambda / n per array (0 for biases; L2.decays), g = dC0/dw and the step
        decays w too."""
        eta, mu = self.learning_rate, self.momentum
        decays = decays or itertools.repeat(0.0)
        if mu == 0:
            for w, g, decay in zip(parameters, gradients, decays):
                if decay:
                    w *= 1 - eta * decay  # the book's weight decay
                w -= eta * g
            return
        if self.velocities is None:
            self.velocities = [np.zeros_like(w) for w in parameters]
        for w, g, v, decay in zip(parameters, gradients, self.velocities, decays):
            if decay:
                g = g + decay * w  # dC/dw = dC0/dw + (lambda / n) w
            v *= mu
            v -= eta * g
            w += mu * v - eta * g if self.nesterov else v
