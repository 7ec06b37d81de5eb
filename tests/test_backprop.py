"""Backprop against central finite differences, over randomized networks."""
import itertools
import zlib

import numpy as np
import pytest

from scratch import activations, losses
from scratch.network import Network
from compare.finite_differences import clipped, finite_differences
from compare.judged import OurNetwork
from compare.tolerances import norm_relative_error
from scratch.optimizers import SGD

EPS = 1e-6
KINK_MARGIN = 1e-4  # a z this close to a kink (relu, step at 0; a cross-entropy's clip) may be crossed by eps
# The step function is left out: its derivative is zero wherever it exists, so every gradient through
# it is zero on both sides and a comparison would prove nothing (test_a_step_layer_passes_no_gradient
# asserts those zeros instead). Aliases ("bce", "cce", "scce") are left out too.
DIFFERENTIABLE = [name for name in activations.ACTIVATIONS if name != "step"]
COSTS = [name for name in losses.LOSSES if name not in losses.ALIASES]
# The book's cross-entropy needs outputs in (0, 1): sigmoid ones (the only ones the CLIs take with it;
# its fused BP1) and softmax ones (the general BP1, dC/da through the softmax's Jacobian).
DEFINED_FOR = {"cross_entropy": ("sigmoid", "softmax")}
COMBINATIONS = [(hidden, output, cost) for hidden, output, cost in itertools.product(DIFFERENTIABLE, DIFFERENTIABLE, COSTS)
                if output in DEFINED_FOR.get(cost, DIFFERENTIABLE)]


def near_a_kink(network, x, loss):
    zs, acts = network.forward(x)
    for z, f in zip(zs, network.activation_functions):
        if f.has_kink and np.abs(z).min() < KINK_MARGIN:
            return True
    z, a, f_out = zs[-1], acts[-1], network.activation_functions[-1]
    p = clipped(losses.get(loss), a, f_out)
    if p is not None:
        moving = np.ones(a.shape, bool)
        if loss == "binary_crossentropy" and f_out.prime:
            moving = f_out.prime(z, a) != 0  # a flat a cannot cross
        # near 0 or 1, log(p) curves so fast (third derivative ~ 2/p^3) that central
        # differences err by ~eps^2/p^2; the clip at 1e-7 is a kink besides
        at_clip = (p < 1e-2) | (p > 1 - 1e-2)
        return bool((at_clip & moving).any())
    return False


def too_flat_to_judge(network, x, y, loss):
    """True when the finite differences' own round-off (one ulp of C, ~2.2e-16 |C|, over eps per
    entry) could exceed 1e-8 of the gradient's norm: then the reference cannot judge a 1e-7
    relative error."""
    nabla_w, nabla_b = network.backprop(x, y, loss)
    norm = np.sqrt(sum(np.sum(g ** 2) for g in nabla_w + nabla_b))
    count = sum(g.size for g in nabla_w + nabla_b)
    noise = np.sqrt(count) * 2.2e-16 * abs(network.cost(x, y, loss)) / EPS
    return 0 < norm < noise * 1e8  # a zero gradient (step outputs) is judged exactly


def keep_outputs_inside_0_1(network, x):
    """Output weights scaled and biases set to 0.5 so that z^L lies in [0.2, 0.8]: BCE's log(a) and
    log(1 - a) are smooth there (a linear or ReLU output is otherwise mostly outside (0, 1))."""
    _, activations = network.forward(x)
    pre = activations[-2] @ network.weights[-1]
    network.weights[-1] *= 0.3 / max(np.abs(pre).max(), 1e-12)
    network.biases[-1][...] = 0.5


def random_targets(rng, loss, n, k):
    """Targets the loss takes: class labels for the sparse one, rows that sum to 1 for the
    categorical one (its softmax BP1 assumes so), any numbers in [0, 1] for the others."""
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, k, size=n).astype(float)
    if loss == "categorical_crossentropy":
        return rng.dirichlet(np.ones(k), size=n)
    return rng.uniform(size=(n, k))


