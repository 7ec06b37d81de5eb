"""Central finite differences on the scratch forward pass, in float64: the independent reference
for backprop's gradients (it needs neither backprop nor Keras, and no TensorFlow).

    dC/dp ~ (C(p + eps) - C(p - eps)) / (2 eps),
    relative error(a, b) = ||a - b|| / (||a|| + ||b||)   (0 when both are 0).

An entry whose +-eps nudge flips a ReLU or step unit (or the cross-entropy clip) is a kink: the
difference quotient means nothing there, so it is counted, not judged.
"""
import copy

import numpy as np

from scratch.losses import EPSILON as CLIP
from scratch.network import Network

from .tolerances import FD_EPSILON


def relative_error(a, b, floor=0.0):
    """||a - b|| / max(||a|| + ||b||, floor); 0 when both are zero."""
    scale = max(np.linalg.norm(a) + np.linalg.norm(b), floor)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def float64_copy(network):
    copy = Network(network.sizes, [f.name for f in network.activation_functions], dtype="float64")
    copy.set_parameters(network.parameter_copies())
    return copy


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


def cost_and_kinks(network, x, y, loss, yours=None):
    """C, and which side of every kink each unit is on: z > 0 for ReLU/step layers, and the clip of
    the cross-entropies. With `yours`, C is your network's at the scratch network's weights."""
    zs, activations = network.forward(x)
    output = network.activation_functions[-1]
    cost = loss.value(zs[-1], activations[-1], y, output)
    if yours is not None:
        yours.set_parameters(network.live_parameters())
        cost = yours.cost(x, y, loss)
    sides = [z > 0 for z, f in zip(zs, network.activation_functions) if f.has_kink]
    p = clipped(loss, activations[-1], output)
    if p is not None:
        sides += [p < CLIP, p > 1 - CLIP]
    return cost, sides


def finite_differences(network, x, y, loss, eps=FD_EPSILON):
    """(gradients, kink masks) for [W1, b1, W2, b2, ...] by central differences in float64. A network
    other than scratch's (yours, compare/your_network.py) gives the costs through its own feedforward;
    a scratch network with the same weights shows where the kinks are."""
    net = float64_copy(network)
    yours = None if isinstance(network, Network) else copy.deepcopy(network)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    grads, kinks = [], []
    for p in net.live_parameters():
        g, kink = np.zeros_like(p), np.zeros(p.shape, bool)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + eps
            plus, plus_side = cost_and_kinks(net, x, y, loss, yours)
            p[i] = saved - eps
            minus, minus_side = cost_and_kinks(net, x, y, loss, yours)
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
