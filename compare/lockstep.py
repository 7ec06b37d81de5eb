"""Both twins step by step (`--check every-step`): Keras trains through model.fit, and after each of
its mini-batches a callback takes the same step on the scratch network, then compares the two, twice:

- the trajectories: the scratch network's weights against Keras's (the gap, relative to
  max(1, |w|)), and both pre-update batch losses; the first step where they part is remembered;
- the step: the scratch step taken from Keras's own state before the step, against Keras's state
  after it (compare/step_check.py); the first step that disagrees is remembered.

Trajectories that part while every step agrees are drift: rounding amplified by training, not a bug.
A loss of NaN or inf on either side stops training there. In backprop an error enters at some
layer and flows to every layer below it, so among the tensors out of tolerance at a step it names
the one nearest the output. compare/blocks.py checks every few steps instead, and replays a block
step by step through `compare_step` when a check fails.
"""
import math

import keras
import numpy as np

from scratch.training import EpochRunner

from .records import SUMMARY_KEYS, EpochEntry, NonFinite, Parting
from .step_check import KerasState, StepCheck


class RunningLoss:
    """Keras logs the running mean of the epoch's batch losses; this recovers each batch's own (or a
    block of batches' mean) from it, with the scale of that subtraction's rounding."""

    def __init__(self):
        self.seen, self.total = 0, 0.0

    def next(self, running_mean, size):
        """(the mean loss of the next `size` examples, the loss scale |their sum so far| / size)."""
        running = running_mean * (self.seen + size)
        loss = (running - self.total) / size
        self.seen, self.total = self.seen + size, running
        return loss, running / size

    def scales(self, losses, sizes):
        """The loss scales `next` would give the next steps, of these losses and sizes (nothing recorded)."""
        total, scales = self.total, []
        for loss, size in zip(losses, sizes):
            total += loss * size
            scales.append(total / size)
        return scales


