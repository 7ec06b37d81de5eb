"""A multilayer perceptron: layers of sigmoid (or ReLU, tanh, ...) neurons, trained by backprop.

Layer l holds weights W^l of shape (n_{l-1}, n_l) and biases b^l of shape (n_l,), the layout Keras
uses. A batch X of n examples (one per row) flows forward as

    z^l = a^{l-1} W^l + b^l,    a^l = f_l(z^l),    a^0 = X.

Backpropagation, in matrix form for the whole batch (the primer's BP1-BP4):

    delta^L = dC/da^L * f_L'(z^L)                       (BP1)
    delta^l = (delta^{l+1} W^{l+1}T) * f_l'(z^l)        (BP2)
    dC/db^l = sum over the batch of delta^l              (BP3)
    dC/dW^l = a^{l-1}T delta^l                          (BP4)

These are the gradients of the cost C0 that the loss measures; an L2 term adds (lambda / n) W^l to
each dC/dW^l (scratch/regularization.py).
"""
import numpy as np

from . import activations as activations_module
from . import losses as losses_module
from .initializers import initialize
from .regularization import NONE

DTYPES = {"float64": np.float64, "float32": np.float32}


def resolve_dtype(dtype):
    """np.float64 or np.float32 from a name or a NumPy dtype; ValueError otherwise."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}: use float64 or float32")
    return DTYPES[name]


def check_sizes(sizes):
    """Layer sizes [n_0, ..., n_L] as ints; ValueError unless at least two, all positive integers."""
    if len(sizes) < 2 or any(int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"layer sizes must be at least two positive integers, got {list(sizes)}")
    return [int(s) for s in sizes]


def parameter_count(sizes):
    """Weights and biases of a network with layer sizes [n_0, ..., n_L]: sum of (n_{l-1} + 1) n_l."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


