"""Build the Keras twin of a scratch Network: a Sequential of Dense layers with its weights copied in.

Each scratch layer z = a W + b, a = f(z) becomes Dense(n, activation=f); Keras keeps the kernel in
the same (n_in, n_out) layout, so parameter_copies() loads straight into set_weights().
"""
import keras
import numpy as np

from scratch import losses as scratch_losses
from scratch.regularization import NONE as NO_L2

from . import check_activations, distribute

MODEL_NAME = "twin"  # Keras tags weight histograms with the weight's path: twin/dense_1/kernel/histogram


class QuadraticCost(keras.losses.Loss):
    """The primer's cost C = 1/(2n) sum_x ||y(x) - a||^2 in Keras's arithmetic: per example
    1/2 ||y - a||^2 with keras.ops, which Keras then averages over the mini-batch (its
    sum_over_batch_size reduction). So the comparison checks our cost against Keras's ops, not
    against a copy. Not k/2 * keras.losses.mean_squared_error: on JAX and PyTorch Keras takes the
    mean of float64 values in float32 (docs/keras-notes.md)."""

    def __init__(self, name="quadratic", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return 0.5 * keras.ops.sum(keras.ops.square(y_true - y_pred), axis=-1)


class CrossEntropyCost(keras.losses.Loss):
    """The book's cross-entropy for sigmoid outputs, C = -1/n sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]:
    per example the elementwise binary cross-entropy summed over the outputs, which Keras then
    averages over the mini-batch. From the logits z where Keras's sigmoid keeps them beside its output
    (TensorFlow, PyTorch), as Keras's binary_crossentropy computes it there: finite for any z. Inside
    JAX's compiled step no logits are kept, and Keras's own clips a to [1e-7, 1 - 1e-7] (zero gradient
    beyond); this one is computed from a unclipped, a term whose factor y or 1 - y is 0 counting 0
    (docs/keras-notes.md)."""

    def __init__(self, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        ops, logits = keras.ops, getattr(y_pred, "_keras_logits", None)
        if logits is not None:
            terms = ops.binary_crossentropy(y_true, logits, from_logits=True)
        else:  # where() inside: a is never 0 or 1 under a log whose factor is 0, so no 0 * inf in the gradient
            terms = -(y_true * ops.log(ops.where(y_true == 0, 1, y_pred))
                      + (1 - y_true) * ops.log1p(-ops.where(y_true == 1, 0, y_pred)))
        return ops.sum(terms, axis=-1)


class ExactL2(keras.regularizers.L2):
    """keras.regularizers.L2, l2 sum w^2, with its factor l2 in the weights' dtype: Keras's own casts
    the Python float l2 through float32 (keras/src/regularizers/regularizers.py, L2.__call__:
    ops.cast of a Python float), so L2(5 / 2874) penalises with 0.0017397355986759067, not
    0.0017397355601948504 (2.2e-8 relative)."""

    def __call__(self, x):
        return keras.ops.cast(np.float64(self.l2), x.dtype) * keras.ops.sum(keras.ops.square(x))


def kernel_regularizer(l2):
    """The Keras term for the L2 term `l2` of the scratch cost (scratch/regularization.py), lambda / 2n
    sum w^2 on each kernel: ExactL2(lambda / 2n); None without one."""
    return ExactL2(l2.lmbda / (2 * l2.n)) if l2 else None


def with_penalties(model, loss, penalties):
    """The loss fit minimises (Trainer.compute_loss): the compiled loss plus the model's penalties (its
    kernels' L2 terms, from model.losses), each aggregated as fit aggregates it (under tf.distribute,
    scaled by 1/N like the loss)."""
    for penalty in penalties:
        loss = loss + model._aggregate_additional_loss(penalty)
    return loss


def keras_loss(name):
    """The Keras loss computing the scratch loss of the same name."""
    name = scratch_losses.get(name).name
    if name == "quadratic":
        return QuadraticCost()
    if name == "cross_entropy":
        return CrossEntropyCost()
    return {"mse": keras.losses.MeanSquaredError, "binary_crossentropy": keras.losses.BinaryCrossentropy,
            "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
            "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy}[name]()


def build_model(network, l2=NO_L2):
    """A Sequential with the network's layer sizes and activations, holding its current weights; with
    the L2 term `l2` (scratch/regularization.py) on its kernels."""
    check_activations(f.name for f in network.activation_functions)
    if keras.config.dtype_policy().name != np.dtype(network.dtype).name:
        raise ValueError(f"call keras_impl.device.configure({np.dtype(network.dtype).name!r}) before building the twin")
    layers = [keras.Input(shape=(network.sizes[0],))]
    layers += [keras.layers.Dense(n, activation=f.name, kernel_regularizer=kernel_regularizer(l2), name=f"dense_{i + 1}")
               for i, (n, f) in enumerate(zip(network.sizes[1:], network.activation_functions))]
    model = keras.Sequential(layers, name=MODEL_NAME)
    model.set_weights(network.parameter_copies())
    return model


def build_optimizer(config):
    """keras.optimizers.SGD with the config's lr, momentum and Nesterov flag.

    The momentum is passed as np.float64: a Python float would be cast through float32 inside
    Keras (0.9 -> 0.89999997615814209) even under float64.
    """
    return keras.optimizers.SGD(learning_rate=config.lr, momentum=np.float64(config.momentum),
                                nesterov=config.nesterov)


def accuracy_metric(n_outputs, loss):
    """Keras's accuracy as scratch counts it: argmax for several outputs (against class labels for a
    sparse loss), a > 0.5 for one."""
    if n_outputs == 1:
        return keras.metrics.BinaryAccuracy(name="accuracy")
    if scratch_losses.get(loss).sparse:
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    return keras.metrics.CategoricalAccuracy(name="accuracy")


def compiled_by_xla():
    """Whether fit compiles its step with XLA: on JAX, whose only compiler it is (without it each op
    runs eagerly, about 10x slower here); not on TensorFlow, whose tf.function graph runs without
    XLA (XLA's fusions can change float32 results), nor on PyTorch (torch.compile)."""
    return keras.backend.backend() == "jax"


def runs_steps_together():
    """Whether fit can run several steps per execution (steps_per_execution > 1) on this backend:
    not on PyTorch, whose trainer refuses it."""
    return keras.backend.backend() != "torch"


def build_twin(network, config, l2, steps_per_execution=1, metrics=()):
    """The compiled Keras twin of `network`, trained as `config` says, its cost with the L2 term `l2`
    (config.build_l2(data); call device.configure first; under a distribution strategy, build it in
    the strategy's scope). Its fit runs `steps_per_execution` steps per call into the backend
    (bitwise the same steps as one by one); `metrics` are compiled in beside its accuracy."""
    model = build_model(network, l2)
    model.compile(optimizer=build_optimizer(config), loss=keras_loss(config.loss),
                  metrics=[accuracy_metric(network.sizes[-1], config.loss), *metrics],
                  jit_compile=compiled_by_xla(), steps_per_execution=steps_per_execution)
    return distribute.fit_ready(model)
