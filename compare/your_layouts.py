"""The two layouts a network of yours can have (docs/your-own-network.md), each as Keras's order of
tensors [W1, b1, W2, b2, ...] (compare/state.py), and every value your methods return checked at
every call: its type, that it holds real numbers, its shape.

- rows (Keras's layout, a batch at a time): get_weights() / set_weights(list) with [W1 (n_in, n_out),
  b1 (n_out,), W2, b2, ...]; feedforward(x) for a batch of rows; gradients(x, y) returning [dC/dW1,
  dC/db1, ...]; optionally train_step(x, y, learning_rate[, lmbda, n][, momentum, nesterov]), its
  own step, and get_velocities() / set_velocities(list), its momentum velocities in get_weights()'s
  shapes;
- columns (the primer's network.py, an example at a time): weights [(n_out, n_in), ...] and biases
  [(n_out, 1), ...]; feedforward(a) for one column; backprop(x, y) for one column example returning
  (nabla_b, nabla_w); optionally update_mini_batch(mini_batch, eta[, lmbda, n][, momentum, nesterov])
  over (x, y) column pairs (the book's chapter 3: update_mini_batch(mini_batch, eta, lmbda, n)), and
  weight_velocities / bias_velocities in the shapes of weights / biases.

Gradients are of the cost C0, without an L2 term (the book's backprop): the harness adds
(lambda / n) W itself. An update method gets lambda and the training set size n with --l2, or
whenever it names a parameter lmbda or l2 (lambda 0 without --l2).
"""
import inspect

import numpy as np

from .your_calls import YourCodeFailed


def described(value):
    """What a value is, in a few words: 'None', 'a str ('oops')', 'a dict', 'an array of complex128'."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype}"
    text = repr(value)
    return f"a {type(value).__name__}" + (f" ({text})" if len(text) <= 40 else "")


def numbers(value, what, expected):
    """`value` as a float64 array; YourCodeFailed naming `what` when it is not an array of real numbers."""
    try:
        array = np.asarray(value)
    except ValueError:  # e.g. a ragged list
        array = np.asarray(None)
    if array.dtype.kind not in "iuf":
        raise YourCodeFailed(f"error: your network's {what} gave {described(value)}; expected {expected}")
    return array.astype(np.float64)


def tensors(value, what, expected):
    """A list or tuple of arrays of numbers as float64 arrays; YourCodeFailed naming `what` otherwise."""
    if not isinstance(value, (list, tuple)):
        raise YourCodeFailed(f"error: your network's {what} gave {described(value)}; expected {expected}")
    return [numbers(v, f"{what} (item {i})", "an array of real numbers") for i, v in enumerate(value)]


class RowsLayout:
    """Keras's layout: parameters [W1 (n_in, n_out), b1 (n_out,), ...], a batch of rows at a time."""

    NEEDS = ("get_weights", "set_weights", "feedforward", "gradients")
    name, update_method, gradients_are = "rows", "train_step", "gradients"
    LEADING = 3  # the update method's arguments before lmbda, n: x, y, learning_rate
    VELOCITIES = ("get_velocities", "set_velocities")

    def __init__(self, calls):
        self.calls = calls  # compare/your_calls.Calls into the network object
        self.has_update = callable(getattr(calls.network, self.update_method, None))

    def names_l2(self):
        """Whether your update method names a parameter lmbda (the book's) or l2."""
        try:
            return any(name in ("lmbda", "l2") for name in inspect.signature(getattr(self.calls.network,
                                                                                  self.update_method)).parameters)
        except (TypeError, ValueError):  # a builtin or a callable object without a signature
            return False

    @staticmethod
    def in_its_terms(shapes):
        """Shapes of [W1, b1, ...] in Keras's layout, as this layout holds them."""
        return shapes

    def has_velocities(self):
        return all(hasattr(self.calls.network, name) for name in self.VELOCITIES)

    def get(self):
        return tensors(self.calls("get_weights"), "get_weights", "a list [W1, b1, W2, b2, ...] of arrays")

    def set(self, parameters):
        self.calls("set_weights", weights=list(parameters))

    def velocities(self):
        return tensors(self.calls("get_velocities"), "get_velocities", "a list [vW1, vb1, ...] of arrays")

    def set_velocities(self, velocities):
        self.calls("set_velocities", velocities=list(velocities))

    def output(self, x, k):
        """The outputs (n, k) for the batch x; YourCodeFailed for another shape."""
        a = numbers(self.calls("feedforward", x=x), "feedforward", f"an array of shape {(len(x), k)}")
        if a.shape != (len(x), k):
            raise YourCodeFailed(f"error: your network's feedforward gave outputs of shape {a.shape} for {len(x)} "
                                 f"examples; expected {(len(x), k)}")
        return a

    def gradients(self, x, y):
        return tensors(self.calls("gradients", x=x, y=y), "gradients", "a list [dC/dW1, dC/db1, ...] of arrays")

    def update(self, x, y, learning_rate, momentum=None, l2=None):
        """Your step on the batch; `momentum`: (mu, nesterov) when the run takes momentum; `l2`: the
        L2 term (scratch/regularization.py) when your method takes lambda and n."""
        self.calls("train_step", x=x, y=y, learning_rate=learning_rate, **extras(momentum, l2))


