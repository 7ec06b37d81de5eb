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

from .state import State, bitwise_equal


@dataclass
class Checkpoint:
    """Both twins between two blocks: before global step `step`, step `index` of `epoch` (0-based)."""

    step: int
    epoch: int
    index: int
    keras: State  # read whole: with every optimizer variable
    scratch: State  # the judged network's snapshot
    gap: float  # the trajectories' gap here, max |w_scratch - w_keras| / max(1, |w_keras|)


@dataclass
class Block:
    """Steps first..last (indices within `epoch`, 0-based) of a run, between two checkpoints."""

    epoch: int
    first: int
    last: int
    start: Checkpoint
    end: Checkpoint


def load_keras(model, state):
    """Give `model` the weights and optimizer variables of `state` (a State read whole). Read
    before fit's first step built the optimizer, a state has only its step count and learning rate:
    the velocities it had not made yet start at zero, as a new optimizer's do."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for variable, value in zip(model.trainable_weights, state.weights):
        variable.assign(value)
    for i, variable in enumerate(model.optimizer.variables):
        variable.assign(state.optimizer[i] if i < len(state.optimizer) else np.zeros(variable.shape, variable.dtype))


def differences(scratch, keras_state, checkpoint):
    """[] when the judged network's state `scratch` and `keras_state` are bitwise the states of
    `checkpoint`; otherwise the sides that are not, with their largest difference, e.g. ['keras 1.1e-16']."""
    sides = {"scratch": (scratch, checkpoint.scratch), "keras": (keras_state, checkpoint.keras)}
    if not all(bitwise_equal(a, b) for a, b in zip(keras_state.optimizer, checkpoint.keras.optimizer)):
        sides["keras optimizer"] = (State(keras_state.optimizer, []), State(checkpoint.keras.optimizer, []))
    return [f"{side} {a.largest_difference(b):.1e}" for side, (a, b) in sides.items() if not a.equals(b)]


class KerasReplay:
    """A second Keras twin that retraces blocks of the run from their checkpoints, one step per
    execution, built on the first replay (most runs never need one)."""

    def __init__(self, network, config, momentum):
        self.network, self.config, self.momentum, self.model = network, config, momentum, None

    def start(self, checkpoint):
        """Load the replaying twin with `checkpoint`'s Keras state."""
        if self.model is None:
            self.model = build_twin(self.network, self.config, self.network.l2)
        load_keras(self.model, checkpoint.keras)

    def state(self):
        return State.of_keras(self.model, self.momentum, whole=True)

    def run(self, batches, batch_size, on_step):
        """Train on `batches` ([(x, y, labels)], in order) by fit; after each step calls
        on_step(k, Keras's running mean loss, its state) until on_step returns False."""
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        self.model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                       callbacks=[EachStep(on_step, self.momentum)])


class EachStep(keras.callbacks.Callback):
    """Calls on_step(k, running mean loss, Keras's State after step k) after each step; stops fit when
    on_step returns False."""

    def __init__(self, on_step, momentum):
        super().__init__()
        self.on_step, self.momentum = on_step, momentum

    def on_train_batch_end(self, batch, logs=None):
        if not self.on_step(batch, float(logs["loss"]), State.of_keras(self.model, self.momentum)):
            self.model.stop_training = True
