"""The one protocol through which the harness reaches every network it judges, and the scratch
network behind it. compare/your_network.py puts yours behind the same protocol; nothing in compare/
asks which kind it holds.

A judged network has
  sizes, dtype, activation_functions   what its Keras twin is built from (keras_impl/twin.py)
  whose, implementation                what the tables call it ("scratch", "yours"), and where it came
                                       from (None for scratch's)
  default_check                        the check it gets without --check: "blocks" (compare/blocks.py)
                                       or "every-step" (compare/lockstep.py)
  applies_gradients                    whether apply_gradients can step it along given gradients
  l2                                   the L2 term of its cost (scratch/regularization.py; falsy for none)
and, its tensors always in Keras's order [W^1, b^1, W^2, b^2, ...] (compare/state.py):
  parameter_names(), parameter_copies(), set_parameters(parameters)
  gradients(x, y)                      dC/dW^1, dC/db^1, ... of the batch cost C = C0 + its L2 term
  outputs(x)                           a^L for the batch x
  cost(x, y), evaluate(x, y)           C (with its L2 term), and (C, accuracy)
  train_step(x, y, labels)             one training step with its own optimizer state; returns the
                                       pre-update (cost, correct count)
  apply_gradients(gradients)           one step of its optimizer along the given gradients (of C)
  non_finite_tensors()                 names of the tensors holding NaN or inf, nearest the output first
  snapshot(), restore(state)           its whole training state as a State, and back: a replay
                                       from a snapshot retraces its steps bitwise
  own_state()                          what it keeps besides weights and velocities (a State's
                                       `rest`, None for scratch's): the probe takes a step from
                                       Keras's weights and velocities with the judged network's rest
  changed_arguments()                  [{method, argument, step}]: arguments its code changed in place
  probe(float64=False)                 a copy with a state of its own, to take steps from other states
"""
import copy

from scratch import losses
from scratch.network import Network
from scratch.regularization import NONE
from scratch.training import train_step

from .state import interleaved, kernels_then_biases, load_velocities, with_velocities

# of the parameters in a comparison: weights, gradients and velocities of the judged network; as many
# again in the Keras twin; and in the per-step check, a probe's three and Keras's weights and
# velocities before and after a step
COPIES_OF_PARAMETERS = 13


def our_network(config, data):
    """The scratch network for `config` on `data`, holding the initial weights both twins start from."""
    return OurNetwork(config.build_network(data, COPIES_OF_PARAMETERS), config.loss, config.build_optimizer(),
                      config.build_l2(data))


class OurNetwork:
    """The scratch network (scratch/network.py) with its loss and optimizer, as the harness judges it."""

    whose, implementation, default_check, applies_gradients = "scratch", None, "blocks", True

    def __init__(self, network, loss, optimizer, l2=NONE):
        self.network, self.loss, self.optimizer, self.l2 = network, losses.get(loss), optimizer, l2

    def __repr__(self):
        return repr(self.network)

    @property
    def sizes(self):
        return self.network.sizes

    @property
    def dtype(self):
        return self.network.dtype

    @property
    def activation_functions(self):
        return self.network.activation_functions

    def parameter_names(self):
        return self.network.parameter_names()

    def parameter_copies(self):
        return self.network.parameter_copies()

    def set_parameters(self, parameters):
        self.network.set_parameters(parameters)

    def gradients(self, x, y):
        nabla_w, nabla_b = self.network.backprop(x, y, self.loss)
        if self.l2:
            nabla_w = [nw + self.l2.gradient(w) for nw, w in zip(nabla_w, self.network.weights)]
        return interleaved(nabla_w + nabla_b)

    def outputs(self, x):
        return self.network.feedforward(x)

    def cost(self, x, y):
        return self.network.cost(x, y, self.loss, self.l2)

    def evaluate(self, x, y):
        return self.network.evaluate(x, y, self.loss, self.l2)

    def train_step(self, x, y, labels=None):
        return train_step(self.network, x, y, self.loss, self.optimizer, labels, self.l2)

    def apply_gradients(self, gradients):
        self.optimizer.apply(self.network.weights + self.network.biases, kernels_then_biases(gradients))

    def non_finite_tensors(self):
        return self.network.non_finite_parameters()

    def snapshot(self):
        return with_velocities(self.parameter_copies(), self.optimizer)

    def restore(self, state):
        self.set_parameters(state.weights)
        load_velocities(self.optimizer, state.velocities)

    def own_state(self):
        return None  # its weights and velocities are all it keeps

    def changed_arguments(self):
        return []

    def probe(self, float64=False):
        network = self.network
        if float64:
            network = Network(network.sizes, [f.name for f in network.activation_functions], dtype="float64")
            network.set_parameters(self.parameter_copies())
        return OurNetwork(copy.deepcopy(network), self.loss, copy.deepcopy(self.optimizer), self.l2)

