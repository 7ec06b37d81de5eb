"""Checking cheaply, locating by replay (`--check blocks`, the default): Keras runs `fit` with
steps_per_execution = K (BLOCK_STEPS), so no Python runs between the K steps of a block, and the
twins are compared at block ends only:

- the scratch network takes the block's K steps (its loss at each step is recorded);
- the trajectories: the weights' gap at the block's end, both sides' loss at each of its steps
  (Keras's from its StepLosses metric, compare/step_losses.py) and the block's mean loss (Keras's
  from its running mean);
- the block check: the scratch network's K steps taken from Keras's own state at the block's start
  (compare/step_check.py), against Keras's state at its end, and the probe's losses at each step and
  on average against Keras's.

A block that fails a check, or whose loss is NaN or inf, is replayed step by step from its start
(compare/replay.py), and each of its steps is compared as `--check every-step` compares it: the
replay finds the first step that parts, disagrees or diverges, with its layer. Where the
trajectories first part, the replay starts earlier, at the last recent block start whose gap was
below NEAR x the tolerance, so that a gap that crossed the tolerance inside an earlier block and
came back by its end is seen too. Once the first parting and the first step mismatch are found,
blocks are no longer replayed for them. A diverged block stops training at its first non-finite
step, with both twins taken back to that step, as `--check every-step` stops.

Rounding amplified over K steps can fail the block check while every single step agrees (a drift):
the replay then finds no step mismatch, and the run goes on.
"""
import math
from collections import deque

from keras_impl.interrupts import deferred

from .lockstep import Lockstep, RunningLoss
from .replay import Block, differences, load_keras, load_scratch, scratch_checkpoint
from .step_check import KerasState

BLOCK_STEPS = 16  # steps per execution of Keras's fit, and per check
LOOKBACK = 4  # recent blocks kept (their checkpoints) for a replay to start from
NEAR = 1 / 16  # a checkpoint whose gap is within NEAR x the weight tolerance starts a replay


