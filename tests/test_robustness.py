"""Bad input, divergence, interruption, reproducibility, randomized agreement, numerical stability."""
import io
import json
import os
import zipfile
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from compare.view import wait_until_gone
from helpers import CHILD_ENV, ROOT, check_refused, compare_in_process, tensorflow_is_loading, wait_for, wait_for_line
from scratch import activations, losses
from scratch.config import Config

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)

CLIS = [("scratch",), ("keras_impl",), ("compare", "run"), ("compare", "gradcheck")]
LOGGING_CLIS = [("keras_impl",), ("compare", "run")]


def make_files(folder):
    """Bad files of every kind the loaders meet."""
    (folder / "nan.csv").write_text("a,b,y\n1,2,0\nnan,3,1\n")
    (folder / "inf.csv").write_text("a,b,y\n1,2,0\n4,inf,1\n")
    (folder / "text.csv").write_text("a,b,y\n1,two,0\n")
    (folder / "header_only.csv").write_text("a,b,y\n")
    (folder / "labels.csv").write_text("a,b,y\n1,2,0\n3,4,-2\n")
    (folder / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    rng = np.random.default_rng(0)
    np.savez(folder / "widths.npz", x_train=rng.integers(0, 255, (10, 28, 28)), y_train=np.arange(10),
             x_test=rng.integers(0, 255, (5, 20, 20)), y_test=np.arange(5))
    np.savez(folder / "labels.npz", x_train=rng.integers(0, 255, (10, 28, 28)), y_train=np.arange(10) + 5,
             x_test=rng.integers(0, 255, (5, 28, 28)), y_test=np.arange(5))
    (folder / "a_file").write_text("not a folder")
    os.mkfifo(folder / "fifo")
    make_round_two_files(folder, rng)


def save_mnist(path, x_train=None, y_train=None):
    """An .npz in mnist.npz's layout, with x_train or y_train replaced."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (10, 28, 28)) if x_train is None else x_train,
             y_train=np.arange(10) if y_train is None else y_train,
             x_test=rng.integers(0, 255, (5, 28, 28)), y_test=np.arange(5))


def npz_claiming(path, shape):
    """An .npz whose x_train header claims `shape` while the file holds 40 numbers."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": shape})
    member.write(np.zeros(40).tobytes())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", member.getvalue())
        for name, array in (("y_train", np.arange(10)), ("x_test", np.zeros((5, 4))), ("y_test", np.arange(5))):
            stored = io.BytesIO()
            np.save(stored, array)
            z.writestr(f"{name}.npy", stored.getvalue())


def make_round_two_files(folder, rng):
    """The bad files that round two of the robustness pass found."""
    pixels = rng.integers(0, 255, (10, 28, 28)).astype(float)
    pixels[3, 4, 5] = np.nan
    save_mnist(folder / "nan_pixels.npz", x_train=pixels)
    save_mnist(folder / "one_hot.npz", y_train=np.eye(10))
    save_mnist(folder / "strings.npz", x_train=np.array(["a", "b"] * 5))
    save_mnist(folder / "scalar.npz", x_train=np.array(3.0))
    save_mnist(folder / "complex.npz", x_train=np.ones((10, 28, 28)) * 1j)
    np.save(folder / "plain.npy", np.zeros((10, 28, 28)))
    npz_claiming(folder / "huge.npz", (10**15, 4))
    (folder / "big.csv").write_text("a,b,y\n1,2,0\n1e39,3,1\n")
    (folder / "long_field.csv").write_text("a,b,y\n1,2,0\n\"" + "9" * 140_000 + "\",3,1\n")
    for label in ("1e9", "40000", "1e20", "1.5"):
        (folder / f"label_{label}.csv").write_text(f"a,b,y\n1,2,0\n3,4,{label}\n")


