"""The harness: the default comparison matches, a planted bug is caught and located, a matrix of
settings matches, and TensorBoard holds the same numbers as the JSON report."""
import json

import numpy as np
import pytest

from scratch import activations
from scratch.config import Config


def read_scalars(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorflow.python.framework import tensor_util

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return [float(tensor_util.MakeNdarray(e.tensor_proto)) for e in events.Tensors(tag)]


def test_default_comparison_matches_and_tensorboard_agrees_with_the_report(run, tmp_path):
    result = run("compare", "--json", str(tmp_path / "r.json"), "--logdir", str(tmp_path / "runs"), "--name", "d")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr == ""  # TensorFlow's own log lines are filtered out
    assert "verdict: match" in result.stdout and "tensorboard --logdir" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "match" and report["first_divergence"] is None
    assert report["first_step_mismatch"] is None and report["drift"] is None
    assert max(report["steps"]["update_error"]) <= 1e-13
    import tensorflow as tf

    assert report["device"] == ("GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0")
    for row in report["gradients"]["layers"]:
        assert row["scratch_vs_keras_rel"] <= 1e-13 and row["scratch_vs_fd_rel"] <= 1e-6, row
    assert len(report["epochs"]) == 30
    assert all(e["max_abs_weight_diff"] <= 1e-12 for e in report["epochs"])
    assert report["epochs"][-1]["scratch"]["val_accuracy"] >= 0.95
    assert report["epochs"][-1]["keras"]["val_accuracy"] >= 0.95
    run_dir = tmp_path / "runs" / "d"
    assert (run_dir / "comparison.png").stat().st_size > 10_000
    for side in ("scratch", "keras"):
        for folder, key in (("train", "loss"), ("validation", "val_loss")):
            logged = read_scalars(run_dir / side / folder, "epoch_loss")
            expected = [e[side][key] for e in report["epochs"]]
            np.testing.assert_allclose(logged, expected, rtol=1e-6)
    assert len(read_scalars(run_dir / "agreement", "max_abs_weight_diff")) == 30
    np.testing.assert_allclose(read_scalars(run_dir / "agreement", "step_update_error"),
                               report["steps"]["update_error"], rtol=1e-6, atol=0)


def scaled_derivative(monkeypatch, name, factor):
    """Plant a bug in the scratch side only: f'(z) scaled by `factor`."""
    real = activations.ACTIVATIONS[name]
    buggy = activations.Activation(name, real.f, lambda z, a: factor * real.prime(z, a))
    monkeypatch.setitem(activations.ACTIVATIONS, name, buggy)


@pytest.mark.parametrize("buggy,hidden,layer", [("sigmoid", "sigmoid", "dense_2"), ("tanh", "tanh", "dense_1")])
def test_a_planted_bug_is_caught_at_step_0_in_the_right_layer(monkeypatch, tmp_path, capsys, buggy, hidden, layer):
    from compare.__main__ import main

    scaled_derivative(monkeypatch, buggy, 1.001)
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--activation", hidden, "--epochs", "1", "--lr", "0.5", "--logdir", str(tmp_path),
              "--json", str(tmp_path / "r.json")])
    assert exit_.value.code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "mismatch"
    assert report["first_divergence"]["step"] == 0
    assert report["first_divergence"]["layer"] == layer
    assert report["first_step_mismatch"]["step"] == 0  # the same step, taken from Keras's state
    assert report["first_step_mismatch"]["layer"] == layer
    bad = [r["name"] for r in report["gradients"]["layers"] if not r["keras_ok"]]
    assert f"{layer}/kernel" in bad
    assert "verdict: mismatch" in capsys.readouterr().out


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


