"""The per-step check: the judged network's training step, taken from Keras's own state, against
Keras's step.

At step k, load Keras's weights and velocities from before step k into a probe copy of the judged
network (compare/judged.py), take its training step on step k's mini-batch, and compare the result
with Keras's state after step k:

    e_k = max over tensors T of  max |T_probe - T_keras| / max(1, max |T_keras|)

where T runs over every weight, bias and (with momentum) velocity (compare/tolerances.py). Both
sides start step k from the same state, so e_k measures that one step alone: rounding (about 1e-16
in float64) when the twins compute the same step, the size of the bug when they do not. Unlike the
gap between the two trajectories, it cannot grow by amplification; it is what tells a bug
(mismatch) from a run that amplifies rounding (drift). The probe's pre-update loss is held against
Keras's batch loss too.
"""
from dataclasses import replace

from .tolerances import max_relative_error


class StepCheck:
    """Takes the judged network's steps from Keras's state and measures e_k, per tensor, nearest
    the output first. `step(probe, x, y, labels)` takes one step (the probe's own train_step by
    default; compare/replicas.py passes Keras's rule on an uneven split)."""

    def __init__(self, judged, step=None):
        self.probe, self.names = judged.probe(), judged.parameter_names()
        self.step = step or (lambda probe, x, y, labels: probe.train_step(x, y, labels)[0])

    def errors(self, before, after, x, y, labels, own=None):
        """({tensor name: e_k of that tensor}, the probe's pre-update loss) for the step from `before`
        (a State) on the mini-batch (x, y) against Keras's `after`; `own`: the judged network's
        own_state() before its step (compare/judged.py), which the probe takes too."""
        errors, (loss,) = self.block_errors(before, after, [(x, y, labels)], own)
        return errors, loss

    def block_errors(self, before, after, batches, own=None):
        """The same for several steps, one per mini-batch (x, y, labels) of `batches`, all taken from
        `before`: ({tensor name: its error after the last step}, the probe's pre-update loss at each)."""
        self.probe.restore(replace(before, rest=own))
        losses = [self.step(self.probe, x, y, labels) for x, y, labels in batches]
        reached, errors = self.probe.snapshot(), {}
        for i in reversed(range(len(self.names))):  # nearest the output first
            errors[self.names[i]] = max_relative_error(reached.weights[i], after.weights[i])
            if reached.velocities:
                errors[f"{self.names[i]}/velocity"] = max_relative_error(reached.velocities[i], after.velocities[i])
        return errors, losses

    def evaluate(self, state, x, y, own=None):
        """The judged network's cost over (x, y) at the weights of `state` (and its `own` state)."""
        self.probe.restore(replace(state, rest=own))
        return self.probe.cost(x, y)
