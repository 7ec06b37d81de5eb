"""A network's training state between two steps, the one thing the harness saves, compares and loads.

Every tensor list in compare/ is in Keras's order, [W^1, b^1, W^2, b^2, ...] (model.trainable_weights,
get_weights()); each network the harness judges (compare/judged.py) hands its state over in it.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class State:
    """The weights, the SGD velocities ([] without momentum) and, for Keras read `whole`, every
    optimizer variable (its step count, learning rate and velocities): all a replay starting from
    this state needs (compare/replay.py). `rest`: whatever else a judged network keeps that its next
    steps depend on (your network's own object, copied: compare/your_network.py), or None."""

    weights: list
    velocities: list
    optimizer: list = None
    rest: object = None

    @classmethod
    def of_keras(cls, model, momentum, whole=False):
        """Keras's state now; velocities are zeros before fit's first step built the optimizer."""
        weights = [np.asarray(w.numpy()) for w in model.trainable_weights]
        optimizer = [np.asarray(v.numpy()) for v in model.optimizer.variables] if whole else None
        if momentum == 0:
            return cls(weights, [], optimizer)
        built = getattr(model.optimizer, "momentums", None)
        return cls(weights, [np.asarray(v.numpy()) for v in built] if built else [np.zeros_like(w) for w in weights],
                   optimizer)

    def equals(self, other):
        """Whether the weights and velocities of both states are bitwise the same."""
        return all(bitwise_equal(a, b) for a, b in self.pairs(other))

    def largest_difference(self, other):
        """max |a - b| over the weights and velocities of both states."""
        return max(float(np.max(np.abs(np.asarray(a, np.float64) - b))) for a, b in self.pairs(other))

    def pairs(self, other):
        return list(zip(self.weights, other.weights)) + list(zip(self.velocities, other.velocities))


def bitwise_equal(a, b):
    """Whether two arrays hold the same bits (so 0.0 is not -0.0, and a NaN equals the same NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def with_velocities(parameters, optimizer):
    """The State of a network with these parameters (Keras's order), trained by scratch's SGD
    `optimizer`, whose velocities (if any yet) are in kernels-then-biases order: copied."""
    return State(parameters, [v.copy() for v in interleaved(optimizer.velocities or [])])


def load_velocities(optimizer, velocities):
    """Give scratch's SGD `optimizer` the velocities of a State (none: it starts them at zero)."""
    optimizer.velocities = [v.copy() for v in kernels_then_biases(velocities)] or None


def interleaved(tensors):
    """[W^1, ..., W^L, b^1, ..., b^L] -> [W^1, b^1, ..., W^L, b^L], Keras's order."""
    half = len(tensors) // 2
    return [t for pair in zip(tensors[:half], tensors[half:]) for t in pair]


def kernels_then_biases(tensors):
    """[W^1, b^1, W^2, b^2, ...] -> [W^1, W^2, ..., b^1, b^2, ...], the scratch network's
    `weights + biases`, the order its optimizer keeps its velocities in; interleaved's inverse."""
    return list(tensors[0::2]) + list(tensors[1::2])
