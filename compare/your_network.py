"""Your own network in the harness (`--implementation PATH.py:NAME`, docs/your-own-network.md).

`load` imports PATH.py (running its code) and calls NAME(sizes); `layout_of` finds the layout:

- rows (Keras's layout, a batch at a time): get_weights() / set_weights(list) with [W1 (n_in, n_out),
  b1 (n_out,), W2, b2, ...]; feedforward(x) for a batch of rows; gradients(x, y) returning [dC/dW1,
  dC/db1, ...]; optionally train_step(x, y, learning_rate), its own SGD step;
- columns (the primer's network.py, an example at a time): weights [(n_out, n_in), ...] and biases
  [(n_out, 1), ...]; feedforward(a) for one column; backprop(x, y) for one column example returning
  (nabla_b, nabla_w); optionally update_mini_batch(mini_batch, eta) over (x, y) column pairs.

`YourNetwork` puts either behind the protocol through which the harness judges every network
(compare/judged.py). Its costs take the network's output as probabilities (it shows no logits), and
an exception raised in your code comes back as YourCodeFailed, which shows your frames of the
traceback.
"""
import copy
import importlib.util
import os
import sys
import traceback

import numpy as np

from scratch import activations as activations_module
from scratch import losses as losses_module
from scratch.network import count_correct, labels_of, parameter_names

from .judged import COPIES_OF_PARAMETERS
from .state import kernels_then_biases, load_velocities, with_velocities

PROBABILITIES = activations_module.get("linear")  # costs of an output whose logits are unknown


class YourCodeFailed(Exception):
    """An exception raised inside your network's code, with the traceback cut to your file's frames."""

    def __init__(self, path, error):
        frames = [f for f in traceback.extract_tb(error.__traceback__) if os.path.abspath(f.filename) == path]
        lines = traceback.format_list(frames) + traceback.format_exception_only(error)
        super().__init__(f"error: your network ({path}) raised {type(error).__name__}; your part of the "
                         "traceback:\n" + "".join(lines).rstrip())


def calling(path, function, *args):
    """function(*args), with an exception from it raised as YourCodeFailed; a call that does not fit
    the function's signature (a TypeError before any line of theirs ran) is bad input, ValueError."""
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - whatever their code raises is theirs to see
        theirs = [f for f in traceback.extract_tb(error.__traceback__) if os.path.abspath(f.filename) == path]
        if isinstance(error, TypeError) and not theirs:
            raise ValueError(f"--implementation: calling {getattr(function, '__qualname__', function)} with "
                             f"{len(args)} argument(s) failed ({error}); docs/your-own-network.md gives the "
                             "signatures, e.g. NAME(sizes)") from None
        raise YourCodeFailed(path, error) from None


