"""Training by mini-batch stochastic gradient descent, epoch after epoch.

An epoch shuffles the training set (by the batch plan), then for each mini-batch of m examples
runs backprop and moves every weight and bias against its gradient (`train_step`); with an L2
term (scratch/regularization.py) each weight decays too.
"""
import math

import numpy as np

from . import losses as losses_module
from .batches import BatchPlan
from .network import check_input, count_correct, labels_of
from .progress import ProgressBar
from .regularization import NONE

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


def train_step(network, x, y, loss, optimizer, labels=None, l2=NONE):
    """One SGD step on the mini-batch (x, y) for the cost C0 (+ the L2 term `l2`); returns the cost
    and correct count before the update.

    `labels` (labels_of(y)) may be passed in when known, to save recomputing them.
    """
    loss = losses_module.get(loss)
    zs, activations = network.forward(x)
    cost = loss.value(zs[-1], activations[-1], y, network.activation_functions[-1]) + l2.penalty(network.weights)
    correct = count_correct(activations[-1], labels_of(y) if labels is None else labels)
    nabla_w, nabla_b = network.backprop(x, y, loss, (zs, activations))
    optimizer.apply(network.weights + network.biases, nabla_w + nabla_b, l2.decays(network.num_layers))
    return float(cost), correct


def check_targets(network, x, y, what="training", loss=None):
    """(x, y) as arrays of the network's dtype with matching rows and one target column per output,
    or, for a loss that takes class labels (`sparse`), one label 0..k-1 per row."""
    x = check_input(x, network.sizes[0], network.dtype, f"{what} data")
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


def mini_batches(plan, x, y, epoch):
    """The mini-batches (x, y, labels) of an epoch (0-based): the examples in the plan's order for
    that epoch, cut into the plan's slices (views, not copies)."""
    order = plan.permutation(epoch)
    xs, ys = x[order], y[order]
    labels = labels_of(ys)
    return [(xs[s], ys[s], labels[s]) for s in plan.slices()]


def check_epochs(epochs):
    """ValueError unless `epochs` is a positive integer."""
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")


def fit(network, x, y, loss, optimizer, epochs, batch_size=None, seed=0, plan=None,
        validation_data=None, callbacks=(), verbose=True, l2=NONE):
    """Train for `epochs` epochs, the cost being the loss's C0 plus the L2 term `l2`
    (scratch/regularization.py, its n the size of x) if any; returns the history, one dict per epoch.

    Each entry has `loss` and `accuracy` as Keras reports them (the batch-size-weighted mean of the
    pre-update batch values), `train_loss` and `train_accuracy` on the whole training set at the
    end of the epoch, and `val_loss` and `val_accuracy` when validation data is given.
    Raises Diverged at the first mini-batch whose loss is NaN or inf.
    """
    check_epochs(epochs)
    x, y = check_targets(network, x, y, loss=loss)
    if validation_data is not None:
        validation_data = check_targets(network, *validation_data, what="validation", loss=loss)
    plan = plan or BatchPlan(len(x), batch_size, seed)
    history = []
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by its loss instead
        for epoch in range(epochs):
            bar = ProgressBar(plan.steps_per_epoch, f"Epoch {epoch + 1}/{epochs}") \
                if verbose and plan.steps_per_epoch >= PROGRESS_BAR_MIN_STEPS else None
            total_cost = total_correct = 0.0
            for step, (x_batch, y_batch, labels) in enumerate(mini_batches(plan, x, y, epoch)):
                cost, correct = train_step(network, x_batch, y_batch, loss, optimizer, labels, l2)
                if not math.isfinite(cost):
                    raise Diverged(epoch, step, cost, network.non_finite_parameters())
                total_cost, total_correct = total_cost + cost * len(y_batch), total_correct + correct
                for callback in callbacks:
                    callback.on_batch_end(epoch, step, {"loss": cost, "accuracy": correct / len(y_batch)})
                if bar:
                    bar.update(step + 1)
            history.append(end_of_epoch(network, epoch, total_cost, total_correct, x, y, loss, validation_data, l2))
            for callback in callbacks:
                callback.on_epoch_end(epoch, history[-1])
            if verbose:
                print(format_epoch(history[-1], epochs), flush=True)
    return history


def end_of_epoch(network, epoch, total_cost, total_correct, x, y, loss, validation_data=None, l2=NONE):
    """An epoch's history entry (see `fit`), from the sums of its mini-batches' costs (each times
    its size) and correct counts. The L2 term is lambda / 2n sum w^2 on every set, n the training
    set's size (as Keras adds it), where the book's total_cost takes n from the set evaluated."""
    logs = {"epoch": epoch + 1, "loss": total_cost / len(x), "accuracy": total_correct / len(x)}
    logs["train_loss"], logs["train_accuracy"] = network.evaluate(x, y, loss, l2)
    if validation_data is not None:
        logs["val_loss"], logs["val_accuracy"] = network.evaluate(*validation_data, loss, l2)
    return logs


def format_epoch(logs, epochs):
    """'Epoch 3/30  loss 0.01234  accuracy 91.20%  val_loss ...' for one history entry."""
    parts = [f"Epoch {logs['epoch']}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            value = logs[key]
            parts.append(f"{key} {value:.2%}" if key.endswith("accuracy") else f"{key} {value:.5f}")
    return "  ".join(parts)
