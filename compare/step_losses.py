"""Keras's loss at every step of a block, for `--check blocks` (compare/blocks.py).

With steps_per_execution = K, fit calls back once per K steps and its logs hold only the running
mean of the epoch's losses, so each step's own loss cannot be recovered from them. StepLosses is a
Keras metric that keeps it: at step j of an epoch (counted from 0), inside the compiled train step,

    losses[j mod K] = C(y, a)

the loss C of that step's pre-update forward pass a, computed again by a loss object of the same
kind as the compiled one (keras_impl.twin.keras_loss). Blocks start at multiples of K within an
epoch, so at a block's end its n steps' losses are losses[0], ..., losses[n - 1]. Its result is an
empty dict: it adds nothing to fit's logs, the progress bar or TensorBoard. Keras resets it, as
every metric, when an epoch or an evaluation starts.
"""
import keras
import numpy as np


class StepLosses(keras.metrics.Metric):
    """Keeps the loss of each of the last `steps` training steps (`loss`: a Keras loss object)."""

    def __init__(self, loss, steps, name="step_losses", **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss, self.steps = loss, steps
        self.losses = self.add_variable(shape=(steps,), initializer="zeros", name="losses")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="int64", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        loss = keras.ops.cast(self.loss(y_true, y_pred), self.losses.dtype)
        slot = keras.ops.arange(self.steps, dtype="int64") == self.count.value % self.steps
        self.losses.assign(keras.ops.where(slot, loss, self.losses.value))
        self.count.assign(self.count.value + 1)

    def result(self):
        return {}

    def reset_state(self):
        self.losses.assign(keras.ops.zeros(self.losses.shape, self.losses.dtype))
        self.count.assign(0)

    def read(self, n):
        """The losses of the block's n steps (call at its end), as Python floats."""
        return [float(v) for v in np.asarray(self.losses.numpy())[:n]]