BAD_INPUTS = [  # (flags, what stderr must say); {d} is the folder of bad files
    (["--dataset", "mnist:{d}/widths.npz"], "x_train has 784 pixels per image but x_test has 400"),
    (["--dataset", "csv:{d}/nan.csv"], "is NaN or inf"),
    (["--dataset", "csv:{d}/inf.csv"], "is NaN or inf"),
    (["--dataset", "csv:{d}/text.csv"], "'two' is not a number"),
    (["--dataset", "csv:{d}/header_only.csv"], "has a header but no data rows"),
    (["--dataset", "csv:{d}/missing.csv"], "cannot read CSV file"),
    (["--dataset", "mnist:{d}/corrupt.npz"], "is it corrupt?"),
    (["--dataset", "mnist:{d}/missing.npz"], "no MNIST file"),
    (["--dataset", "mnist:{d}/labels.npz"], "labels outside 0..9"),
    (["--dataset", "csv:{d}/labels.csv"], "negative labels (found -2)"),
    (["--activation", "swish"], "unknown activation 'swish'"),
    (["--loss", "hinge"], "unknown loss 'hinge'"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--lr", "0"], "learning rate must be a positive number"),
    (["--lr", "-1"], "learning rate must be a positive number"),
    (["--lr", "nan"], "learning rate must be a positive number"),
    (["--batch-size", "0"], "batch size must be a positive integer"),
    (["--epochs", "0"], "epochs must be a positive integer"),
    (["--hidden", "0"], "hidden sizes must be at least 1"),
    (["--hidden", "3,x"], "hidden sizes must be integers"),
    (["--dtype", "float16"], "unsupported dtype 'float16'"),
    (["--momentum", "1.5"], "momentum must be in [0, 1)"),
    (["--l2", "-1"], "--l2: lmbda must be a number >= 0"),
    (["--l2", "nan"], "--l2: lmbda must be a number >= 0"),
    (["--l2", "inf"], "--l2: lmbda must be a number >= 0"),
    (["--loss", "cross_entropy", "--output-activation", "softmax"], "with a softmax output use categorical_crossentropy"),
    (["--loss", "cross_entropy", "--output-activation", "linear"], "with a linear output use quadratic or mse"),
]
ROUND_TWO_INPUTS = [  # found by the second robustness pass; checked by the CLIs that start TensorFlow
    (["--dataset", "mnist:{d}/nan_pixels.npz"], "NaN or inf pixels"),
    (["--dataset", "csv:{d}/big.csv", "--dtype", "float32"], "beyond float32's range"),
    (["--seed", "-1"], "--seed: seed must be an integer 0..4294967295"),
    (["--seed", str(2**70)], "--seed: seed must be an integer 0..4294967295"),
    (["--dataset", "mnist:{d}/one_hot.npz"], "not one-hot rows"),
    (["--dataset", "csv:{d}/long_field.csv"], "line 3 is not valid CSV"),
    (["--dataset", "mnist:{d}/plain.npy"], "is a .npy file, not an .npz archive"),
    (["--dataset", "mnist:{d}/strings.npz"], "pixels must be real numbers"),
    (["--dataset", "mnist:{d}/scalar.npz"], "it needs one image per row"),
    (["--dataset", "mnist:{d}/complex.npz"], "pixels must be real numbers"),
    (["--dataset", "mnist:{d}/huge.npz"], "the file is corrupt"),
    (["--dataset", "csv:{d}/label_1e9.csv"], "more than 10,000 classes"),
    (["--dataset", "csv:{d}/label_40000.csv"], "more than 10,000 classes"),
    (["--dataset", "csv:{d}/label_1e20.csv"], "more than 10,000 classes"),
    (["--hidden", "100000000"], "would take"),
    (["--batch-size", str(2**63)], "batch size must be at most"),
    (["--logdir", "{d}/a_file"], "is a file, not a folder"),
]
CATEGORICAL_INPUTS = [  # class labels for the categorical cross-entropies, checked before TensorFlow starts
    (["--dataset", "xor", "--loss", "cce"], "needs two classes or more"),
    (["--dataset", "vacation", "--loss", "sparse_categorical_crossentropy"], "needs two classes or more"),
    (["--dataset", "csv:{d}/label_1.5.csv", "--loss", "scce"], "must hold integer class labels"),
    (["--dataset", "mnist:{d}/one_hot.npz", "--loss", "scce"], "not one-hot rows"),
]
LOGDIR_INPUTS = [
    (["--logdir", "{d}/a_file/runs"], "cannot create run folder"),
    (["--name", "taken"], "already exists"),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    make_files(folder)
    return folder


@pytest.mark.parametrize("cli", CLIS, ids=" ".join)
@pytest.mark.parametrize("flags,message", BAD_INPUTS, ids=[" ".join(f) for f, _ in BAD_INPUTS])
def test_bad_input_is_refused_in_one_line(run, bad_files, cli, flags, message):
    check_refused(run, cli, flags, message, bad_files)


@pytest.mark.parametrize("cli", LOGGING_CLIS, ids=" ".join)
@pytest.mark.parametrize("flags,message", ROUND_TWO_INPUTS, ids=[" ".join(f) for f, _ in ROUND_TWO_INPUTS])
def test_round_two_bad_input_is_refused_before_anything_starts(run, bad_files, cli, flags, message):
    check_refused(run, cli, flags, message, bad_files)


@pytest.mark.parametrize("cli", [("scratch",), ("compare", "run")], ids=" ".join)  # one per way in: CI time
@pytest.mark.parametrize("flags,message", CATEGORICAL_INPUTS, ids=[" ".join(f) for f, _ in CATEGORICAL_INPUTS])
def test_categorical_targets_are_checked_before_anything_starts(run, bad_files, cli, flags, message):
    check_refused(run, cli, flags, message, bad_files)


@pytest.mark.parametrize("loss,targets,message", [
    ("sparse_categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]], "one-hot rows go with categorical_crossentropy"),
    ("sparse_categorical_crossentropy", [0, 1, 2.5, 1], "class label 2.5"),
    ("sparse_categorical_crossentropy", [0, 1, 3, 1], "class label 3: labels must be whole numbers 0..2"),
    ("sparse_categorical_crossentropy", [0, -1, 2, 1], "class label -1"),
    ("categorical_crossentropy", [0, 1, 2, 1], "class labels go with sparse_categorical_crossentropy"),
])
def test_the_wrong_kind_of_targets_is_refused_by_fit(loss, targets, message):
    from scratch.network import Network
    from scratch.optimizers import SGD
    from scratch.training import fit

    network = Network([2, 4, 3], ["sigmoid", "softmax"])
    with pytest.raises(ValueError, match=message):
        fit(network, np.ones((4, 2)), np.array(targets, float), loss, SGD(0.1), 1, batch_size=2, verbose=False)


def test_scratch_names_the_seed_flag(run):
    result = run("scratch", "--seed", "-1")
    assert result.returncode == 2 and "--seed: seed must be" in result.stderr


@pytest.mark.parametrize("cli", LOGGING_CLIS, ids=" ".join)
@pytest.mark.parametrize("flags,message", LOGDIR_INPUTS, ids=["unwritable logdir", "existing run"])
def test_bad_logdir_is_refused_and_earlier_runs_kept(run, bad_files, cli, flags, message):
    runs = bad_files / "runs" / "taken"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "report.json").write_text('{"verdict": "match"}')
    check_refused(run, cli, flags, message, bad_files, extra=["--logdir", str(bad_files / "runs")]
                  if "--name" in flags else ())


@pytest.mark.parametrize("target,flags,message", [
    ("nowhere", [], "is a symbolic link to"),
    ("loop", ["--name", "x"], "leads back to itself"),
    (None, ["--name", "a" * 300], "is too long for the file system: choose a shorter --name"),
])
def test_a_logdir_link_that_leads_nowhere_or_a_name_too_long_is_said_as_it_is(run, tmp_path, target, flags, message):
    """Not "1000 runs named ... already exist", nor "pass a --logdir you can write to"."""
    logdir = tmp_path / "runs"
    if target:
        logdir.symlink_to(tmp_path / "runs" if target == "loop" else tmp_path / target)
    check_refused(run, ("compare", "run"), ["--logdir", str(logdir), *flags], message, tmp_path / "untouched")


@pytest.mark.parametrize("flags,message", [
    (["view", "nope", "--logdir", "{d}"], "no run folder"),
    (["view", "--logdir", "{d}/empty"], "no run folder"),
    (["view", "--logdir", "{d}", "--port", "70000"], "port must be"),
    (["run", "--json", "{d}/no/such/folder/r.json"], "cannot write the report"),
    (["run", "--json", ""], "--json needs a file name"),
    (["gradcheck", "--json", "{d}/" + "x" * 300], "File name too long"),
    (["run", "--json", "/dev/full"], "is not a regular file"),  # a traceback at the end, before
    (["run", "--json", "{d}/fifo"], "is not a regular file"),  # hung at start-up, before: a pipe with no reader
    (["run", "--activation", "step"], "step activation has no Keras twin"),
])
def test_compare_view_and_paths_refused(run, bad_files, flags, message):
    check_refused(run, ("compare",), flags, message, bad_files)


@pytest.mark.parametrize("check", ["blocks", "every-step"])
def test_a_loss_beyond_float32s_range_takes_the_divergence_path(tmp_path, capsys, check):
    """Epoch losses of 1e138 and 1e277 before the loss is inf: Keras's TensorBoard callback logs the
    validation loss at each evaluation's end, which summary.scalar refused as a float32 (then: exit 2,
    "Can't convert Python sequence...", a run folder without report); the plot's axes overflowed."""
    code, out, err = compare_in_process(["--activation", "relu", "--output-activation", "linear", "--loss", "mse", "--lr",
                                         "20", "--epochs", "3", "--check", check, "--logdir", str(tmp_path),
                                         "--name", "far"], capsys)
    assert code == 1 and err == [], err
    report = json.loads((tmp_path / "far" / "report.json").read_text())
    assert report["non_finite"] is not None and report["epochs"][1]["keras"]["loss"] > 1e200
    assert "training diverged" in out and (tmp_path / "far" / "comparison.png").stat().st_size > 10_000


def test_a_huge_epoch_count_allocates_nothing_up_front(tmp_path):
    """--epochs 1000000000 under a 6 GB address-space limit (so that a regression fails here rather than
    take the machine down): per-step series grow as steps run, so epoch 1 comes, and Ctrl-C then stops
    it with a partial report. Before, 4 lists of 1e9 entries were allocated first (23.6 GB)."""
    import resource

    def capped():
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    process = subprocess.Popen([sys.executable, "-m", "compare", "--dataset", "xor", "--epochs", "1000000000",
                                "--check", "every-step", "--logdir", str(tmp_path), "--name", "long"], cwd=ROOT,
                               env={**CHILD_ENV, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=capped)
    try:
        wait_for_line(process, "1", timeout=120)  # the first epoch's row
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    report = json.loads((tmp_path / "long" / "report.json").read_text())
    assert report["interrupted"] and report["config"]["epochs"] == 1000000000


def test_a_diverging_run_stops_and_says_where(run, tmp_path):
    from scratch.training import Diverged, fit
    from helpers import read_scalars

    flags = ["--lr", "1e5", "--activation", "relu", "--output-activation", "linear", "--loss", "mse", "--epochs", "3"]
    result = run("compare", *flags, "--logdir", str(tmp_path), "--name", "boom", "--json", str(tmp_path / "r.json"))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "training diverged" in result.stdout and "Traceback" not in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    blowup = report["non_finite"]
    config = Config(lr=1e5, activation="relu", output_activation="linear", loss="mse", epochs=3)
    data = config.load_dataset()
    with pytest.raises(Diverged) as alone, np.errstate(all="ignore"):  # the scratch network, trained alone
        fit(config.build_network(data), data.x_train, data.y_train, config.loss, config.build_optimizer(),
            config.epochs, config.batch_size, config.seed, verbose=False)
    # twins that compute the same steps blow up at the same step; the weights are still finite then,
    # so the report names the output layer's kernel, where the overflowing outputs come from
    assert blowup["side"] == "scratch and keras" and blowup["epoch"] == alone.value.epoch + 1 == 1
    assert blowup["step"] == alone.value.step and blowup["tensor"] == "dense_2/kernel" and alone.value.tensors == []
    assert len(report["epochs"]) == 1  # stopped in the first epoch
    assert len(report["steps"]["scratch_loss"]) == blowup["step"] + 1
    assert report["verdict"] == "mismatch"
    assert len(read_scalars(tmp_path / "boom" / "keras" / "train", "epoch_loss")) == 1  # flushed
    assert len(read_scalars(tmp_path / "boom" / "scratch" / "train", "epoch_loss")) == 1


def test_scratch_cli_reports_divergence(run):
    result = run("scratch", "--lr", "1e6", "--activation", "relu", "--output-activation", "linear", "--loss", "mse")
    assert result.returncode == 1
    assert "training diverged at epoch 1" in result.stderr and "try a smaller --lr" in result.stderr


MOMENTS = {  # how the test knows compare has reached each moment
    "importing TensorFlow": lambda p: wait_for(lambda: tensorflow_is_loading(p.pid), 60, "the TensorFlow import"),
    "checking gradients": lambda p: wait_for_line(p, "Comparing"),  # printed just before the check
    "training": lambda p: wait_for_line(p, "2"),  # the table row of epoch 2
}


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])  # SIGHUP: the terminal closed
@pytest.mark.parametrize("moment", MOMENTS)
def test_a_signal_at_any_moment_ends_cleanly(tmp_path, signum, code, moment):
    from helpers import read_scalars

    temporary = tmp_path / "tmp"  # the system's temporary folder, for this run
    temporary.mkdir()
    process = subprocess.Popen([sys.executable, "-u", "-m", "compare", "--epochs", "200", "--logdir",
                                str(tmp_path / "runs"), "--name", "cut", "--json", str(tmp_path / "r.json")],
                               cwd=ROOT, env={**CHILD_ENV, "PYTHONPATH": ROOT, "TMPDIR": str(temporary)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        MOMENTS[moment](process)
        process.send_signal(signum)
        rest, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, errors[-2000:]
    assert "Traceback" not in errors and len(errors.splitlines()) <= 1, errors[-2000:]
    run_dir = tmp_path / "runs" / "cut"
    if moment == "training":
        assert "Interrupted" in rest and "partial" in rest
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["interrupted"] is True and report["interrupted_by"] == signal.Signals(signum).name
        assert 2 <= len(report["epochs"]) < 200
        assert len(read_scalars(run_dir / "scratch" / "train", "epoch_loss")) == len(report["epochs"])
    else:  # no run folder, or (if training had just begun) one with its partial report
        assert not run_dir.exists() or (run_dir / "report.json").exists(), list(run_dir.rglob("*"))
    assert wait_until_gone(str(tmp_path), timeout=30) == [], "a process outlived compare"
    assert list(temporary.iterdir()) == [], "compare left temporary files (TensorFlow's autograph writes some)"


def without_run_specifics(report):
    return {k: v for k, v in report.items() if k not in ("seconds", "logdir")}


def test_same_seed_same_everything_other_seed_differs(tmp_path):
    from compare.harness import run_comparison

    def report(seed, name):
        config = Config(hidden=[8], epochs=2, seed=seed)
        return run_comparison(config, str(tmp_path / name), print_=lambda *a: None)

    first, second, other = report(4, "a"), report(4, "b"), report(5, "c")
    assert first["scratch_weights_sha256"] == second["scratch_weights_sha256"]
    assert json.dumps(without_run_specifics(first)) == json.dumps(without_run_specifics(second))
    assert other["scratch_weights_sha256"] != first["scratch_weights_sha256"]
    assert other["steps"]["scratch_loss"] != first["steps"]["scratch_loss"]


KERAS_ACTIVATIONS = ["sigmoid", "relu", "tanh", "linear", "softmax"]


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")  # width-1 softmax is a case too
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    depth=st.integers(1, 4), width=st.integers(1, 40), n=st.integers(2, 24), n_in=st.integers(1, 8),
    n_out=st.integers(1, 6), hidden=st.sampled_from(KERAS_ACTIVATIONS), output=st.sampled_from(KERAS_ACTIVATIONS),
    loss=st.sampled_from(["quadratic", "mse", "binary_crossentropy", "cross_entropy", "categorical_crossentropy",
                          "sparse_categorical_crossentropy"]), batch_fraction=st.floats(0.01, 1.0),
    lr=st.floats(0.001, 0.3), momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans(),
    seed=st.integers(0, 1000), l2=st.one_of(st.just(0.0), st.floats(0.01, 20.0)),
)
@example(depth=2, width=7, n=13, n_in=5, n_out=4, hidden="tanh", output="softmax", loss="categorical_crossentropy",
         batch_fraction=0.3, lr=0.2, momentum=0.9, nesterov=True, seed=11, l2=0.0)  # each categorical loss once
@example(depth=3, width=5, n=9, n_in=3, n_out=3, hidden="relu", output="softmax", loss="sparse_categorical_crossentropy",
         batch_fraction=0.5, lr=0.1, momentum=0.0, nesterov=False, seed=12, l2=3.5)
@example(depth=2, width=6, n=11, n_in=4, n_out=3, hidden="tanh", output="sigmoid", loss="cross_entropy",
         batch_fraction=0.4, lr=0.3, momentum=0.5, nesterov=False, seed=13, l2=7.25)  # the book's chapter 3
def test_randomized_networks_agree_with_keras(depth, width, n, n_in, n_out, hidden, output, loss, batch_fraction,
                                              lr, momentum, nesterov, seed, l2):
    from compare.tolerances import norm_relative_error
    from compare.gradcheck import keras_gradients
    from keras_impl import departures, device
    from keras_impl.training import fit_with_plan
    from keras_impl.twin import build_twin, keras_loss
    from scratch.batches import BatchPlan
    from scratch.training import fit

    nesterov = nesterov and momentum > 0
    assume(not departures(output, loss))  # softmax + BCE, sigmoid + CCE: Keras computes another objective (docs/departures.md)
    assume(loss != "cross_entropy" or output == "sigmoid")  # the book's cost, for sigmoid outputs
    categorical = losses.get(loss).categorical
    # Keras normalises outputs other than a softmax's by their sum, meaningless where they can be negative or 0
    assume(not categorical or output == "softmax")
    n_out = max(n_out, 2) if categorical else n_out
    device.configure("float64", seed)
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, n_in)), rng.uniform(size=(n, n_out))
    if categorical:  # one-hot rows, or their class labels for the sparse loss
        labels = rng.integers(0, n_out, size=n)
        y = labels.astype(float) if losses.get(loss).sparse else np.eye(n_out)[labels]
    config = Config(hidden=[width] * (depth - 1), activation=hidden, output_activation=output, loss=loss, lr=lr,
                    momentum=momentum, nesterov=nesterov, batch_size=max(1, round(batch_fraction * n)), seed=seed, l2=l2)
    from compare.judged import OurNetwork
    from scratch.datasets import Dataset

    data = Dataset("random", x, y, x, y, n_out if y.ndim == 1 else 0)
    network, penalty = config.build_network(data), config.build_l2(data)
    model = build_twin(network, config, penalty)
    scratch_grads = OurNetwork(network, loss, config.build_optimizer(), penalty).gradients(x, y)
    for s, k in zip(scratch_grads, keras_gradients(model, keras_loss(loss), x, y)):
        assert norm_relative_error(s, k) <= 1e-13
    plan = BatchPlan(n, config.batch_size, seed)
    fit_with_plan(model, x, y, plan, 2, verbose=0)
    with np.errstate(all="ignore"):
        fit(network, x, y, loss, config.build_optimizer(), 2, plan=plan, verbose=False, l2=penalty)
    weights = network.parameter_copies()
    assume(all(np.isfinite(w).all() for w in weights))
    for s, k in zip(weights, model.get_weights()):
        assert np.abs(s - k).max() <= 1e-11 * max(1.0, np.abs(s).max())


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "tanh", "relu"])
def test_activations_at_large_inputs_match_keras(name):
    import keras
    import tensorflow as tf

    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    f = activations.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = f(z)
        back = f.backward(z, a, np.ones_like(z))
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        at = getattr(keras.activations, name)(zt)
    np.testing.assert_allclose(a, at.numpy(), rtol=1e-15, atol=1e-300)
    # near saturation f' = a(1 - a) is 1 - a rounded: both sides agree to one ulp of a, absolutely
    np.testing.assert_allclose(back, tape.gradient(at, zt).numpy(), rtol=1e-12, atol=2.3e-16)
    assert np.isfinite(a).all() and np.isfinite(back).all()


