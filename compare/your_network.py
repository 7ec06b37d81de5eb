"""Your own network in the harness (`--implementation PATH.py:NAME`, docs/your-own-network.md).

`load` imports PATH.py as `python PATH.py` runs it (its folder first on sys.path) and calls
NAME(sizes); `layout_of` finds its layout (compare/your_layouts.py: rows or columns). `YourNetwork`
puts either behind the protocol through which the harness judges every network (compare/judged.py),
calling your code through compare/your_calls.py: on copies of the arguments, its returns checked,
and any way out of it other than returning raised as YourCodeFailed. Its costs take the network's
output as probabilities (it shows no logits).
"""
import copy
import importlib.util
import inspect
import os
import random
import sys
from dataclasses import dataclass

import numpy as np

from scratch import activations as activations_module
from scratch import losses as losses_module
from scratch.network import count_correct, labels_of, parameter_names
from scratch.regularization import NONE as NO_L2

from .judged import COPIES_OF_PARAMETERS
from .state import State, kernels_then_biases, load_velocities, with_velocities
from .your_calls import Calls, YourCodeFailed, calling
from .your_layouts import LAYOUTS

PROBABILITIES = activations_module.get("linear")  # costs of an output whose logits are unknown


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
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # as `python PATH.py` runs it: the modules beside it import
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in their folder
    try:
        calling(path, module_spec.loader.exec_module, module, what="the file's top-level code")
    finally:
        sys.dont_write_bytecode = writes_bytecode
    if not callable(getattr(module, name, None)):
        raise ValueError(f"--implementation: {path} defines no class or function {name}")
    return calling(path, getattr(module, name), list(sizes), what=f"{name}(sizes)"), path


def made_by(make_network, sizes):
    """(make_network(sizes), the file it is defined in): the Python API's way in."""
    code = getattr(make_network, "__code__", None) or getattr(getattr(make_network, "__init__", None), "__code__", None)
    path = os.path.abspath(code.co_filename) if code else ""  # a function's file, or its class's __init__'s
    return calling(path, make_network, list(sizes), what=f"{getattr(make_network, '__name__', 'it')}(sizes)"), path


def layout_of(network, path):
    """The RowsLayout or ColumnsLayout of `network`, calling into it through a Calls; ValueError when
    it has neither."""
    for layout in LAYOUTS:
        if all(hasattr(network, attribute) for attribute in layout.NEEDS):
            return layout(Calls(network, path))
    if network is None:
        raise ValueError("--implementation: NAME(sizes) returned None: a function NAME must return the network")
    rows, columns = LAYOUTS
    raise ValueError(f"--implementation: the network has neither layout: rows needs {', '.join(rows.NEEDS)}; "
                     f"columns needs {', '.join(columns.NEEDS)} (docs/your-own-network.md)")


