"""What several test modules share: paths, running the CLIs, waiting with a bound, reading
TensorBoard files back, planting bugs, and comparing reports."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from compare.report import json_safe
from scratch import activations
from scratch.batches import BatchPlan
from scratch.training import fit, mini_batches, train_step


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


CHILD_ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the CLIs quiet it themselves


def run_module(*args, cwd=None, timeout=600, env=None):
    """Run `python -m ...` in a subprocess from the repository root; returns CompletedProcess."""
    full_env = {**CHILD_ENV, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def compare_in_process(argv, capsys):
    """`python -m compare ARGV` in this process (TensorFlow is loaded already, and so the run takes
    seconds less): (exit code, stdout, stderr lines)."""
    import pytest

    from compare.__main__ import main
    from keras_impl.interrupts import signals_interrupt

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
    finally:  # the CLI sets its own signal handlers: give pytest its own back
        signals_interrupt()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out, err = capsys.readouterr()
    return exit_.value.code, out, err.splitlines()


def read_line(stream, timeout=90):
    """One line from a child process's pipe; fails the test if none comes within `timeout` s."""
    line = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert line, f"the process printed no line within {timeout} s"
    return line[0]


def tensorflow_is_loading(pid):
    """True once the process has mapped TensorFlow's shared libraries: its import is under way."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "tensorflow" in f.read()
    except OSError:
        return False


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)


def wait_for_line(process, starts, timeout=180):
    """Read the child's stdout until a line whose first word is `starts`."""
    line = ""
    while line.split()[:1] != [starts]:
        line = read_line(process.stdout, timeout)
        assert line, f"compare ended before printing a line starting {starts!r}"


def read_scalars(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorflow.python.framework import tensor_util

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return [float(tensor_util.MakeNdarray(e.tensor_proto)) for e in events.Tensors(tag)]


def check_refused(run, cli, flags, message, folder, extra=()):
    before = snapshot(folder)
    workdir = folder.parent / f"cwd-{folder.name}"  # where the default --logdir runs/ would appear
    workdir.mkdir(exist_ok=True)
    result = run(*cli, *[f.format(d=folder) for f in flags], *extra, timeout=120, cwd=str(workdir))
    assert list(workdir.iterdir()) == [], "a run folder was made for bad input"
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-500:])
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(folder) == before  # earlier results untouched


def snapshot(folder):
    return {p: (os.path.getsize(p), os.path.getmtime(p)) for p in map(str, folder.rglob("*")) if os.path.isfile(p)}


def scaled_derivative(monkeypatch, name, factor):
    """Plant a bug in the scratch side only: f'(z) scaled by `factor`."""
    real = activations.ACTIVATIONS[name]
    buggy = activations.Activation(name, real.f, lambda z, a: factor * real.prime(z, a))
    monkeypatch.setitem(activations.ACTIVATIONS, name, buggy)


def wrong_beyond(monkeypatch, name, threshold):
    """Plant a bug that shows only after some steps: f'(z) doubled where z > threshold."""
    real = activations.ACTIVATIONS[name]
    buggy = activations.Activation(name, real.f, lambda z, a: np.where(z > threshold, 2, 1) * real.prime(z, a))
    monkeypatch.setitem(activations.ACTIVATIONS, name, buggy)


NESTEROV = dict(hidden=[16, 8], activation="tanh", momentum=0.9, nesterov=True, lr=0.3, epochs=2)


def scratch_trajectory(config, nudge=False):
    """The scratch network trained alone by `config` (with `nudge`, every first-layer weight one ulp up
    first); yields each step's pre-update weighted inputs zs and the weights after the step."""
    data = config.load_dataset()
    network = config.build_network(data)
    if nudge:
        network.weights[0][...] = np.nextafter(network.weights[0], np.inf)
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    optimizer = config.build_optimizer()
    for epoch in range(config.epochs):
        for x, y, labels in mini_batches(plan, data.x_train, data.y_train, epoch):
            zs, _ = network.forward(x)
            train_step(network, x, y, config.loss, optimizer, labels)
            yield zs, network.parameter_copies()


def first_step_with_z_over(config, threshold, activation):
    """(step, layer) of the first step where some weighted input z of an `activation` layer exceeds
    `threshold`, on the correct scratch network trained alone: the layer nearest the output among those."""
    names = [config.activation] * len(config.hidden) + [config.output_activation]
    for step, (zs, _) in enumerate(scratch_trajectory(config)):
        over = [layer for layer, z in enumerate(zs) if names[layer] == activation and (z > threshold).any()]
        if over:
            return step, f"dense_{over[-1] + 1}"
    raise AssertionError(f"no z above {threshold} in this run: choose another")


def both_ways(config, tmp_path):
    """The reports of `config` compared every step and in blocks."""
    from compare.harness import run_comparison

    return [run_comparison(config, str(tmp_path / check), print_=lambda *a: None, check=check)
            for check in ("every-step", "blocks")]


