"""Training the Keras twin with model.fit over the scratch batch plan.

Each epoch hands `fit` the training set in that epoch's permuted order with shuffle=False, so
Keras cuts exactly the plan's mini-batches (the last one partial) in the plan's order.

TensorBoard: on TensorFlow, Keras's own callback (PlanTensorBoard); on JAX and PyTorch, which may
run where TensorFlow is not installed, EventFileTensorBoard writes the same folders and tags with
the `tensorboard` package alone.
"""
import errno
import os

import keras
import numpy as np

from .event_files import EventFile
from .interrupts import raise_if_noted


class PlanProgbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, counting epochs over the whole plan rather than one fit call."""

    def __init__(self, epochs):
        super().__init__()
        self.total_epochs = epochs

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.total_epochs


class SignalsStopTraining(keras.callbacks.Callback):
    """Last in fit's callbacks, inside interrupts.deferred: a signal noted during a step (or block of
    steps) stops training once the other callbacks have dealt with it, by raising it here."""

    def on_train_batch_end(self, batch, logs=None):
        raise_if_noted()

    def on_epoch_end(self, epoch, logs=None):
        raise_if_noted()


def write_failed_as_os_error(method):
    """A write that TensorFlow's summary writer could not make (a full disk, a folder deleted during
    the run) raised as the OSError our own event files raise, with TensorFlow's reason as its strerror."""

    def writing(self, *args, **kwargs):
        import tensorflow as tf

        try:
            return method(self, *args, **kwargs)
        except tf.errors.OpError as e:
            first_line = (e.message or str(e)).splitlines()[0]
            raise OSError(errno.EIO, first_line.rsplit("; ", 1)[-1]) from None

    return writing


class PlanTensorBoard(keras.callbacks.TensorBoard):
    """keras.callbacks.TensorBoard keeping one writer (one event file) per folder across the
    per-epoch fit calls (the stock callback opens new ones in every call), logging epoch e (from 0)
    at step e + 1."""

    @write_failed_as_os_error
    def set_model(self, model):  # writes the model's graph
        if getattr(self, "_model", None) is not model:  # later fit calls: keep the open writers
            super().set_model(model)

    @write_failed_as_os_error
    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)

    def on_train_batch_end(self, batch, logs=None):
        # With update_freq="epoch" nothing is written per batch, yet the stock callback still turns
        # every batch's logs into float32 tensors, which fails for a finite loss beyond float32's
        # range (a diverging float64 run). It gets no logs.
        super().on_train_batch_end(batch, None if self.update_freq == "epoch" else logs)

    @write_failed_as_os_error
    def on_epoch_end(self, epoch, logs=None):
        # Logged at step epoch + 1, so TensorBoard's x axis counts epochs 1, 2, ... as the CLIs print.
        # float64 values convert without that overflow error (TensorBoard stores them as float32).
        super().on_epoch_end(epoch + 1, {k: np.float64(v) for k, v in (logs or {}).items()})

    @write_failed_as_os_error
    def on_test_end(self, logs=None):
        # The stock callback logs the validation losses here too (evaluation_loss_vs_iterations), as
        # Python floats, which summary.scalar refuses beyond float32's range: float64 values are stored
        # (as inf) instead, and a diverging run takes the divergence path.
        super().on_test_end({k: np.float64(v) for k, v in (logs or {}).items()})

    def _collect_learning_rate(self, logs):
        # The stock callback adds the learning rate as a Python float, which summary.scalar refuses
        # beyond float32's range (--lr 1e39 in a float64 run); a float64 is stored (as inf) instead.
        return {k: np.float64(v) for k, v in super()._collect_learning_rate(logs).items()}

    def on_train_end(self, logs=None):
        pass  # the stock callback closes its writers here; `close` does it once, at the end

    @write_failed_as_os_error
    def close(self):
        super().on_train_end()


class EventFileTensorBoard(keras.callbacks.Callback):
    """What PlanTensorBoard writes, without TensorFlow: per epoch (at step epoch + 1) the logs as
    epoch_<name> in <log_dir>/train and <log_dir>/validation, the learning rate, and with
    histogram_freq=1 each weight's histogram, tagged with its path as Keras tags it."""

    def __init__(self, log_dir, histogram_freq=0):
        super().__init__()
        self.log_dir, self.histogram_freq = log_dir, histogram_freq
        self.files = {}

    def file(self, side):
        if side not in self.files:
            self.files[side] = EventFile(os.path.join(self.log_dir, side))
        return self.files[side]

    def on_epoch_end(self, epoch, logs=None):
        logs, step = logs or {}, epoch + 1
        learning_rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        for name, value in {**logs, "learning_rate": learning_rate}.items():
            side, name = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self.file(side).scalar(f"epoch_{name}", value, step)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for weight in self.model.weights:
                self.file("train").histogram(f"{weight.path.replace(':', '_')}/histogram",
                                             keras.ops.convert_to_numpy(weight.value), step)
        for file in self.files.values():
            file.flush()

    def close(self):
        for file in self.files.values():
            file.close()


def tensorboard_callback(log_dir, histogram_freq=0):
    """Keras's TensorBoard callback on TensorFlow, its TensorFlow-free stand-in on the other backends."""
    board = PlanTensorBoard if keras.backend.backend() == "tensorflow" else EventFileTensorBoard
    return board(log_dir, histogram_freq=histogram_freq)


def fit_with_plan(model, x, y, plan, epochs, validation_data=None, callbacks=(), verbose=1):
    """model.fit, one call per epoch over plan.permutation(epoch); returns the history, one dict per epoch.
    A callback that sets model.stop_training ends the whole plan, not just that epoch."""
    history = []
    progbar = [PlanProgbar(epochs)] if verbose else []
    try:
        for epoch in range(epochs):
            order = plan.permutation(epoch)
            result = model.fit(x[order], y[order], batch_size=plan.batch_size, epochs=epoch + 1,
                               initial_epoch=epoch, shuffle=False, validation_data=validation_data,
                               callbacks=[*progbar, *callbacks], verbose=verbose)
            history.append({"epoch": epoch + 1, **{k: v[-1] for k, v in result.history.items()}})
            if model.stop_training:  # a callback stopped this epoch early: stop the plan too
                break
    finally:  # the CLIs hold signals back around fit (interrupts.deferred): the files are closed whole
        for callback in callbacks:
            if isinstance(callback, (PlanTensorBoard, EventFileTensorBoard)):
                callback.close()
    return history