def load(spec, sizes):
    """(the network NAME(sizes) from PATH.py, PATH); ValueError for a bad spec."""
    path, _, name = spec.rpartition(":")
    if not path or not name.isidentifier():
        raise ValueError(f"--implementation takes PATH.py:NAME, got {spec!r}: for example "
                         "examples/network_columns.py:Network")
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"--implementation: no file {path}")
    module_spec = importlib.util.spec_from_file_location("your_network", path)
    if module_spec is None:
        raise ValueError(f"--implementation: {path} is not a Python file (it should end in .py)")
    module = importlib.util.module_from_spec(module_spec)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in their folder
    try:
        calling(path, module_spec.loader.exec_module, module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    if not callable(getattr(module, name, None)):
        raise ValueError(f"--implementation: {path} defines no class or function {name}")
    return calling(path, getattr(module, name), list(sizes)), path


def made_by(make_network, sizes):
    """(make_network(sizes), the file it is defined in): the Python API's way in."""
    code = getattr(make_network, "__code__", None) or getattr(getattr(make_network, "__init__", None), "__code__", None)
    path = os.path.abspath(code.co_filename) if code else ""  # a function's file, or its class's __init__'s
    return calling(path, make_network, list(sizes)), path


def layout_of(network, path):
    """RowsLayout or ColumnsLayout around `network`; ValueError when it has neither."""
    for layout in (RowsLayout, ColumnsLayout):
        if all(hasattr(network, attribute) for attribute in layout.NEEDS):
            return layout(network, path)
    raise ValueError(f"--implementation: the network has neither layout: rows needs {', '.join(RowsLayout.NEEDS)}; "
                     f"columns needs {', '.join(ColumnsLayout.NEEDS)} (docs/your-own-network.md)")


class RowsLayout:
    """Keras's layout: parameters [W1 (n_in, n_out), b1 (n_out,), ...], a batch of rows at a time."""

    @staticmethod
    def in_its_terms(shapes):
        """Shapes of [W1, b1, ...] in Keras's layout, as this layout holds them."""
        return shapes

    NEEDS = ("get_weights", "set_weights", "feedforward", "gradients")
    name, update_method = "rows", "train_step"

    def __init__(self, network, path):
        self.network, self.path = network, path
        self.has_update = callable(getattr(network, self.update_method, None))

    def call(self, method, *args):
        return calling(self.path, getattr(self.network, method), *args)

    def get(self):
        return [np.array(p, dtype=np.float64) for p in self.call("get_weights")]

    def set(self, parameters):
        self.call("set_weights", [p.copy() for p in parameters])

    def output(self, x, k):
        """The outputs (n, k) for the batch x; ValueError for another shape."""
        a = np.asarray(self.call("feedforward", x), dtype=np.float64)
        if a.shape != (len(x), k):
            raise ValueError(f"your network's feedforward gave outputs of shape {a.shape} for {len(x)} examples; "
                             f"expected {(len(x), k)}")
        return a

    def gradients(self, x, y):
        return [np.asarray(g, dtype=np.float64) for g in self.call("gradients", x, y)]

    def update(self, x, y, learning_rate):
        self.call("train_step", x, y, learning_rate)


class ColumnsLayout(RowsLayout):
    """The primer's layout: weights (n_out, n_in) and biases (n_out, 1), one column example at a time."""

    NEEDS = ("weights", "biases", "feedforward", "backprop")
    name, update_method = "columns", "update_mini_batch"

    @staticmethod
    def in_its_terms(shapes):
        return [tuple(reversed(s)) if len(s) == 2 else (*s, 1) for s in shapes]

    def get(self):
        return [p for w, b in zip(self.network.weights, self.network.biases)
                for p in (np.array(w, dtype=np.float64).T, np.array(b, dtype=np.float64).ravel())]

    def set(self, parameters):
        self.network.weights = [w.T.copy() for w in parameters[0::2]]
        self.network.biases = [b.reshape(-1, 1).copy() for b in parameters[1::2]]

    def output(self, x, k):
        """The outputs (n, k), one column (k, 1) per example; ValueError for a column of another shape."""
        columns = [np.asarray(self.call("feedforward", column(row)), dtype=np.float64) for row in x]
        wrong = next((c.shape for c in columns if c.shape != (k, 1)), None)
        if wrong is not None:
            raise ValueError(f"your network's feedforward gave outputs of shape {wrong} for a column; expected {(k, 1)}")
        return np.array(columns).reshape(len(x), k)

    def gradients(self, x, y):
        """The batch cost's gradient: the mean of backprop's per-example ones, in the rows layout."""
        total = None
        for row, target in zip(x, y):
            nabla_b, nabla_w = self.call("backprop", column(row), column(target))
            rows = [p for w, b in zip(nabla_w, nabla_b) for p in (np.asarray(w).T, np.asarray(b).ravel())]
            total = rows if total is None else [t + r for t, r in zip(total, rows)]
        return [t / len(x) for t in total]

    def update(self, x, y, learning_rate):
        self.call("update_mini_batch", [(column(row), column(target)) for row, target in zip(x, y)], learning_rate)


def column(values):
    """One example as a column vector, as the primer's network takes it."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


class YourNetwork:
    """Your network behind the protocol of compare/judged.py: sizes, activations (the run's, which
    your network must compute), parameters in Keras's order, gradients, costs and a training step:
    your own update method if the network has one, else `optimizer`'s step on your gradients."""

    whose, replayable = "yours", False  # a replay would restore your weights, not whatever else you keep

    def __init__(self, layout, sizes, activations, loss, optimizer):
        self.layout, self.sizes, self.dtype = layout, list(sizes), np.float64
        self.activation_functions = [activations_module.get(name) for name in activations]
        self.loss, self.optimizer = losses_module.get(loss), optimizer

    def __repr__(self):
        return f"your {self.layout.name}-layout network ({os.path.basename(self.layout.path)}, " \
               f"{'-'.join(map(str, self.sizes))})"

    @property
    def implementation(self):
        """Where it came from and how it takes its steps."""
        layout = self.layout
        update = f"your {layout.update_method}" if layout.has_update else "the harness's SGD applied to your gradients"
        return {"path": layout.path, "layout": layout.name, "update": update}

    @property
    def applies_gradients(self):
        return not self.layout.has_update

    def parameter_names(self):
        return parameter_names(len(self.sizes) - 1)

    def expected_shapes(self):
        return [shape for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]) for shape in ((n_in, n_out), (n_out,))]

    def checked(self, arrays, what):
        """`arrays` if their shapes are [W1, b1, ...] of this network's; ValueError saying what was expected."""
        shapes, expected = [np.shape(a) for a in arrays], self.expected_shapes()
        if shapes != expected:
            terms = self.layout.in_its_terms
            raise ValueError(f"your network's {what} gave shapes {terms(shapes)}; expected {terms(expected)} "
                             f"({self.layout.name} layout, sizes {self.sizes})")
        return arrays

    def parameter_copies(self):
        return self.checked(self.layout.get(), "weights")

    def set_parameters(self, parameters):
        self.layout.set(self.checked(list(parameters), "weights to load"))

    def output(self, x):
        return self.layout.output(x, self.sizes[-1])

    def gradients(self, x, y):
        return self.checked(self.layout.gradients(x, y), "gradients")

    def cost(self, x, y):
        a = self.output(x)
        return self.loss.value(a, a, y, PROBABILITIES)

    def evaluate(self, x, y):
        a = self.output(x)
        return float(self.loss.value(a, a, y, PROBABILITIES)), count_correct(a, labels_of(y)) / len(y)

    def train_step(self, x, y, labels=None):
        """The pre-update cost and correct count on (x, y), then one training step."""
        a = self.output(x)
        cost = float(self.loss.value(a, a, y, PROBABILITIES))
        correct = count_correct(a, labels_of(y) if labels is None else labels)
        if self.layout.has_update:
            self.layout.update(x, y, self.optimizer.learning_rate)
        else:
            self.apply_gradients(self.gradients(x, y))
        return cost, correct

    def apply_gradients(self, gradients):
        parameters = self.parameter_copies()
        self.optimizer.apply(kernels_then_biases(parameters), kernels_then_biases(gradients))
        self.set_parameters(parameters)

    def non_finite_tensors(self):
        return [name for name, p in reversed(list(zip(self.parameter_names(), self.parameter_copies())))
                if not np.isfinite(p).all()]

    def snapshot(self):
        return with_velocities(self.parameter_copies(), self.optimizer)

    def restore(self, state):
        self.set_parameters(state.weights)
        load_velocities(self.optimizer, state.velocities)

    def probe(self, float64=False):
        return copy.deepcopy(self)


