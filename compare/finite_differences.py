"""Central finite differences on the scratch forward pass, in float64: the independent reference
for backprop's gradients (it needs neither backprop nor Keras, and no TensorFlow).

    dC/dp ~ (C(p + eps) - C(p - eps)) / (2 eps),

judged by compare/tolerances.py's norm_relative_error, ||a - b|| / (||a|| + ||b||).

An entry whose +-eps nudge flips a ReLU or step unit (or the cross-entropy clip) is a kink: the
difference quotient means nothing there, so it is counted, not judged.
"""
import numpy as np

from scratch import losses
from scratch.losses import EPSILON as CLIP
from scratch.network import Network

from .tolerances import FD_EPSILON


def clipped(loss, a, activation):
    """What a cross-entropy clips to [eps, 1 - eps] (scratch/losses.py), or None where it works from
    the logits (binary with a sigmoid output, categorical with a softmax one) or does not clip."""
    if activation.name == ("sigmoid" if loss.name == "binary_crossentropy" else "softmax"):
        return None
    if loss.name in ("binary_crossentropy", "sparse_categorical_crossentropy"):
        return a
    if loss.name == "categorical_crossentropy":
        return a / a.sum(axis=-1, keepdims=True)
    return None


def kink_sides(network, x, y, loss):
    """Which side of every kink each unit is on, in the scratch network at its weights: z > 0 for
    ReLU/step layers, and the clip of the cross-entropies."""
    zs, activations = network.forward(x)
    sides = [z > 0 for z, f in zip(zs, network.activation_functions) if f.has_kink]
    p = clipped(loss, activations[-1], network.activation_functions[-1])
    if p is not None:
        sides += [p < CLIP, p > 1 - CLIP]
    return sides


def finite_differences(judged, x, y, loss, eps=FD_EPSILON):
    """(gradients, kink masks) for [W1, b1, W2, b2, ...] by central differences in float64, of the
    cost C as `judged` (compare/judged.py; its loss is `loss`) computes it through its own forward
    pass; a scratch network at the same weights shows where the kinks are."""
    loss, probe = losses.get(loss), judged.probe(float64=True)
    parameters = [np.asarray(p, np.float64) for p in judged.parameter_copies()]
    kinks_of = Network(judged.sizes, [f.name for f in judged.activation_functions], dtype="float64")
    kinks_of.weights, kinks_of.biases = parameters[0::2], parameters[1::2]  # the very arrays nudged below
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    kinked = bool(kink_sides(kinks_of, x, y, loss))  # no kink layer and no clip: no forward pass for them

    def cost_and_kinks():
        probe.set_parameters(parameters)
        return probe.cost(x, y), kink_sides(kinks_of, x, y, loss) if kinked else []

    grads, kinks = [], []
    for p in parameters:
        g, kink = np.zeros_like(p), np.zeros(p.shape, bool)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + eps
            plus, plus_side = cost_and_kinks()
            p[i] = saved - eps
            minus, minus_side = cost_and_kinks()
            p[i] = saved
            g[i] = (plus - minus) / (2 * eps)
            kink[i] = any((a != b).any() for a, b in zip(plus_side, minus_side))
        grads.append(g)
        kinks.append(kink)
    return grads, kinks


def fd_noise_floor(size, cost, eps=FD_EPSILON):
    """The gradient norm below which finite differences' own round-off (~1e-16 |C| / eps per entry)
    would count as a 1e-6 relative error: such tensors are judged against this floor instead."""
    return np.sqrt(size) * 1e-16 * max(1.0, abs(cost)) / eps / 1e-6
