"""Your network as people write it (docs/your-own-network.md): state beyond the weights, its own
momentum, arguments changed in place, sibling imports, exits and wrong returns. Each network here
builds on examples/network_rows.py, copied beside it and imported as a sibling, and each planted bug
is found at the step where it really starts, checked every step and in blocks alike."""
import json
import os
import shutil

import pytest

from helpers import ROOT, compare_in_process, your_momentum

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)

CHECKS = ["blocks", "every-step"]

COUNTER = """
from network_rows import Network as Rows, relu, sigmoid

class Network(Rows):
    '''Right until its {bad}th training step, then 1% too long a step.'''
    def __init__(self, sizes):
        super().__init__(sizes, hidden={hidden})
        self.calls = 0

    def train_step(self, x, y, learning_rate):
        self.calls += 1
        super().train_step(x, y, learning_rate * (1.01 if self.calls >= {bad} else 1.0))
"""
GRADIENTS_COUNTER = """
from network_rows import Network as Rows

class Network(Rows):
    '''Right gradients until their 37th call, then 1% too large; the harness takes the steps.'''
    train_step = None
    calls = 0

    def gradients(self, x, y):
        self.calls += 1
        return [g * (1.01 if self.calls >= 37 else 1.0) for g in super().gradients(x, y)]
"""
SECRET_MOMENTUM = """
import numpy as np
from network_rows import Network as Rows

class Network(Rows):
    '''Momentum 0.9 of its own, where the run asks for plain SGD: right at step 0 only.'''
    def __init__(self, sizes):
        super().__init__(sizes)
        self.v = None

    def train_step(self, x, y, learning_rate):
        g = self.gradients(x, y)
        self.v = [-learning_rate * g_ + (0 if self.v is None else 0.9 * v) for g_, v in zip(g, self.v or g)]
        self.set_weights([p + v for p, v in zip(self.get_weights(), self.v)])
"""
OVERWRITES_Y = """
from network_rows import Network as Rows

class Network(Rows):
    '''Right gradients, then its targets zeroed in place; no train_step (the harness steps it).'''
    train_step = None

    def gradients(self, x, y):
        g = super().gradients(x, y)
        y[...] = 0
        return g
"""
SCALES_X = """
from network_rows import Network as Rows

class Network(Rows):
    '''A right step, then its inputs halved in place.'''
    def train_step(self, x, y, learning_rate):
        super().train_step(x, y, learning_rate)
        x *= 0.5
"""
COLUMNS_MOMENTUM = """
import numpy as np
from network_columns import Network as Columns

class Network(Columns):
    '''The primer's layout with SGD with momentum in Keras's form.'''
    def __init__(self, sizes):
        super().__init__(sizes)
        self.weight_velocities = [np.zeros_like(w) for w in self.weights]
        self.bias_velocities = [np.zeros_like(b) for b in self.biases]

    def update_mini_batch(self, mini_batch, eta, momentum, nesterov):
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        for x, y in mini_batch:
            delta_b, delta_w = self.backprop(x, y)
            nabla_b = [nb + d for nb, d in zip(nabla_b, delta_b)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, delta_w)]
        for params, velocities, nablas in ((self.weights, self.weight_velocities, nabla_w),
                                           (self.biases, self.bias_velocities, nabla_b)):
            for p, v, nabla in zip(params, velocities, nablas):
                g = nabla / len(mini_batch)
                v *= momentum
                v -= eta * g
                p += momentum * v - eta * g if nesterov else v
"""
OTHER_VALIDATION_COST = """
from network_rows import Network as Rows

class Network(Rows):
    '''Right on every mini-batch, 1e-6 off on anything larger (the epoch's validation set).'''
    def feedforward(self, x):
        return super().feedforward(x) + (1e-6 if len(x) > 10 else 0)
"""
FILES = {
    "columns_momentum.py": COLUMNS_MOMENTUM,
    "other_validation_cost.py": OTHER_VALIDATION_COST,
    "counter37.py": COUNTER.format(bad=37, hidden="sigmoid"),
    "counter150.py": COUNTER.format(bad=150, hidden="sigmoid"),
    "gradients_counter.py": GRADIENTS_COUNTER,
    "relu_counter.py": COUNTER.format(bad=301, hidden="relu"),
    "momentum.py": your_momentum(),
    "momentum_bug.py": your_momentum(bad=5),
    "secret_momentum.py": SECRET_MOMENTUM,
    "overwrites_y.py": OVERWRITES_Y,
    "scales_x.py": SCALES_X,
}