class ColumnsLayout(RowsLayout):
    """The primer's layout: weights (n_out, n_in) and biases (n_out, 1), one column example at a time."""

    NEEDS = ("weights", "biases", "feedforward", "backprop")
    name, update_method = "columns", "update_mini_batch"
    LEADING = 2  # mini_batch, eta
    gradients_are = "backprop's (nabla_b, nabla_w), in that order, averaged over the batch,"
    VELOCITIES = ("weight_velocities", "bias_velocities")

    @staticmethod
    def in_its_terms(shapes):
        return [tuple(reversed(s)) if len(s) == 2 else (*s, 1) for s in shapes]

    def get(self):
        return self.rows_of("weights", "biases")

    def set(self, parameters):
        weights, biases = columns_of(parameters)
        self.calls.assign("weights", weights)
        self.calls.assign("biases", biases)

    def velocities(self):
        return self.rows_of(*self.VELOCITIES)

    def set_velocities(self, velocities):
        weights, biases = columns_of(velocities)
        self.calls.assign("weight_velocities", weights)
        self.calls.assign("bias_velocities", biases)

    def rows_of(self, weights, biases):
        """The attributes `weights` (n_out, n_in) and `biases` (n_out, 1) as [W1, b1, ...] in Keras's layout."""
        network = self.calls.network
        w = tensors(getattr(network, weights), weights, "a list of arrays (n_out, n_in)")
        b = tensors(getattr(network, biases), biases, "a list of arrays (n_out, 1)")
        if len(w) != len(b):
            raise YourCodeFailed(f"error: your network has {len(w)} {weights} and {len(b)} {biases}; expected "
                                 "one of each per layer")
        return [p for w_l, b_l in zip(w, b) for p in (w_l.T, b_l.ravel())]

    def output(self, x, k):
        """The outputs (n, k), one column (k, 1) per example; YourCodeFailed for a column of another shape."""
        columns = [numbers(self.calls("feedforward", a=column(row)), "feedforward", f"a column of shape {(k, 1)}")
                   for row in x]
        wrong = next((c.shape for c in columns if c.shape != (k, 1)), None)
        if wrong is not None:
            raise YourCodeFailed(f"error: your network's feedforward gave outputs of shape {wrong} for a column; "
                                 f"expected {(k, 1)}")
        return np.array(columns).reshape(len(x), k)

    def gradients(self, x, y):
        """The batch cost's gradient: the mean of backprop's per-example ones, in the rows layout."""
        total = None
        for row, target in zip(x, y):
            result = self.calls("backprop", x=column(row), y=column(target))
            if not (isinstance(result, (list, tuple)) and len(result) == 2):
                raise YourCodeFailed(f"error: your network's backprop gave {described(result)}; expected "
                                     "(nabla_b, nabla_w), two lists of arrays")
            nabla_b = tensors(result[0], "backprop (nabla_b)", "a list of arrays (n_out, 1)")
            nabla_w = tensors(result[1], "backprop (nabla_w)", "a list of arrays (n_out, n_in)")
            rows = [p for w, b in zip(nabla_w, nabla_b) for p in (w.T, b.ravel())]
            total = rows if total is None else [t + r for t, r in zip(total, rows)]
        return [t / len(x) for t in total]

    def update(self, x, y, learning_rate, momentum=None, l2=None):
        mini_batch = [(column(row), column(target)) for row, target in zip(x, y)]
        self.calls("update_mini_batch", mini_batch=mini_batch, eta=learning_rate, **extras(momentum, l2))


def extras(momentum, l2):
    """The update method's arguments after the learning rate, in order: lmbda, n (with `l2`), then
    momentum, nesterov (with `momentum`, a pair (mu, nesterov))."""
    extra = {} if l2 is None else {"lmbda": l2.lmbda, "n": l2.n}
    return extra if momentum is None else {**extra, "momentum": momentum[0], "nesterov": momentum[1]}


def column(values):
    """One example as a column vector, as the primer's network takes it."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def columns_of(parameters):
    """[W1, b1, ...] in Keras's layout as (weights (n_out, n_in), biases (n_out, 1)), copied."""
    return [w.T.copy() for w in parameters[0::2]], [b.reshape(-1, 1).copy() for b in parameters[1::2]]


LAYOUTS = (RowsLayout, ColumnsLayout)