class YourNetwork:
    """Your network behind the protocol of compare/judged.py: sizes, activations (the run's, which
    your network must compute), parameters in Keras's order, gradients, costs and a training step:
    your own update method if the network has one (with the run's momentum, if any, and its own
    velocities), else `optimizer`'s step on your gradients. Its whole state, your object included,
    is snapshot and restored, so that replays and the probe take your steps as the run took them."""

    whose, default_check = "yours", "every-step"  # a weight nudged and put back inside a block shows only so

    def __init__(self, layout, sizes, activations, loss, optimizer, l2=NO_L2):
        self.layout, self.sizes, self.dtype = layout, list(sizes), np.float64
        self.activation_functions = [activations_module.get(name) for name in activations]
        self.loss, self.optimizer, self.l2 = losses_module.get(loss), optimizer, l2
        self.own_momentum = layout.has_update and optimizer.momentum > 0
        self.own_l2 = layout.has_update and (bool(l2) or layout.names_l2())  # your update takes lmbda, n

    def __repr__(self):
        return f"your {self.layout.name}-layout network ({os.path.basename(self.layout.calls.path)}, " \
               f"{'-'.join(map(str, self.sizes))})"

    @property
    def implementation(self):
        """Where it came from and how it takes its steps."""
        layout = self.layout
        update = f"your {layout.update_method}" if layout.has_update else "the harness's SGD applied to your gradients"
        return {"path": layout.calls.path, "layout": layout.name, "update": update}

    @property
    def applies_gradients(self):
        return not self.layout.has_update

    def parameter_names(self):
        return parameter_names(len(self.sizes) - 1)

    def expected_shapes(self):
        return [shape for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]) for shape in ((n_in, n_out), (n_out,))]

    def checked(self, arrays, what):
        """`arrays` if their shapes are [W1, b1, ...] of this network's; YourCodeFailed saying what was expected."""
        shapes, expected = [np.shape(a) for a in arrays], self.expected_shapes()
        if shapes != expected:
            terms = self.layout.in_its_terms
            raise YourCodeFailed(f"error: your network's {what} gave shapes {terms(shapes)}; expected "
                                 f"{terms(expected)} ({self.layout.name} layout, sizes {self.sizes})")
        return arrays

    def parameter_copies(self):
        return self.checked(self.layout.get(), "weights")

    def set_parameters(self, parameters):
        self.layout.set(self.checked(list(parameters), "weights to load"))

    def outputs(self, x):
        return self.layout.output(x, self.sizes[-1])

    def gradients(self, x, y):
        """Your gradients of C0, with the L2 term's (lambda / n) W added to each dC/dW."""
        gradients = self.checked(self.layout.gradients(x, y), self.layout.gradients_are)
        if self.l2:
            gradients = [g + t for g, t in zip(gradients, self.l2.gradients(self.parameter_copies()))]
        return gradients

    def penalty(self):
        """The L2 term at your network's weights now."""
        return self.l2.penalty(self.parameter_copies()[0::2]) if self.l2 else 0.0

    def cost(self, x, y):
        a = self.outputs(x)
        return self.loss.value(a, a, y, PROBABILITIES) + self.penalty()

    def evaluate(self, x, y):
        a = self.outputs(x)
        return float(self.loss.value(a, a, y, PROBABILITIES) + self.penalty()), count_correct(a, labels_of(y)) / len(y)

    def train_step(self, x, y, labels=None):
        """The pre-update cost and correct count on (x, y), then one training step."""
        a = self.outputs(x)
        cost = float(self.loss.value(a, a, y, PROBABILITIES) + self.penalty())
        correct = count_correct(a, labels_of(y) if labels is None else labels)
        if self.layout.has_update:
            momentum = (self.optimizer.momentum, self.optimizer.nesterov) if self.own_momentum else None
            self.layout.update(x, y, self.optimizer.learning_rate, momentum, self.l2 if self.own_l2 else None)
        else:
            self.apply_gradients(self.gradients(x, y))
        self.layout.calls.step += 1
        return cost, correct

    def apply_gradients(self, gradients):
        parameters = self.parameter_copies()
        self.optimizer.apply(kernels_then_biases(parameters), kernels_then_biases(gradients))
        self.set_parameters(parameters)

    def non_finite_tensors(self):
        return [name for name, p in reversed(list(zip(self.parameter_names(), self.parameter_copies())))
                if not np.isfinite(p).all()]

    def velocities(self):
        """The velocities (Keras's order): your network's own with your momentum, else the harness's SGD's."""
        if self.own_momentum:
            return self.checked(self.layout.velocities(), "velocities")
        return with_velocities([], self.optimizer).velocities

    def own_state(self):
        """What else your network keeps (your object, with NumPy's and Python's global random states), copied."""
        return OwnState(self.layout.calls.copied(), np.random.get_state(), random.getstate())

    def snapshot(self):
        return State(self.parameter_copies(), self.velocities(), rest=self.own_state())

    def restore(self, state):
        """Take `state`: its weights and velocities, and what else your network kept there (if given)."""
        if state.rest is not None:
            self.layout.calls = state.rest.calls.copied()  # the snapshot stays as it was
            np.random.set_state(state.rest.numpy_random)
            random.setstate(state.rest.python_random)
        self.set_parameters(state.weights)
        if self.own_momentum:
            self.layout.set_velocities(self.checked(state.velocities or [np.zeros(s) for s in self.expected_shapes()],
                                                    "velocities to load"))
        else:
            load_velocities(self.optimizer, state.velocities)

    def changed_arguments(self):
        return self.layout.calls.changes

    def probe(self, float64=False):
        probe = copy.copy(self)
        probe.layout = copy.copy(self.layout)
        probe.layout.calls, probe.optimizer = self.layout.calls.copied(), copy.deepcopy(self.optimizer)
        return probe


