"""The settings matrix that the comparison must match on (tests/test_compare.py on TensorFlow, and
tests/on_backend.py on the other backends), with the small data sets it writes for its csv and mnist rows."""
from collections import namedtuple

import numpy as np

from scratch.config import Config


def write_csv(path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    rows = "\n".join(",".join(f"{v:.6f}" for v in r) + f",{c}" for r, c in zip(x, labels))
    path.write_text("a,b,c,d,label\n" + rows + "\n")
    return f"csv:{path}"


def write_mnist(path):
    rng = np.random.default_rng(1)
    np.savez(path, x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), y_train=np.arange(50) % 10,
             x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    return f"mnist:{path}"


Row = namedtuple("Row", "dataset hidden activation output loss momentum nesterov dtype batch_size epochs l2")
MATRIX = [  # each with lr 0.3 and seed 2
    Row("vacation", [4], "sigmoid", "sigmoid", "quadratic", 0.0, False, "float64", 1, 3, 0.0),
    Row("xor", [5], "tanh", "sigmoid", "mse", 0.9, False, "float64", 3, 5, 0.0),
    Row("digits", [32, 16], "relu", "sigmoid", "binary_crossentropy", 0.9, True, "float64", 37, 2, 0.0),
    Row("digits", [30], "sigmoid", "sigmoid", "quadratic", 0.0, False, "float32", 10, 2, 0.0),
    Row("csv", [8], "relu", "sigmoid", "mse", 0.0, False, "float32", 7, 3, 0.0),
    Row("mnist", [16], "tanh", "sigmoid", "binary_crossentropy", 0.5, False, "float64", 1, 2, 0.0),
    Row("csv", [6, 6], "sigmoid", "sigmoid", "binary_crossentropy", 0.9, True, "float32", 1, 2, 0.0),
    Row("xor", [3], "relu", "sigmoid", "quadratic", 0.0, False, "float32", 3, 4, 0.0),
    Row("digits", [16], "relu", "softmax", "categorical_crossentropy", 0.5, True, "float64", 10, 2, 0.0),
    Row("csv", [8], "tanh", "softmax", "sparse_categorical_crossentropy", 0.0, False, "float32", 7, 3, 0.0),
    Row("mnist", [16], "sigmoid", "softmax", "categorical_crossentropy", 0.5, False, "float64", 5, 2, 0.0),
    Row("digits", [12], "tanh", "softmax", "sparse_categorical_crossentropy", 0.5, False, "float64", 10, 1, 0.0),
    Row("digits", [30], "sigmoid", "softmax", "categorical_crossentropy", 0.0, False, "float32", 10, 2, 0.0),
    # the book's chapter 3: its cross-entropy and L2 term (--l2 LAMBDA), with momentum, partial batches, float32
    Row("digits", [30], "sigmoid", "sigmoid", "cross_entropy", 0.0, False, "float64", 10, 2, 5.0),
    Row("csv", [8], "relu", "sigmoid", "cross_entropy", 0.9, True, "float64", 7, 3, 0.5),
    Row("xor", [5], "tanh", "sigmoid", "cross_entropy", 0.5, False, "float32", 3, 4, 0.1),
    Row("digits", [16], "relu", "softmax", "categorical_crossentropy", 0.5, False, "float64", 10, 1, 2.0),
]


def matrix_config(row, folder):
    """The validated Config of one MATRIX row (lr 0.3, seed 2), writing its data set into `folder`."""
    dataset, hidden, activation, output, loss, momentum, nesterov, dtype, batch_size, epochs, l2 = row
    spec = {"csv": lambda: write_csv(folder / "d.csv"), "mnist": lambda: write_mnist(folder / "m.npz")}
    return Config(dataset=spec.get(dataset, lambda: dataset)(), hidden=hidden, activation=activation,
                  output_activation=output, loss=loss, lr=0.3, momentum=momentum, nesterov=nesterov, dtype=dtype,
                  batch_size=batch_size, epochs=epochs, seed=2, l2=l2).validate()
