"""The Keras twin of the scratch network: same layers, same initial weights, same batches.

Importing this package sets KERAS_BACKEND to tensorflow unless it is set already: Keras reads it
once, when it is first imported, and the twin is written for (and checked on) TensorFlow.
"""
import os

from scratch import losses as scratch_losses

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


def departures(output_activation, loss):
    """Where Keras computes something other than the math for these settings (README: "Where Keras
    departs from the math"), one sentence each; checked before TensorFlow is imported."""
    loss = scratch_losses.get(loss)
    if output_activation == "softmax" and loss.name == "binary_crossentropy":
        return [SOFTMAX_BCE]
    if output_activation == "sigmoid" and loss.categorical:
        return [SIGMOID_CATEGORICAL]
    return []