LARGE_LOGITS = np.array([[-1000.0, 1000.0, -1000.0, 1000.0, 3.0], [1000.0, -1000.0, 999.0, 0.0, -3.0]])


@pytest.mark.parametrize("output,loss,y", [
    ("sigmoid", "binary_crossentropy", [[1.0, 0.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 0.0, 0.25]]),
    ("softmax", "categorical_crossentropy", [[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]]),
    ("softmax", "sparse_categorical_crossentropy", [0.0, 2.0]),
])
def test_cross_entropy_at_large_logits_matches_keras(output, loss, y):
    """|z| = 1000 at the output: finite loss and delta on both twins, and the same numbers."""
    import keras
    import tensorflow as tf

    from keras_impl import device
    from keras_impl.twin import keras_loss

    device.configure("float64", 0)  # else Keras casts the output to float32 and loses its logits
    z, y = LARGE_LOGITS, np.array(y)
    f, cost = activations.get(output), losses.get(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = f(z)
        value = cost.value(z, a, y, f)
        delta = cost.output_delta(z, a, y, f)
    zt = tf.Variable(z)

    @tf.function
    def keras_value():  # in a graph, as model.fit runs it: Keras finds the logits behind the activation
        with tf.GradientTape() as tape:
            v = keras_loss(loss)(tf.constant(y), getattr(keras.activations, output)(zt))
        return v, tape.gradient(v, zt)

    expected, expected_delta = keras_value()
    assert np.isfinite(value) and np.isfinite(delta).all()
    assert np.isfinite(float(expected)) and np.isfinite(expected_delta.numpy()).all()
    assert value == pytest.approx(float(expected), rel=1e-14)
    np.testing.assert_allclose(delta, expected_delta.numpy(), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("cli", [("compare", "gradcheck"), ("keras_impl", "--epochs", "1")], ids=" ".join)
def test_softmax_with_binary_crossentropy_is_called_out(run, tmp_path, capsys, cli):
    """Keras computes BCE after a softmax from the logits as if for a sigmoid (docs/departures.md): both CLIs say so up front, and the report names it. (compare runs in
    this process, keras_impl in its own.)"""
    argv = ["--hidden", "4", "--output-activation", "softmax", "--loss", "bce"]
    if cli[0] == "compare":
        code, _, lines = compare_in_process(["gradcheck", *argv, "--json", str(tmp_path / "out")], capsys)
    else:
        result = run(*cli, *argv, "--logdir", str(tmp_path / "out"), cwd=str(tmp_path))
        code, lines = result.returncode, result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: Keras departs from the math"), lines
    if cli[0] == "compare":
        assert code == 1  # the twins optimise different objectives: a mismatch, rightly
        report = json.loads((tmp_path / "out").read_text())
        assert report["keras_departures"] == [lines[0].removeprefix("warning: ")]
        assert min(r["scratch_vs_keras_rel"] for r in report["gradients"]["layers"]) > 0.1
    else:
        assert code == 0


def test_sigmoid_with_categorical_crossentropy_is_called_out(tmp_path, capsys):
    """The mirror image: Keras takes a sigmoid's logits as a softmax's for categorical cross-entropy.
    Keras's loss there equals the scratch softmax cross-entropy of the same z, not the math."""
    code, _, lines = compare_in_process(["gradcheck", "--hidden", "4", "--loss", "cce", "--json",
                                      str(tmp_path / "g.json")], capsys)
    assert len(lines) == 1 and "as if the output were a softmax" in lines[0], lines
    assert code == 1
    report = json.loads((tmp_path / "g.json").read_text())
    assert min(r["scratch_vs_keras_rel"] for r in report["gradients"]["layers"]) > 0.1
    import keras
    import tensorflow as tf

    from keras_impl import device

    device.configure("float64", 0)
    z = np.random.default_rng(0).normal(size=(4, 3))
    y = np.eye(3)[[0, 1, 2, 0]]

    @tf.function
    def keras_value():  # in a graph, as fit runs it
        return keras.losses.CategoricalCrossentropy()(tf.constant(y), keras.activations.sigmoid(tf.constant(z)))

    softmax = activations.get("softmax")
    assert float(keras_value()) == pytest.approx(losses.categorical_crossentropy(z, softmax(z), y, softmax), rel=1e-14)


def test_a_learning_rate_beyond_float32_in_a_float64_run_is_logged(tmp_path):
    """--lr 1e39 is finite in float64; TensorBoard's writer once refused it as a Python float."""
    from compare.harness import run_comparison
    from helpers import read_scalars

    report = run_comparison(Config.recipe("xor", epochs=1, lr=1e39).validate(), str(tmp_path / "big"),
                            print_=lambda *a: None)
    assert (tmp_path / "big" / "report.json").exists() and len(report["epochs"]) == 1
    assert read_scalars(tmp_path / "big" / "keras" / "train", "epoch_learning_rate") == [float("inf")]


def run_on_a_small_disk(tmp_path, kilobytes, *flags):
    """`python -m compare` with every file it writes limited to `kilobytes` (RLIMIT_FSIZE: a write
    past it fails with EFBIG, as one on a full disk fails with ENOSPC); (exit code, stdout, stderr)."""
    import resource

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (kilobytes << 10, kilobytes << 10))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing

    result = subprocess.run([sys.executable, "-m", "compare", *flags, "--logdir", str(tmp_path), "--name", "small"],
                            cwd=ROOT, env={**CHILD_ENV, "PYTHONPATH": ROOT}, capture_output=True, text=True,
                            preexec_fn=small_disk, timeout=300)
    return result.returncode, result.stdout, result.stderr


def assert_whole_files_only(run_dir):
    """Whatever the run folder holds is whole: a report that parses, weights that load, no half-written file."""
    if (run_dir / "report.json").exists():
        json.loads((run_dir / "report.json").read_text())
    if (run_dir / "keras_weights.npz").exists():
        with np.load(run_dir / "keras_weights.npz") as weights:
            assert len(weights.files) == 4
    assert not list(run_dir.rglob("*partial*"))


@pytest.mark.parametrize("kilobytes,stopped", [(40, False), (3, True)])
def test_a_full_disk_gives_the_verdict_and_one_line(tmp_path, kilobytes, stopped):
    """Writes that fail (item 5 of #32), before: a chained OSError traceback and no verdict. At 40 KB
    the plot (the largest file) fails, and the report is written all the same; at 3 KB Keras's event
    file fails as training starts, which stops it: the verdict is of what ran."""
    code, out, err = run_on_a_small_disk(tmp_path, kilobytes, "--epochs", "2")
    assert code == 1 and len(err.splitlines()) == 1, err[-3000:]
    assert err.startswith("error: could not write ") and err.endswith(": File too large; the verdict above stands\n")
    assert "comparison.png" in err and ("the TensorBoard logs" in err) is stopped, err
    assert "\nverdict" in out and "Traceback" not in err
    assert ("Stopped: the TensorBoard logs could not be written (File too large)" in out) is stopped, out
    assert_whole_files_only(tmp_path / "small")
    if not stopped:
        assert json.loads((tmp_path / "small" / "report.json").read_text())["verdict"] == "match"


def test_a_run_folder_deleted_during_the_run_stops_it_with_the_verdict_and_one_line(tmp_path, capsys, monkeypatch):
    """The folder deleted by hand while training: before, a FileNotFoundError traceback and no verdict
    (and training went on to the end, its logs going to files no longer there)."""
    import shutil

    from compare.tensorboard_logs import ComparisonLogs

    log_epoch = ComparisonLogs.log_epoch

    def deleting(self, epoch, *args, **kwargs):
        if epoch == 1:  # the second epoch's end
            shutil.rmtree(tmp_path / "gone")
        log_epoch(self, epoch, *args, **kwargs)

    monkeypatch.setattr(ComparisonLogs, "log_epoch", deleting)
    code, out, err = compare_in_process(["--epochs", "5", "--logdir", str(tmp_path), "--name", "gone"], capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("error: could not write the TensorBoard logs, comparison.png, keras_weights.npz, "
                             "report.json into ") and "was deleted during the run; the verdict above stands" in err[0]
    assert f"Stopped: the TensorBoard logs could not be written (the run folder {tmp_path / 'gone'} was deleted " \
        "during the run)" in out
    assert "\nverdict (partial: interrupted after 2 epochs): match" in out and not (tmp_path / "gone").exists()
