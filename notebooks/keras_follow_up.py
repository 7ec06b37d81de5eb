# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Practical deep learning with Python and Keras: the follow-up
#
# The primer built a neural network from perceptrons and sigmoid neurons, a cost, gradient descent
# and backpropagation, and promised a follow-up "with some practical deep learning using python and
# keras". Here it is, in the same order: a neuron and a layer in NumPy, the whole network's forward
# pass and backpropagation (BP1-BP4) from `scratch/`, the same network in Keras, both trained from
# the same starting weights on the same mini-batches, their curves on one chart, their gradients side
# by side, TensorBoard, and a check of a network of your own.
#
# Run it top to bottom (Jupyter, or Colab: the first cell installs what it needs there). Every number
# below comes from this machine's run; yours may differ in the last digits (README.md says which).

# %%
# On Colab: fetch this repository and install its requirements. Set REPO_URL to the address you would
# `git clone` it from.
import os
import pathlib
import subprocess
import sys

REPO_URL = ""
if "google.colab" in sys.modules and not pathlib.Path("scratch").is_dir():
    if not REPO_URL:
        raise SystemExit("set REPO_URL in this cell to this repository's address, then run it again")
    subprocess.run(["git", "clone", REPO_URL, "follow_up"], check=True)
    os.chdir("follow_up")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", "requirements.txt"], check=True)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's own log lines: not about this network
ROOT = next(p for p in (pathlib.Path.cwd(), pathlib.Path.cwd().parent) if (p / "scratch").is_dir())
sys.path.insert(0, str(ROOT))
EPOCHS = int(os.environ.get("FOLLOW_UP_EPOCHS", "30"))  # the primer's 30; the test suite runs fewer
LOGDIR = os.environ.get("FOLLOW_UP_LOGDIR", str(ROOT / "runs" / "notebook"))
print(f"{EPOCHS} epochs, TensorBoard logs in {os.path.relpath(LOGDIR, ROOT)}")

# %% [markdown]
# ## A neuron, in NumPy
#
# A sigmoid neuron weighs its inputs x with weights w, adds its bias b and fires a = sigmoid(z),
# z = w . x + b. The primer's vacation neuron: cheap tickets, leave granted, nice weather.

# %%
import numpy as np

from scratch.activations import sigmoid

w, b = np.array([6.0, 2.0, 2.0]), -5.0  # the tickets matter most; without them it takes both others
for x in ([1, 0, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1]):
    z = np.dot(w, x) + b
    print(f"x = {x}: z = {z:+.0f}, a = sigmoid(z) = {sigmoid(z):.3f}")

# %% [markdown]
# ## A layer
#
# A layer is many neurons reading the same inputs: one weight per input and neuron, a matrix W of
# shape (inputs, neurons), and one bias each. For a batch of examples, one per row of X, the whole
# layer is a = sigmoid(X W + b): one matrix product.

# %%
rng = np.random.default_rng(0)
X = rng.uniform(size=(4, 3))  # 4 examples with 3 inputs
W, b = rng.normal(size=(3, 2)), np.zeros(2)  # a layer of 2 neurons
print("a = sigmoid(X W + b) =\n", sigmoid(X @ W + b).round(3))

# %% [markdown]
# ## The network and backpropagation, from `scratch/`
#
# The primer's network for the digits: 64 inputs (8x8 pixels), 30 sigmoid neurons, 10 outputs, the
# quadratic cost C = 1/(2n) sum ||y - a||^2. `Network.forward` keeps every z^l and a^l;
# `Network.backprop` runs the four equations backwards over the batch:
#
# - BP1: delta^L = dC/da^L * sigma'(z^L), the error at the output
# - BP2: delta^l = (delta^{l+1} W^{l+1}T) * sigma'(z^l), carried back a layer
# - BP3: dC/db^l = the sum of delta^l over the batch
# - BP4: dC/dW^l = a^{l-1}T delta^l

# %%
from scratch.batches import BatchPlan
from scratch.config import Config

config = Config(epochs=EPOCHS).validate()  # the primer's recipe: 64-30-10 sigmoid, quadratic, lr 3.0, batch 10
data = config.load_dataset()
network = config.build_network(data)
plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
x0, y0 = plan.first_batch(data.x_train, data.y_train)  # the first mini-batch: 10 digits

zs, activations = network.forward(x0)
nabla_w, nabla_b = network.backprop(x0, y0, "quadratic")
print(network, "on", data.name, f"({len(data.x_train)} training, {len(data.x_val)} validation images)")
for l, (z, g) in enumerate(zip(zs, nabla_w), start=1):
    print(f"layer {l}: z^{l} {z.shape}, dC/dW^{l} {g.shape}, |dC/dW^{l}| = {np.linalg.norm(g):.4f}")

# %% [markdown]
# ## The same network in Keras
#
# Written out as Keras users write it. Two details make it the *same* network: Keras computes in
# float64 like NumPy (`keras.backend.set_floatx`, done by `device.configure`), and it starts from the
# scratch network's weights (`set_weights`) instead of drawing its own. Keras has no loss for the
# primer's quadratic cost (its `"mse"` also divides by the 10 outputs), so the cost is
# `QuadraticCost`, 1/2 sum (y - a)^2 per example, which Keras averages over the mini-batch.

