"""The Keras twin of the scratch network: same layers, same initial weights, same batches.

Importing this package sets KERAS_BACKEND to tensorflow unless it is set already: Keras reads it
once, when it is first imported. backends.py chooses another (JAX, PyTorch) before that.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

KERAS_ACTIVATIONS = ("sigmoid", "relu", "tanh", "linear", "softmax")


def check_activations(names):
    """ValueError for an activation with no Keras twin (checked before TensorFlow is imported)."""
    for name in names:
        if name not in KERAS_ACTIVATIONS:
            raise ValueError(
                f"the {name} activation has no Keras twin (its gradient is zero almost everywhere): "
                f"use one of {', '.join(KERAS_ACTIVATIONS)}"
            )


SOFTMAX_BCE = (
    "Keras departs from the math here: with a softmax output, binary cross-entropy is computed from the "
    "softmax's logits as if the output were a sigmoid (keras/src/backend/tensorflow/nn.py, "
    "binary_crossentropy -> _get_logits), so the Keras twin trains another objective (step-0 gradients "
    "differ by 0.67-0.78 relative); use --output-activation sigmoid with binary_crossentropy")


SIGMOID_CATEGORICAL = (
    "Keras departs from the math here: with a sigmoid output, categorical cross-entropy is computed from the "
    "sigmoid's logits as if the output were a softmax (keras/src/backend/tensorflow/nn.py, "
    "categorical_crossentropy -> _get_logits), so the Keras twin trains another objective (step-0 gradients "
    "differ by 0.26-0.36 relative); use --output-activation softmax with categorical cross-entropy")


FLOAT32_MEAN = (
    "Keras departs from the math here: off TensorFlow, keras.ops.mean computes float64 values in float32 "
    "(keras/src/backend/common/dtypes.py: result_type maps float64 to float32 on JAX and PyTorch), and "
    "Keras's {loss} takes such a mean over the outputs, so its loss and gradients are float32-accurate "
    "(step-0 gradients differ by about 4e-8 relative); use --backend tensorflow, --dtype float32 or the "
    "quadratic cost")

CLIPPED_CROSS_ENTROPY = (
    "Keras departs from the math here: off TensorFlow, Keras computes cross-entropy from the outputs clipped "
    "to [1e-7, 1 - 1e-7], never from the logits (keras/src/backend/jax/nn.py and torch/nn.py), so once an "
    "output passes 1 - 1e-7 or falls below 1e-7 (a confident network), its loss and gradients leave the "
    "math and the verdict is mismatch from that step on; use --backend tensorflow for cross-entropy")

JAX_TANH = (
    "Keras departs from the math here: on JAX, keras.ops.tanh (the tanh activation) casts float64 inputs to "
    "float32 (keras/src/backend/jax/numpy.py: tanh casts to result_type, which maps float64 to float32), "
    "so a tanh layer is float32-accurate (step-0 gradients differ by about 2e-8 relative); use --backend "
    "tensorflow, or --dtype float32")

TORCH_FLOAT64 = (
    "Keras departs from the math here: on PyTorch, Keras computes float64 matmuls in float32 "
    "(keras/src/backend/torch/numpy.py: matmul casts to result_type, which maps float64 to float32; "
    "keras-team/keras issue 23704), so every Dense layer is float32-accurate (step-0 gradients differ by "
    "about 4e-8 relative); use --dtype float32 on PyTorch, or --backend tensorflow or jax for float64")


REPLICA_SCALE = (
    "Keras departs from the math here: with {n} replicas Keras scales each replica's loss by 1/{n} "
    "(keras/src/losses/loss.py, scale_loss_for_distribution) through keras.ops.cast of a Python float, which "
    "TensorFlow makes a float32 tensor first, so 1/{n} is rounded to float32 and every float64 gradient comes out "
    "about 3e-8 relative too large (1/3: 2.98e-8); use a power of two (2, 4, 8) replicas in float64")


def departures(output_activation, loss, backend="tensorflow", dtype="float64", activation=None, replicas=1):
    """Where Keras computes something other than the math for these settings (docs/departures.md), one sentence each; checked before Keras is imported. `replicas`: of a
    tf.distribute strategy (--distribute)."""
    from scratch import losses as scratch_losses  # here, not at the top: the CLIs import this package first

    loss = scratch_losses.get(loss)
    tensorflow, float64 = backend == "tensorflow", dtype == "float64"
    rules = [
        (tensorflow and float64 and replicas & (replicas - 1) != 0, REPLICA_SCALE.format(n=replicas)),
        (tensorflow and output_activation == "softmax" and loss.name == "binary_crossentropy", SOFTMAX_BCE),
        (tensorflow and output_activation == "sigmoid" and loss.categorical, SIGMOID_CATEGORICAL),
        (not tensorflow and float64 and loss.name in ("mse", "binary_crossentropy"),
         FLOAT32_MEAN.format(loss=loss.name)),
        (not tensorflow and (loss.categorical or loss.name == "binary_crossentropy"), CLIPPED_CROSS_ENTROPY),
        (backend == "jax" and float64 and "tanh" in (activation, output_activation), JAX_TANH),
        (backend == "torch" and float64, TORCH_FLOAT64),
    ]
    return [words for applies, words in rules if applies]


def departures_of(config, backend, spec, n_train):
    """departures() for a run's Config on `backend`, distributed by `spec` (a distribute.Distribute, or
    None), with the uneven split of its n_train training examples over the replicas if any."""
    from . import distribute

    found = departures(config.output_activation, config.loss, backend, config.dtype, config.activation,
                       distribute.tf_replicas(spec))
    uneven = distribute.uneven_departure(spec, config.batch_size, n_train)
    return found + ([uneven] if uneven else [])
