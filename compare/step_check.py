"""The per-step check: the scratch training step, taken from Keras's own state, against Keras's step.

At step k, load Keras's weights and velocities from before step k into a probe copy of the scratch
network and its optimizer, take the scratch step (scratch.training.train_step) on step k's
mini-batch, and compare the result with Keras's state after step k:

    e_k = max over tensors T of  max |T_probe - T_keras| / max(1, max |T_keras|)

where T runs over every weight, bias and (with momentum) velocity. Both sides start step k from the
same state, so e_k measures that one step alone: rounding (about 1e-16 in float64) when the twins
compute the same step, the size of the bug when they do not. Unlike the gap between the two
trajectories, it cannot grow by amplification; it is what tells a bug (mismatch) from a run that
amplifies rounding (drift). The probe's pre-update loss is held against Keras's batch loss too.
"""
import copy
from dataclasses import dataclass

import numpy as np

from scratch.training import train_step


@dataclass
class KerasState:
    """Keras's training state between two steps, as NumPy arrays in trainable_weights order
    [W^1, b^1, W^2, b^2, ...]: the weights, and the SGD velocities ([] without momentum); read
    `whole`, also every optimizer variable (its step count, learning rate and velocities), all that
    a replay (compare/replay.py) starting from this state needs."""

    weights: list
    velocities: list
    optimizer: list = None

    @classmethod
    def read(cls, model, momentum, whole=False):
        weights = [np.asarray(w.numpy()) for w in model.trainable_weights]
        optimizer = [np.asarray(v.numpy()) for v in model.optimizer.variables] if whole else None
        if momentum == 0:
            return cls(weights, [], optimizer)
        built = getattr(model.optimizer, "momentums", None)  # by fit, before step 0; zeros until then
        return cls(weights, [np.asarray(v.numpy()) for v in built] if built else [np.zeros_like(w) for w in weights],
                   optimizer)

    def equals(self, other):
        """Whether the weights and velocities of both states are bitwise the same."""
        pairs = list(zip(self.weights, other.weights)) + list(zip(self.velocities, other.velocities))
        return all(bitwise_equal(a, b) for a, b in pairs)


def bitwise_equal(a, b):
    """Whether two arrays hold the same bits (so 0.0 is not -0.0, and a NaN equals the same NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def kernels_then_biases(tensors):
    """[W^1, b^1, W^2, b^2, ...] -> [W^1, W^2, ..., b^1, b^2, ...], the order train_step updates in."""
    return list(tensors[0::2]) + list(tensors[1::2])


def interleaved(tensors):
    """The inverse of kernels_then_biases."""
    half = len(tensors) // 2
    return [t for pair in zip(tensors[:half], tensors[half:]) for t in pair]


def relative_error(ours, theirs):
    """max |ours - theirs| / max(1, max |theirs|), where equal entries (inf and inf too) differ by 0;
    NaN when either side holds NaN."""
    gap = np.abs(ours - theirs)
    if not np.isfinite(gap).all():  # inf - inf is NaN, yet both sides overflowed alike
        gap[ours == theirs] = 0
    return float(gap.max()) / max(1.0, float(np.abs(theirs).max()))


class StepCheck:
    """Takes the scratch step from Keras's state and measures e_k, per tensor, nearest the output first."""

    def __init__(self, network, loss, optimizer, names, step=train_step):
        self.probe, self.optimizer = copy.deepcopy(network), optimizer
        self.loss, self.names, self.train_step = loss, names, step

    def errors(self, before, after, x, y, labels):
        """({tensor name: e_k of that tensor}, the probe's pre-update loss) for the step from `before`
        (a KerasState) on the mini-batch (x, y) against Keras's `after`."""
        errors, (loss,) = self.block_errors(before, after, [(x, y, labels)])
        return errors, loss

    def block_errors(self, before, after, batches):
        """The same for several steps, one per mini-batch (x, y, labels) of `batches`, all taken from
        `before`: ({tensor name: its error after the last step}, the probe's pre-update loss at each)."""
        self.probe.set_parameters(before.weights)
        self.optimizer.velocities = [v.copy() for v in kernels_then_biases(before.velocities)] or None
        losses = [self.train_step(self.probe, x, y, self.loss, self.optimizer, labels)[0] for x, y, labels in batches]
        errors = {}
        probe_weights, probe_velocities = self.probe.live_parameters(), interleaved(self.optimizer.velocities or [])
        for i in reversed(range(len(self.names))):  # nearest the output first
            errors[self.names[i]] = relative_error(probe_weights[i], after.weights[i])
            if probe_velocities:
                errors[f"{self.names[i]}/velocity"] = relative_error(probe_velocities[i], after.velocities[i])
        return errors, losses

    def evaluate(self, state, x, y):
        """The scratch cost over (x, y) at the weights of `state` (a KerasState)."""
        self.probe.set_parameters(state.weights)
        return self.probe.evaluate(x, y, self.loss)[0]