@dataclass
class OwnState:
    """Your network's state beyond its weights and velocities: the object, and the global random states."""

    calls: Calls
    numpy_random: tuple
    python_random: tuple


def build(source, config, data):
    """YourNetwork from `source` (PATH.py:NAME, or a callable NAME(sizes)) for `config` on `data`,
    holding the shared initial weights (drawn as for the scratch network), with zero velocities,
    and tried on two examples (on a copy: a step too), all before TensorFlow starts; ValueError for
    bad input, YourCodeFailed for a network that fails or returns what it should not."""
    if config.dtype != "float64":
        raise ValueError("--implementation checks your network in float64: leave out --dtype float32")
    scratch = config.build_network(data, COPIES_OF_PARAMETERS)
    network, path = made_by(source, scratch.sizes) if callable(source) else load(source, scratch.sizes)
    layout = layout_of(network, path)
    if layout.has_update and config.momentum and not layout.has_velocities():
        raise ValueError(f"--momentum: your {layout.update_method} takes momentum, so your network must show its "
                         f"velocities ({' and '.join(layout.VELOCITIES)}, docs/your-own-network.md), for each step "
                         f"to be taken from Keras's state too; or remove {layout.update_method}, and the harness "
                         "applies SGD with momentum to your gradients")
    check_l2(layout, config)
    yours = YourNetwork(layout, scratch.sizes, [f.name for f in scratch.activation_functions], config.loss,
                        config.build_optimizer(), config.build_l2(data))
    try_out(yours, scratch.parameter_copies(), data.x_train[:2], data.y_train[:2])
    return yours


def check_l2(layout, config):
    """ValueError when the run has --l2 and your update method cannot take lambda and n."""
    if not (config.l2 and layout.has_update) or layout.names_l2():
        return
    method = getattr(layout.calls.network, layout.update_method)
    given = layout.LEADING + 2 + 2 * bool(config.momentum)  # its batch, learning rate, lmbda, n (momentum, nesterov)
    try:
        signature = inspect.signature(method)
        signature.bind(*range(given))
        if {"momentum", "mu", "nesterov"} & set(list(signature.parameters)[layout.LEADING:layout.LEADING + 2]):
            raise TypeError("momentum where lambda and n go")
    except TypeError:
        raise ValueError(f"--l2: your {layout.update_method} takes no lambda: the harness passes it and the training "
                         f"set size n after the learning rate, as the book's chapter 3 does (update_mini_batch("
                         "mini_batch, eta, lmbda, n), docs/your-own-network.md); or remove "
                         f"{layout.update_method}, and the harness applies the L2 term to your gradients") from None
    except ValueError:  # no signature to read: the call itself will tell
        pass


def try_out(yours, start, x, y):
    """Load `start` (zero velocities), check it reads back, and take a copy of your network through
    each of its methods on (x, y) before training, a step too."""
    yours.restore(State(start, []))
    if not all(np.array_equal(a, b) for a, b in zip(yours.parameter_copies(), start)):
        raise ValueError("your network's weights read back differ from those just loaded: check that they are "
                         "stored as given (docs/your-own-network.md)")
    try:
        copy.deepcopy(yours.layout.calls.network)
    except Exception as e:  # noqa: BLE001 - whatever stops a copy
        raise ValueError(f"your network cannot be copied (copy.deepcopy raised {type(e).__name__}: {e}); the harness "
                         "copies it to replay its steps: keep files, locks and modules out of its attributes") from None
    trial = yours.probe()  # your network itself takes no call that training would not make
    randomness = np.random.get_state(), random.getstate()
    trial.outputs(x)
    trial.gradients(x, y)
    trial.train_step(x, y)
    trial.snapshot()
    np.random.set_state(randomness[0])
    random.setstate(randomness[1])
