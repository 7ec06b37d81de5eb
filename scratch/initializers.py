"""Initial weights and biases, drawn from a seeded generator so a run can be repeated.

- `glorot_uniform` (Keras Dense's default): W ~ U(-l, l), l = sqrt(6 / (n_in + n_out)); b = 0.
- `standard_normal` (the primer's first network): W ~ N(0, 1), b ~ N(0, 1).
- `scaled_normal` (the primer's improvement): W ~ N(0, 1/n_in), b ~ N(0, 1).
Weights are in the (n_in, n_out) layout Keras uses: z = a_prev @ W + b.
"""
import numpy as np


def glorot_uniform(rng, n_in, n_out):
    """W ~ U(-l, l) with l = sqrt(6 / (n_in + n_out)), b = 0."""
    limit = np.sqrt(6 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out)), np.zeros(n_out)


def standard_normal(rng, n_in, n_out):
    """W ~ N(0, 1), b ~ N(0, 1)."""
    return rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)


def scaled_normal(rng, n_in, n_out):
    """W ~ N(0, 1/n_in), b ~ N(0, 1): keeps z = W.x + b from saturating the sigmoid."""
    return rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), rng.standard_normal(n_out)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, standard_normal, scaled_normal)}


def get(name):
    """The initializer called `name`; ValueError naming the choices otherwise."""
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}: choose one of {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]


def initialize(name, sizes, seed, dtype=np.float64):
    """Weights and biases for layer sizes [n_0, ..., n_L], drawn once from default_rng(seed)."""
    draw = get(name)
    rng = np.random.default_rng(seed)
    layers = [draw(rng, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return [w.astype(dtype) for w, _ in layers], [b.astype(dtype) for _, b in layers]
