"""The checker's own rules, each pinned where it lives: the tolerance table and its use, NaN and inf
never within tolerance, verdict() on every combination of its inputs, a block's error as the worst of
its tensors', the finite differences' noise floor; and, end to end where only a run shows the rule, a
step-0 bug between the float64 gradient tolerance and 1e-7, a loss off at one step of the trajectory
only and of the probe only (the block's mean right), and a bug at the one-step last block of an
epoch after a drift began, in the tensor nearest the output or far from it. A core test file of the
mutation check (tests/mutations.py)."""
import itertools
import math

import numpy as np
import pytest

from compare.findings import first_out_of_tolerance
from compare.finite_differences import fd_noise_floor
from compare.records import GradientRow, verdict
from compare.tolerances import (FD_EPSILON, TOLERANCES, Tolerances, loss_error, max_relative_error, within,
                                worst_of)
from helpers import both_ways, scaled_derivative, your_momentum
from scratch.config import Config


def test_the_tolerance_table():
    """The values docs/checking.md and docs/design.md state; float64's are rounding-level, float32's its ulps."""
    assert TOLERANCES == {
        "float64": Tolerances(gradient_rel=1e-13, fd_rel=1e-6, weight_rel=1e-12, step_rel=1e-12, loss_rel=1e-11),
        "float32": Tolerances(gradient_rel=1e-5, fd_rel=1e-3, weight_rel=1e-5, step_rel=1e-5, loss_rel=1e-5)}
    assert FD_EPSILON == 1e-6


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.nan])
def test_nan_and_inf_are_never_within_tolerance(bad):
    assert not within(bad, 1e-12) and not within(bad, math.inf if bad != bad else 1e300)
    assert first_out_of_tolerance(3, 0, {"dense_1/kernel": (1e-16, 1e-12), "dense_2/bias": (bad, 1e-12)}) \
        .tensor == "dense_2/bias"
    assert math.isnan(max_relative_error(np.array([1.0, math.nan]), np.array([1.0, 2.0])))
    assert not within(loss_error(math.nan, 0.5, 0.5), 1e-11)


def test_errors_at_and_just_past_the_tolerance():
    assert within(1e-12, 1e-12) and not within(np.nextafter(1e-12, 1), 1e-12)
    assert first_out_of_tolerance(0, 0, {"a": (1e-12, 1e-12)}) is None


def row(keras_ok, fd_ok):
    return GradientRow("dense_1/kernel", 0.0, 0.0, 0.0, 0.0, 0, keras_ok, fd_ok)


@pytest.mark.parametrize("keras_ok,fd_ok,parting,non_finite,step_mismatch",
                         list(itertools.product([True, False], repeat=5)))
def test_verdict_on_every_combination(keras_ok, fd_ok, parting, non_finite, step_mismatch):
    """mismatch when a gradient (against Keras or finite differences), a step or the loss's finiteness
    fails; else drift when the trajectories parted; else match."""
    rows = [row(True, True), row(keras_ok, fd_ok)]
    got = verdict(rows, parting or None, non_finite or None, step_mismatch or None)
    if not (keras_ok and fd_ok) or non_finite or step_mismatch:
        assert got == "mismatch"
    else:
        assert got == ("drift" if parting else "match")


def test_a_blocks_error_is_its_worst_tensors():
    errors = {"dense_2/bias": 1e-16, "dense_2/kernel": 3e-9, "dense_1/bias": 0.0}
    assert worst_of(errors) == 3e-9
    assert math.isnan(worst_of({"a": 1e-16, "b": math.nan})) and math.isnan(worst_of({"b": math.nan, "a": 1.0}))


def test_the_finite_differences_noise_floor():
    """Round-off of ~1e-16 |C| per difference quotient, over eps, summed in norm over n entries: the
    gradient norm at which it would read as a 1e-6 relative error."""
    for n, cost in ((100, 0.5), (64 * 30, 3.0)):
        expected = math.sqrt(n) * 1e-16 * max(1.0, cost) / FD_EPSILON / 1e-6
        assert fd_noise_floor(n, cost) == pytest.approx(expected, rel=1e-12)


def test_a_step_0_bug_between_the_float64_tolerance_and_1e_7_is_a_mismatch(monkeypatch):
    """f' 1 + 1e-10 times too large: a gradient 1e-10 off, far below float32's 1e-5 and any loose 1e-7."""
    from compare.harness import run_gradient_check

    scaled_derivative(monkeypatch, "sigmoid", 1 + 1e-10)
    report = run_gradient_check(Config(), print_=lambda *a: None)
    assert report["verdict"] == "mismatch"
    wrong = [r for r in report["gradients"]["layers"] if not r["keras_ok"]]
    assert wrong and all(1e-13 < r["scratch_vs_keras_rel"] < 1e-7 for r in wrong)


def steps_of(config, *indices):
    """The mini-batches x of epoch 0's steps `indices`, in the plan's order."""
    from scratch.batches import BatchPlan

    data = config.load_dataset()
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    order = plan.permutation(0)
    return [data.x_train[order][plan.slices()[i]] for i in indices]


