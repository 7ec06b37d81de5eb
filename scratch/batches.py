"""The batch plan: which examples form each mini-batch of each epoch.

Each epoch shuffles the n training examples with a permutation drawn from (seed, epoch) and cuts
it into mini-batches of `batch_size`; the last batch keeps the remainder (as Keras does), so an
epoch has ceil(n / batch_size) steps. Both twins are handed the same plan and so see the same
batches in the same order.
"""
import math

import numpy as np

MAX_BATCH_SIZE = 2**31 - 1  # what TensorFlow's batch dimension takes
MAX_SEED = 2**32 - 1  # what keras.utils.set_random_seed takes


class BatchPlan:
    """Per-epoch permutations and mini-batch slices for n examples."""

    def __init__(self, n, batch_size, seed=0):
        if n < 1:
            raise ValueError("the training set is empty: give at least one example")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if batch_size > MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be at most {MAX_BATCH_SIZE:,}, got {batch_size}: a batch as large "
                             "as the training set already takes all of it")
        if int(seed) != seed or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer 0..{MAX_SEED} (2**32 - 1, as Keras takes), got {seed}")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)

    @property
    def steps_per_epoch(self):
        return math.ceil(self.n / self.batch_size)

    def permutation(self, epoch):
        """The order of the examples in this epoch (0-based), the same every time it is asked."""
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def first_batch(self, x, y):
        """Step 0's mini-batch of (x, y): the first slice of epoch 0's order."""
        order, first = self.permutation(0), self.slices()[0]
        return x[order][first], y[order][first]

    def slices(self):
        """The mini-batches as slices of an epoch's permuted examples, the last possibly shorter."""
        return [slice(start, start + self.batch_size) for start in range(0, self.n, self.batch_size)]