MATRIX = [  # dataset, hidden, activation, output activation, loss, momentum, nesterov, dtype, batch size, epochs
    ("vacation", [4], "sigmoid", "sigmoid", "quadratic", 0.0, False, "float64", 1, 3),
    ("xor", [5], "tanh", "sigmoid", "mse", 0.9, False, "float64", 3, 5),
    ("digits", [32, 16], "relu", "sigmoid", "binary_crossentropy", 0.9, True, "float64", 37, 2),
    ("digits", [30], "sigmoid", "sigmoid", "quadratic", 0.0, False, "float32", 10, 2),
    ("csv", [8], "relu", "sigmoid", "mse", 0.0, False, "float32", 7, 3),
    ("mnist", [16], "tanh", "sigmoid", "binary_crossentropy", 0.5, False, "float64", 1, 2),
    ("csv", [6, 6], "sigmoid", "sigmoid", "binary_crossentropy", 0.9, True, "float32", 1, 2),
    ("xor", [3], "relu", "sigmoid", "quadratic", 0.0, False, "float32", 3, 4),
    ("digits", [16], "relu", "softmax", "categorical_crossentropy", 0.5, True, "float64", 10, 2),
    ("csv", [8], "tanh", "softmax", "sparse_categorical_crossentropy", 0.0, False, "float32", 7, 3),
    ("mnist", [16], "sigmoid", "softmax", "categorical_crossentropy", 0.5, False, "float64", 5, 2),
    ("digits", [12], "tanh", "softmax", "sparse_categorical_crossentropy", 0.5, False, "float64", 10, 1),
    ("digits", [30], "sigmoid", "softmax", "categorical_crossentropy", 0.0, False, "float32", 10, 2),
]


@pytest.mark.parametrize("dataset,hidden,activation,output,loss,momentum,nesterov,dtype,batch_size,epochs", MATRIX)
def test_matrix_of_settings_matches(tmp_path, dataset, hidden, activation, output, loss, momentum, nesterov, dtype,
                                    batch_size, epochs):
    from compare.harness import run_comparison

    spec = {"csv": lambda: write_csv(tmp_path / "d.csv"), "mnist": lambda: write_mnist(tmp_path / "m.npz")}
    config = Config(dataset=spec.get(dataset, lambda: dataset)(), hidden=hidden, activation=activation,
                    output_activation=output, loss=loss, lr=0.3, momentum=momentum, nesterov=nesterov, dtype=dtype,
                    batch_size=batch_size, epochs=epochs, seed=2).validate()
    report = run_comparison(config, str(tmp_path / "run"), print_=lambda *a: None)
    assert report["verdict"] == "match", (report["first_divergence"], report["gradients"]["layers"])
    assert len(report["steps"]["keras_loss"]) == epochs * -(-len(config.load_dataset().x_train) // batch_size)


def test_gradcheck_subcommand(run, tmp_path):
    result = run("compare", "gradcheck", "--activation", "relu", "--hidden", "16,8", "--json", str(tmp_path / "g.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # TensorFlow's own log lines are filtered out
    assert "verdict: match" in result.stdout
    report = json.loads((tmp_path / "g.json").read_text())
    assert [r["name"] for r in report["gradients"]["layers"]] == [
        f"dense_{i}/{k}" for i in (1, 2, 3) for k in ("kernel", "bias")]
    assert all(r["scratch_vs_keras_rel"] <= 1e-13 and r["scratch_vs_fd_rel"] <= 1e-6
               for r in report["gradients"]["layers"])


def test_verbose_shows_tensorflows_own_log_lines(run):
    from keras_impl.native_logs import ABSL_LINE

    result = run("compare", "gradcheck", "--dataset", "xor", "--hidden", "2", "--verbose")
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(ABSL_LINE.match(line.encode()) for line in result.stderr.splitlines()), result.stderr[-2000:]


def test_top_level_help_shows_runs_flags(run):
    """`run` is what runs without a subcommand, so its flags are on the top-level help too."""
    result = run("compare", "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "{run,gradcheck,view}" in result.stdout
    for flag in ("--hidden", "--epochs", "--json", "--logdir", "--name", "--verbose"):
        assert flag in result.stdout
