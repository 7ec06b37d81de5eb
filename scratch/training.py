"""Training by mini-batch stochastic gradient descent, epoch after epoch.

An epoch shuffles the training set (by the batch plan), then for each mini-batch of m examples
runs backprop and moves every weight and bias against its gradient (`train_step`).
"""
import math

import numpy as np

from . import losses as losses_module
from .batches import BatchPlan
from .network import count_correct, labels_of
from .progress import ProgressBar

PROGRESS_BAR_MIN_STEPS = 500  # epochs with fewer steps print just their summary line


class Diverged(ArithmeticError):
    """Training produced a loss of NaN or inf: the learning rate is too large for this network."""

    def __init__(self, epoch, step, cost, tensors):
        where = f"non-finite weights first in {tensors[0]}" if tensors else "weights still finite, outputs overflowed"
        super().__init__(f"training diverged at epoch {epoch + 1}, step {step}: the loss is {cost} "
                         f"({where}); try a smaller --lr")
        self.epoch, self.step, self.cost, self.tensors = epoch, step, cost, tensors


class Callback:
    """Hooks called by `fit`; override the ones you need."""

    def on_batch_end(self, epoch, step, logs):
        """After each mini-batch; logs has the batch's pre-update `loss` and `accuracy`."""

    def on_epoch_end(self, epoch, logs):
        """After each epoch; logs is that epoch's history entry."""


def train_step(network, x, y, loss, optimizer, labels=None):
    """One SGD step on the mini-batch (x, y); returns its cost and correct count before the update.

    `labels` (labels_of(y)) may be passed in when known, to save recomputing them.
    """
    loss = losses_module.get(loss)
    nabla_w, nabla_b, zs, activations = network.backprop(x, y, loss)
    cost = loss.value(zs[-1], activations[-1], y, network.activation_functions[-1])
    correct = count_correct(activations[-1], labels_of(y) if labels is None else labels)
    optimizer.apply(network.weights + network.biases, nabla_w + nabla_b)
    return float(cost), correct


def check_targets(network, x, y, what="training", loss=None):
    """(x, y) as arrays of the network's dtype with matching rows and one target column per output,
    or, for a loss that takes class labels (`sparse`), one label 0..k-1 per row."""
    x = network.check_input(x, f"{what} data")
    y = np.asarray(y, dtype=network.dtype)
    if not np.isfinite(y).all():
        raise ValueError(f"{what} targets contain NaN or inf: clean the data first")
    if loss is not None and losses_module.get(loss).sparse:
        return x, check_class_labels(y, len(x), network.sizes[-1], what)
    if y.ndim != 2 or y.shape != (len(x), network.sizes[-1]):
        hint = " (class labels go with sparse_categorical_crossentropy)" if y.ndim == 1 else ""
        raise ValueError(
            f"{what} targets have shape {y.shape}; expected ({len(x)}, {network.sizes[-1]}): "
            f"one row per example, one column per output neuron{hint}"
        )
    return x, y


def check_class_labels(t, n, k, what):
    """t as n class labels, whole numbers 0..k-1; ValueError otherwise."""
    if t.ndim != 1 or len(t) != n:
        hint = ": one-hot rows go with categorical_crossentropy" if t.ndim == 2 and t.shape[1] == k else ""
        raise ValueError(f"{what} targets have shape {t.shape}; sparse_categorical_crossentropy takes ({n},), "
                         f"one class label per example{hint}")
    bad = (t != np.round(t)) | (t < 0) | (t >= k)
    if bad.any():
        raise ValueError(f"{what} targets hold the class label {t[bad][0]:g}: labels must be whole numbers "
                         f"0..{k - 1}, one per output neuron")
    return t


