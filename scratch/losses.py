"""Cost functions C over a batch of n examples with k outputs, and dC/dz at the output layer.

- `quadratic`: the primer's C = 1/(2n) sum_x ||y(x) - a||^2.
- `mse`: Keras's mean squared error, mean over the k outputs then over the batch:
  C = 1/(n k) sum_x ||y(x) - a||^2 (so its gradient is 2/k times the quadratic one).
- `binary_crossentropy`: C = -1/(n k) sum [y log a + (1 - y) log(1 - a)], as Keras computes it:
  from the logits z when a = sigmoid(z) (stable, unclipped), otherwise with a clipped to
  [1e-7, 1 - 1e-7].
- `cross_entropy`: the book's cross-entropy cost for sigmoid outputs (its chapter 3), summed over
  the k outputs like the quadratic cost: C = -1/n sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)],
  k times Keras's binary_crossentropy; from the logits z (stable, unclipped).
- `categorical_crossentropy`: the log-likelihood cost C = -1/n sum_x sum_j y_j log a_j, for one-hot
  targets y; from the logits z when a = softmax(z), otherwise as Keras computes it.
- `sparse_categorical_crossentropy`: the same cost for targets given as class labels t (one integer
  per example, as Keras takes them): C = -1/n sum_x log a_t.

`value(z, a, y, activation)` is the cost; `output_delta(z, a, y, activation)` is
delta^L = dC/dz^L, where backprop starts.
"""
from dataclasses import dataclass

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon(), the clip of probabilities in cross-entropy


def quadratic(z, a, y, activation):
    """C = 1/(2n) sum ||y - a||^2."""
    r = a - y
    return 0.5 * np.vdot(r, r) / len(a)


def quadratic_prime(z, a, y, activation):
    """dC/da = (a - y) / n."""
    return (a - y) / len(a)


def mse(z, a, y, activation):
    """C = 1/(n k) sum ||y - a||^2."""
    r = a - y
    return np.vdot(r, r) / a.size


def mse_prime(z, a, y, activation):
    """dC/da = 2 (a - y) / (n k)."""
    return (a - y) * (2 / a.size)


def sigmoid_cross_entropy_terms(z, y):
    """-[y log a + (1 - y) log(1 - a)] for each output a = sigmoid(z), from z: max(z, 0) - z y +
    log(1 + exp(-|z|)), finite for any z."""
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def binary_crossentropy(z, a, y, activation):
    """C = -mean[y log a + (1 - y) log(1 - a)], the mean over the n k outputs; for a = sigmoid(z), from z."""
    if activation.name == "sigmoid":
        return sigmoid_cross_entropy_terms(z, y).mean()
    p = np.clip(a, EPSILON, 1 - EPSILON)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()


def binary_crossentropy_prime(z, a, y, activation):
    """dC/da = (a - y) / (a (1 - a) n k), zero where the clip holds a fixed."""
    p = np.clip(a, EPSILON, 1 - EPSILON)
    inside = (a >= EPSILON) & (a <= 1 - EPSILON)
    return inside * (p - y) / (p * (1 - p) * a.size)


def binary_crossentropy_delta(z, a, y, activation):
    """The fused BP1 for a sigmoid output: dC/da * sigma'(z) = (a - y) / (a (1 - a) n k) * a (1 - a)
    = (a - y) / (n k), sigma' cancelling the denominator. Other outputs take the general BP1."""
    if activation.name == "sigmoid":
        return (a - y) / a.size
    return activation.backward(z, a, binary_crossentropy_prime(z, a, y, activation))


def cross_entropy(z, a, y, activation):
    """C = -1/n sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)].

    For a = sigmoid(z), from z (sigmoid_cross_entropy_terms). From the outputs alone (a network of
    yours, which shows no z) a term whose factor y or 1 - y is 0 counts 0.
    """
    if activation.name == "sigmoid":
        return sigmoid_cross_entropy_terms(z, y).sum() / len(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y != 0, y * np.log(a), 0) + np.where(y != 1, (1 - y) * np.log1p(-a), 0)
    return -terms.sum() / len(a)


def cross_entropy_prime(z, a, y, activation):
    """dC/da = (a - y) / (a (1 - a) n)."""
    return (a - y) / (a * (1 - a) * len(a))


def cross_entropy_delta(z, a, y, activation):
    """BP1 for the cross-entropy and a sigmoid output, as the book writes it: with sigma'(z) = a (1 - a),

        delta^L = dC/da * sigma'(z) = (a - y) / (a (1 - a) n) * a (1 - a) = (a - y) / n,

    sigma' cancelling, so a saturated output neuron still learns fast. Other outputs take the general BP1."""
    if activation.name == "sigmoid":
        return (a - y) / len(a)
    return activation.backward(z, a, cross_entropy_prime(z, a, y, activation))