@pytest.fixture(scope="module")
def yours(tmp_path_factory):
    """A folder of networks, each importing network_rows.py from beside it."""
    folder = tmp_path_factory.mktemp("yours")
    for example in ("network_rows.py", "network_columns.py"):
        shutil.copy(os.path.join(ROOT, "examples", example), folder)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


def checked(folder, name, check, **settings):
    from compare import check_network

    return check_network(f"{folder}/{name}:Network", check=check, **settings)


def first_mismatch(report):
    step = report["first_step_mismatch"]
    return step and (step["step"], step["epoch"])


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name,settings,step,epoch", [
    ("counter37.py", {"epochs": 1}, 36, 1),
    ("counter150.py", {"epochs": 2}, 149, 2),
    # the gradient check and the try-out before training call copies: the 37th call is step 36's
    ("gradients_counter.py", {"epochs": 1}, 36, 1),
    # drifts from epoch 1 (docs/checking.md, "Three verdicts"); blocks replay that drift before the bug shows
    ("relu_counter.py", {"epochs": 3, "hidden": [16, 8], "activation": "relu"}, 300, 3),
], ids=["call 37", "call 150", "gradients' call 37", "relu drift, call 301"])
def test_a_bug_from_the_nth_call_is_found_at_step_n(yours, name, settings, step, epoch, check):
    report = checked(yours, name, check, **settings)
    assert report["verdict"] == "mismatch"
    assert first_mismatch(report) == (step, epoch)
    assert report["check"]["not_exact"] is None  # every replay retraced the run, the counter with it
    if name == "relu_counter.py":  # the bug comes after the drift has begun (and, in blocks, was replayed)
        assert report["first_divergence"]["step"] < step
        assert check == "every-step" or report["check"]["replayed"][0][0] < step


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
@pytest.mark.parametrize("name,step", [("momentum.py", None), ("momentum_bug.py", 5)], ids=["right", "bug at 5"])
def test_your_own_momentum_is_checked_step_by_step(yours, name, step, nesterov, check):
    report = checked(yours, name, check, epochs=1, lr=0.5, momentum=0.9, nesterov=nesterov)
    if step is None:
        assert report["verdict"] == "match", report["first_step_mismatch"]
        assert max(e["max_abs_weight_diff"] for e in report["epochs"]) <= 1e-12
    else:
        assert report["verdict"] == "mismatch" and first_mismatch(report) == (step, 1)
    assert report["implementation"]["update"] == "your train_step"


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
def test_your_own_momentum_in_the_primers_layout(yours, nesterov):
    report = checked(yours, "columns_momentum.py", "every-step", epochs=1, lr=0.5, momentum=0.9, nesterov=nesterov)
    assert report["verdict"] == "match", report["first_step_mismatch"]
    assert report["implementation"]["update"] == "your update_mini_batch"


@pytest.mark.parametrize("check", CHECKS)
def test_momentum_the_run_did_not_ask_for_shows_at_step_1(yours, check):
    report = checked(yours, "secret_momentum.py", check, epochs=1)
    assert report["verdict"] == "mismatch" and first_mismatch(report) == (1, 1)


@pytest.fixture(scope="module")
def clean_runs(yours):
    """examples/network_rows.py's report for each check, run once: the losses that changes to the
    arguments must not move."""
    runs = {}
    return lambda check: runs.get(check) or runs.setdefault(check, checked(yours, "network_rows.py", check, epochs=1))


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("name,method,argument", [("overwrites_y.py", "gradients", "y"),
                                                  ("scales_x.py", "train_step", "x")], ids=["y overwritten", "x scaled"])