def build(source, config, data):
    """YourNetwork from `source` (PATH.py:NAME, or a callable NAME(sizes)) for `config` on `data`,
    holding the shared initial weights (drawn as for the scratch network) and checked on two
    examples, all before TensorFlow starts; ValueError for bad input."""
    if config.dtype != "float64":
        raise ValueError("--implementation checks your network in float64: leave out --dtype float32")
    scratch = config.build_network(data, COPIES_OF_PARAMETERS)
    network, path = made_by(source, scratch.sizes) if callable(source) else load(source, scratch.sizes)
    layout = layout_of(network, path)
    if layout.has_update and config.momentum:
        raise ValueError(f"your network's own {layout.update_method} takes plain SGD steps: leave out --momentum "
                         f"(or remove {layout.update_method}, and the harness applies SGD with momentum to your "
                         "gradients)")
    yours = YourNetwork(layout, scratch.sizes, [f.name for f in scratch.activation_functions], config.loss,
                        config.build_optimizer())
    start = scratch.parameter_copies()
    yours.set_parameters(start)
    if not all(np.array_equal(a, b) for a, b in zip(yours.parameter_copies(), start)):
        raise ValueError("your network's weights read back differ from those just loaded: check that they are "
                         "stored as given (docs/your-own-network.md)")
    x, y = data.x_train[:2], data.y_train[:2]
    yours.output(x)
    yours.gradients(x, y)  # shapes checked now
    yours.set_parameters(start)
    return yours
