"""Why a check fails (compare/diagnosis.py): each recognized cause planted as people write it, in
your network (rows and columns layouts) and in the scratch network, is named with its evidence; two
bugs give both findings or "not one of the causes"; correct networks get no finding."""
import os
import shutil

import numpy as np
import pytest

from helpers import ROOT, compare_in_process, your_momentum

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)

ROWS = """
import numpy as np
from network_rows import Network as Rows, sigmoid

BUGS = {bugs!r}


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network(Rows):
    '''examples/network_rows.py with the bugs BUGS planted, as a learner might write them.'''
    def gradients(self, x, y):
        zs, a = self.forward(x)
        n = 1 if "sum over the batch" in BUGS else 10 if "batch size 10 in the code" in BUGS else len(x)
        at_a = "f'(a) in BP1" in BUGS or "f'(a) everywhere" in BUGS
        f_L = 1 if "BP1 without f'" in BUGS else sigmoid_prime(a[-1]) if at_a else sigmoid_prime(zs[-1])
        delta = (a[-1] - y) / n * f_L * (2 if "no 1/2" in BUGS else 1)
        grads = []
        for l in reversed(range(len(self.W))):
            a_in = a[l + 1] if "BP4 with a^l" in BUGS and l == len(self.W) - 1 else a[l]
            grads[:0] = [a_in.T @ delta, delta.mean(axis=0) if "BP3 as a mean" in BUGS else delta.sum(axis=0)]
            if l > 0:
                back = delta @ (self.W[l] if "no transpose" in BUGS else self.W[l].T)
                f_l = sigmoid_prime(a[l]) if "f'(a) everywhere" in BUGS else sigmoid_prime(zs[l - 1])
                delta = back * (1 if "BP2 without f'" in BUGS else f_l)
        if "NaN" in BUGS:
            grads = [g * np.nan for g in grads]
        return [-g for g in grads] if "ascent" in BUGS else grads

    def train_step(self, x, y, learning_rate):
        g, w = self.gradients(x, y), self.get_weights()
        eta = learning_rate * (2 if "double eta" in BUGS else 1)
        new = [p if "no bias update" in BUGS and i % 2 else p - eta * g_ for i, (p, g_) in enumerate(zip(w, g))]
        if "weight decay" in BUGS:
            new = [p - 0.001 * old if i % 2 == 0 else p for i, (p, old) in enumerate(zip(new, w))]
        self.set_weights(new)
"""
COLUMNS_SUMMED = """
from network_columns import Network as Columns

class Network(Columns):
    '''The primer's update_mini_batch with eta times the summed gradients: the 1/m left out.'''
    def update_mini_batch(self, mini_batch, eta):
        super().update_mini_batch(mini_batch, eta * len(mini_batch))
"""
TANH = """
import numpy as np
from network_rows import Network as Rows, DERIVATIVES

def tanh(z):
    return np.tanh(z)

DERIVATIVES[tanh] = lambda z, a: 1 - a * a

def Network(sizes):
    '''Right backprop for tanh hidden units, run where the flags say sigmoid.'''
    return Rows(sizes, hidden=tanh)
"""
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diagnosed")
    for example in ("network_rows.py", "network_columns.py"):
        shutil.copy(os.path.join(ROOT, "examples", example), folder)
    (folder / "columns_summed.py").write_text(COLUMNS_SUMMED)
    (folder / "tanh.py").write_text(TANH)
    for form in ("plain", "nesterov", "pytorch"):
        (folder / f"momentum_{form}.py").write_text(your_momentum(form))
    return folder


def planted(folder, *bugs):
    """PATH:Network of the rows network with `bugs` planted."""
    path = folder / f"rows_{'_'.join(b.replace(' ', '-').replace('/', '') for b in bugs) or 'right'}.py"
    path.write_text(ROWS.format(bugs=set(bugs)))
    return f"{path}:Network"


def diagnosed(source, **settings):
    from compare import check_network

    report = check_network(source, epochs=1, **settings)
    assert report["verdict"] == "mismatch"
    return report["diagnosis"]


def one(findings):
    assert len(findings) == 1, findings
    return findings[0]