class Network:
    """An MLP with layer sizes [n_0, ..., n_L] and one activation per layer after the input."""

    def __init__(self, sizes, activations="sigmoid", initializer="glorot_uniform", seed=0, dtype="float64"):
        sizes = check_sizes(sizes)
        if isinstance(activations, str):
            activations = [activations] * (len(sizes) - 1)
        if len(activations) != len(sizes) - 1:
            raise ValueError(f"need {len(sizes) - 1} activations for sizes {sizes}, got {len(activations)}")
        self.sizes = sizes
        self.dtype = resolve_dtype(dtype)
        self.activation_functions = [activations_module.get(name) for name in activations]
        self.weights, self.biases = initialize(initializer, sizes, seed, self.dtype)

    @property
    def num_layers(self):
        return len(self.weights)

    def check_input(self, x, what="input"):
        """x as a 2-D array of this network's dtype; ValueError if its shape or values are wrong."""
        return check_input(x, self.sizes[0], self.dtype, what)

    def forward(self, x):
        """All weighted inputs zs = [z^1..z^L] and activations [a^0..a^L] for a batch x."""
        zs, activations = [], [x]
        for w, b, f in zip(self.weights, self.biases, self.activation_functions):
            z = np.dot(activations[-1], w)
            z += b
            zs.append(z)
            activations.append(f(z))
        return zs, activations

    def feedforward(self, x):
        """a^L for a batch x: the network's output."""
        zs, activations = self.forward(x)
        return activations[-1]

    def predict(self, x):
        """The output a^L for the examples in x, after checking x."""
        return self.feedforward(self.check_input(x))

    def backprop(self, x, y, loss, forward_pass=None):
        """(nabla_w, nabla_b): the gradients dC/dW^l and dC/db^l for the batch (x, y), by BP1-BP4.
        `forward_pass`: forward(x)'s (zs, activations), when the caller has them already."""
        loss = losses_module.get(loss)
        zs, activations = forward_pass or self.forward(x)
        delta = loss.output_delta(zs[-1], activations[-1], y, self.activation_functions[-1])  # BP1
        nabla_w, nabla_b = [None] * self.num_layers, [None] * self.num_layers
        for l in reversed(range(self.num_layers)):
            nabla_w[l] = np.dot(activations[l].T, delta)  # BP4
            nabla_b[l] = np.dot(np.ones(len(x), self.dtype), delta)  # BP3: the sum over the batch, 1^T delta
            if l > 0:  # BP2; the input layer needs no delta
                f = self.activation_functions[l - 1]
                delta = f.backward(zs[l - 1], activations[l], np.dot(delta, self.weights[l].T))
        return nabla_w, nabla_b

    def cost(self, x, y, loss, l2=NONE):
        """C(w, b) on the batch (x, y): the loss's C0, plus the L2 term `l2` if any."""
        zs, activations = self.forward(x)
        value = losses_module.get(loss).value(zs[-1], activations[-1], y, self.activation_functions[-1])
        return value + l2.penalty(self.weights)

    def evaluate(self, x, y, loss, l2=NONE):
        """(cost, accuracy) over the examples (x, y); the cost with the L2 term `l2` if any."""
        zs, activations = self.forward(x)
        value = losses_module.get(loss).value(zs[-1], activations[-1], y, self.activation_functions[-1])
        return float(value + l2.penalty(self.weights)), count_correct(activations[-1], labels_of(y)) / len(y)

    def live_parameters(self):
        """The live arrays [W^1, b^1, W^2, b^2, ...], in the order of keras Model.get_weights()."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def parameter_copies(self):
        """Copies of live_parameters(), as Keras get_weights() returns copies."""
        return [p.copy() for p in self.live_parameters()]

    def set_parameters(self, parameters):
        """Load [W^1, b^1, ...] (as from parameter_copies or Keras get_weights), checking shapes."""
        parameters = list(parameters)
        if len(parameters) != 2 * self.num_layers:
            raise ValueError(f"expected {2 * self.num_layers} arrays, got {len(parameters)}")
        for i, p in enumerate(parameters):
            current = self.weights[i // 2] if i % 2 == 0 else self.biases[i // 2]
            if np.shape(p) != current.shape:
                raise ValueError(f"parameter {i} has shape {np.shape(p)}, expected {current.shape}")
            current[...] = p

    def non_finite_parameters(self):
        """Names of the weight and bias tensors holding NaN or inf, nearest the output first."""
        return [name for name, p in reversed(list(zip(self.parameter_names(), self.live_parameters())))
                if not np.isfinite(p).all()]

    def parameter_names(self):
        """Names matching parameter_copies(): dense_1/kernel, dense_1/bias, ..."""
        return parameter_names(self.num_layers)

    def __repr__(self):
        layers = ", ".join(f"{n}:{f.name}" for n, f in zip(self.sizes[1:], self.activation_functions))
        return f"Network({self.sizes[0]} -> {layers}, {np.dtype(self.dtype).name})"


def check_input(x, n_features, dtype, what="input"):
    """x as a 2-D array of `dtype` with `n_features` columns; ValueError if its shape or values are wrong."""
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"{what} has shape {x.shape} but the network takes {n_features} features per row")
    if len(x) == 0:
        raise ValueError(f"{what} is empty: give at least one example")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf: clean or impute the data first")
    return x


def parameter_names(num_layers):
    """dense_1/kernel, dense_1/bias, ...: the names Keras gives W^1, b^1, ..."""
    return [f"dense_{l + 1}/{kind}" for l in range(num_layers) for kind in ("kernel", "bias")]


def labels_of(a):
    """The class each row stands for: argmax over several outputs, a > 0.5 for one (as Keras's accuracy);
    class labels (one number per example) stand for themselves."""
    if a.ndim == 1:
        return a.astype(np.intp)
    return a[:, 0] > 0.5 if a.shape[1] == 1 else a.argmax(axis=1)


def count_correct(a, labels):
    """How many outputs a name the right class."""
    return np.count_nonzero(labels_of(a) == labels)