class EpochRunner:
    """Runs the steps of each epoch of a batch plan and keeps the epoch's statistics.

    `fit` drives it in a loop; the comparison harness drives it from Keras's batch callbacks,
    so that both twins take step k on the same mini-batch.
    """

    def __init__(self, network, x, y, loss, optimizer, plan, validation_data=None, step=train_step):
        """`step(network, x, y, loss, optimizer, labels)` takes one SGD step (train_step by default)."""
        self.network, self.loss, self.optimizer, self.plan = network, losses_module.get(loss), optimizer, plan
        self.train_step = step
        self.x, self.y = check_targets(network, x, y, loss=loss)
        self.validation_data = None if validation_data is None else \
            check_targets(network, *validation_data, what="validation", loss=loss)

    def start_epoch(self, epoch):
        """Shuffle by the plan's permutation for this epoch (0-based) and cut it into mini-batches."""
        self.epoch = epoch
        self.batches = self.batches_of(epoch)
        self.total_cost = self.total_correct = 0.0

    def batches_of(self, epoch):
        """The mini-batches (x, y, labels) of an epoch (0-based), in the plan's order."""
        order = self.plan.permutation(epoch)
        xs, ys = self.x[order], self.y[order]
        labels = labels_of(ys)
        return [(xs[s], ys[s], labels[s]) for s in self.plan.slices()]  # views, not copies

    def step(self, k):
        """SGD on mini-batch k of this epoch; returns its pre-update cost and accuracy."""
        x, y, labels = self.batches[k]
        cost, correct = self.train_step(self.network, x, y, self.loss, self.optimizer, labels)
        self.total_cost += cost * len(y)
        self.total_correct += correct
        return cost, correct / len(y)

    def end_epoch(self):
        """This epoch's history entry (see `fit`)."""
        n = len(self.x)
        logs = {"epoch": self.epoch + 1, "loss": self.total_cost / n, "accuracy": self.total_correct / n}
        logs["train_loss"], logs["train_accuracy"] = self.network.evaluate(self.x, self.y, self.loss)
        if self.validation_data is not None:
            logs["val_loss"], logs["val_accuracy"] = self.network.evaluate(*self.validation_data, self.loss)
        return logs


def check_epochs(epochs):
    """ValueError unless `epochs` is a positive integer."""
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")


def fit(network, x, y, loss, optimizer, epochs, batch_size=None, seed=0, plan=None,
        validation_data=None, callbacks=(), verbose=True):
    """Train for `epochs` epochs; returns the history, one dict per epoch.

    Each entry has `loss` and `accuracy` as Keras reports them (the batch-size-weighted mean of the
    pre-update batch values), `train_loss` and `train_accuracy` on the whole training set at the
    end of the epoch, and `val_loss` and `val_accuracy` when validation data is given.
    Raises Diverged at the first mini-batch whose loss is NaN or inf.
    """
    check_epochs(epochs)
    plan = plan or BatchPlan(len(x), batch_size, seed)
    runner = EpochRunner(network, x, y, loss, optimizer, plan, validation_data)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by its loss instead
        return [run_epoch(runner, epoch, epochs, callbacks, verbose) for epoch in range(epochs)]


def run_epoch(runner, epoch, epochs, callbacks, verbose):
    """One epoch of `fit`; returns its history entry."""
    steps = runner.plan.steps_per_epoch
    runner.start_epoch(epoch)
    bar = ProgressBar(steps, f"Epoch {epoch + 1}/{epochs}") if verbose and steps >= PROGRESS_BAR_MIN_STEPS else None
    for step in range(steps):
        cost, accuracy = runner.step(step)
        if not math.isfinite(cost):
            raise Diverged(epoch, step, cost, runner.network.non_finite_parameters())
        for callback in callbacks:
            callback.on_batch_end(epoch, step, {"loss": cost, "accuracy": accuracy})
        if bar:
            bar.update(step + 1)
    logs = runner.end_epoch()
    for callback in callbacks:
        callback.on_epoch_end(epoch, logs)
    if verbose:
        print(format_epoch(logs, epochs), flush=True)
    return logs


def format_epoch(logs, epochs):
    """'Epoch 3/30  loss 0.01234  accuracy 91.20%  val_loss ...' for one history entry."""
    parts = [f"Epoch {logs['epoch']}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            value = logs[key]
            parts.append(f"{key} {value:.2%}" if key.endswith("accuracy") else f"{key} {value:.5f}")
    return "  ".join(parts)
