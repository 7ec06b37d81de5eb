"""Both twins step by step (`--check every-step`): Keras trains through model.fit, and after each of
its mini-batches a callback takes the same step on the judged network, then compares the two, twice:

- the trajectories: the judged network's weights against Keras's (the gap, relative to
  max(1, |w|)), and both pre-update batch losses; the first step where they part is remembered;
- the step: the judged network's step taken from Keras's own state before the step, against Keras's
  state after it (compare/step_check.py); the first step that disagrees is remembered.

Trajectories that part while every step agrees are drift: rounding amplified by training, not a bug.
A loss of NaN or inf on either side stops training there. `Lockstep` is what both drivers share
(this module's `EveryStep`, and compare/blocks.py, which checks every few steps and replays a block
step by step through `compare_step` when a check fails); what they find goes to a Findings
(compare/findings.py).
"""
import math

import keras
import numpy as np

from .records import SUMMARY_KEYS, EpochEntry
from .state import State


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


class Lockstep:
    """The judged network's side of a comparison and its checks, for the callbacks that drive it:
    runner (a compare/epoch_runner.EpochRunner), step_check (StepCheck), findings (Findings),
    momentum (Keras's, to read its velocities), stopwatch (where time is booked) and
    on_epoch(EpochEntry, scratch logs, Keras logs)."""

    def __init__(self, runner, step_check, findings, momentum, stopwatch, on_epoch):
        self.runner, self.step_check, self.findings = runner, step_check, findings
        self.momentum, self.stopwatch, self.on_epoch = momentum, stopwatch, on_epoch

    def keras_state(self, model, whole=False):
        return State.of_keras(model, self.momentum, whole)

    def compare_step(self, step, epoch, batch, scratch_loss, keras_loss, loss_scale, before, after, own=None):
        """Compare step `step` (of `epoch`, 0-based, on the mini-batch `batch`), which took Keras from
        `before` to `after` and the judged network (whose own_state() was `own` before it) to where
        it is now; both sides' pre-update losses are given."""
        findings, losses = self.findings, [("loss", scratch_loss, keras_loss, loss_scale)]
        with self.stopwatch.part("comparing"):
            findings.losses(step, [scratch_loss], [keras_loss])
            findings.trajectories(step, epoch, self.runner.judged.parameter_copies(), after.weights, losses)
        if not (math.isfinite(scratch_loss) and math.isfinite(keras_loss)):
            findings.diverged(step, epoch, scratch_loss, keras_loss, self.non_finite_tensors(after))
            return
        with self.stopwatch.part("step check"):
            errors, probe_loss = self.step_check.errors(before, after, *batch, own=own)
            findings.same_state(step, epoch, errors, [("loss", probe_loss, keras_loss, loss_scale)],
                                (before, after, batch, own))

    def non_finite_tensors(self, keras_after):
        """The tensors holding NaN or inf, nearest the output first: the judged network's, else Keras's."""
        names, weights = self.findings.names, keras_after.weights
        keras_bad = [name for name, w in reversed(list(zip(names, weights))) if not np.isfinite(w).all()]
        return self.runner.judged.non_finite_tensors() or keras_bad

    def end_epoch(self, epoch, keras_logs, keras_state, first_step, last_step):
        """Epoch `epoch` ended, its steps first_step..last_step run: both sides' summaries compared
        (an epoch-end disagreement belongs to its last step), and the EpochEntry handed on."""
        scratch_logs, keras_logs = self.runner.end_epoch(), {k: float(v) for k, v in (keras_logs or {}).items()}
        ours = self.runner.judged.parameter_copies()
        losses = [(key, scratch_logs[key], keras_logs[key], scratch_logs[key])
                  for key in ("loss", "val_loss") if key in keras_logs]
        self.findings.trajectories(last_step, epoch, ours, keras_state.weights, losses)
        if "val_loss" in keras_logs and self.runner.validation_data is not None:
            with self.stopwatch.part("step check"):
                val_loss = self.step_check.evaluate(keras_state, *self.runner.validation_data,
                                                    own=self.runner.judged.own_state())
            self.findings.validation(last_step, epoch, val_loss, keras_logs["val_loss"])
        diffs = {name: float(np.abs(s - k).max()) for name, s, k in zip(self.findings.names, ours, keras_state.weights)}
        entry = EpochEntry(epoch + 1, {k: scratch_logs[k] for k in SUMMARY_KEYS},
                           {k: keras_logs[k] for k in SUMMARY_KEYS}, max(diffs.values()), diffs,
                           self.findings.worst_update_error(first_step, last_step))
        self.on_epoch(entry, scratch_logs, keras_logs)


class EveryStep(keras.callbacks.Callback):
    """A Keras callback that drives a Lockstep through the batch plan, comparing every step."""

    def __init__(self, lockstep):
        super().__init__()
        self.lockstep = lockstep
        self._before, self._step, self._epoch_first_step, self._running = None, 0, 0, RunningLoss()

    def on_epoch_begin(self, epoch, logs=None):
        if self._before is None:  # the first epoch: Keras's starting state
            self._before = self.lockstep.keras_state(self.model, whole=True)
        self.lockstep.runner.start_epoch(epoch)
        self._running, self._epoch_first_step = RunningLoss(), self._step

    def on_train_batch_end(self, batch, logs=None):
        lockstep, runner = self.lockstep, self.lockstep.runner
        with lockstep.stopwatch.part("scratch"):
            own = runner.judged.own_state()
            scratch_loss, _ = runner.step(batch)
        with lockstep.stopwatch.part("comparing"):
            after = lockstep.keras_state(self.model)
            keras_loss, loss_scale = self._running.next(float(logs["loss"]), len(runner.batches[batch][1]))
        lockstep.compare_step(self._step, runner.epoch, runner.batches[batch], scratch_loss, keras_loss, loss_scale,
                              self._before, after, own)
        self._before, self._step = after, self._step + 1
        lockstep.findings.ran(self._step)
        if lockstep.findings.non_finite:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.lockstep.end_epoch(epoch, logs, self._before, self._epoch_first_step, self._step - 1)
