"""Backprop against central finite differences, over randomized networks."""
import itertools
import zlib

import numpy as np
import pytest

from scratch import activations, losses
from scratch.network import Network
from compare.finite_differences import finite_differences, relative_error

EPS = 1e-6
KINK_MARGIN = 1e-4  # a z this close to a kink (relu, step at 0; the BCE clip) may be crossed by eps
COMBINATIONS = list(itertools.product(activations.ACTIVATIONS, activations.ACTIVATIONS, losses.LOSSES))
COMBINATIONS = [c for c in COMBINATIONS if c[2] != "bce"]  # an alias of binary_crossentropy


def near_a_kink(network, x, loss):
    zs, acts = network.forward(x)
    for z, f in zip(zs, network.activations):
        if f.has_kink and np.abs(z).min() < KINK_MARGIN:
            return True
    z, a, f_out = zs[-1], acts[-1], network.activations[-1]
    if loss == "binary_crossentropy" and f_out.name != "sigmoid":
        moving = f_out.prime(z, a) != 0 if f_out.prime else np.ones(a.shape, bool)  # a flat a cannot cross
        # near 0 or 1, log(a) curves so fast (third derivative ~ 2/a^3) that central
        # differences err by ~eps^2/a^2; the clip at 1e-7 is a kink besides
        at_clip = (a < 1e-2) | (a > 1 - 1e-2)
        return bool((at_clip & moving).any())
    return False


def too_flat_to_judge(network, x, y, loss):
    """True when the finite differences' own round-off (~1e-16 |C| / eps per entry) could exceed
    1e-8 of the gradient's norm: then the reference cannot judge a 1e-7 relative error."""
    nabla_w, nabla_b, _, _ = network.backprop(x, y, loss)
    norm = np.sqrt(sum(np.sum(g ** 2) for g in nabla_w + nabla_b))
    count = sum(g.size for g in nabla_w + nabla_b)
    noise = np.sqrt(count) * 2.2e-16 * max(1.0, abs(network.cost(x, y, loss))) / EPS
    return 0 < norm < noise * 1e8  # a zero gradient (step outputs) is judged exactly


def random_case(rng, hidden_activation, output_activation, loss):
    """A network of depth 1-4 and width 1-40 with a batch of 1-8 examples, away from any kink."""
    for _ in range(1000):
        depth = rng.integers(1, 5)
        sizes = rng.integers(1, 41, size=depth + 1).tolist()
        sizes = [min(s, 12) if i == 0 else s for i, s in enumerate(sizes)]
        acts = [hidden_activation] * (depth - 1) + [output_activation]
        network = Network(sizes, acts, seed=int(rng.integers(1 << 30)))
        for b in network.biases:
            b[...] = rng.normal(0, 0.5, size=b.shape)
        n = rng.integers(1, 9)
        x = rng.normal(size=(n, sizes[0]))
        y = rng.uniform(size=(n, sizes[-1]))
        if not near_a_kink(network, x, loss) and not too_flat_to_judge(network, x, y, loss):
            return network, x, y
    raise AssertionError("no random network away from kinks in 1000 draws")


@pytest.mark.parametrize("hidden,output,loss", COMBINATIONS)
def test_backprop_matches_finite_differences(hidden, output, loss):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}-{output}-{loss}".encode()))
    network, x, y = random_case(rng, hidden, output, loss)
    nabla_w, nabla_b, _, _ = network.backprop(x, y, loss)
    backprop = np.concatenate([g.ravel() for pair in zip(nabla_w, nabla_b) for g in pair])
    numeric, kinks = finite_differences(network, x, y, losses.get(loss), EPS)
    assert not any(k.any() for k in kinks)  # random_case kept away from every kink
    assert relative_error(backprop, np.concatenate([g.ravel() for g in numeric])) <= 1e-7, network


def test_enough_randomized_networks():
    assert len(COMBINATIONS) >= 50


def test_backprop_handles_a_whole_batch_at_once():
    """The batch gradient is the mean of the per-example gradients (the cost is a mean over x)."""
    rng = np.random.default_rng(5)
    network = Network([4, 7, 3], ["tanh", "sigmoid"], seed=3)
    x, y = rng.normal(size=(5, 4)), rng.uniform(size=(5, 3))
    nabla_w, nabla_b, _, _ = network.backprop(x, y, "quadratic")
    per_example = [network.backprop(x[i:i + 1], y[i:i + 1], "quadratic") for i in range(5)]
    for l in range(2):
        np.testing.assert_allclose(nabla_w[l], np.mean([g[0][l] for g in per_example], axis=0), rtol=1e-13)
        np.testing.assert_allclose(nabla_b[l], np.mean([g[1][l] for g in per_example], axis=0), rtol=1e-13)
