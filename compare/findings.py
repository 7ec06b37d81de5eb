"""What a comparison finds, and the rules that decide it: where the trajectories first parted, the
first step that disagrees from the same state, where training diverged, and the series behind them.

The callbacks that drive a comparison (compare/lockstep.py every step, compare/blocks.py in blocks)
measure; Findings judges what they measured, each rule in one place, and keeps it; report.py builds
the report from it alone. Every "within tolerance" is compare/tolerances.py's `within`, and among
tensors out of tolerance at a step the one nearest the output is named: in backprop an error enters
at some layer and flows to every layer below it.
"""
import math

import numpy as np

from .records import NonFinite, Parting
from .tolerances import loss_error, scale_of, within, worst_of

SERIES = ("scratch_loss", "keras_loss", "weight_gap", "update_error")
BLOCK_SERIES = ("last_step", "scratch_loss", "keras_loss", "weight_gap", "update_error")


class Growing(list):
    """A list that grows, with None, to take an index or a slice past its end."""

    def __setitem__(self, index, value):
        end = index.stop if isinstance(index, slice) else index + 1
        if end is not None and end > len(self):
            self.extend([None] * (end - len(self)))
        super().__setitem__(index, value)


class Findings:
    """State, all of it:
      tol, names           the run's Tolerances, and its tensor names [W^1, b^1, ...]
      steps                {SERIES: one entry per step, None where not measured}
      blocks               None every step; in blocks {BLOCK_SERIES: one entry per block}
      check                the report's `check`: mode, block_steps, replayed, not_exact
      epochs               the EpochEntry of each epoch
      parting, step_mismatch, non_finite   None, or the first Parting / Parting / NonFinite
      mismatch_states      None, or (Keras before, Keras after, the mini-batch, the judged network's
                           own_state() before it) at step_mismatch
      steps_run            how many steps were run
    """

    def __init__(self, tolerances, names, block_steps=None):
        self.tol, self.names = tolerances, names
        self.steps = {key: Growing() for key in SERIES}  # nothing held for steps not yet run
        self.blocks = block_steps and {key: [] for key in BLOCK_SERIES}
        self.check = {"mode": "blocks" if block_steps else "every-step", "block_steps": block_steps or 1,
                      "replayed": [], "not_exact": None}
        self.epochs, self.parting, self.step_mismatch, self.non_finite, self.mismatch_states = [], None, None, None, None
        self.steps_run = 0

    def ran(self, steps):
        """`steps` steps have been run and observed (a stop at divergence takes back those after it)."""
        self.steps_run = steps

    def stopped_at(self, step):
        """Training stopped after step `step` (a divergence inside a block): the block ends there."""
        self.steps_run = step + 1
        self.blocks["last_step"][-1] = step

    def series(self):
        """The report's `steps`: each series over the steps run."""
        return {key: (values + [None] * self.steps_run)[:self.steps_run] for key, values in self.steps.items()}

    def epoch(self, entry):
        """An epoch ended: its EpochEntry."""
        self.epochs.append(entry)

    def losses(self, first, scratch_losses, keras_losses):
        """Both sides' pre-update losses at the steps from `first` on."""
        self.steps["scratch_loss"][first:first + len(scratch_losses)] = scratch_losses
        self.steps["keras_loss"][first:first + len(keras_losses)] = keras_losses

    def weight_checks(self, ours, keras):
        """(the gap max over tensors of max |ours - keras| / scale_of(keras), and the checks of each
        tensor, nearest the output first: {name: (max |ours - keras|, its limit)})."""
        checks = {}
        for name, a, b in reversed(list(zip(self.names, ours, keras))):
            checks[name] = (float(np.abs(a - b).max()), scale_of(b))
        gap = max(diff / scale for diff, scale in checks.values())
        return gap, {name: (diff, self.tol.weight_rel * scale) for name, (diff, scale) in checks.items()}

    def trajectories(self, step, epoch, ours, keras, losses):
        """Step `step` (of `epoch`, 0-based) of the trajectories: the weights `ours` against Keras's
        `keras`, then `losses` [(name, ours, Keras's, scale)]; records the gap and the first parting."""
        self.steps["weight_gap"][step], checks = self.weight_checks(ours, keras)
        for name, a, b, scale in losses:
            if math.isfinite(a) and math.isfinite(b):  # a NaN or inf loss is reported as divergence
                checks[name] = (abs(a - b), self.tol.loss_rel * max(1.0, abs(scale)))
        if self.parting is None:
            self.parting = first_out_of_tolerance(step, epoch, checks)

    def same_state(self, step, epoch, errors, losses, states):
        """The step check of step `step`: `errors` {tensor: e_k}, `losses` [(name, ours, Keras's,
        scale)]; records e_k and the first step that disagrees, with `states` (before, after, batch, own)."""
        self.steps["update_error"][step] = worst_of(errors)
        if self.step_mismatch is None:
            checks = {name: (error, self.tol.step_rel) for name, error in errors.items()}
            checks.update({name: (loss_error(a, b, scale), self.tol.loss_rel) for name, a, b, scale in losses})
            self.step_mismatch = first_out_of_tolerance(step, epoch, checks)
            self.mismatch_states = states if self.step_mismatch else None

    def validation(self, step, epoch, ours, keras):
        """The step check of evaluation at the end of an epoch (its last step `step`): our
        validation loss at Keras's weights against Keras's."""
        if self.step_mismatch is None and self.non_finite is None:
            error = loss_error(ours, keras, ours)
            self.step_mismatch = first_out_of_tolerance(step, epoch, {"val_loss": (error, self.tol.loss_rel)})

    def diverged(self, step, epoch, scratch_loss, keras_loss, tensors):
        """Step `step`'s loss was NaN or inf on one side or both; `tensors`: the non-finite ones,
        nearest the output first. Training stops there."""
        self.steps["update_error"][step] = math.nan  # the step is reported as divergence instead
        sides = [side for side, v in (("scratch", scratch_loss), ("keras", keras_loss)) if not math.isfinite(v)]
        tensor = (tensors or [self.names[-2]])[0]
        self.non_finite = NonFinite(" and ".join(sides), step, epoch + 1, tensor.split("/")[0], tensor,
                                    scratch_loss, keras_loss)

    def block(self, last_step, scratch_loss, keras_loss, gap, error):
        """One block's entry (NaN for what a diverged block leaves unmeasured, its gap included)."""
        if not math.isnan(scratch_loss):  # a diverged block's gap is measured by its replay
            self.steps["weight_gap"][last_step] = gap
        for key, value in zip(BLOCK_SERIES, (last_step, scratch_loss, keras_loss, gap, error)):
            self.blocks[key].append(value)

    def losses_within(self, ours, keras_losses, scales):
        """Whether each of our losses is within tolerance of Keras's, at its scale (False for a NaN)."""
        return all(within(loss_error(a, b, s), self.tol.loss_rel) for a, b, s in zip(ours, keras_losses, scales))

    def worst_update_error(self, first_step, last_step):
        """The step check's worst error over steps first..last, and of the blocks ending there (NaN
        errors, of diverged steps, left out)."""
        errors = [e for e in self.steps["update_error"][first_step:last_step + 1] if e is not None]
        if self.blocks:
            errors += [e for s, e in zip(self.blocks["last_step"], self.blocks["update_error"])
                       if first_step <= s <= last_step]
        return max((e for e in errors if not math.isnan(e)), default=0.0)


def first_out_of_tolerance(step, epoch, checks):
    """A Parting at `step` (of `epoch`, 0-based) for the first of `checks` ({name: (value, its
    limit)}) not within its limit, or None."""
    for name, (value, limit) in checks.items():
        if not within(value, limit):
            return Parting(step, epoch + 1, name.split("/")[0], name, value)
    return None
