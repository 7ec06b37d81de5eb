"""Gradients three ways for one mini-batch: scratch backprop, Keras (through its backend's own autodiff:
tf.GradientTape, jax.grad, torch.autograd), finite differences (see finite_differences.py), compared
per weight or bias tensor by their relative error."""
import keras
import numpy as np

from keras_impl import distribute
from keras_impl.twin import with_penalties

from .finite_differences import fd_noise_floor, finite_differences
from .records import GradientRow
from .tolerances import norm_relative_error, within


def keras_gradients(model, loss_fn, x, y):
    """dC/dp for each of model.trainable_weights, by the autodiff of the backend Keras runs on, compiled
    as model.fit compiles its step (a tf.function; jax.jit; PyTorch runs eagerly); C is the loss
    `loss_fn` plus the model's penalties (its kernels' L2 terms), as fit adds them."""
    gradients = {"tensorflow": tensorflow_gradients, "jax": jax_gradients, "torch": torch_gradients}
    return [np.asarray(keras.ops.convert_to_numpy(g)) for g in gradients[keras.backend.backend()](model, loss_fn, x, y)]


def tensorflow_gradients(model, loss_fn, x, y):
    import tensorflow as tf

    if tf.distribute.has_strategy():  # through the replicated model, the batch split as fit splits it
        return distribute.replicated_gradients(model, loss_fn, x, y)

    @tf.function(jit_compile=False)
    def gradients(x, y):
        with tf.GradientTape() as tape:
            loss = with_penalties(model, loss_fn(y, model(x, training=True)), model.losses)
        return tape.gradient(loss, model.trainable_weights)

    return gradients(tf.constant(x), tf.constant(y))


def jax_gradients(model, loss_fn, x, y):
    """jax.grad of the loss as a pure function of the weights, through model.stateless_call."""
    import jax

    def loss(trainable, non_trainable):
        outputs, _, penalties = model.stateless_call(trainable, non_trainable, x, training=True, return_losses=True)
        return with_penalties(model, loss_fn(y, outputs), penalties)

    return jax.jit(jax.grad(loss))([v.value for v in model.trainable_variables],
                                   [v.value for v in model.non_trainable_variables])


def torch_gradients(model, loss_fn, x, y):
    import torch

    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)  # on Keras's device
    loss = with_penalties(model, loss_fn(y, model(x, training=True)), model.losses)
    return torch.autograd.grad(loss, [v.value for v in model.trainable_weights])


def gradient_check(judged, model, loss, keras_loss_fn, x, y, tolerances):
    """One GradientRow per weight and bias tensor of `judged` (compare/judged.py): its gradients
    against Keras's and against finite differences."""
    ours = judged.probe().gradients(x, y)  # on a copy: the judged network's calls are its training's
    keras_grads = keras_gradients(model, keras_loss_fn, x, y)
    fd, kinks = finite_differences(judged, x, y, loss)
    cost = float(judged.cost(x, y))
    rows = []
    for name, s, k, f, kink in zip(judged.parameter_names(), ours, keras_grads, fd, kinks):
        s64, keep = s.astype(np.float64), ~kink
        keras_rel = norm_relative_error(s64, k)
        fd_rel = norm_relative_error(s64[keep], f[keep], fd_noise_floor(keep.sum(), cost))
        rows.append(GradientRow(
            name, scratch_vs_keras_max_abs=float(np.abs(s64 - k).max()), scratch_vs_keras_rel=keras_rel,
            scratch_vs_fd_max_abs=float(np.abs(s64 - f)[keep].max()) if keep.any() else 0.0,
            scratch_vs_fd_rel=fd_rel, kinks=int(kink.sum()),
            keras_ok=within(keras_rel, tolerances.gradient_rel), fd_ok=within(fd_rel, tolerances.fd_rel)))
    return rows
