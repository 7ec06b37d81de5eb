"""Both twins step by step: Keras trains through model.fit, and after each of its mini-batches a
callback takes the same step on the scratch network, then compares the two.

Per step it records both pre-update batch losses and max |w_scratch - w_keras| per tensor, and
remembers the first step where the twins part (a weight or a loss out of tolerance). A loss of NaN
or inf on either side stops training there. In backprop an error enters at some layer and flows to
every layer below it, so among the tensors out of tolerance at that step it names the one nearest
the output.
"""
import math

import keras
import numpy as np

from scratch.training import EpochRunner

from .records import SUMMARY_KEYS, EpochEntry, NonFinite, Parting


class Lockstep(keras.callbacks.Callback):
    """A Keras callback that drives the scratch twin through the same batch plan.

    State, all of it:
      runner, names, tol      the scratch side (an EpochRunner), tensor names, the tolerances
      stopwatch, on_epoch     where time is booked; on_epoch(EpochEntry, scratch logs, Keras logs)
      step_losses             {"scratch": [...], "keras": [...]}: pre-update loss at every step
      parting, non_finite     None, or where the twins first parted / training first diverged
      step                    the global step about to be compared (0-based, across epochs)
      seen, keras_total       this epoch's examples so far and Keras's summed loss over them, to
                              recover each batch's own loss from Keras's running mean
    """

    def __init__(self, runner: EpochRunner, names, tolerances, stopwatch, on_epoch=None):
        super().__init__()
        self.runner, self.names, self.tol = runner, names, tolerances
        self.stopwatch, self.on_epoch = stopwatch, on_epoch
        self.step_losses = {"scratch": [], "keras": []}
        self.parting = self.non_finite = None
        self.step = 0
        self.seen, self.keras_total = 0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.runner.start_epoch(epoch)
        self.seen, self.keras_total = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        with self.stopwatch.part("scratch"):
            scratch_loss, _ = self.runner.step(batch)
        with self.stopwatch.part("comparing"):
            self.compare_step(batch, scratch_loss, float(logs["loss"]))

    def compare_step(self, batch, scratch_loss, keras_running_loss):
        size = len(self.runner.batches[batch][1])
        running = keras_running_loss * (self.seen + size)  # Keras logs the epoch's running mean
        keras_loss = (running - self.keras_total) / size
        self.seen, self.keras_total = self.seen + size, running
        self.step_losses["scratch"].append(scratch_loss)
        self.step_losses["keras"].append(keras_loss)
        self.check(self.step, self.weight_diffs(), scratch_loss, keras_loss, running / size)
        if not (math.isfinite(scratch_loss) and math.isfinite(keras_loss)):
            self.stop_non_finite(scratch_loss, keras_loss)
        self.step += 1

    def stop_non_finite(self, scratch_loss, keras_loss):
        """Record which side's loss went to NaN or inf first, and where, and stop training."""
        sides = [side for side, v in (("scratch", scratch_loss), ("keras", keras_loss)) if not math.isfinite(v)]
        keras_bad = [name for name, w in reversed(list(zip(self.names, self.model.trainable_weights)))
                     if not np.isfinite(w.numpy()).all()]
        tensors = self.runner.network.non_finite_parameters() or keras_bad or [self.names[-2]]
        self.non_finite = NonFinite(" and ".join(sides), self.step, self.runner.epoch + 1, tensors[0].split("/")[0],
                                    tensors[0], scratch_loss, keras_loss)
        self.model.stop_training = True

    def weight_diffs(self):
        """{tensor name: (max |w_scratch - w_keras|, max(1, max |w|))} for every weight and bias."""
        scratch = self.runner.network.live_parameters()
        return {name: (float(np.abs(s - k.numpy()).max()), max(1.0, float(np.abs(s).max())))
                for name, s, k in zip(self.names, scratch, self.model.trainable_weights)}

    def check(self, step, diffs, scratch_loss, keras_loss, loss_scale, what="loss"):
        """Remember the first step where a weight or a loss leaves tolerance."""
        if self.parting is not None:
            return
        for name in reversed(self.names):  # nearest the output first
            diff, scale = diffs[name]
            if not diff <= self.tol.weight_abs * scale:  # `not <=` also catches NaN
                self.parting = Parting(step, self.runner.epoch + 1, name.split("/")[0], name, diff)
                return
        if not (math.isfinite(scratch_loss) and math.isfinite(keras_loss)):
            return  # a NaN or inf loss is reported as divergence, by stop_non_finite
        loss_gap = abs(scratch_loss - keras_loss)
        if not loss_gap <= self.tol.loss_rel * max(1.0, abs(loss_scale)):
            self.parting = Parting(step, self.runner.epoch + 1, what, what, loss_gap)

    def on_epoch_end(self, epoch, logs=None):
        scratch_logs = self.runner.end_epoch()
        keras_logs = {k: float(v) for k, v in (logs or {}).items()}
        diffs = self.weight_diffs()
        last_step = self.step - 1  # an epoch-end disagreement belongs to the epoch's last step
        for key in ("loss", "val_loss"):
            if key in keras_logs:
                self.check(last_step, diffs, scratch_logs[key], keras_logs[key], scratch_logs[key], what=key)
        diffs = {name: diff for name, (diff, _) in diffs.items()}
        entry = EpochEntry(epoch + 1, {k: scratch_logs[k] for k in SUMMARY_KEYS},
                           {k: keras_logs[k] for k in SUMMARY_KEYS}, max(diffs.values()), diffs)
        if self.on_epoch:
            self.on_epoch(entry, scratch_logs, keras_logs)
