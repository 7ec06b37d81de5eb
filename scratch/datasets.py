"""The datasets both twins train on, as NumPy arrays: inputs x (one row per example) and targets y.

Specs, as given to `--dataset`:
  vacation          the primer's decision maker: 3 binary inputs (cheap air tickets, leave granted,
                    nice weather); we go when leave is granted and tickets are cheap or the weather
                    is nice. All 8 situations, used for training and validation alike.
  xor               the 4 rows of exclusive or, for training and validation alike.
  digits            scikit-learn's bundled 8x8 digits (1797 images), pixels scaled to [0, 1],
                    one-hot targets, a fixed stratified 80/20 train/validation split.
  csv:PATH[:TARGET] a numeric CSV with a header row; TARGET (a column name, default the last column)
                    holds integer class labels 0..K-1; the other columns are the inputs.
  mnist[:PATH.npz]  Keras's mnist.npz layout (x_train, y_train, x_test, y_test); the test set is
                    used for validation. Without PATH, ~/.keras/datasets/mnist.npz.
Nothing is downloaded.
"""
import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from .limits import MAX_CLASSES, check_fits
from .npz import read_npz

VALIDATION_FRACTION = 0.2
SPLIT_SEED = 0  # the train/validation split is fixed, whatever the training seed


@dataclass
class Dataset:
    """Inputs x (one row per example) and targets y: one-hot rows (one column per output neuron), or,
    from `with_class_labels`, one class label per example (then `classes` says how many there are)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: int = 0  # for class-label targets: the number of classes

    @property
    def n_features(self):
        return self.x_train.shape[1]

    @property
    def n_outputs(self):
        return self.classes or self.y_train.shape[1]

    def astype(self, dtype):
        """The same data in another float dtype; ValueError for a value beyond that dtype's range."""
        arrays = (self.x_train, self.y_train, self.x_val, self.y_val)
        largest = max(float(np.abs(a).max(initial=0)) for a in arrays)
        if largest > float(np.finfo(dtype).max):
            raise ValueError(f"{self.name} holds a value of {largest:g}, beyond {np.dtype(dtype).name}'s range "
                             f"(+-{np.finfo(dtype).max:.3g}): use --dtype float64 or rescale the data")
        return Dataset(self.name, *(a.astype(dtype) for a in arrays), self.classes)

    def with_class_labels(self):
        """The same data with each one-hot target row turned into its class label (the column of its 1),
        as sparse_categorical_crossentropy takes them."""
        if self.classes:
            return self
        return Dataset(self.name, self.x_train, self.y_train.argmax(axis=1).astype(self.y_train.dtype), self.x_val,
                       self.y_val.argmax(axis=1).astype(self.y_val.dtype), self.n_outputs)


def vacation_rule(cheap_tickets, leave_granted, nice_weather):
    """Go on vacation (1) when leave is granted and the tickets are cheap or the weather is nice."""
    return int(leave_granted and (cheap_tickets or nice_weather))


def vacation():
    """All 8 situations of the decision maker and the decision in each."""
    x = np.array([[t, l, w] for t in (0, 1) for l in (0, 1) for w in (0, 1)], dtype=float)
    y = np.array([[vacation_rule(*row)] for row in x], dtype=float)
    return Dataset("vacation", x, y, x.copy(), y.copy())


def xor():
    """Exclusive or: 1 when exactly one input is 1. No single perceptron can learn it."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    return Dataset("xor", x, y, x.copy(), y.copy())


def one_hot(labels, n_classes):
    """Rows e_label: the target vector y(x) of the primer, 1 at the true class."""
    return np.eye(n_classes)[labels]


def class_targets(labels, n_classes):
    """One 0/1 column for two classes, one-hot columns for more."""
    check_fits(len(labels) * n_classes * 8, f"one-hot targets for {len(labels):,} examples of {n_classes:,} classes",
               "check the label column")
    return labels[:, None].astype(float) if n_classes <= 2 else one_hot(labels, n_classes)


def stratified_split(labels, fraction=VALIDATION_FRACTION, seed=SPLIT_SEED):
    """(train_idx, val_idx): `fraction` of each class, drawn by a fixed seed, goes to validation."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        val.extend(members[:math.floor(fraction * len(members))])
    val = np.sort(np.array(val, dtype=int))
    return np.setdiff1d(np.arange(len(labels)), val), val


def labelled(name, x, labels, n_classes):
    """A Dataset from inputs and integer labels, split stratified; tiny sets validate on themselves."""
    train, val = stratified_split(labels)
    if len(val) == 0 or len(train) == 0:
        train = val = np.arange(len(labels))
    y = class_targets(labels, n_classes)
    return Dataset(name, x[train], y[train], x[val], y[val])


