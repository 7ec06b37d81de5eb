"""Rosenblatt's perceptron, and `python -m scratch.perceptron`: the primer's decision maker.

A perceptron weighs its binary inputs and fires when the weighted sum passes a threshold:
    output = step(w . x - threshold),  step(z) = 1 if z > 0 else 0.
Writing the bias b = -threshold gives output = step(w . x + b). The perceptron learning rule
nudges w and b after each mistake:  w += eta (y - output) x,  b += eta (y - output).
It finds a separating line (plane) when one exists, and never settles when none does (XOR).
"""
import numpy as np

from . import datasets
from .activations import step
from .command_line import ArgumentParser
from .config import Config
from .training import fit


class Perceptron:
    """A single neuron with the step function: output = step(w . x + b)."""

    def __init__(self, weights, bias):
        self.weights = np.asarray(weights, dtype=float)
        self.bias = float(bias)

    @classmethod
    def with_threshold(cls, weights, threshold):
        """The primer's form: fire when w . x > threshold."""
        return cls(weights, -threshold)

    def __call__(self, x):
        """0 or 1 for each row of x."""
        return step(np.asarray(x, dtype=float) @ self.weights + self.bias)

    def learn(self, x, y, learning_rate=1.0, max_epochs=100):
        """The perceptron rule until an epoch makes no mistake; returns the epochs taken, or None."""
        y = np.asarray(y, dtype=float).ravel()
        for epoch in range(1, max_epochs + 1):
            mistakes = 0
            for xi, yi in zip(x, y):
                error = yi - self(xi)
                if error:
                    self.weights += learning_rate * error * xi
                    self.bias += learning_rate * error
                    mistakes += 1
            if mistakes == 0:
                return epoch
        return None


def score(predictions, y):
    return int((np.asarray(predictions).ravel() == np.asarray(y).ravel()).sum())


def show_decision_maker():
    """Hand-set weights and a threshold decide all 8 situations; then the rule learns its own."""
    data = datasets.vacation()
    maker = Perceptron.with_threshold([2.0, 6.0, 2.0], threshold=7.0)
    print("The decision maker: go on vacation when w . x > threshold")
    print("  weights: cheap tickets 2, leave granted 6, nice weather 2; threshold 7")
    print("  tickets leave weather | w.x | go?  target")
    for x, y in zip(data.x_train, data.y_train):
        decision = int(maker(x))
        tickets, leave, weather = (int(v) for v in x)
        print(f"     {tickets}      {leave}      {weather}    | {x @ maker.weights:3.0f} |  {decision}     {int(y[0])}")
    print(f"  hand-set weights: {score(maker(data.x_train), data.y_train)}/8 correct "
          "(target: the decision the vacation rule wants)")
    print("  with a bias b = -threshold the neuron fires when w . x + b > 0; the perceptron rule learns w and b:")
    learned = Perceptron(np.zeros(3), 0.0)
    epochs = learned.learn(data.x_train, data.y_train)
    print(f"  perceptron rule from zero weights: converged in {epochs} epochs to "
          f"w = {learned.weights.tolist()}, b = {learned.bias} (threshold {-learned.bias:g}); "
          f"{score(learned(data.x_train), data.y_train)}/8 correct")


def show_xor():
    """One perceptron cannot learn XOR; a 2-layer sigmoid MLP trained by backprop can."""
    data = datasets.xor()
    single = Perceptron(np.zeros(2), 0.0)
    epochs = single.learn(data.x_train, data.y_train, max_epochs=100)
    if epochs is None:
        print(f"XOR: a single perceptron is still wrong after 100 epochs "
              f"({score(single(data.x_train), data.y_train)}/4 correct): "
              "XOR is not linearly separable, no line splits its 1s from its 0s")
    config = Config(dataset="xor", hidden=[3], loss="quadratic", lr=2.0, batch_size=4, epochs=2000, seed=1)
    network = config.build_network(data)
    fit(network, data.x_train, data.y_train, config.loss, config.build_optimizer(),
        config.epochs, config.batch_size, config.seed, verbose=False)
    outputs = network.predict(data.x_train).ravel()
    print(f"XOR: a 2-3-1 sigmoid MLP after {config.epochs} epochs of backprop outputs "
          f"{np.round(outputs, 3).tolist()}: {score(outputs > 0.5, data.y_train)}/4 correct")


def main(argv=None):
    """`python -m scratch.perceptron`: takes no flags but --help."""
    ArgumentParser(prog="python -m scratch.perceptron", description=__doc__.split("\n\n")[0]).parse_args(argv)
    show_decision_maker()
    print()
    show_xor()


if __name__ == "__main__":
    main()
