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
from scratch import losses
from scratch.network import Network

from .step_check import StepCheck

KERAS_RULE = "(1/N) sum_r grad C_r: the mean of the replicas' mean gradients, not the batch's mean gradient"


def uneven_steps(plan, epochs, replicas):
    """[{step, epoch, replica_sizes}] for every step of `epochs` epochs whose mini-batch does not split
    evenly over `replicas`."""
    sizes = batch_sizes(plan.n, plan.batch_size)
    uneven = [(k, replica_sizes(m, replicas)) for k, m in enumerate(sizes) if m % replicas]
    return [{"step": epoch * len(sizes) + k, "epoch": epoch + 1, "replica_sizes": parts}
            for epoch in range(epochs) for k, parts in uneven]


def replica_mean_step(network, x, y, loss, optimizer, sizes):
    """One SGD step along (1/N) sum_r grad C_r, the replicas' parts of (x, y) having `sizes`: an
    empty part adds nothing but still counts in N, as in Keras."""
    loss, gradients, start = losses.get(loss), None, 0
    for size in sizes:
        if size:
            nabla_w, nabla_b, _, _ = network.backprop(x[start:start + size], y[start:start + size], loss)
            part = nabla_w + nabla_b
            gradients = part if gradients is None else [g + p for g, p in zip(gradients, part)]
        start += size
    optimizer.apply(network.weights + network.biases, [g / len(sizes) for g in gradients])


def explain(network, config, lockstep, uneven):
    """The report's explanation of the first step mismatch (Lockstep.step_mismatch) when it falls on
    one of the `uneven` steps (uneven_steps), else None."""
    mismatch, states = lockstep.step_mismatch, lockstep.mismatch_states
    at = next((u for u in uneven if mismatch and u["step"] == mismatch.step), None)
    if at is None or states is None:
        return None
    explanation = {**at, "keras_computed": KERAS_RULE, "error_of_keras_rule": None,
                   "error_of_batch_mean": lockstep.step_errors[mismatch.step]}
    if type(network) is Network:  # your network's own update cannot be split by replica
        def keras_step(probe, x, y, loss, optimizer, labels):
            replica_mean_step(probe, x, y, loss, optimizer, at["replica_sizes"])
            return 0.0, 0

        check = StepCheck(network, config.loss, config.build_optimizer(), network.parameter_names(), keras_step)
        before, after, (x, y, labels) = states
        explanation["error_of_keras_rule"] = max(check.errors(before, after, x, y, labels)[0].values())
    return explanation
