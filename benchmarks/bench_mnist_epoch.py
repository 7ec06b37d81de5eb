"""One epoch of scratch `fit` on 60000x784 synthetic data, 784-30-10, batch 10: prints the time."""
import time

import numpy as np

from scratch.network import Network
from scratch.optimizers import SGD
from scratch.training import fit

rng = np.random.default_rng(0)
x = rng.uniform(size=(60000, 784))
y = np.eye(10)[rng.integers(0, 10, 60000)]
network = Network([784, 30, 10], "sigmoid")
start = time.perf_counter()
fit(network, x, y, "quadratic", SGD(3.0), epochs=1, batch_size=10, verbose=True)
print(f"one epoch, 6000 steps of batch 10: {time.perf_counter() - start:.2f} s")
