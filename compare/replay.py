"""Replay: both twins taken back to a checkpoint and stepped again, one step at a time, to see inside
blocks of steps that compare/blocks.py checked only at their ends.

Both twins are deterministic (the same inputs give the same bits, on each backend as
keras_impl/device.py configures it), so a replay retraces the run: Keras's side on a second copy of
the twin (the one training stays untouched inside its fit), loaded with the checkpoint's weights and
optimizer variables (step count, learning rate, velocities) and trained by `fit` on the block's
mini-batches one step per execution; the scratch side on the scratch network itself, loaded with the
checkpoint's parameters and velocities. After each block both must hold bitwise what the run held at
that block's end (`differences`); compare/blocks.py reports a replay that does not.
"""
from dataclasses import dataclass

import keras
import numpy as np

from keras_impl.twin import build_twin

from .step_check import KerasState, bitwise_equal


@dataclass
class Checkpoint:
    """Both twins between two blocks: before global step `step`, step `index` of `epoch` (0-based)."""

    step: int
    epoch: int
    index: int
    keras: KerasState  # read whole: with every optimizer variable
    scratch: list  # copies of the scratch parameters [W^1, b^1, ...]
    velocities: list  # copies of the scratch optimizer's velocities (its own order), or None
    gap: float  # the trajectories' gap here, max |w_scratch - w_keras| / max(1, |w|)


@dataclass
class Block:
    """Steps first..last (indices within `epoch`, 0-based) of a run, between two checkpoints."""

    epoch: int
    first: int
    last: int
    start: Checkpoint
    end: Checkpoint


def scratch_checkpoint(runner, step, epoch, index, keras, gap):
    """A Checkpoint of the scratch side as it is now (the runner's network and optimizer), with Keras's."""
    velocities = runner.optimizer.velocities
    return Checkpoint(step, epoch, index, keras, runner.network.parameter_copies(),
                      None if velocities is None else [v.copy() for v in velocities], gap)


def load_scratch(runner, checkpoint):
    """Take the scratch network and its optimizer back to `checkpoint`."""
    runner.network.set_parameters(checkpoint.scratch)
    runner.optimizer.velocities = None if checkpoint.velocities is None else [v.copy() for v in checkpoint.velocities]


def load_keras(model, state):
    """Give `model` the weights and optimizer variables of `state` (a KerasState read whole). Read
    before fit's first step built the optimizer, a state has only its step count and learning rate:
    the velocities it had not made yet start at zero, as a new optimizer's do."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for variable, value in zip(model.trainable_weights, state.weights):
        variable.assign(value)
    for i, variable in enumerate(model.optimizer.variables):
        variable.assign(state.optimizer[i] if i < len(state.optimizer) else np.zeros(variable.shape, variable.dtype))


def differences(runner, keras_state, checkpoint):
    """[] when the scratch side (runner) and `keras_state` hold bitwise the states of `checkpoint`;
    otherwise the sides that do not, with their largest difference, e.g. ['keras 1.1e-16']."""
    scratch = KerasState(runner.network.parameter_copies(), list(runner.optimizer.velocities or []))
    recorded = KerasState(checkpoint.scratch, list(checkpoint.velocities or []))
    sides = {"scratch": (scratch, recorded), "keras": (keras_state, checkpoint.keras)}
    if not all(bitwise_equal(a, b) for a, b in zip(keras_state.optimizer, checkpoint.keras.optimizer)):
        sides["keras optimizer"] = (KerasState(keras_state.optimizer, []), KerasState(checkpoint.keras.optimizer, []))
    return [f"{side} {largest_difference(a, b):.1e}" for side, (a, b) in sides.items() if not a.equals(b)]


def largest_difference(a, b):
    """max |a - b| over the weights and velocities of two KerasStates."""
    pairs = list(zip(a.weights, b.weights)) + list(zip(a.velocities, b.velocities))
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - y))) for x, y in pairs)


class KerasReplay:
    """A second Keras twin that retraces blocks of the run from their checkpoints, one step per
    execution, built on the first replay (most runs never need one)."""

    def __init__(self, network, config, momentum):
        self.network, self.config, self.momentum, self.model = network, config, momentum, None

    def start(self, checkpoint):
        """Load the replaying twin with `checkpoint`'s Keras state."""
        if self.model is None:
            self.model = build_twin(self.network, self.config)
        load_keras(self.model, checkpoint.keras)

    def state(self):
        return KerasState.read(self.model, self.momentum, whole=True)

    def run(self, batches, batch_size, on_step):
        """Train on `batches` ([(x, y, labels)], in order) by fit; after each step calls
        on_step(k, Keras's running mean loss, its state) until on_step returns False."""
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        self.model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                       callbacks=[EachStep(on_step, self.momentum)])


class EachStep(keras.callbacks.Callback):
    """Calls on_step(k, running mean loss, KerasState after step k) after each step; stops fit when
    on_step returns False."""

    def __init__(self, on_step, momentum):
        super().__init__()
        self.on_step, self.momentum = on_step, momentum

    def on_train_batch_end(self, batch, logs=None):
        if not self.on_step(batch, float(logs["loss"]), KerasState.read(self.model, self.momentum)):
            self.model.stop_training = True