def log_softmax(z):
    """log softmax(z)_j = z_j - log sum_k exp(z_k), per row, shifted by max(z): finite for any finite z."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def categorical_crossentropy(z, a, y, activation):
    """C = -1/n sum_x sum_j y_j log a_j.

    For a = softmax(z), log a = log_softmax(z), finite at |z| = 1000. Any other output is handled as
    Keras does it (keras/src/backend/tensorflow/nn.py): a is first normalised to sum to 1 per row,
    q = a / sum_j a_j, then clipped to [1e-7, 1 - 1e-7].
    """
    if activation.name == "softmax":
        return -np.vdot(y, log_softmax(z)) / len(z)
    p = np.clip(a / a.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
    return -np.vdot(y, np.log(p)) / len(a)


def categorical_crossentropy_prime(z, a, y, activation):
    """dC/da through Keras's normalisation q = a / s (s = sum_j a_j) and clip p = clip(q):
    dC/dq_j = -y_j / (n p_j) where the clip lets q through (else 0), and dq_j/da_i = (delta_ij - q_j) / s,
    so dC/da_i = (dC/dq_i - sum_j dC/dq_j q_j) / s."""
    s = a.sum(axis=-1, keepdims=True)
    q = a / s
    inside = (q >= EPSILON) & (q <= 1 - EPSILON)
    dq = inside * -y / (np.clip(q, EPSILON, 1 - EPSILON) * len(a))
    return (dq - (dq * q).sum(axis=-1, keepdims=True)) / s


def categorical_crossentropy_delta(z, a, y, activation):
    """The fused BP1 for a softmax output. With the softmax Jacobian da_j/dz_k = a_j (delta_jk - a_k):
        dC/dz_k = sum_j (-y_j / (n a_j)) a_j (delta_jk - a_k)
                = (a_k sum_j y_j - y_k) / n
                = (a_k - y_k) / n,  as the targets of each example sum to 1.
    Other outputs take the general BP1."""
    if activation.name == "softmax":
        return (a - y) / len(a)
    return activation.backward(z, a, categorical_crossentropy_prime(z, a, y, activation))


def one_hot(t, k, dtype):
    """Class labels t (n,) as rows of k: row x has a 1 in column t_x."""
    y = np.zeros((len(t), k), dtype)
    y[np.arange(len(t)), t.astype(np.intp)] = 1
    return y


def sparse_categorical_crossentropy(z, a, t, activation):
    """C = -1/n sum_x log a_{t_x}, for class labels t.

    For a = softmax(z), from the logits as categorical_crossentropy. Any other output as Keras does
    it: clipped first, p = clip(a, 1e-7, 1 - 1e-7), then normalised: C_x = -log(p_t / sum_j p_j).
    """
    if activation.name == "softmax":
        return categorical_crossentropy(z, a, one_hot(t, a.shape[-1], a.dtype), activation)
    p = np.clip(a, EPSILON, 1 - EPSILON)
    return (np.log(p.sum(axis=-1)).sum() - np.log(p[np.arange(len(t)), t.astype(np.intp)]).sum()) / len(a)


def sparse_categorical_crossentropy_prime(z, a, t, activation):
    """dC/da_i = (1 / sum_j p_j - [i = t] / p_i) / n where the clip lets a_i through, else 0."""
    p = np.clip(a, EPSILON, 1 - EPSILON)
    inside = (a >= EPSILON) & (a <= 1 - EPSILON)
    return inside * (1 / p.sum(axis=-1, keepdims=True) - one_hot(t, a.shape[-1], a.dtype) / p) / len(a)


def sparse_categorical_crossentropy_delta(z, a, t, activation):
    """The fused BP1 for a softmax output, (a - y) / n with y the one-hot rows of t; else the general BP1."""
    if activation.name == "softmax":
        return (a - one_hot(t, a.shape[-1], a.dtype)) / len(a)
    return activation.backward(z, a, sparse_categorical_crossentropy_prime(z, a, t, activation))


@dataclass(frozen=True)
class Loss:
    """A cost by name: its value and delta^L = dC/dz at the output layer."""

    name: str
    value: callable
    prime: callable  # dC/da
    delta: callable = None  # dC/dz, when it is better than activation.backward(dC/da)
    sparse: bool = False  # targets are class labels, one per example, not rows of k
    categorical: bool = False  # needs two outputs or more
    outputs: tuple = ()  # the output activations it is defined for, when not all

    def output_delta(self, z, a, y, activation):
        """delta^L = dC/da^L * f'(z^L) (BP1 of the primer), in matrix form for the batch; or the
        loss's own fused form of that product, where it has one."""
        if self.delta is not None:
            return self.delta(z, a, y, activation)
        return activation.backward(z, a, self.prime(z, a, y, activation))


LOSSES = {
    "quadratic": Loss("quadratic", quadratic, quadratic_prime),
    "mse": Loss("mse", mse, mse_prime),
    "binary_crossentropy": Loss(
        "binary_crossentropy", binary_crossentropy, binary_crossentropy_prime, binary_crossentropy_delta
    ),
    "cross_entropy": Loss("cross_entropy", cross_entropy, cross_entropy_prime, cross_entropy_delta,
                          outputs=("sigmoid",)),
    "categorical_crossentropy": Loss(
        "categorical_crossentropy", categorical_crossentropy, categorical_crossentropy_prime,
        categorical_crossentropy_delta, categorical=True),
    "sparse_categorical_crossentropy": Loss(
        "sparse_categorical_crossentropy", sparse_categorical_crossentropy, sparse_categorical_crossentropy_prime,
        sparse_categorical_crossentropy_delta, sparse=True, categorical=True),
}
ALIASES = {"bce": "binary_crossentropy", "cce": "categorical_crossentropy", "scce": "sparse_categorical_crossentropy"}
LOSSES.update({alias: LOSSES[name] for alias, name in ALIASES.items()})


INSTEAD = {"softmax": "categorical_crossentropy (the log-likelihood cost of a softmax output)"}  # else: quadratic or mse


def check_output(loss, output_activation):
    """ValueError when `loss` is not defined for an `output_activation`, saying what to use instead."""
    loss = get(loss)
    if loss.outputs and output_activation not in loss.outputs:
        instead = INSTEAD.get(output_activation, "quadratic or mse")
        raise ValueError(f"{loss.name} is the book's cost for {' or '.join(loss.outputs)} outputs, between 0 and 1: "
                         f"with a {output_activation} output use {instead}, or --output-activation sigmoid")


def get(name):
    """The Loss called `name`; ValueError naming the choices otherwise."""
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}") from None