def digits():
    """scikit-learn's 8x8 digits, pixels / 16, one-hot over 10 classes, stratified 80/20 split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return labelled("digits", data.data / 16.0, data.target, 10)


def check_labels(labels, what, n_classes=None):
    """Integer labels 0..K-1 as an int array; ValueError saying what is wrong otherwise (checked
    before anything is allocated in proportion to a label's value)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{what} has shape {labels.shape}: give one integer class label per example "
                         "(0..K-1), not one-hot rows")
    if labels.size == 0:
        raise ValueError(f"{what} has no examples")
    if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise ValueError(f"{what} holds {labels.dtype} values: class labels must be integers 0..K-1")
    if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
        raise ValueError(f"{what} must hold integer class labels 0..K-1")
    if labels.max() >= (n_classes or MAX_CLASSES):
        top = n_classes or MAX_CLASSES
        raise ValueError(f"{what} has labels outside 0..{top - 1}: found {labels.min():g}..{labels.max():g}"
                         + ("" if n_classes else f"; more than {MAX_CLASSES:,} classes is surely a data error"))
    labels = labels.astype(int)
    if labels.min() < 0:
        raise ValueError(f"{what} has negative labels (found {labels.min()}): class labels must be 0..K-1")
    top = n_classes if n_classes is not None else labels.max() + 1
    if labels.max() >= top:
        raise ValueError(f"{what} has labels outside 0..{top - 1}: found {labels.min()}..{labels.max()}")
    return labels


def read_csv(path, target=None):
    """A Dataset from a numeric CSV with a header; `target` names the label column (default: last)."""
    rows, lines = csv_rows(path)
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if not body:
        raise ValueError(f"CSV file {path} has a header but no data rows")
    if len(header) < 2:
        raise ValueError(f"CSV file {path} needs at least one input column and a target column")
    column = len(header) - 1 if target is None else _column_index(header, target, path)
    values = np.empty((len(body), len(header)))
    for i, (row, line) in enumerate(zip(body, lines[1:])):
        if len(row) != len(header):
            raise ValueError(f"{path} line {line} has {len(row)} fields, the header has {len(header)}")
        for j, field in enumerate(row):
            try:
                values[i, j] = float(field)
            except ValueError:
                raise ValueError(f"{path} line {line}, column {header[j]!r}: {field!r} is not a number") from None
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"{path} line {lines[i + 1]}, column {header[j]!r} is NaN or inf: clean or drop that row")
    labels = check_labels(values[:, column], f"target column {header[column]!r} of {path}")
    x = np.delete(values, column, axis=1)
    return labelled(f"csv:{path}", x, labels, max(2, labels.max() + 1))


def csv_rows(path):
    """(rows, line numbers): the non-blank rows of a CSV file and the physical line each ends on.
    A byte-order mark (as spreadsheet programs write) is not part of the first column's name."""
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                if row:
                    rows.append(row)
                    lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read CSV file {path}: {getattr(e, 'strerror', None) or e}") from None
    except csv.Error as e:
        raise ValueError(f"{path} line {reader.line_num} is not valid CSV: {e}") from None
    if not rows:
        raise ValueError(f"CSV file {path} is empty: it needs a header row and data rows")
    return rows, lines


def _column_index(header, target, path):
    if target in header:
        return header.index(target)
    raise ValueError(f"CSV file {path} has no column {target!r}: its columns are {', '.join(header)}")


DEFAULT_MNIST = os.path.join("~", ".keras", "datasets", "mnist.npz")


def check_images(images, what):
    """Images (n, ...) of real pixel values 0..255 as rows of floats 0..1; ValueError otherwise."""
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{what} holds {images.dtype} values: pixels must be real numbers 0..255")
    if images.ndim < 2 or images.shape[0] == 0 or images[0].size == 0:
        raise ValueError(f"{what} has shape {images.shape}: it needs one image per row, (n, 28, 28) say")
    x = images.reshape(len(images), -1) / 255.0
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or inf pixels: clean the images")
    return x


def read_mnist(path=None):
    """MNIST from an .npz in Keras's layout: 784 pixels / 255, one-hot; the test set validates."""
    path = os.path.expanduser(path or DEFAULT_MNIST)
    if not os.path.exists(path):
        raise ValueError(
            f"no MNIST file at {path}: on a machine with internet run "
            "`python -c 'import keras; keras.datasets.mnist.load_data()'` and copy "
            "~/.keras/datasets/mnist.npz here, or pass mnist:PATH.npz"
        )
    parts = read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    x = {s: check_images(parts[f"x_{s}"], f"x_{s} in {path}") for s in ("train", "test")}
    y = {s: one_hot(check_labels(parts[f"y_{s}"], f"y_{s} in {path}", 10), 10) for s in ("train", "test")}
    if x["train"].shape[1] != x["test"].shape[1]:
        raise ValueError(f"{path}: x_train has {x['train'].shape[1]} pixels per image but x_test has "
                         f"{x['test'].shape[1]}: both must be the same size")
    for s in ("train", "test"):
        if len(x[s]) != len(y[s]):
            raise ValueError(f"{path}: x_{s} has {len(x[s])} images but y_{s} has {len(y[s])} labels")
    return Dataset(f"mnist:{path}", x["train"], y["train"], x["test"], y["test"])


DATASETS = {"vacation": vacation, "xor": xor, "digits": digits}
SPEC_HELP = "vacation, xor, digits, csv:PATH[:TARGET] or mnist[:PATH.npz]"


def load(spec):
    """The Dataset named by `spec` (see the module docstring); ValueError for an unknown spec."""
    kind, _, rest = spec.partition(":")
    if kind in DATASETS and not rest:
        return DATASETS[kind]()
    if kind == "csv" and rest:
        path, target = rest, None
        if not os.path.exists(rest) and ":" in rest:
            path, _, target = rest.rpartition(":")
        return read_csv(path, target)
    if kind == "mnist":
        return read_mnist(rest or None)
    raise ValueError(f"unknown dataset {spec!r}: use {SPEC_HELP}")