def test_arguments_changed_in_place_are_a_finding_not_a_mismatch(yours, clean_runs, name, method, argument, check):
    report = checked(yours, name, check, epochs=1)
    assert report["verdict"] == "match", report["first_step_mismatch"]
    assert all(r["keras_ok"] and r["fd_ok"] for r in report["gradients"]["layers"])
    assert report["changed_arguments"] == [{"method": method, "argument": argument, "step": 0}]
    for side in ("scratch_loss", "keras_loss"):  # the dataset and the batches are as in a clean run
        assert report["steps"][side] == clean_runs(check)["steps"][side]
    from compare.report import verdict_line

    assert f"Your network changed its arguments in place: {method} its {argument} (first at step 0)" \
        in verdict_line(report)


def test_a_feedforward_off_on_the_validation_set_is_not_blamed_on_the_step(yours):
    from compare.report import verdict_line

    report = checked(yours, "other_validation_cost.py", "every-step", epochs=1)
    assert report["first_step_mismatch"]["tensor"] == "val_loss"
    assert all(e is not None and e <= 1e-12 for e in report["steps"]["update_error"])  # every step exact
    line = verdict_line(report)
    assert "your network's cost of the validation set is not Keras's" in line and "step is not" not in line


def test_a_sibling_module_imports_as_python_would(yours, tmp_path):
    """`from helpers import sigmoid`, helpers.py beside the file, from another working directory."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "helpers.py").write_text("import numpy as np\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n")
    (tmp_path / "mine" / "net.py").write_text("from helpers import sigmoid\n" + open(
        os.path.join(ROOT, "docs", "your-own-network.md")).read().split("```python\n")[1].split("```")[0])
    from helpers import run_module

    result = run_module("compare", "gradcheck", "--implementation", "mine/net.py:Network", cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "verdict: match" in result.stdout
    assert not (tmp_path / "mine" / "__pycache__").exists()


ENDINGS = {
    "exit_at_import.py": "import sys\nsys.exit(3)\n",
    "system_exit_at_import.py": "raise SystemExit('bye')\n",
    "interrupt_at_import.py": "raise KeyboardInterrupt\n",
    "chdir_at_import.py": "import os\nos.chdir('/')\nfrom network_rows import Network\n",
}
LATER = """
import os, sys
from network_rows import Network as Rows

class Network(Rows):
    '''Fine for {at} calls of gradients, then {what}.'''
    calls = 0

    def gradients(self, x, y):
        self.calls += 1
        if self.calls > {at}:
            {what}
        return super().gradients(x, y)

    train_step = None
