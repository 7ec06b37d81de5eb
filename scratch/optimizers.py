"""Stochastic gradient descent: w -> w - eta * dC/dw, with optional momentum, as Keras's SGD does it.

Plain:     w = w - eta g
Momentum:  v = mu v - eta g;  w = w + v
Nesterov:  v = mu v - eta g;  w = w + mu v - eta g

`apply` takes the steps eta g, not g: backprop can produce them directly (Network.backprop's
`scale`), which saves a pass over every weight per mini-batch.
"""
import math

import numpy as np


def check_learning_rate(learning_rate):
    """The learning rate eta as a float; ValueError unless it is finite and positive."""
    eta = float(learning_rate)
    if not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"learning rate must be a positive number, got {learning_rate}: try 0.1 or 3.0")
    return eta


class SGD:
    """Updates parameter arrays in place from their gradients, one mini-batch at a time."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.learning_rate = check_learning_rate(learning_rate)
        self.momentum = float(momentum)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum above 0: pass --momentum 0.9, say")
        self.nesterov = bool(nesterov)
        self.velocities = None

    def apply(self, parameters, steps):
        """One step of gradient descent on each parameter w, given its step eta * g."""
        if self.momentum == 0:
            for w, step in zip(parameters, steps):
                w -= step
            return
        if self.velocities is None:
            self.velocities = [np.zeros_like(w) for w in parameters]
        mu = self.momentum
        for w, step, v in zip(parameters, steps, self.velocities):
            v *= mu
            v -= step
            w += mu * v - step if self.nesterov else v
