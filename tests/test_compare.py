"""The harness: the default comparison matches, a planted bug is caught and located, a matrix of
settings matches, and TensorBoard holds the same numbers as the JSON report."""
import json

import numpy as np
import pytest

from helpers import read_scalars, scaled_derivative
from matrix import MATRIX, matrix_config

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)


@pytest.mark.slow
def test_default_comparison_matches_and_tensorboard_agrees_with_the_report(run, tmp_path):
    result = run("compare", "--json", str(tmp_path / "r.json"), "--logdir", str(tmp_path / "runs"), "--name", "d")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr == ""  # TensorFlow's own log lines are filtered out
    assert result.stdout.startswith("Loading TensorFlow (a few seconds)...\n")  # while nothing else can print
    assert "verdict: match" in result.stdout
    assert result.stdout.rstrip().endswith(f"See the curves: python -m compare view d --logdir {tmp_path / 'runs'}")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "match" and report["first_divergence"] is None
    assert report["first_step_mismatch"] is None and report["drift"] is None
    assert report["check"] == {"mode": "blocks", "block_steps": 16, "replayed": [], "not_exact": None}
    assert max(report["blocks"]["update_error"]) <= 1e-13 and max(report["blocks"]["weight_gap"]) <= 1e-13
    import tensorflow as tf

    assert report["backend"] == "tensorflow"
    on_gpu = tf.config.list_physical_devices("GPU")
    assert report["device"].startswith("tensorflow:gpu:0") if on_gpu else report["device"] == "tensorflow:cpu"
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
    for tag, values in (("block_update_error", report["blocks"]["update_error"]),
                        ("step_weight_gap", [g for g in report["steps"]["weight_gap"] if g is not None])):
        assert len(values) == 30 * 10  # a value at the end of each block of 16 steps (and each epoch)
        np.testing.assert_allclose(read_scalars(run_dir / "agreement", tag), values, rtol=1e-6, atol=0)
    steps = report["steps"]  # both twins' loss at every step, Keras's from its StepLosses metric in blocks
    assert len(steps["keras_loss"]) == 30 * 145 and None not in steps["keras_loss"]
    deltas = [abs(s - k) for s, k in zip(steps["scratch_loss"], steps["keras_loss"])]
    assert max(deltas) <= 1e-13
    np.testing.assert_allclose(read_scalars(run_dir / "agreement", "step_abs_delta_loss"), deltas, rtol=1e-6, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("flags", [[], ["--l2", "5"]], ids=["cross_entropy", "cross_entropy-l2"])
def test_the_books_cross_entropy_matches_at_every_epoch(tmp_path, flags):
    """`python -m compare --loss cross_entropy [--l2 5]`: the book's chapter 3 on digits, 30 epochs at its
    learning rate 0.5 (the loss's recipe)."""
    from compare.__main__ import main

    try:
        main(["run", "--loss", "cross_entropy", *flags, "--logdir", str(tmp_path), "--json", str(tmp_path / "r.json")])
    except SystemExit as e:
        assert e.code in (0, None)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["config"]["lr"] == 0.5 and report["config"]["l2"] == (5.0 if flags else 0.0)
    assert report["verdict"] == "match", report["first_divergence"]
    assert len(report["epochs"]) == 30 and all(e["max_abs_weight_diff"] <= 1e-12 for e in report["epochs"])
    for row in report["gradients"]["layers"]:
        assert row["scratch_vs_keras_rel"] <= 1e-13 and row["scratch_vs_fd_rel"] <= 1e-6, row
    assert max(report["blocks"]["update_error"]) <= 1e-13


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
    # f' 1.001 times too large: its layer's gradients are 1.001 times the right ones (and in BP2, below it)
    factors = {f["layer"]: f["evidence"]["factor"] for f in report["diagnosis"]}
    assert factors[layer] == pytest.approx(1.001, rel=1e-12)
    assert factors.get("dense_1", 1.0) == pytest.approx(1.001 ** (2 if buggy == "sigmoid" else 1), rel=1e-12)
    assert "verdict: mismatch" in capsys.readouterr().out


@pytest.mark.parametrize("row", MATRIX, ids=[f"{r[0]}-{r[4]}-{r[7]}-{i}" for i, r in enumerate(MATRIX)])
def test_matrix_of_settings_matches(tmp_path, row):
    from compare.harness import run_comparison

    config = matrix_config(row, tmp_path)
    report = run_comparison(config, str(tmp_path / "run"), print_=lambda *a: None)
    assert report["verdict"] == "match", (report["first_divergence"], report["gradients"]["layers"])
    assert report["diagnosis"] == []
    assert len(report["steps"]["keras_loss"]) == row.epochs * -(-len(config.load_dataset().x_train) // row.batch_size)


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