"""
WRONG_RETURNS = [("return None", "gave None"), ("return 0.5", "gave a float (0.5)"),
                 ("return {'W1': x}", "gave a dict; expected a list [dC/dW1, dC/db1, ...] of arrays"),
                 ("return 'oops'", "gave a str ('oops')"), ("return ['oops'] * 4", "(item 0) gave a str ('oops')")]


@pytest.fixture(scope="module")
def endings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("endings")
    shutil.copy(os.path.join(ROOT, "examples", "network_rows.py"), folder)
    for name, text in ENDINGS.items():
        (folder / name).write_text(text)
    return folder


def your_file(folder, what, at):
    """A network whose gradients() does `what` from its call at+1 (0: at step 0's gradient check)."""
    path = folder / f"later_{abs(hash((what, at)))}.py"
    path.write_text(LATER.format(what=what, at=at))
    return f"{path}:Network"


@pytest.mark.parametrize("name,code,message", [
    ("exit_at_import.py", 1, "called sys.exit(3) in the file's top-level code"),
    ("system_exit_at_import.py", 1, "called sys.exit('bye') in the file's top-level code"),
    ("interrupt_at_import.py", 130, "raised KeyboardInterrupt before training"),
], ids=["sys.exit", "SystemExit", "KeyboardInterrupt"])
def test_an_exit_at_import_is_one_line_and_writes_nothing(endings, tmp_path, capsys, name, code, message):
    exit_code, _, err = compare_in_process(["--implementation", f"{endings}/{name}:Network",
                                            "--logdir", str(tmp_path / "runs")], capsys)
    assert (exit_code, len(err)) == (code, 1), err
    assert err[0].startswith("error: your network (") and message in err[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("what,code,message", [
    ("sys.exit(3)", 1, "called sys.exit(3) in gradients: a network the harness checks must return"),
    ("os._exit(4)", 1, "called os._exit(4) in gradients"),
    *[(what, 1, f"error: your network's gradients {gave}") for what, gave in WRONG_RETURNS],
], ids=["sys.exit", "os._exit", "None", "a scalar", "a dict", "a string", "strings"])
@pytest.mark.parametrize("at", [0, 40], ids=["step 0", "mid-run"])
def test_an_exit_or_a_wrong_return_is_one_line_and_leaves_no_folder(endings, tmp_path, capsys, what, code,
                                                                     message, at):
    exit_code, _, err = compare_in_process(["--implementation", your_file(endings, what, at), "--epochs", "1",
                                            "--logdir", str(tmp_path / "runs")], capsys)
    assert (exit_code, len(err)) == (code, 1), err
    assert message in err[0]
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_an_interrupt_raised_mid_run_leaves_a_partial_report(endings, tmp_path, capsys):
    exit_code, out, _ = compare_in_process(["--implementation", your_file(endings, "raise KeyboardInterrupt", 40),
                                            "--epochs", "1", "--logdir", str(tmp_path)], capsys)
    assert exit_code == 130
    (report,) = tmp_path.glob("*/report.json")
    assert json.loads(report.read_text())["interrupted_by"] == "SIGINT"
    assert "Interrupted (SIGINT): writing the partial report." in out


def test_a_chdir_at_import_moves_nothing_the_run_writes(endings, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exit_code, out, err = compare_in_process(["--implementation", f"{endings}/chdir_at_import.py:Network",
                                              "--epochs", "1", "--json", "r.json"], capsys)
    assert exit_code == 0, err
    assert os.getcwd() == str(tmp_path)
    report_path = next(line for line in out.splitlines() if line.startswith("Report: ")).split()[1].rstrip(",")
    assert (tmp_path / report_path).is_file() and report_path.startswith("runs/")
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "match"


def test_the_python_api_leaves_no_temporary_folder(yours, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where check_network's folder goes
    report = checked(yours, "network_rows.py", "every-step", epochs=1, hidden=[4])
    assert report["verdict"] == "match" and report["logdir"].startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("what,message", [
    ("raise type('Stop', (BaseException,), {})()", "raised Stop in gradients"),
    ("raise GeneratorExit", "raised GeneratorExit in gradients"),
    ("self.log = open(os.devnull)", "cannot be copied after"),
], ids=["BaseException", "GeneratorExit", "a file taken on"])
@pytest.mark.parametrize("at", [0, 40], ids=["step 0", "mid-run"])
def test_any_other_way_out_of_your_code_is_named_and_leaves_no_folder(endings, tmp_path, capsys, what, message, at):
    exit_code, _, err = compare_in_process(["--implementation", your_file(endings, what, at), "--epochs", "1",
                                            "--logdir", str(tmp_path / "runs")], capsys)
    assert exit_code == 1 and err[0].startswith("error: your network (") and message in err[0], err
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_warnings_made_errors_by_your_file_stay_yours(endings, tmp_path, capsys):
    path = endings / "strict.py"
    path.write_text("import warnings\nwarnings.simplefilter('error')\nfrom network_rows import Network\n")
    exit_code, out, err = compare_in_process(["--implementation", f"{path}:Network", "--epochs", "1",
                                              "--logdir", str(tmp_path)], capsys)
    assert exit_code == 0 and "verdict: match" in out, err


def test_a_function_that_forgets_to_return_the_network_is_told_so(endings, tmp_path, capsys):
    path = endings / "forgot.py"
    path.write_text("from network_rows import Network as Rows\n\ndef Network(sizes):\n    Rows(sizes)\n")
    exit_code, _, err = compare_in_process(["--implementation", f"{path}:Network", "--logdir", str(tmp_path)], capsys)
    assert (exit_code, err) == (2, ["error: --implementation: NAME(sizes) returned None: a function NAME must "
                                    "return the network"])
