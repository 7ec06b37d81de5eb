"""The Keras twin of the scratch network: same layers, same initial weights, same batches.

Importing this package quiets TensorFlow's C++ start-up logging unless the user chose a level.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
