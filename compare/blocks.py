"""Checking cheaply, locating by replay (`--check blocks`, the default): Keras runs `fit` with
steps_per_execution = K (BLOCK_STEPS), so no Python runs between the K steps of a block, and the
twins are compared at block ends only:

- the scratch network takes the block's K steps (its loss at each step is recorded);
- the trajectories: the weights' gap at the block's end, both sides' loss at each of its steps
  (Keras's from its StepLosses metric, compare/step_losses.py) and the block's mean loss (Keras's
  from its running mean). With an L2 term, StepLosses holds each step's C0 alone (a metric sees
  the weights only after the step): Keras's loss at a step is taken as that C0 plus the judged
  network's L2 term before its step, so the per-step check is of C0, and the mean (Keras's own
  C0 + L2 term) checks the term;
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

import keras

from .lockstep import RunningLoss
from .replay import Block, Checkpoint, differences, load_keras
from .tolerances import worst_of

BLOCK_STEPS = 16  # steps per execution of Keras's fit, and per check
LOOKBACK = 4  # recent blocks kept (their checkpoints) for a replay to start from
NEAR = 1 / 16  # a checkpoint whose gap is within NEAR x the weight tolerance starts a replay


class InBlocks(keras.callbacks.Callback):
    """A Keras callback that drives a Lockstep (compare/lockstep.py) through the batch plan, for a
    model compiled with steps_per_execution = block_steps (or 1 where the backend runs one step per
    execution: the blocks are then cut here). `replay`: the KerasReplay that retraces blocks;
    `step_loss_metric`: the model's StepLosses, Keras's loss at each step of a block.

    Its runtime state is its own: the block in progress (its first step in the epoch, its starting
    Checkpoint), the last LOOKBACK Blocks, Keras's state at the last block end, the global step
    about to run, the epoch's RunningLoss and first step, and the runner's totals within the block.
    """

    def __init__(self, lockstep, replay, step_loss_metric, block_steps=BLOCK_STEPS):
        super().__init__()
        self.lockstep, self.replay, self.step_loss_metric = lockstep, replay, step_loss_metric
        self.block_steps = block_steps
        self._first, self._start, self._recent, self._before = 0, None, deque(maxlen=LOOKBACK), None
        self._step, self._epoch_first_step, self._running, self._totals, self._penalties = 0, 0, RunningLoss(), [], []

    def on_epoch_begin(self, epoch, logs=None):
        if self._before is None:  # the first epoch: Keras's starting state
            self._before = self.lockstep.keras_state(self.model, whole=True)
        self.lockstep.runner.start_epoch(epoch)
        self._running, self._epoch_first_step, self._first = RunningLoss(), self._step, 0
        if self._start is None:  # before step 0
            self._start = self.checkpoint(0, epoch, 0, self._before, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        steps = self.lockstep.runner.plan.steps_per_epoch
        last = min(batch, steps - 1)  # Keras numbers an epoch's short last block as a whole one
        if last + 1 - self._first < self.block_steps and last < steps - 1:
            return  # inside a block, on a backend that runs one step per execution
        self.end_block(last, float(logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.lockstep.end_epoch(epoch, logs, self._before, self._epoch_first_step, self._step - 1)

    def checkpoint(self, step, epoch, index, keras_state, gap):
        """A Checkpoint of both twins as they are now, the judged network's side read from it."""
        return Checkpoint(step, epoch, index, keras_state, self.lockstep.runner.judged.snapshot(), gap)

    def end_block(self, last, running_mean):
        """Check the block that ended at step `last` of this epoch; replay it if a check fails."""
        lockstep, findings = self.lockstep, self.lockstep.findings
        epoch, first, batches = lockstep.runner.epoch, self._first, lockstep.runner.batches[self._first:last + 1]
        with lockstep.stopwatch.part("scratch"):
            scratch_losses = self.scratch_steps(first, last)
        with lockstep.stopwatch.part("comparing"):
            after = lockstep.keras_state(self.model, whole=True)
            keras_losses, sizes = self.keras_steps(len(batches)), [len(b[1]) for b in batches]
            scales = self._running.scales(keras_losses, sizes)
            keras_loss, loss_scale = self._running.next(running_mean, sum(sizes))
        diverged = len(scratch_losses) < len(batches) or \
            not all(map(math.isfinite, scratch_losses + keras_losses + [keras_loss]))
        step = self._step + len(batches)  # the next block's first step
        findings.losses(self._step, scratch_losses, keras_losses)
        gap, parted, stepped_wrong = math.nan, True, True
        if diverged:
            findings.block(step - 1, math.nan, keras_loss, math.nan, math.nan)
        else:
            gap, parted, stepped_wrong = self.check_block(step - 1, batches, scratch_losses, keras_losses, keras_loss,
                                                          [loss_scale, *scales], after)
        end = self.checkpoint(step, epoch, last + 1, after, gap)
        block = Block(epoch, first, last, self._start, end)
        self._recent.append(block)
        self._step, self._first, self._start, self._before = step, last + 1, end, after
        findings.ran(step)
        looking = findings.parting is None and parted
        if diverged or looking or (findings.step_mismatch is None and stepped_wrong):
            self.replay_blocks(self.stretch(block) if looking else [block])

    def keras_steps(self, n):
        """Keras's loss at each of the block's n steps: StepLosses's C0, plus the L2 term (scratch_steps)."""
        penalties = self._penalties + self._penalties[-1:] * (n - len(self._penalties))  # steps not taken: its last
        return [c0 + penalty for c0, penalty in zip(self.step_loss_metric.read(n), penalties)]

    def scratch_steps(self, first, last):
        """The judged network's steps first..last of this epoch: their pre-update losses, up to the
        first that is NaN or inf; the runner's epoch totals are kept before each step and after the
        last, and its L2 term before each step."""
        runner, losses, judged = self.lockstep.runner, [], self.lockstep.runner.judged
        self._totals, self._penalties = [runner.totals], []
        for k in range(first, last + 1):
            self._penalties.append(judged.l2.penalty(judged.parameter_copies()[0::2]) if judged.l2 else 0.0)
            loss, _ = runner.step(k)
            losses.append(loss)
            self._totals.append(runner.totals)
            if not math.isfinite(loss):
                break
        return losses

    def check_block(self, last_step, batches, scratch_losses, keras_losses, keras_loss, scales, after):
        """The block's checks at its end, Keras's losses given per step and on average (its running
        mean's), with the scales of their tolerances (the average's first); records them, returns (the
        gap, whether the trajectories parted, whether the block check failed)."""
        lockstep, findings = self.lockstep, self.lockstep.findings
        sizes = [len(b[1]) for b in batches]
        scratch_loss = sum(loss * n for loss, n in zip(scratch_losses, sizes)) / sum(sizes)
        with lockstep.stopwatch.part("comparing"):
            gap, _ = findings.weight_checks(lockstep.runner.judged.parameter_copies(), after.weights)
            parted = not (gap <= findings.tol.weight_rel and
                          findings.losses_within([scratch_loss, *scratch_losses], [keras_loss, *keras_losses], scales))
        with lockstep.stopwatch.part("step check"):
            errors, probe_losses = lockstep.step_check.block_errors(self._before, after, batches,
                                                                    self._start.scratch.rest)
            error = worst_of(errors)
            probe_loss = sum(loss * n for loss, n in zip(probe_losses, sizes)) / sum(sizes)
            stepped_wrong = not (error <= findings.tol.step_rel and
                                 findings.losses_within([probe_loss, *probe_losses], [keras_loss, *keras_losses], scales))
        findings.block(last_step, scratch_loss, keras_loss, gap, error)
        return gap, parted, stepped_wrong

    def stretch(self, block):
        """The blocks to replay to find where the trajectories first parted: `block`, and before it
        the recent blocks back to the last one that started with its gap below NEAR x the tolerance."""
        blocks, earlier = [block], list(self._recent)[:-1]
        while earlier and not blocks[0].start.gap <= NEAR * self.lockstep.findings.tol.weight_rel:
            blocks.insert(0, earlier.pop())
        return blocks

    def replay_blocks(self, blocks):
        """Replay `blocks` (consecutive) step by step from the first one's start, comparing each
        step; checks that each block ends where the run did."""
        lockstep = self.lockstep
        with lockstep.stopwatch.part("replay"):
            lockstep.runner.judged.restore(blocks[0].start.scratch)
            self.replay.start(blocks[0].start)
            for block in blocks:
                last_step = self.replay_block(block)
                if lockstep.findings.non_finite:
                    self.stop_at_non_finite(block)
                    break
                self.check_exact(block)
        lockstep.findings.check["replayed"].append([blocks[0].start.step, last_step])

    def replay_block(self, block):
        """One block's steps, each compared as --check every-step compares it; returns the last one replayed."""
        lockstep = self.lockstep
        batches = lockstep.runner.batches_of(block.epoch)[block.first:block.last + 1]
        running, state = RunningLoss(), {"before": block.start.keras, "step": block.start.step}

        def on_step(k, running_mean, after):
            x, y, labels = batches[k]
            with lockstep.stopwatch.part("scratch"):
                own = lockstep.runner.judged.own_state()
                scratch_loss, _ = lockstep.runner.judged.train_step(x, y, labels)
            keras_loss, loss_scale = running.next(running_mean, len(y))
            state["step"] = block.start.step + k
            lockstep.compare_step(state["step"], block.epoch, batches[k], scratch_loss, keras_loss, loss_scale,
                                  state["before"], after, own)
            state["before"] = after
            return lockstep.findings.non_finite is None

        self.replay.run(batches, lockstep.runner.plan.batch_size, on_step)
        return state["step"]

    def check_exact(self, block):
        """Whether the replay of `block` ended bitwise where the run did; if not, it is noted (the first
        time) and both twins are set to the run's own state at the block's end."""
        judged, check = self.lockstep.runner.judged, self.lockstep.findings.check
        missed = differences(judged.snapshot(), self.replay.state(), block.end)
        if missed:
            if check["not_exact"] is None:
                check["not_exact"] = {"first_step": block.start.step, "last_step": block.end.step - 1,
                                      "max_abs_difference": ", ".join(missed)}
            judged.restore(block.end.scratch)
            load_keras(self.replay.model, block.end.keras)

    def stop_at_non_finite(self, block):
        """Training stops after the first non-finite step, as --check every-step stops: the training
        twin takes the replaying twin's state there, the runner its epoch totals."""
        state, findings = self.replay.state(), self.lockstep.findings
        load_keras(self.model, state)
        self.model.stop_training = True
        self._before, self._step = state, findings.non_finite.step + 1
        findings.stopped_at(findings.non_finite.step)
        self.lockstep.runner.take_back(self._totals[findings.non_finite.step - block.start.step + 1])
