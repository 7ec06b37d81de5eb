"""Distributed Keras against the math: the steps whose mini-batch does not split evenly over the
replicas, and what Keras computes there.

Under a tf.distribute strategy Keras steps along (1/N) sum_r grad C_r, the mean over the N replicas
of each one's mean gradient (keras_impl/distribute.py), while the math (and the scratch network)
steps along grad C, the mean over the whole mini-batch. The two agree when every replica holds as
many examples; otherwise examples in the smaller parts weigh more. When the first step that
disagrees is such a step, `explain` takes Keras's rule from Keras's own state before that step, in
NumPy with the scratch network's per-replica gradients, and measures how close it lands to Keras's
state after it.
"""
from keras_impl.distribute import batch_sizes, replica_sizes

from .step_check import StepCheck

KERAS_RULE = "(1/N) sum_r grad C_r: the mean of the replicas' mean gradients, not the batch's mean gradient"


def uneven_steps(plan, steps, replicas):
    """[{step, epoch, replica_sizes}] for every step among the first `steps` (those run) whose
    mini-batch does not split evenly over `replicas`."""
    sizes = batch_sizes(plan.n, plan.batch_size)
    uneven = [(k, replica_sizes(m, replicas)) for k, m in enumerate(sizes) if m % replicas]
    epochs = -(-steps // len(sizes))  # those the steps reach into
    return [{"step": epoch * len(sizes) + k, "epoch": epoch + 1, "replica_sizes": parts}
            for epoch in range(epochs) for k, parts in uneven if epoch * len(sizes) + k < steps]


def replica_mean_step(judged, x, y, sizes):
    """One step of `judged`'s optimizer along (1/N) sum_r grad C_r, the replicas' parts of (x, y)
    having `sizes`: an empty part still counts in N, as in Keras, its C_r being the L2 term alone
    (if any: every replica adds it, scaled by 1/N)."""
    parts, start = [], 0
    for size in sizes:
        parts.append(judged.gradients(x[start:start + size], y[start:start + size]) if size
                     else judged.l2.gradients(judged.parameter_copies()))
        start += size
    judged.apply_gradients([sum(part) / len(sizes) for part in zip(*parts)])


def explain(judged, findings, uneven):
    """The report's explanation of the first step mismatch (findings.step_mismatch) when it falls on
    one of the `uneven` steps (uneven_steps), else None."""
    mismatch, states = findings.step_mismatch, findings.mismatch_states
    at = next((u for u in uneven if mismatch and u["step"] == mismatch.step), None)
    if at is None or states is None:
        return None
    explanation = {**at, "keras_computed": KERAS_RULE, "error_of_keras_rule": None,
                   "error_of_batch_mean": findings.series()["update_error"][mismatch.step]}
    if judged.applies_gradients:  # a network's own update cannot be split by replica
        def keras_step(probe, x, y, labels):
            replica_mean_step(probe, x, y, at["replica_sizes"])
            return 0.0

        before, after, (x, y, labels), own = states
        errors, _ = StepCheck(judged, keras_step).errors(before, after, x, y, labels, own=own)
        explanation["error_of_keras_rule"] = max(errors.values())
    return explanation