class Lockstep(keras.callbacks.Callback):
    """A Keras callback that drives the scratch twin through the same batch plan, step by step.

    State, all of it:
      runner, names, tol      the scratch side (an EpochRunner), tensor names, the tolerances
      step_check, momentum    the probe that takes the scratch step from Keras's state (StepCheck)
      stopwatch, on_epoch     where time is booked; on_epoch(EpochEntry, scratch logs, Keras logs)
      step_losses             {"scratch": [...], "keras": [...]}: pre-update loss at every step
      gaps, step_errors       per step: the trajectories' gap and the step check's error e_k
                              (each series holds `total_steps` entries, None where not measured)
      parting, step_mismatch  None, or where the trajectories first parted / a step first disagreed
      non_finite              None, or where training first diverged
      mismatch_states         None, or (Keras before, Keras after, the mini-batch) at step_mismatch
      keras_before            Keras's state (KerasState) before the step about to be compared
      step, epoch_first_step  the global step about to be compared (0-based, across epochs), and
                              this epoch's first
      running                 this epoch's RunningLoss
    """

    def __init__(self, runner: EpochRunner, step_check: StepCheck, momentum, names, tolerances, stopwatch,
                 total_steps, on_epoch=None):
        super().__init__()
        self.runner, self.step_check, self.momentum = runner, step_check, momentum
        self.names, self.tol = names, tolerances
        self.stopwatch, self.on_epoch = stopwatch, on_epoch
        self.step_losses = {"scratch": [None] * total_steps, "keras": [None] * total_steps}
        self.gaps, self.step_errors = [None] * total_steps, [None] * total_steps
        self.parting = self.step_mismatch = self.non_finite = self.keras_before = self.mismatch_states = None
        self.step = self.epoch_first_step = 0
        self.running = RunningLoss()

    def series(self):
        """The per-step series of the steps run: {scratch_loss, keras_loss, weight_gap, update_error}."""
        n = self.step
        return {"scratch_loss": self.step_losses["scratch"][:n], "keras_loss": self.step_losses["keras"][:n],
                "weight_gap": self.gaps[:n], "update_error": self.step_errors[:n]}

    def on_epoch_begin(self, epoch, logs=None):
        if self.keras_before is None:  # the first epoch: Keras's starting state
            self.keras_before = KerasState.read(self.model, self.momentum, whole=True)
        self.runner.start_epoch(epoch)
        self.running, self.epoch_first_step = RunningLoss(), self.step

    def on_train_batch_end(self, batch, logs=None):
        with self.stopwatch.part("scratch"):
            scratch_loss, _ = self.runner.step(batch)
        with self.stopwatch.part("comparing"):
            keras_after = KerasState.read(self.model, self.momentum)
            keras_loss, loss_scale = self.running.next(float(logs["loss"]), len(self.runner.batches[batch][1]))
        self.compare_step(self.step, self.runner.epoch, self.runner.batches[batch], scratch_loss, keras_loss,
                          loss_scale, self.keras_before, keras_after)
        if self.non_finite:
            self.model.stop_training = True
        self.keras_before = keras_after
        self.step += 1

    def compare_step(self, step, epoch, batch, scratch_loss, keras_loss, loss_scale, before, after):
        """Compare step `step` (of `epoch`, 0-based, on the mini-batch `batch`), which took Keras from
        `before` to `after` and the scratch network to where it is now; both sides' pre-update losses
        are given. Records the step's series entries and what it is the first to show."""
        with self.stopwatch.part("comparing"):
            self.step_losses["scratch"][step], self.step_losses["keras"][step] = scratch_loss, keras_loss
            diffs = self.weight_diffs(after.weights)
            self.gaps[step] = max(diff / scale for diff, scale in diffs.values())
            self.check(step, epoch, diffs, scratch_loss, keras_loss, loss_scale)
        if math.isfinite(scratch_loss) and math.isfinite(keras_loss):
            with self.stopwatch.part("step check"):
                self.check_step(step, epoch, batch, before, after, keras_loss, loss_scale)
        else:
            self.step_errors[step] = math.nan  # the step is reported as divergence instead
            self.record_non_finite(step, epoch, scratch_loss, keras_loss, after)

    def check_step(self, step, epoch, batch, before, after, keras_loss, loss_scale):
        """The step check (compare/step_check.py) of one step; remembers the first step that disagrees."""
        errors, probe_loss = self.step_check.errors(before, after, *batch)
        self.step_errors[step] = float(np.max(list(errors.values())))  # NaN if any is NaN
        if self.step_mismatch is None:
            checks = {name: (error, self.tol.step_rel) for name, error in errors.items()}
            checks["loss"] = (abs(probe_loss - keras_loss) / max(1.0, abs(loss_scale)), self.tol.loss_rel)
            self.step_mismatch = first_out_of_tolerance(step, epoch, checks)
            if self.step_mismatch is not None:
                self.mismatch_states = (before, after, batch)

    def record_non_finite(self, step, epoch, scratch_loss, keras_loss, keras_after):
        """Record which side's loss went to NaN or inf first, and where (training stops there)."""
        sides = [side for side, v in (("scratch", scratch_loss), ("keras", keras_loss)) if not math.isfinite(v)]
        keras_bad = [name for name, w in reversed(list(zip(self.names, keras_after.weights)))
                     if not np.isfinite(w).all()]
        tensors = self.runner.network.non_finite_parameters() or keras_bad or [self.names[-2]]
        self.non_finite = NonFinite(" and ".join(sides), step, epoch + 1, tensors[0].split("/")[0], tensors[0],
                                    scratch_loss, keras_loss)

    def weight_diffs(self, keras_weights):
        """{tensor name: (max |w_scratch - w_keras|, max(1, max |w|))} for every weight and bias."""
        scratch = self.runner.network.live_parameters()
        return {name: (float(np.abs(s - k).max()), max(1.0, float(np.abs(s).max())))
                for name, s, k in zip(self.names, scratch, keras_weights)}

    def check(self, step, epoch, diffs, scratch_loss, keras_loss, loss_scale, what="loss"):
        """Remember the first step where a weight or a loss leaves tolerance."""
        if self.parting is not None:
            return
        for name in reversed(self.names):  # nearest the output first
            diff, scale = diffs[name]
            if not diff <= self.tol.weight_abs * scale:  # `not <=` also catches NaN
                self.parting = Parting(step, epoch + 1, name.split("/")[0], name, diff)
                return
        if not (math.isfinite(scratch_loss) and math.isfinite(keras_loss)):
            return  # a NaN or inf loss is reported as divergence, by record_non_finite
        loss_gap = abs(scratch_loss - keras_loss)
        if not loss_gap <= self.tol.loss_rel * max(1.0, abs(loss_scale)):
            self.parting = Parting(step, epoch + 1, what, what, loss_gap)

    def on_epoch_end(self, epoch, logs=None):
        scratch_logs = self.runner.end_epoch()
        keras_logs = {k: float(v) for k, v in (logs or {}).items()}
        diffs = self.weight_diffs(self.keras_before.weights)
        last_step = self.step - 1  # an epoch-end disagreement belongs to the epoch's last step
        for key in ("loss", "val_loss"):
            if key in keras_logs:
                self.check(last_step, epoch, diffs, scratch_logs[key], keras_logs[key], scratch_logs[key], what=key)
        self.check_validation(epoch, keras_logs)
        diffs = {name: diff for name, (diff, _) in diffs.items()}
        entry = EpochEntry(epoch + 1, {k: scratch_logs[k] for k in SUMMARY_KEYS},
                           {k: keras_logs[k] for k in SUMMARY_KEYS}, max(diffs.values()), diffs,
                           self.epoch_update_error())
        if self.on_epoch:
            self.on_epoch(entry, scratch_logs, keras_logs)

    def epoch_update_error(self):
        """The step check's worst error in this epoch (NaN errors, of diverged steps, left out)."""
        errors = [e for e in self.step_errors[self.epoch_first_step:self.step] if e is not None and not math.isnan(e)]
        return max(errors, default=0.0)

    def check_validation(self, epoch, keras_logs):
        """The step check of evaluation: the scratch validation loss at Keras's weights against Keras's
        (not after a divergence, which leaves both NaN or inf)."""
        if self.step_mismatch is not None or self.non_finite is not None or "val_loss" not in keras_logs or \
                self.runner.validation_data is None:
            return
        with self.stopwatch.part("step check"):
            val_loss = self.step_check.evaluate(self.keras_before, *self.runner.validation_data)
        gap = abs(val_loss - keras_logs["val_loss"]) / max(1.0, abs(val_loss))
        self.step_mismatch = first_out_of_tolerance(self.step - 1, epoch, {"val_loss": (gap, self.tol.loss_rel)})


def first_out_of_tolerance(step, epoch, checks):
    """A Parting at `step` (of `epoch`, 0-based) for the first of `checks` ({name: (relative error,
    tolerance)}) out of tolerance, or None."""
    for name, (error, tolerance) in checks.items():
        if not error <= tolerance:  # `not <=` also catches NaN
            return Parting(step, epoch + 1, name.split("/")[0], name, error)
    return None
