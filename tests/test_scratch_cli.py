import signal
import subprocess
import sys

import pytest

from helpers import CHILD_ENV, ROOT, wait_for_line


def test_scratch_trains_and_reports(run):
    from scratch.config import Config
    from scratch.training import fit

    result = run("scratch", "--epochs", "2", "--hidden", "16")
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2" in result.stdout
    config = Config(epochs=2, hidden=[16])
    data = config.load_dataset()
    history = fit(config.build_network(data), data.x_train, data.y_train, config.loss, config.build_optimizer(),
                  config.epochs, config.batch_size, config.seed, validation_data=(data.x_val, data.y_val),
                  verbose=False)
    assert f"Final validation accuracy: {history[-1]['val_accuracy']:.2%}" in result.stdout


def test_perceptron_demo_takes_no_flags(run):
    result = run("scratch.perceptron", "--epochs", "3")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: unrecognized arguments: --epochs 3 (see python -m scratch.perceptron --help)\n"


def test_perceptron_demo(run):
    result = run("scratch.perceptron")
    assert result.returncode == 0, result.stderr
    assert "hand-set weights: 8/8 correct" in result.stdout
    assert "perceptron rule from zero weights" in result.stdout and "; 8/8 correct" in result.stdout
    assert "not linearly separable" in result.stdout
    assert "4/4 correct" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["--activation", "swish"], "unknown activation 'swish'"),
    (["--loss", "hinge"], "unknown loss 'hinge'"),
    (["--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["--lr", "0"], "learning rate must be a positive number"),
    (["--lr", "nan"], "learning rate must be a positive number"),
    (["--batch-size", "0"], "batch size must be a positive integer"),
    (["--epochs", "0"], "epochs must be a positive integer"),
    (["--hidden", "0"], "hidden sizes must be at least 1"),
    (["--dtype", "float16"], "unsupported dtype"),
    (["--dataset", "csv:/nonexistent.csv"], "cannot read CSV file"),
    (["--lr"], "expected one argument"),
])
def test_bad_input_is_one_line_and_exit_2(run, args, message):
    result = run("scratch", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_it_in_one_line_with_its_exit_code(signum):
    """Before, Ctrl-C gave a KeyboardInterrupt traceback (SIGHUP and SIGTERM ended it with no word)."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "scratch", "--epochs", "100000"], cwd=ROOT,
                               env={**CHILD_ENV, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        wait_for_line(process, "Epoch", timeout=120)  # the first epoch's line
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, err[-2000:]
    name = signal.Signals(signum).name
    assert err == f"Interrupted ({name}): python -m scratch writes no files, so nothing is left.\n"