@pytest.mark.parametrize("bug,settings,cause,words", [
    ("no 1/2", {}, "factor", "every gradient is 2 times the right one: the quadratic cost without its 1/2"),
    ("sum over the batch", {"batch_size": 8}, "factor",
     "every gradient is 8 times the right one: a sum over the mini-batch of 8 where the cost takes the mean"),
    ("ascent", {}, "factor", "every gradient is -1 times the right one: the sign is flipped"),
    ("BP1 without f'", {}, "equation", "your gradients are exactly those of BP1 without f'(z^L) in dense_2"),
    ("f'(a) in BP1", {}, "equation", "your gradients are exactly those of BP1 with f'(a^L) in dense_2"),
    ("f'(a) everywhere", {}, "equation", "your gradients are exactly those of f'(a) in BP1 and BP2 in every layer"),
    ("BP2 without f'", {}, "equation", "your gradients are exactly those of BP2 without f'(z^l) in dense_1"),
    ("no transpose", {"hidden": [10]}, "equation", "your gradients are exactly those of BP2 without the transpose"),
    ("BP3 as a mean", {}, "equation", "your gradients are exactly those of BP3 as a mean in every layer"),
    ("BP4 with a^l", {"hidden": [10]}, "equation", "your gradients are exactly those of BP4 with a^l in dense_2"),
    ("double eta", {}, "update rule", "your step is 2 times SGD's: a learning rate of 6 where --lr is 3"),
    ("no bias update", {}, "update rule", "the biases are not updated"),
    ("weight decay", {}, "update rule", "weight decay the run did not ask for: w -> (1 - 0.001) w"),
])
def test_each_planted_cause_is_named_with_its_evidence(folder, bug, settings, cause, words):
    finding = one(diagnosed(planted(folder, bug), **settings))
    assert finding["cause"] == cause and finding["words"].startswith(words), finding
    assert finding["evidence"].get("relative_error", 0) <= 1e-12
    if cause == "equation":
        assert finding["equation"] == bug[:3] if bug.startswith("BP") else finding["equation"] in ("BP1", "BP2")
    if cause == "factor":
        assert finding["evidence"]["factor"] == pytest.approx({"no 1/2": 2, "ascent": -1}.get(bug, 8), rel=1e-12)


@pytest.mark.parametrize("bugs,causes", [
    (("ascent", "double eta"), ["factor", "update rule"]),
    (("BP1 without f'", "weight decay"), ["equation", "update rule"]),
    (("no 1/2", "BP1 without f'"), ["unknown"]),  # 2 x a wrong BP1: no single known form
    (("BP3 as a mean", "BP2 without f'"), ["unknown"]),
])
def test_two_bugs_give_both_findings_or_none(folder, bugs, causes):
    assert [f["cause"] for f in diagnosed(planted(folder, *bugs))] == causes


def test_a_factor_first_seen_at_the_short_last_batch_is_read_as_the_batch_size(folder):
    """Gradients divided by 10, written in the code, where the epoch's last mini-batch is shorter: the
    first mismatch is there, and only a reading that depends on the mini-batch is offered."""
    from compare import check_network

    report = check_network(planted(folder, "batch size 10 in the code"), epochs=1)
    step = report["first_step_mismatch"]["step"]
    finding = one(report["diagnosis"])
    n = 1442 - 10 * step  # the digits: 1442 training examples, 10 a mini-batch
    assert step == 144 and finding["evidence"]["factor"] == pytest.approx(n / 10, rel=1e-12)
    assert finding["words"].endswith(f"your code divides by --batch-size 10 where this mini-batch has {n} examples")


def test_nan_gradients_are_said_to_be_nan_and_nothing_more(folder):
    finding = one(diagnosed(planted(folder, "NaN")))
    assert finding["cause"] == "unknown" and finding["words"].endswith("your gradients hold NaN or inf")


def test_the_buggy_example_is_bp1_without_f_prime():
    from compare.report import verdict_line
    from compare import check_network

    report = check_network(os.path.join(ROOT, "examples", "network_buggy.py:Network"), epochs=1)
    finding = one(report["diagnosis"])
    assert (finding["cause"], finding["equation"], finding["layer"]) == ("equation", "BP1", "dense_2")
    assert "\nwhy: your gradients are exactly those of BP1 without f'(z^L) in dense_2" in verdict_line(report)
    assert "where the primer has BP1: delta^L = dC/da^L * f_L'(z^L)" in verdict_line(report)