def random_case(rng, hidden_activation, output_activation, loss):
    """A network of depth 2-4 (so BP2 carries delta through at least one hidden layer) and width
    1-40 with a batch of 1-8 examples, away from any kink, whose first layer gets a gradient.
    A softmax layer has at least 2 units: a softmax of one unit is the constant 1, and passes no
    gradient; nor do ReLU layers whose units are all off (such draws are redrawn)."""
    for _ in range(1000):
        depth = rng.integers(2, 5)
        acts = [hidden_activation] * (depth - 1) + [output_activation]
        sizes = rng.integers(1, 41, size=depth + 1).tolist()
        sizes[0] = min(sizes[0], 12)
        sizes[1:] = [max(n, 2) if f == "softmax" else n for n, f in zip(sizes[1:], acts)]
        if losses.get(loss).categorical:  # two classes at least; few, so that no probability is tiny
            sizes[-1] = min(max(sizes[-1], 2), 8)
        network = Network(sizes, acts, seed=int(rng.integers(1 << 30)))
        for b in network.biases:
            b[...] = rng.normal(0, 0.5, size=b.shape)
        n = rng.integers(1, 9)
        x = rng.normal(size=(n, sizes[0]))
        if clipped(losses.get(loss), np.ones((1, sizes[-1])), activations.get(output_activation)) is not None:
            keep_outputs_inside_0_1(network, x)
        y = random_targets(rng, loss, n, sizes[-1])
        if not near_a_kink(network, x, loss) and not too_flat_to_judge(network, x, y, loss) \
                and np.linalg.norm(network.backprop(x, y, loss)[0][0]) > 0:
            return network, x, y
    raise AssertionError("no random network away from kinks in 1000 draws")


@pytest.mark.parametrize("hidden,output,loss", COMBINATIONS)
def test_backprop_matches_finite_differences(hidden, output, loss):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}-{output}-{loss}".encode()))
    network, x, y = random_case(rng, hidden, output, loss)
    nabla_w, nabla_b = network.backprop(x, y, loss)
    backprop = np.concatenate([g.ravel() for pair in zip(nabla_w, nabla_b) for g in pair])
    numeric, kinks = finite_differences(OurNetwork(network, loss, SGD()), x, y, losses.get(loss), EPS)
    assert not any(k.any() for k in kinks)  # random_case kept away from every kink
    assert norm_relative_error(backprop, np.concatenate([g.ravel() for g in numeric])) <= 1e-7, network


def test_enough_randomized_networks_exercise_bp2():
    assert len(COMBINATIONS) >= 50
    assert ("sigmoid", "sigmoid", "quadratic") in COMBINATIONS  # the primer's own network, depth >= 2


def test_a_step_layer_passes_no_gradient():
    """step'(z) = 0 wherever it exists, so BP2 hands the layers below a step layer a zero delta."""
    rng = np.random.default_rng(2)
    network = Network([3, 5, 4, 2], ["sigmoid", "step", "sigmoid"], seed=1)
    nabla_w, nabla_b = network.backprop(rng.normal(size=(6, 3)), rng.uniform(size=(6, 2)), "quadratic")
    assert not nabla_w[0].any() and not nabla_b[0].any() and not nabla_w[1].any()
    assert np.linalg.norm(nabla_w[2]) > 0  # the layer above the step still learns


def test_backprop_handles_a_whole_batch_at_once():
    """The batch gradient is the mean of the per-example gradients (the cost is a mean over x)."""
    rng = np.random.default_rng(5)
    network = Network([4, 7, 3], ["tanh", "sigmoid"], seed=3)
    x, y = rng.normal(size=(5, 4)), rng.uniform(size=(5, 3))
    nabla_w, nabla_b = network.backprop(x, y, "quadratic")
    per_example = [network.backprop(x[i:i + 1], y[i:i + 1], "quadratic") for i in range(5)]
    for l in range(2):
        np.testing.assert_allclose(nabla_w[l], np.mean([g[0][l] for g in per_example], axis=0), rtol=1e-13)
        np.testing.assert_allclose(nabla_b[l], np.mean([g[1][l] for g in per_example], axis=0), rtol=1e-13)