def assert_same_findings(every_step, blocks):
    for key in ("verdict", "first_divergence", "first_step_mismatch", "non_finite", "scratch_weights_sha256"):
        assert json_safe(blocks[key]) == json_safe(every_step[key]), key  # json_safe: NaN as null, comparable
    assert json_safe([(e["scratch"], e["keras"]) for e in blocks["epochs"]]) == \
        json_safe([(e["scratch"], e["keras"]) for e in every_step["epochs"]])
    assert blocks["check"]["mode"] == "blocks" and blocks["check"]["not_exact"] is None
    for a, b in zip(*(np.load(os.path.join(r["logdir"], "keras_weights.npz")).values() for r in (every_step, blocks))):
        assert a.tobytes() == b.tobytes()  # Keras's final weights: bitwise the same, 16 steps an execution or 1
    steps = len(every_step["steps"]["scratch_loss"])
    assert len(blocks["steps"]["scratch_loss"]) == steps and blocks["steps"]["scratch_loss"] == \
        every_step["steps"]["scratch_loss"]
    for first, last in blocks["check"]["replayed"]:  # replayed steps: measured as every-step measures them
        for key in ("weight_gap", "update_error"):
            assert blocks["steps"][key][first:last + 1] == every_step["steps"][key][first:last + 1], key
    # Keras's loss at every step, recovered from a running mean of the epoch's (or the replay's)
    # losses, which rounds by a few ulps of its running sum (up to 145 steps of losses), or in blocks
    # from the StepLosses metric; on PyTorch Keras averages in float32 (docs/keras-notes.md)
    rounding = 4 * 145 * np.finfo("float32" if blocks["backend"] == "torch" else blocks["config"]["dtype"]).eps
    keras_losses = (np.array(r["steps"]["keras_loss"], np.float64) for r in (blocks, every_step))
    assert np.isclose(*keras_losses, rtol=rounding, atol=rounding, equal_nan=True).all()


def train_both(config, data=None):
    """(network, model, scratch_history, keras_history) after config.epochs epochs on both sides."""
    from keras_impl import device
    from keras_impl.training import fit_with_plan
    from keras_impl.twin import build_twin

    device.configure(config.dtype, config.seed)
    data = data or config.load_dataset()
    network = config.build_network(data)
    model = build_twin(network, config, config.build_l2(data))
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    validation = (data.x_val, data.y_val)
    keras_history = fit_with_plan(model, data.x_train, data.y_train, plan, config.epochs, validation, verbose=0)
    scratch_history = fit(network, data.x_train, data.y_train, config.loss, config.build_optimizer(),
                          config.epochs, plan=plan, validation_data=validation, verbose=False, l2=config.build_l2(data))
    return network, model, scratch_history, keras_history


def max_weight_diff(network, model):
    return max(np.abs(s - k).max() for s, k in zip(network.parameter_copies(), model.get_weights()))


def max_loss_diff(scratch_history, keras_history, key="loss"):
    return max(abs(s[key] - k[key]) for s, k in zip(scratch_history, keras_history))


YOUR_MOMENTUM = """
import numpy as np
from network_rows import Network as Rows

class Network(Rows):
    '''SGD with momentum of its own, FORM "keras" (Keras's, plain or Nesterov as the run asks), "plain",
    "nesterov" (whatever the run asks) or "pytorch" (v -> mu v + g, w -> w - eta v); the momentum 1.001
    times too large at step BAD (0-based).'''
    def __init__(self, sizes):
        super().__init__(sizes)
        self.v, self.steps = [np.zeros_like(p) for p in self.get_weights()], 0

    def get_velocities(self):
        return self.v

    def set_velocities(self, velocities):
        self.v = list(velocities)

    def train_step(self, x, y, learning_rate, momentum, nesterov):
        g = self.gradients(x, y)
        mu = momentum * 1.001 if self.steps == {bad} else momentum
        if "{form}" == "pytorch":
            self.v = [mu * v + g_ for v, g_ in zip(self.v, g)]
            step = [-learning_rate * v for v in self.v]
        else:
            nesterov = {{"keras": nesterov, "plain": False, "nesterov": True}}["{form}"]
            self.v = [mu * v - learning_rate * g_ for v, g_ in zip(self.v, g)]
            step = [mu * v - learning_rate * g_ for v, g_ in zip(self.v, g)] if nesterov else self.v
        self.set_weights([p + s for p, s in zip(self.get_weights(), step)])
        self.steps += 1
"""


def your_momentum(form="keras", bad=-1):
    """The source of a rows network with momentum of its own (YOUR_MOMENTUM), built on
    examples/network_rows.py, which must lie beside it."""
    return YOUR_MOMENTUM.format(form=form, bad=bad)
