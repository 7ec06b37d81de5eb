"""Build the Keras twin of a scratch Network: a Sequential of Dense layers with its weights copied in.

Each scratch layer z = a W + b, a = f(z) becomes Dense(n, activation=f); Keras keeps the kernel in
the same (n_in, n_out) layout, so parameter_copies() loads straight into set_weights().
"""
import keras
import numpy as np

from scratch import losses as scratch_losses

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


def keras_loss(name):
    """The Keras loss computing the scratch loss of the same name."""
    name = scratch_losses.get(name).name
    if name == "quadratic":
        return QuadraticCost()
    return {"mse": keras.losses.MeanSquaredError, "binary_crossentropy": keras.losses.BinaryCrossentropy,
            "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
            "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy}[name]()


def build_model(network):
    """A Sequential with the network's layer sizes and activations, holding its current weights."""
    check_activations(f.name for f in network.activation_functions)
    if keras.config.dtype_policy().name != np.dtype(network.dtype).name:
        raise ValueError(f"call keras_impl.device.configure({np.dtype(network.dtype).name!r}) before building the twin")
    layers = [keras.Input(shape=(network.sizes[0],))]
    layers += [keras.layers.Dense(n, activation=f.name, name=f"dense_{i + 1}")
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


def build_twin(network, config, steps_per_execution=1, metrics=()):
    """The compiled Keras twin of `network`, trained as `config` says (call device.configure first;
    under a distribution strategy, build it in the strategy's scope). Its fit runs
    `steps_per_execution` steps per call into the backend (bitwise the same steps as one by one);
    `metrics` are compiled in beside its accuracy."""
    model = build_model(network)
    model.compile(optimizer=build_optimizer(config), loss=keras_loss(config.loss),
                  metrics=[accuracy_metric(network.sizes[-1], config.loss), *metrics],
                  jit_compile=compiled_by_xla(), steps_per_execution=steps_per_execution)
    return distribute.fit_ready(model)
