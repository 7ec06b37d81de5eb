"""The judged network's side of the lockstep: its steps taken one at a time, as Keras's callbacks
call for them, on the same mini-batches as Keras, with the epoch's totals kept as Keras keeps its
logs (scratch/training.py's `fit` is the same loop, run by itself)."""
from scratch.training import check_targets, mini_batches


class EpochRunner:
    """Steps `judged` (compare/judged.py) through the epochs of a batch plan.

    State: judged, plan, x, y, validation_data; and, for the epoch in progress, epoch (0-based),
    batches ([(x, y, labels)]) and totals (the sum of the steps' costs, each times its mini-batch's
    size, and of their correct counts)."""

    def __init__(self, judged, x, y, loss, plan, validation_data=None):
        self.judged, self.plan = judged, plan
        self.x, self.y = check_targets(judged, x, y, loss=loss)
        self.validation_data = None if validation_data is None else \
            check_targets(judged, *validation_data, what="validation", loss=loss)
        self.epoch, self.batches, self.totals = None, [], (0.0, 0)

    def start_epoch(self, epoch):
        """This epoch's mini-batches, in the plan's order; its totals back to zero."""
        self.epoch, self.batches, self.totals = epoch, self.batches_of(epoch), (0.0, 0)

    def batches_of(self, epoch):
        """The mini-batches (x, y, labels) of an epoch (0-based)."""
        return mini_batches(self.plan, self.x, self.y, epoch)

    def step(self, k):
        """Step on mini-batch k of this epoch; returns its pre-update cost and accuracy."""
        x, y, labels = self.batches[k]
        cost, correct = self.judged.train_step(x, y, labels)
        self.totals = (self.totals[0] + cost * len(y), self.totals[1] + correct)
        return cost, correct / len(y)

    def take_back(self, totals):
        """The epoch's totals as they were (`totals`, read earlier), for steps a stop undoes."""
        self.totals = totals

    def end_epoch(self):
        """This epoch's summary, as scratch.training.fit's history entry."""
        n = len(self.x)
        logs = {"epoch": self.epoch + 1, "loss": self.totals[0] / n, "accuracy": self.totals[1] / n}
        logs["train_loss"], logs["train_accuracy"] = self.judged.evaluate(self.x, self.y)
        if self.validation_data is not None:
            logs["val_loss"], logs["val_accuracy"] = self.judged.evaluate(*self.validation_data)
        return logs