# %%
from keras_impl import device

device.configure("float64", seed=0)  # before any model: float64 throughout, seeded, deterministic
import keras

from keras_impl.twin import QuadraticCost

model = keras.Sequential([
    keras.Input(shape=(64,)),                      # 64 inputs: the 8x8 pixels of a digit
    keras.layers.Dense(30, activation="sigmoid"),  # a layer of 30 sigmoid neurons
    keras.layers.Dense(10, activation="sigmoid"),  # 10 output neurons, one per digit
])
model.set_weights(network.parameter_copies())      # start from the scratch network's weights
model.compile(optimizer=keras.optimizers.SGD(learning_rate=3.0), loss=QuadraticCost(),
              metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
model.summary()

# %% [markdown]
# ## Step 0's gradients, side by side
#
# Before any training, both compute dC/dW and dC/db on the first mini-batch: the scratch network by
# BP1-BP4, Keras by automatic differentiation (TensorFlow's GradientTape). They agree to rounding.

# %%
from compare.gradcheck import keras_gradients

ours = [g for pair in zip(nabla_w, nabla_b) for g in pair]
theirs = keras_gradients(model, QuadraticCost(), x0, y0)
print(f"{'tensor':<16}{'scratch (first)':>18}{'Keras (first)':>18}{'max |difference|':>18}")
for name, s, k in zip(network.parameter_names(), ours, theirs):
    print(f"{name:<16}{s.flat[0]:>18.12f}{k.flat[0]:>18.12f}{np.abs(s - k).max():>18.1e}")

# %% [markdown]
# ## Train both, from the same weights, on the same mini-batches
#
# Each epoch shuffles the training set (the same order for both: the shared `BatchPlan`) and cuts it
# into mini-batches of 10; after each, backpropagation and one step of gradient descent,
# w -> w - eta dC/dw. Keras gets each epoch's order through `fit(..., shuffle=False)`.

# %%
from keras_impl.training import tensorboard_callback
from scratch.training import fit

scratch_history = fit(network, data.x_train, data.y_train, "quadratic", config.build_optimizer(), EPOCHS,
                      plan=plan, validation_data=(data.x_val, data.y_val), verbose=False)
board = tensorboard_callback(f"{LOGDIR}/keras")
keras_history = []
for epoch in range(EPOCHS):
    order = plan.permutation(epoch)
    result = model.fit(data.x_train[order], data.y_train[order], batch_size=10, epochs=epoch + 1, initial_epoch=epoch,
                       shuffle=False, validation_data=(data.x_val, data.y_val), callbacks=[board], verbose=0)
    keras_history.append({k: v[-1] for k, v in result.history.items()})
board.close()
gap = max(np.abs(s - k).max() for s, k in zip(network.parameter_copies(), model.get_weights()))
print(f"after {EPOCHS} epochs: validation accuracy {scratch_history[-1]['val_accuracy']:.2%} (scratch), "
      f"{keras_history[-1]['val_accuracy']:.2%} (Keras); the weights differ by at most {gap:.1e}")

# %% [markdown]
# ## Both curves on one chart
#
# The scratch network's curves are drawn thick, Keras's thin and dashed on top: they lie on each
# other, epoch by epoch.

# %%
import matplotlib.pyplot as plt

epochs = range(1, EPOCHS + 1)
fig, (cost, accuracy) = plt.subplots(1, 2, figsize=(11, 4))
for history, style in ((scratch_history, dict(lw=5, alpha=0.4)), (keras_history, dict(lw=1.5, ls="--"))):
    side = "scratch" if history is scratch_history else "Keras"
    cost.plot(epochs, [h["loss"] for h in history], label=f"{side}: training cost", **style)
    accuracy.plot(epochs, [h["val_accuracy"] for h in history], label=f"{side}: validation accuracy", **style)
cost.set(xlabel="epoch", ylabel="quadratic cost C", yscale="log", title="the cost, per epoch")
accuracy.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
cost.legend()
accuracy.legend()
plt.show()

# %% [markdown]
# ## TensorBoard
#
# Keras wrote its curves for TensorBoard while it trained. In Jupyter or Colab the next cell shows
# TensorBoard inside the notebook; `python -m compare` logs both twins and their agreement, and
# `python -m compare view` opens them. For readers without a running kernel, a saved picture of a
# comparison run follows it: both twins' loss curves, one on the other.

# %% tags=["tensorboard"]
# %load_ext tensorboard
# %tensorboard --logdir {LOGDIR}

# %% [markdown]
# ![TensorBoard: the scratch network's and Keras's curves lie on each other](../docs/tensorboard.png)

# %% [markdown]
# ## Check your own network
#
# Wrote a network yourself? The harness trains it beside Keras from the same weights and says where it
# first disagrees, and why. Here, `examples/network_buggy.py`: the primer's network with BP1 missing
# its factor sigma'(z^L). It still learns, yet the check finds it at step 0, in the output layer.

# %%
from compare import check_network
from compare.report import verdict_line

report = check_network(str(ROOT / "examples" / "network_buggy.py") + ":Network", epochs=1)
print(verdict_line(report))