@pytest.mark.slow
def test_a_loss_off_at_one_step_of_the_trajectory_only_is_found_both_ways(tmp_path):
    """The judged network's loss 1e-10 too large at step 1 and too small at step 2, its weights and
    the probe's steps untouched: the block's mean is right, each of the two steps is not."""
    from compare.harness import run_comparison
    from compare.judged import our_network

    config = Config(epochs=1).validate()
    data = config.load_dataset()
    x_1, x_2 = steps_of(config, 1, 2)

    def judged_off_at_steps_1_and_2():
        judged = our_network(config, data)
        real = judged.train_step

        def off(x, y, labels=None):
            cost, correct = real(x, y, labels)
            return cost + (1e-10 if np.array_equal(x, x_1) else -1e-10 if np.array_equal(x, x_2) else 0.0), correct

        judged.train_step = off  # this object's only: its probes are new ones (compare/judged.py)
        return judged

    reports = [run_comparison(config, str(tmp_path / check), judged_off_at_steps_1_and_2(), data,
                              print_=lambda *a: None, check=check) for check in ("every-step", "blocks")]
    for report in reports:
        assert report["verdict"] == "drift" and report["first_step_mismatch"] is None  # the steps are right
        assert (report["first_divergence"]["step"], report["first_divergence"]["layer"]) == (1, "loss")
    blocks = reports[1]["blocks"]
    assert abs(blocks["scratch_loss"][0] - blocks["keras_loss"][0]) <= 1e-11  # the block's mean: within


@pytest.mark.slow
def test_a_loss_off_at_one_step_of_the_probe_only_is_a_step_mismatch_both_ways(monkeypatch, tmp_path):
    """The same +-1e-10 at steps 1 and 2, in the steps taken from Keras's state only: the block check's
    mean is right, its loss at step 1 is not."""
    from compare import judged as judged_module

    config = Config(epochs=1).validate()
    x_1, x_2 = steps_of(config, 1, 2)
    real_probe = judged_module.OurNetwork.probe

    def probe_off_at_steps_1_and_2(self, float64=False):
        probe = real_probe(self, float64)
        real = probe.train_step

        def off(x, y, labels=None):
            cost, correct = real(x, y, labels)
            return cost + (1e-10 if np.array_equal(x, x_1) else -1e-10 if np.array_equal(x, x_2) else 0.0), correct

        probe.train_step = off
        return probe

    monkeypatch.setattr(judged_module.OurNetwork, "probe", probe_off_at_steps_1_and_2)
    for report in both_ways(config, tmp_path):
        assert report["verdict"] == "mismatch" and report["first_divergence"] is None
        assert (report["first_step_mismatch"]["step"], report["first_step_mismatch"]["tensor"]) == (1, "loss")


@pytest.mark.slow
@pytest.mark.parametrize("bug,tensor", [("longer step", "dense_3/bias"), ("dense_1 nudged", "dense_1/bias")])
def test_a_bug_at_the_one_step_last_block_after_a_drift_began_is_found_both_ways(monkeypatch, tmp_path, bug, tensor):
    """ReLU at lr 3.0 drifts from step 80 (docs/checking.md); a bug at step 144 alone, the epoch's last, a block
    of one step (145 steps: 9 blocks of 16 and 1 of 1): a 1% longer step, or dense_1's biases nudged
    by 1e-9 after it (no trace in any loss, and not in the tensor nearest the output)."""
    from compare import judged as judged_module
    from scratch.regularization import NONE as NO_L2
    from scratch.training import train_step

    config = Config(hidden=[16, 8], activation="relu", epochs=1).validate()
    (x_last,) = steps_of(config, 144)

    def wrong_at_the_last_step(network, x, y, loss, optimizer, labels=None, l2=NO_L2):
        last = np.array_equal(x, x_last)
        scale = 1.01 if last and bug == "longer step" else 1.0
        optimizer.learning_rate *= scale
        try:
            return train_step(network, x, y, loss, optimizer, labels, l2)
        finally:
            optimizer.learning_rate /= scale
            if last and bug == "dense_1 nudged":
                network.biases[0] += 1e-9

    monkeypatch.setattr(judged_module, "train_step", wrong_at_the_last_step)
    for report in both_ways(config, tmp_path):
        assert report["first_divergence"]["step"] < 144  # the drift began before
        assert report["verdict"] == "mismatch"
        assert (report["first_step_mismatch"]["step"], report["first_step_mismatch"]["tensor"]) == (144, tensor)


def test_finite_differences_are_central():
    """Central differences agree with backprop to about eps^2 and round-off (1e-9 here); one-sided ones
    would be off by about eps |C''| (1e-6)."""
    from compare.finite_differences import finite_differences
    from compare.judged import our_network
    from compare.tolerances import norm_relative_error

    config = Config(dataset="xor", hidden=[3], activation="tanh").validate()
    data = config.load_dataset()
    judged = our_network(config, data)
    fd, _ = finite_differences(judged, data.x_train, data.y_train, config.loss)
    for ours, theirs in zip(judged.gradients(data.x_train, data.y_train), fd):
        assert norm_relative_error(ours, theirs) < 1e-8


@pytest.mark.slow
def test_a_step_whose_velocities_alone_are_wrong_is_a_mismatch_there(tmp_path):
    """The step check holds the velocities to Keras's too: step 0's weights agree, its velocities do not."""
    import shutil

    from compare import check_network
    from helpers import ROOT

    shutil.copy(f"{ROOT}/examples/network_rows.py", tmp_path)
    (tmp_path / "pytorch_momentum.py").write_text(your_momentum("pytorch"))
    report = check_network(f"{tmp_path}/pytorch_momentum.py:Network", epochs=1, momentum=0.9)
    found = report["first_step_mismatch"]
    assert report["verdict"] == "mismatch" and found["step"] == 0 and found["tensor"].endswith("/velocity")