def test_gradcheck_and_the_python_api_say_why_too(capsys):
    from compare import assert_matches_keras

    buggy = os.path.join(ROOT, "examples", "network_buggy.py:Network")
    code, out, _ = compare_in_process(["gradcheck", "--implementation", buggy], capsys)
    assert code == 1 and "why: your gradients are exactly those of BP1 without f'(z^L) in dense_2" in out
    with pytest.raises(AssertionError, match=r"why: your gradients are exactly those of BP1 without f'\(z\^L\)"):
        assert_matches_keras(buggy, epochs=1)


def test_an_update_without_the_1_over_m_in_the_columns_layout(folder):
    finding = one(diagnosed(f"{folder}/columns_summed.py:Network"))
    assert finding["words"] == "your step is 10 times SGD's: a learning rate of 30 where --lr is 3"


def test_another_function_is_said_to_be_another_function(folder):
    finding = one(diagnosed(f"{folder}/tanh.py:Network"))
    assert finding["cause"] == "forward pass" and finding["evidence"]["outputs"] == list(range(10))
    assert finding["evidence"]["max_abs_difference"] > 0.1


@pytest.mark.parametrize("form,nesterov,words", [
    ("nesterov", False, "Nesterov's momentum where the run asked for plain momentum (add --nesterov)"),
    ("plain", True, "plain momentum where the run asked for Nesterov's (leave out --nesterov)"),
    ("pytorch", False, "velocities in PyTorch's convention"),
])
def test_a_momentum_form_other_than_keras_is_named(folder, form, nesterov, words):
    finding = one(diagnosed(f"{folder}/momentum_{form}.py:Network", momentum=0.9, nesterov=nesterov, lr=0.5))
    assert finding["cause"] == "update rule" and finding["words"].startswith(words)


@pytest.mark.parametrize("plant,words", [
    ("no 1/2", "every gradient is 2 times the right one: the quadratic cost without its 1/2"),
    ("BP1 without f'", "your gradients are exactly those of BP1 without f'(z^L) in dense_2"),
])
def test_a_bug_planted_in_the_scratch_network_is_diagnosed_against_keras(monkeypatch, plant, words):
    """The scratch network's own loss changed: Keras's gradients are the truth the factor is held to."""
    from compare.harness import run_gradient_check
    from scratch import losses
    from scratch.config import Config

    real = losses.LOSSES["quadratic"]
    buggy = losses.Loss("quadratic", real.value, lambda *a: 2 * real.prime(*a)) if plant == "no 1/2" else \
        losses.Loss("quadratic", real.value, real.prime, delta=real.prime)  # delta^L = dC/da^L
    monkeypatch.setitem(losses.LOSSES, "quadratic", buggy)
    report = run_gradient_check(Config(), print_=lambda *a: None)
    assert report["verdict"] == "mismatch"
    assert one(report["diagnosis"])["words"].startswith(words)


def test_right_gradients_a_rounding_apart_get_no_finding(tmp_path):
    """Every setting of the agreement matrix: the scratch gradients, nudged by rounding, against Keras's
    (the matrix itself asserts no diagnosis in every full run: tests/test_compare.py)."""
    from compare.diagnosis import gradient_causes, reference
    from compare.judged import our_network
    from matrix import MATRIX, matrix_config

    rng = np.random.default_rng(0)
    for row in MATRIX:
        config = matrix_config(row, tmp_path)
        data = config.load_dataset()
        judged = our_network(config, data)
        x, y = data.x_train[:row[-2]], data.y_train[:row[-2]]
        right = reference(judged, judged.parameter_copies())
        truth = [np.asarray(g, np.float64) for g in judged.gradients(x, y)]
        ours = [g * (1 + 1e-15 * rng.standard_normal(g.shape)) for g in truth]
        assert gradient_causes(ours, truth, right, config.loss, x, y, 1e-13, judged.parameter_names()) == [], row
