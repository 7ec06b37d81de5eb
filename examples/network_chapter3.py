"""A network written as the book's chapter 3 writes it (its network2.py): sigmoid neurons, the
cross-entropy cost summed over the outputs, L2 regularization applied in update_mini_batch as weight
decay, weights drawn with standard deviation 1/sqrt(n_in). The primer's layout: one example at a time
as column vectors, weights[l] of shape (n_out, n_in), biases[l] (n_out, 1).

Check it against Keras (the harness passes lmbda and n to update_mini_batch):

    python -m compare --implementation examples/network_chapter3.py:Network --loss cross_entropy --l2 5 \\
        --initializer scaled_normal
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        """The cost of one example, -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]; nan_to_num turns the
        0 * log(0) of a saturated output into 0."""
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """delta^L = a - y: sigma'(z) cancels out of BP1 for this cost."""
        return a - y


class Network:
    def __init__(self, sizes, cost=CrossEntropyCost):
        self.sizes, self.cost = sizes, cost
        rng = np.random.default_rng(0)
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """The output for one input column a."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step of gradient descent on the mini-batch (a list of (x, y) columns) for the cost
        C = C0 + (lmbda / 2n) sum w^2, n the size of the training set: each weight decays by
        (1 - eta lmbda / n) before it moves; the biases do not decay."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(mini_batch)
        self.weights = [(1 - eta * lmbda / n) * w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """(nabla_b, nabla_w): the gradient of one example's cost C0 (no L2 term), by BP1-BP4."""
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost.delta(zs[-1], activations[-1], y)  # BP1
        nabla_b, nabla_w = [None] * len(self.biases), [None] * len(self.weights)
        nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T  # BP3, BP4
        for l in range(2, len(self.sizes)):
            a = activations[-l]
            delta = (self.weights[-l + 1].T @ delta) * a * (1 - a)  # BP2, sigma'(z) = a (1 - a)
            nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
        return nabla_b, nabla_w
