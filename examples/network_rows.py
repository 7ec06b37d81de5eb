"""A network in Keras's layout, a batch of examples at a time as rows: W[l] has shape (n_in, n_out),
b[l] (n_out,), z = a W + b. Sigmoid (or ReLU) hidden layers, a sigmoid output, the quadratic cost.

Check it against Keras:
    python -m compare --implementation examples/network_rows.py:Network
    python -m compare --implementation examples/network_rows.py:ReLUNetwork --activation relu
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def relu(z):
    return np.maximum(z, 0)


DERIVATIVES = {sigmoid: lambda z, a: a * (1 - a), relu: lambda z, a: (z > 0).astype(z.dtype)}


class Network:
    def __init__(self, sizes, hidden=sigmoid):
        rng = np.random.default_rng(0)
        self.W = [rng.standard_normal((n_in, n_out)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(n_out) for n_out in sizes[1:]]
        self.f = [hidden] * (len(sizes) - 2) + [sigmoid]

    def get_weights(self):
        return [p for W, b in zip(self.W, self.b) for p in (W, b)]

    def set_weights(self, weights):
        self.W, self.b = list(weights[0::2]), list(weights[1::2])

    def forward(self, x):
        zs, activations = [], [x]
        for W, b, f in zip(self.W, self.b, self.f):
            zs.append(activations[-1] @ W + b)
            activations.append(f(zs[-1]))
        return zs, activations

    def feedforward(self, x):
        return self.forward(x)[1][-1]

    def gradients(self, x, y):
        """[dC/dW1, dC/db1, ...] of C = 1/(2n) sum ||y - a||^2 over the batch, by BP1-BP4."""
        zs, activations = self.forward(x)
        delta = (activations[-1] - y) / len(x) * DERIVATIVES[self.f[-1]](zs[-1], activations[-1])  # BP1
        grads = []
        for l in reversed(range(len(self.W))):
            grads[:0] = [activations[l].T @ delta, delta.sum(axis=0)]  # BP4, BP3
            if l > 0:
                delta = (delta @ self.W[l].T) * DERIVATIVES[self.f[l - 1]](zs[l - 1], activations[l])  # BP2
        return grads

    def train_step(self, x, y, learning_rate):
        """w -> w - eta dC/dw for every weight and bias."""
        weights = [p - learning_rate * g for p, g in zip(self.get_weights(), self.gradients(x, y))]
        self.set_weights(weights)


def ReLUNetwork(sizes):
    """The same network with ReLU hidden layers (run it with --activation relu)."""
    return Network(sizes, hidden=relu)
