"""The settings of a run, the primer's recipe by default, and what they build.

One Config describes the network (sizes, activations, initializer, seed, dtype), the cost (its L2
term too) and the optimizer; both twins are built from the same Config.
"""
from dataclasses import asdict, dataclass, field

import numpy as np

from . import activations, datasets, initializers, losses
from . import regularization
from .batches import BatchPlan
from .limits import check_fits
from .network import Network, check_sizes, parameter_count, resolve_dtype
from .optimizers import SGD
from .training import check_epochs

TRUTH_TABLE_RECIPE = {"hidden": [8], "activation": "tanh", "lr": 5.0}
# Settings that differ from the primer's digits recipe. The truth tables have 4 and 8 rows, so a
# mini-batch of 10 is the whole table and 30 epochs are 30 steps: too few for 30 sigmoid units at
# lr 3.0 to learn XOR (it stays at 75 %). 8 tanh units at lr 5.0 learn both tables within 20 epochs
# for every seed 0-9.
RECIPES = {"xor": TRUTH_TABLE_RECIPE, "vacation": TRUTH_TABLE_RECIPE}
LOSS_RECIPES = {"cross_entropy": {"lr": 0.5}}
# The book trains its cross-entropy network with eta = 0.5 (chapter 3): the cost's gradient lacks the
# quadratic cost's factor sigma'(z), so steps are larger. On digits at 3.0 it still learns (96.6 %
# after 30 epochs) but amplifies rounding: the twins drift apart (their gap doubling every 134 steps,
# past 1e-12 in epoch 11); with --l2 5 its validation accuracy swings between 33 % and 78 % in the last
# epochs. At 0.5 both runs match, to 7e-15 and 1.1e-14 after 30 epochs.
TRAINING_COPIES = 3  # of the parameters while training: weights, gradients and velocities


@dataclass
class Config:
    dataset: str = "digits"
    hidden: list = field(default_factory=lambda: [30])
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    loss: str = "quadratic"
    l2: float = 0.0  # the book's lambda: C = C0 + (lambda / 2n) sum w^2 (scratch/regularization.py)
    lr: float = 3.0
    momentum: float = 0.0
    nesterov: bool = False
    batch_size: int = 10
    epochs: int = 30
    dtype: str = "float64"
    seed: int = 0
    initializer: str = "glorot_uniform"

    @classmethod
    def recipe(cls, dataset="digits", **settings):
        """The Config for `dataset`: the primer's, changed by the loss's recipe (LOSS_RECIPES), then by
        the dataset's (RECIPES), then by `settings`."""
        loss = LOSS_RECIPES.get(settings.get("loss"), {})
        return cls(dataset=dataset, **{**loss, **RECIPES.get(dataset, {}), **settings})

    def validate(self):
        """Raise ValueError naming the first setting that cannot work. Each setting is checked by
        the code that owns it, so the messages name the library's parameters."""
        activations.get(self.activation)
        activations.get(self.output_activation)
        losses.check_output(self.loss, self.output_activation)
        regularization.check_lmbda(self.l2)
        resolve_dtype(self.dtype)
        initializers.get(self.initializer)
        check_sizes([1, *self.hidden, 1])
        self.build_optimizer()  # SGD checks learning_rate, momentum and nesterov
        BatchPlan(1, self.batch_size, self.seed)  # checks batch_size and seed
        check_epochs(self.epochs)
        return self

    def load_dataset(self):
        """The dataset, in this run's dtype, with the targets its loss takes (class labels for a sparse one)."""
        data = datasets.load(self.dataset).astype(resolve_dtype(self.dtype))
        loss = losses.get(self.loss)
        if loss.categorical and data.n_outputs < 2:
            raise ValueError(f"{loss.name} needs two classes or more, and {data.name} has one output: use "
                             "binary_crossentropy for a yes/no target")
        return data.with_class_labels() if loss.sparse else data

    def sizes(self, data):
        return [data.n_features, *self.hidden, data.n_outputs]

    def build_network(self, data, copies=TRAINING_COPIES):
        """The network for `data`: its inputs, the hidden layers, one output neuron per target column;
        ValueError if `copies` of its parameters would not fit in memory."""
        sizes = self.sizes(data)
        check_fits(copies * parameter_count(sizes) * np.dtype(resolve_dtype(self.dtype)).itemsize,
                   f"a {'-'.join(map(str, sizes))} network with its training state", "choose smaller layer sizes")
        return Network(
            sizes,
            [self.activation] * len(self.hidden) + [self.output_activation],
            initializer=self.initializer, seed=self.seed, dtype=self.dtype,
        )

    def build_l2(self, data):
        """The L2 term of the cost on `data`: lambda over its n training examples."""
        return regularization.L2(float(self.l2), len(data.x_train))

    def build_optimizer(self):
        return SGD(self.lr, self.momentum, self.nesterov)

    def as_dict(self):
        return asdict(self)
