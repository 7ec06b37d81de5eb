"""The Keras twin of the scratch network: same layers, same initial weights, same batches."""
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
