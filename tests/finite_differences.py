"""Central finite differences on the scratch forward pass: the independent gradient reference."""
import numpy as np


def numerical_gradients(network, x, y, loss, eps=1e-6):
    """dC/dp for every parameter p, by (C(p + eps) - C(p - eps)) / (2 eps)."""
    grads = []
    for p in network.weights + network.biases:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + eps
            plus = network.cost(x, y, loss)
            p[i] = saved - eps
            minus = network.cost(x, y, loss)
            p[i] = saved
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads[:network.num_layers], grads[network.num_layers:]


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||) over all arrays together; 0 when both are 0."""
    diff = np.sqrt(sum(np.sum((x - z) ** 2) for x, z in zip(a, b)))
    scale = np.sqrt(sum(np.sum(x ** 2) for x in a)) + np.sqrt(sum(np.sum(z ** 2) for z in b))
    return 0.0 if scale == 0 else diff / scale
