"""The settings of a run, the primer's recipe by default, and what they build.

One Config describes the network (sizes, activations, initializer, seed, dtype), the cost and the
optimizer; both twins are built from the same Config.
"""
import math
from dataclasses import asdict, dataclass, field

from . import activations, datasets, losses
from .initializers import INITIALIZERS
from .network import Network, resolve_dtype
from .optimizers import SGD, check_learning_rate


MAX_INT32 = 2**31 - 1
MAX_SEED = 2**32 - 1

TRUTH_TABLE_RECIPE = {"hidden": [8], "activation": "tanh", "lr": 5.0}
# Settings that differ from the primer's digits recipe. The truth tables have 4 and 8 rows, so a
# mini-batch of 10 is the whole table and 30 epochs are 30 steps: too few for 30 sigmoid units at
# lr 3.0 to learn XOR (it stays at 75 %). 8 tanh units at lr 5.0 learn both tables within 20 epochs
# for every seed 0-9.
RECIPES = {"xor": TRUTH_TABLE_RECIPE, "vacation": TRUTH_TABLE_RECIPE}


@dataclass
class Config:
    dataset: str = "digits"
    hidden: list = field(default_factory=lambda: [30])
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    loss: str = "quadratic"
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
        """The Config for `dataset`: its recipe (RECIPES, else the primer's), overridden by `settings`."""
        return cls(dataset=dataset, **{**RECIPES.get(dataset, {}), **settings})

    def validate(self):
        """Raise ValueError naming the first setting that cannot work."""
        activations.get(self.activation)
        activations.get(self.output_activation)
        losses.get(self.loss)
        resolve_dtype(self.dtype)
        check_learning_rate(self.lr)
        if self.initializer not in INITIALIZERS:
            raise ValueError(f"unknown initializer {self.initializer!r}: choose one of {', '.join(INITIALIZERS)}")
        if any(int(h) != h or h < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive integers, got {self.hidden}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch size must be a positive integer, got {self.batch_size}")
        if self.batch_size > MAX_INT32:
            raise ValueError(f"batch size must be at most {MAX_INT32:,}, got {self.batch_size}: a batch "
                             "as large as the training set already takes all of it")
        if int(self.seed) != self.seed or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"--seed must be an integer 0..{MAX_SEED} (2**32 - 1, as Keras takes), got {self.seed}")
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs}")
        if not math.isfinite(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum above 0: pass --momentum 0.9, say")
        return self

    def load_dataset(self):
        """The dataset, in this run's dtype."""
        return datasets.load(self.dataset).astype(resolve_dtype(self.dtype))

    def sizes(self, data):
        return [data.n_features, *self.hidden, data.n_outputs]

    def build_network(self, data):
        """The network for `data`: its inputs, the hidden layers, one output neuron per target column."""
        return Network(
            self.sizes(data),
            [self.activation] * len(self.hidden) + [self.output_activation],
            initializer=self.initializer, seed=self.seed, dtype=self.dtype,
        )

    def build_optimizer(self):
        return SGD(self.lr, self.momentum, self.nesterov)

    def as_dict(self):
        return asdict(self)
