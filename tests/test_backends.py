"""The twin on every Keras backend: JAX (and PyTorch where installed) checked like TensorFlow, each
by its own autodiff and with TensorFlow unimportable; `--backend all`'s table; TensorBoard logs
read back; signals; bad input."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import CHILD_ENV, ROOT
from matrix import MATRIX
from on_backend import ROWS
from helpers import read_scalars

from keras_impl import CLIPPED_CROSS_ENTROPY, departures
from keras_impl.backends import installed

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_backends")]  # the module fixture runs once: one JAX process


@pytest.fixture(scope="module", params=["jax", "torch"])
def on_backend(request, tmp_path_factory):
    """tests/on_backend.py's reports for one backend (one process for all of them)."""
    backend = request.param
    if not installed(backend):
        pytest.skip(f"{backend} is not installed (docs/backends.md: Every Keras backend)")
    out = tmp_path_factory.mktemp(backend)
    result = subprocess.run([sys.executable, "tests/on_backend.py", backend, str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=900, env={**CHILD_ENV, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return backend, out


def report_of(out, name):
    return json.loads((out / f"{name}.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "cross_entropy"])
def test_the_default_run_matches_at_every_epoch(on_backend, name):
    """`python -m compare --backend NAME` (its main, in tests/on_backend.py) with TensorFlow unimportable,
    and the same with the book's cross-entropy and L2 term (`--loss cross_entropy --l2 5`)."""
    backend, out = on_backend
    report = report_of(out, name)
    assert report["backend"] == backend and report["device"].startswith(f"{backend}:")
    if backend == "torch":  # float64 matmuls in float32: a departure, and the verdict says so
        assert report["verdict"] == "mismatch" and report["keras_departures"]
        return
    assert report["verdict"] == "match" and report["keras_departures"] == []
    assert len(report["epochs"]) == 30
    assert all(e["max_abs_weight_diff"] <= 1e-12 for e in report["epochs"])
    assert all(row["scratch_vs_keras_rel"] <= 1e-13 for row in report["gradients"]["layers"])
    assert report["check"]["mode"] == "blocks" and max(report["blocks"]["update_error"]) <= 1e-13
    for side, folder in (("scratch", "scratch"), ("keras", "keras")):
        logged = read_scalars(out / name / folder / "train", "epoch_loss")
        np.testing.assert_allclose(logged, [e[side]["loss"] for e in report["epochs"]], rtol=1e-6)


@pytest.mark.slow
def test_blocks_find_what_every_step_finds(on_backend):
    """A ReLU run that drifts, checked both ways on this backend: the same findings, and the blocks
    replayed retrace the run bitwise here too."""
    from helpers import assert_same_findings

    _, out = on_backend
    blocks = report_of(out, "relu-blocks")
    assert_same_findings(report_of(out, "relu-every-step"), blocks)
    assert blocks["check"]["replayed"]


@pytest.mark.parametrize("i", ROWS, ids=[f"{MATRIX[i][0]}-{MATRIX[i][4]}-{MATRIX[i][7]}-{i}" for i in ROWS])
def test_matrix_of_settings(on_backend, i):
    """Every row matches, except where Keras on this backend departs from the math: a float64 mean, tanh
    or (PyTorch) matmul computed in float32 is a mismatch at step 0; cross-entropy from clipped
    outputs is exact until an output passes 1 - 1e-7, so it may match or not, but step 0 agrees."""
    backend, out = on_backend
    report = report_of(out, f"row-{i}")
    row = MATRIX[i]
    expected = departures(row.output, row.loss, backend, row.dtype, row.activation)
    assert report["keras_departures"] == expected
    certain = [words for words in expected if words != CLIPPED_CROSS_ENTROPY]
    gradients = [row["scratch_vs_keras_rel"] for row in report["gradients"]["layers"]]
    if certain:
        assert report["verdict"] == "mismatch" and report["first_step_mismatch"]["step"] == 0
    elif expected:
        assert max(gradients) <= report["tolerances"]["gradient_rel"] and report["verdict"] in ("match", "mismatch")
    else:
        assert report["verdict"] == "match", report["first_step_mismatch"]


def test_the_keras_example_logs_to_tensorboard(on_backend):
    backend, out = on_backend
    for side, tag in (("train", "epoch_loss"), ("train", "epoch_learning_rate"), ("validation", "epoch_accuracy")):
        assert len(read_scalars(out / "keras_impl" / "keras" / side, tag)) == 1


@pytest.mark.slow
def test_every_backend_in_one_table(run, tmp_path):
    result = run("compare", "run", "--backend", "all", "--dataset", "xor", "--activation", "sigmoid", "--epochs", "3",
                 "--logdir", str(tmp_path), "--name", "all", "--json", str(tmp_path / "all.json"))
    table = result.stdout[result.stdout.index("backend     device"):]
    summary = json.loads((tmp_path / "all.json").read_text())
    rows = {row["backend"]: row for row in summary["rows"]}
    assert list(rows) == ["tensorflow", "jax", "torch"]
    expected = {b: "mismatch" if departures("sigmoid", "quadratic", b, "float64", "sigmoid") else "match" for b in rows}
    assert result.returncode == (1 if installed("torch") else 0), result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp_path / "all"
    scratch = read_scalars(run_dir / "scratch" / "train", "epoch_loss")
    for backend, row in rows.items():
        if row["status"] == "not installed":
            assert f"{backend:<11} not installed" in table
            continue
        report = json.loads((run_dir / f"report_{backend}.json").read_text())
        assert row["verdict"] == report["verdict"] == expected[backend] and row["device"] == report["device"]
        assert row["device"] in table and f"{row['gradient_rel_error']:.1e}" in table
        if expected[backend] == "match":
            assert row["gradient_rel_error"] <= 1e-13 and row["max_abs_weight_diff"] <= 1e-12
        logged = read_scalars(run_dir / f"keras_{backend}" / "train", "epoch_loss")
        np.testing.assert_allclose(logged, [e["keras"]["loss"] for e in report["epochs"]], rtol=1e-6)
        np.testing.assert_allclose(scratch, [e["scratch"]["loss"] for e in report["epochs"]], rtol=1e-6)
        assert len(read_scalars(run_dir / f"agreement_{backend}", "max_abs_weight_diff")) == 3
    pair = {(p["a"], p["b"]): p["max_abs_weight_diff"] for p in summary["pairwise"]}
    assert pair[("tensorflow", "jax")] <= 1e-12
    assert "tensorflow vs jax max |d w|" in table


@pytest.mark.parametrize("argv,env,words", [
    (["compare", "--backend", "theano"], {}, "unknown backend 'theano'"),
    (["compare", "gradcheck", "--backend", "all"], {}, "`all` is for `python -m compare run` only"),
    (["keras_impl", "--backend", "all"], {}, "`all` is for `python -m compare run` only"),
    (["compare", "--epochs", "1"], {"KERAS_BACKEND": "numpy"}, "KERAS_BACKEND: unknown backend 'numpy'"),
    (["keras_impl", "--epochs", "1"], {"KERAS_BACKEND": "numpy"}, "KERAS_BACKEND: unknown backend 'numpy'"),
])
def test_bad_backends_are_one_line_and_exit_2(run, tmp_path, argv, env, words):
    result = run(*argv, cwd=tmp_path, env=env)  # a run folder would be tmp_path/runs
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []  # no run folder


@pytest.mark.skipif(installed("torch"), reason="PyTorch is installed here")
@pytest.mark.parametrize("cli", [["compare", "run"], ["compare", "gradcheck"], ["keras_impl"]])
def test_torch_when_it_is_not_installed_says_what_to_install(run, tmp_path, cli):
    result = run(*cli, "--backend", "torch", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "the torch backend is not installed here: pip install torch" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigterm_during_a_backends_run_stops_it_and_leaves_the_table(tmp_path):
    """The parent passes the signal on to the running backend (its own session, so it gets it once),
    which writes its partial report; then the table, exit 143, and no process left behind."""
    from helpers import wait_for, wait_for_line

    argv = [sys.executable, "-m", "compare", "run", "--backend", "all", "--logdir", str(tmp_path), "--name", "s"]
    parent = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**CHILD_ENV, "PYTHONPATH": ROOT})
    try:
        wait_for_line(parent, "2")  # the first backend's epoch 2: training is under way
        parent.terminate()
        out, err = parent.communicate(timeout=120)
    finally:
        parent.kill()
    assert parent.returncode == 143, err[-2000:]
    rows = json.loads((tmp_path / "s" / "backends.json").read_text())["rows"]
    assert rows[0]["backend"] == "tensorflow" and rows[0]["verdict"] == "match (interrupted)"
    assert len(rows) == 1 and "match (interrupted)" in out
    report = json.loads((tmp_path / "s" / "report_tensorflow.json").read_text())
    assert report["interrupted_by"] == "SIGTERM" and len(report["epochs"]) >= 2
    still_running = lambda: str(tmp_path) in subprocess.run(["ps", "-eo", "args"], capture_output=True,  # noqa: E731
                                                            text=True).stdout
    wait_for(lambda: not still_running(), 10, "the backend's process ending")


@pytest.mark.slow
def test_a_second_ctrl_c_during_a_backends_run_leaves_no_child_and_a_true_table(tmp_path):
    """Two Ctrl-C 0.3 s apart: the parent kills the backend's process instead of waiting for it (before,
    it exited at once and the child went on to write the report its summary said was interrupted)."""
    from helpers import wait_for_line

    argv = [sys.executable, "-m", "compare", "run", "--backend", "all", "--epochs", "200", "--logdir", str(tmp_path),
            "--name", "s"]
    parent = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**CHILD_ENV, "PYTHONPATH": ROOT})
    try:
        wait_for_line(parent, "2")
        parent.send_signal(signal.SIGINT)
        time.sleep(0.3)
        parent.send_signal(signal.SIGINT)
        parent.communicate(timeout=120)
    finally:
        parent.kill()
    assert parent.returncode == 130
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in running, "the backend's process outlived compare"
    rows = json.loads((tmp_path / "s" / "backends.json").read_text())["rows"]
    time.sleep(2)  # a child still running would write its report now
    written = (tmp_path / "s" / "report_tensorflow.json").exists()
    assert rows[0]["status"] == ("ran" if written else "interrupted"), rows  # the table says what the folder holds