class Blocks(Lockstep):
    """Lockstep's callback, for a model compiled with steps_per_execution = block_steps (or 1 where
    the backend runs one step per execution: the blocks are then cut here).

    State, beyond Lockstep's:
      block_steps, replay    K, and the KerasReplay that retraces blocks
      step_loss_metric       the model's StepLosses: Keras's loss at each step of a block
      first, start           the block in progress: its first step (index in the epoch) and its
                             starting Checkpoint
      recent                 the last LOOKBACK Blocks
      blocks                 per block: last_step, both mean losses, the gap at its end and the
                             block check's error (`update_error`)
      replayed               [first step, last step] of each stretch replayed
      not_exact              None, or what a replay could not reproduce bitwise
      epoch_block_errors     this epoch's block check errors
      totals                 the runner's epoch totals before each step of the block and after
                             its last, to take back the steps a stop at divergence undoes
    """

    def __init__(self, *args, replay, step_loss_metric, block_steps=BLOCK_STEPS, **kwargs):
        super().__init__(*args, **kwargs)
        self.block_steps, self.replay, self.step_loss_metric = block_steps, replay, step_loss_metric
        self.first, self.start, self.recent = 0, None, deque(maxlen=LOOKBACK)
        self.blocks = {"last_step": [], "scratch_loss": [], "keras_loss": [], "weight_gap": [], "update_error": []}
        self.replayed, self.not_exact, self.totals, self.epoch_block_errors = [], None, [], []

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.first, self.epoch_block_errors = 0, []
        if self.start is None:  # before step 0
            self.start = scratch_checkpoint(self.runner, 0, epoch, 0, self.keras_before, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        steps = self.runner.plan.steps_per_epoch
        last = min(batch, steps - 1)  # Keras numbers an epoch's short last block as a whole one
        if last + 1 - self.first < self.block_steps and last < steps - 1:
            return  # inside a block, on a backend that runs one step per execution
        with deferred():  # a signal waits for the block's records to be whole
            self.end_block(last, float(logs["loss"]))

    def end_block(self, last, running_mean):
        """Check the block that ended at step `last` of this epoch; replay it if a check fails."""
        epoch, first, batches = self.runner.epoch, self.first, self.runner.batches[self.first:last + 1]
        with self.stopwatch.part("scratch"):
            scratch_losses = self.scratch_steps(first, last)
        with self.stopwatch.part("comparing"):
            after = KerasState.read(self.model, self.momentum, whole=True)
            keras_losses, sizes = self.step_loss_metric.read(len(batches)), [len(b[1]) for b in batches]
            scales = self.running.scales(keras_losses, sizes)
            keras_loss, loss_scale = self.running.next(running_mean, sum(sizes))
        diverged = len(scratch_losses) < len(batches) or \
            not all(map(math.isfinite, scratch_losses + keras_losses + [keras_loss]))
        step = self.step + len(batches)  # the next block's first step
        self.step_losses["scratch"][self.step:self.step + len(scratch_losses)] = scratch_losses
        self.step_losses["keras"][self.step:step] = keras_losses
        gap, parted, stepped_wrong = math.nan, True, True
        if diverged:
            self.record_block(step - 1, math.nan, keras_loss, math.nan, math.nan)
        else:
            tolerances = [self.tol.loss_rel * max(1.0, abs(scale)) for scale in [loss_scale, *scales]]
            gap, parted, stepped_wrong = self.check_block(step - 1, batches, scratch_losses, keras_losses, keras_loss,
                                                          tolerances, after)
        end = scratch_checkpoint(self.runner, step, epoch, last + 1, after, gap)
        block = Block(epoch, first, last, self.start, end)
        self.recent.append(block)
        self.step, self.first, self.start, self.keras_before = step, last + 1, end, after
        looking = self.parting is None and parted
        if diverged or looking or (self.step_mismatch is None and stepped_wrong):
            self.replay_blocks(self.stretch(block) if looking else [block])

    def scratch_steps(self, first, last):
        """The scratch network's steps first..last of this epoch: their pre-update losses, up to the
        first that is NaN or inf; the runner's epoch totals are kept before each step and after the last."""
        losses, self.totals = [], [(self.runner.total_cost, self.runner.total_correct)]
        for k in range(first, last + 1):
            loss, _ = self.runner.step(k)
            losses.append(loss)
            self.totals.append((self.runner.total_cost, self.runner.total_correct))
            if not math.isfinite(loss):
                break
        return losses

    def check_block(self, last_step, batches, scratch_losses, keras_losses, keras_loss, tolerances, after):
        """The block's checks at its end, Keras's losses given per step and on average (its running
        mean's), with their tolerances (the average's first); records them, returns (the gap, whether
        the trajectories parted, whether the block check failed)."""
        sizes = [len(b[1]) for b in batches]
        scratch_loss = sum(loss * n for loss, n in zip(scratch_losses, sizes)) / sum(sizes)
        with self.stopwatch.part("comparing"):
            diffs = self.weight_diffs(after.weights)
            gap = max(diff / scale for diff, scale in diffs.values())
            self.gaps[last_step] = gap
            parted = not (gap <= self.tol.weight_abs and
                          losses_within([scratch_loss, *scratch_losses], [keras_loss, *keras_losses], tolerances))
        with self.stopwatch.part("step check"):
            errors, probe_losses = self.step_check.block_errors(self.keras_before, after, batches)
            error = max(errors.values())
            probe_loss = sum(loss * n for loss, n in zip(probe_losses, sizes)) / sum(sizes)
            stepped_wrong = not (error <= self.tol.step_rel and
                                 losses_within([probe_loss, *probe_losses], [keras_loss, *keras_losses], tolerances))
        self.record_block(last_step, scratch_loss, keras_loss, gap, error)
        return gap, parted, stepped_wrong

    def record_block(self, last_step, scratch_loss, keras_loss, gap, error):
        """One entry of `blocks` (NaN for what a diverged block leaves unmeasured)."""
        for key, value in zip(self.blocks, (last_step, scratch_loss, keras_loss, gap, error)):
            self.blocks[key].append(value)
        self.epoch_block_errors.append(error)

    def stretch(self, block):
        """The blocks to replay to find where the trajectories first parted: `block`, and before it
        the recent blocks back to the last one that started with its gap below NEAR x the tolerance."""
        blocks, earlier = [block], list(self.recent)[:-1]
        while earlier and not blocks[0].start.gap <= NEAR * self.tol.weight_abs:
            blocks.insert(0, earlier.pop())
        return blocks

    def replay_blocks(self, blocks):
        """Replay `blocks` (consecutive) step by step from the first one's start, comparing each
        step; checks that each block ends where the run did."""
        with self.stopwatch.part("replay"):
            load_scratch(self.runner, blocks[0].start)
            self.replay.start(blocks[0].start)
            for block in blocks:
                last_step = self.replay_block(block)
                if self.non_finite:
                    self.stop_at_non_finite(block)
                    break
                self.check_exact(block)
        self.replayed.append([blocks[0].start.step, last_step])

    def replay_block(self, block):
        """One block's steps, each compared as --check every-step compares it; returns the last one replayed."""
        batches = self.runner.batches_of(block.epoch)[block.first:block.last + 1]
        running, state = RunningLoss(), {"before": block.start.keras, "step": block.start.step}

        def on_step(k, running_mean, after):
            x, y, labels = batches[k]
            with self.stopwatch.part("scratch"):
                scratch_loss, _ = self.runner.train_step(self.runner.network, x, y, self.runner.loss,
                                                         self.runner.optimizer, labels)
            keras_loss, loss_scale = running.next(running_mean, len(y))
            state["step"] = block.start.step + k
            self.compare_step(state["step"], block.epoch, batches[k], scratch_loss, keras_loss, loss_scale,
                              state["before"], after)
            state["before"] = after
            return self.non_finite is None

        self.replay.run(batches, self.runner.plan.batch_size, on_step)
        return state["step"]

    def check_exact(self, block):
        """Whether the replay of `block` ended bitwise where the run did; if not, it is noted (the first
        time) and both twins are set to the run's own state at the block's end."""
        keras_state = self.replay.state()
        missed = differences(self.runner, keras_state, block.end)
        if missed:
            if self.not_exact is None:
                self.not_exact = {"first_step": block.start.step, "last_step": block.end.step - 1,
                                  "max_abs_difference": ", ".join(missed)}
            load_scratch(self.runner, block.end)
            load_keras(self.replay.model, block.end.keras)

    def stop_at_non_finite(self, block):
        """Training stops after the first non-finite step, as --check every-step stops: the training
        twin takes the replaying twin's state there, the scratch runner its epoch totals."""
        state = self.replay.state()
        load_keras(self.model, state)
        self.model.stop_training = True
        self.keras_before, self.step = state, self.non_finite.step + 1
        self.blocks["last_step"][-1] = self.non_finite.step  # the block ends where training stopped
        self.runner.total_cost, self.runner.total_correct = self.totals[self.non_finite.step - block.start.step + 1]

    def epoch_update_error(self):
        """The worst of this epoch's block checks and of its steps checked one by one in replays."""
        return max([super().epoch_update_error(), *(e for e in self.epoch_block_errors if not math.isnan(e))])


def losses_within(ours, keras_losses, tolerances):
    """Whether each of our losses is within its tolerance of Keras's (False for a NaN)."""
    return all(abs(a - b) <= t for a, b, t in zip(ours, keras_losses, tolerances))
