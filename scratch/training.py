"""Training by mini-batch stochastic gradient descent, epoch after epoch.

An epoch shuffles the training set (by the batch plan), then for each mini-batch of m examples
runs backprop and moves every weight and bias against its gradient (`train_step`).
"""
import sys

import numpy as np

from . import losses as losses_module
from .batches import BatchPlan
from .network import count_correct
from .progress import ProgressBar

PROGRESS_BAR_MIN_STEPS = 500  # epochs with fewer steps print just their summary line


class Callback:
    """Hooks called by `fit`; override the ones you need."""

    def on_batch_end(self, epoch, step, logs):
        """After each mini-batch; logs has the batch's pre-update `loss` and `accuracy`."""

    def on_epoch_end(self, epoch, logs):
        """After each epoch; logs is that epoch's history entry."""


def train_step(network, x, y, loss, optimizer):
    """One SGD step on the mini-batch (x, y); returns its cost and correct count before the update."""
    nabla_w, nabla_b, zs, activations = network.backprop(x, y, loss)
    cost = loss.value(zs[-1], activations[-1], y, network.activations[-1])
    correct = count_correct(activations[-1], y)
    optimizer.apply(network.weights + network.biases, nabla_w + nabla_b)
    return float(cost), correct


def check_targets(network, x, y, what="training"):
    """(x, y) as arrays of the network's dtype with matching rows and one target column per output."""
    x = network.check_input(x, f"{what} data")
    y = np.asarray(y, dtype=network.dtype)
    if y.ndim != 2 or y.shape != (len(x), network.sizes[-1]):
        raise ValueError(
            f"{what} targets have shape {y.shape}; expected ({len(x)}, {network.sizes[-1]}): "
            "one row per example, one column per output neuron"
        )
    if not np.isfinite(y).all():
        raise ValueError(f"{what} targets contain NaN or inf: clean the data first")
    return x, y


def fit(network, x, y, loss, optimizer, epochs, batch_size=None, seed=0, plan=None,
        validation_data=None, callbacks=(), verbose=True, stream=None):
    """Train for `epochs` epochs; returns the history, one dict per epoch.

    Each entry has `loss` and `accuracy` as Keras reports them (the batch-size-weighted mean of the
    pre-update batch values), `train_loss` and `train_accuracy` on the whole training set at the
    end of the epoch, and `val_loss` and `val_accuracy` when validation data is given.
    """
    loss = losses_module.get(loss)
    x, y = check_targets(network, x, y)
    if validation_data is not None:
        validation_data = check_targets(network, *validation_data, what="validation")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    plan = plan or BatchPlan(len(x), batch_size, seed)
    stream = stream or sys.stdout
    history = []
    for epoch in range(epochs):
        order = plan.permutation(epoch)
        xs, ys = x[order], y[order]
        bar = ProgressBar(plan.steps_per_epoch, f"Epoch {epoch + 1}/{epochs}") \
            if verbose and plan.steps_per_epoch >= PROGRESS_BAR_MIN_STEPS else None
        total_cost = total_correct = 0.0
        for step, batch in enumerate(plan.slices()):
            cost, correct = train_step(network, xs[batch], ys[batch], loss, optimizer)
            size = len(ys[batch])
            total_cost += cost * size
            total_correct += correct
            for callback in callbacks:
                callback.on_batch_end(epoch, step, {"loss": cost, "accuracy": correct / size})
            if bar:
                bar.update(step + 1)
        logs = {"epoch": epoch + 1, "loss": total_cost / len(x), "accuracy": total_correct / len(x)}
        logs["train_loss"], logs["train_accuracy"] = network.evaluate(x, y, loss)
        if validation_data is not None:
            logs["val_loss"], logs["val_accuracy"] = network.evaluate(*validation_data, loss)
        history.append(logs)
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if verbose:
            print(format_epoch(logs, epochs), file=stream, flush=True)
    return history


def format_epoch(logs, epochs):
    """'Epoch 3/30  loss 0.01234  accuracy 91.20%  val_loss ...' for one history entry."""
    parts = [f"Epoch {logs['epoch']}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            value = logs[key]
            parts.append(f"{key} {value:.2%}" if key.endswith("accuracy") else f"{key} {value:.5f}")
    return "  ".join(parts)
