"""Checking in blocks (`--check blocks`, the default) finds what checking every step finds: the same
verdict, the same first step and layer where the trajectories part or a step disagrees, the same
divergence, the same final weights; and a replay retraces the run bitwise."""

import numpy as np
import pytest

from scratch.config import Config
from helpers import NESTEROV, assert_same_findings, both_ways, first_step_with_z_over, scaled_derivative, wrong_beyond

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)

RELU = dict(hidden=[16, 8], activation="relu", epochs=3)  # drifts at the default lr, 3.0


def test_the_default_run_matches_both_ways(tmp_path):
    every_step, blocks = both_ways(Config().validate(), tmp_path)
    assert_same_findings(every_step, blocks)
    assert blocks["verdict"] == "match" and blocks["check"]["replayed"] == []  # nothing to look into
    assert len(blocks["blocks"]["last_step"]) == 30 * 10  # 145 steps an epoch: 9 blocks of 16 and 1 of 1
    assert max(blocks["blocks"]["update_error"]) <= 1e-14 and max(blocks["blocks"]["weight_gap"]) <= 1e-14


@pytest.mark.parametrize("buggy,hidden,layer", [("sigmoid", "sigmoid", "dense_2"), ("tanh", "tanh", "dense_1")])
def test_a_bug_at_step_0_is_found_both_ways(monkeypatch, tmp_path, buggy, hidden, layer):
    scaled_derivative(monkeypatch, buggy, 1.001)
    every_step, blocks = both_ways(Config(activation=hidden, epochs=1, lr=0.5).validate(), tmp_path)
    assert_same_findings(every_step, blocks)
    assert blocks["verdict"] == "mismatch"
    assert (blocks["first_step_mismatch"]["step"], blocks["first_step_mismatch"]["layer"]) == (0, layer)
    assert blocks["check"]["replayed"] == [[0, 15]]  # one block replayed: both firsts are in it


@pytest.mark.parametrize("settings,activation,threshold", [(dict(epochs=3), "sigmoid", 5), (NESTEROV, "tanh", 5)])
def test_a_bug_that_shows_after_some_steps_is_found_at_the_same_step_both_ways(monkeypatch, tmp_path, settings,
                                                                                activation, threshold):
    config = Config(**settings).validate()
    step, layer = first_step_with_z_over(config, threshold, activation)
    wrong_beyond(monkeypatch, activation, threshold)
    every_step, blocks = both_ways(config, tmp_path)
    assert_same_findings(every_step, blocks)
    found = blocks["first_step_mismatch"]
    assert blocks["verdict"] == "mismatch" and (found["step"], found["layer"]) == (step, layer)
    assert step % 16 != 0  # inside a block, not at its start


@pytest.mark.parametrize("settings", [RELU, NESTEROV, dict(hidden=[16, 8], activation="relu", epochs=2,
                                                           dtype="float32")], ids=["relu", "nesterov", "float32"])
def test_a_drift_is_a_drift_both_ways_and_parts_at_the_same_step(tmp_path, settings):
    every_step, blocks = both_ways(Config(**settings).validate(), tmp_path)
    assert_same_findings(every_step, blocks)
    assert blocks["verdict"] == "drift"
    largest, sampled = every_step["drift"]["to_gap"], blocks["drift"]["to_gap"]  # blocks: at block ends, replays
    assert largest / 2 <= sampled <= largest
    parted = blocks["first_divergence"]["step"]
    assert any(first <= parted <= last for first, last in blocks["check"]["replayed"])


def test_a_loss_off_at_one_step_inside_a_block_is_found_both_ways(monkeypatch, tmp_path):
    """The scratch loss 1e-10 too large at step 1 alone, weights untouched: off by about 4x the loss
    tolerance there (float64: 1e-11 x max(1, the loss scale, about 2.5 there)), but the block's mean
    stays within its tolerance; Keras's loss at each step does not."""
    from compare import judged
    from scratch.batches import BatchPlan
    from scratch.training import train_step

    config = Config(epochs=1).validate()
    data = config.load_dataset()
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    x_1 = data.x_train[plan.permutation(0)][plan.slices()[1]]

    def off_at_step_1(network, x, y, *args):
        cost, correct = train_step(network, x, y, *args)
        return cost + (1e-10 if np.array_equal(x, x_1) else 0.0), correct

    monkeypatch.setattr(judged, "train_step", off_at_step_1)
    every_step, blocks = both_ways(config, tmp_path)
    assert blocks["blocks"]["scratch_loss"][0] - blocks["blocks"]["keras_loss"][0] <= 1e-11  # the mean: within
    for report in (every_step, blocks):
        parted, found = report["first_divergence"], report["first_step_mismatch"]  # the probe's loss is off too
        assert report["verdict"] == "mismatch" and (parted["step"], parted["layer"]) == (1, "loss")
        assert (found["step"], found["layer"]) == (1, "loss") and 1e-11 < found["value"] < 1e-10
    assert blocks["check"]["replayed"] == [[0, 15]]


def test_blocks_cut_by_the_callback_find_the_same(monkeypatch, tmp_path):
    """On PyTorch fit runs one step per execution: the callback then cuts the blocks itself."""
    from compare import harness

    monkeypatch.setattr(harness, "runs_steps_together", lambda: False)
    every_step, blocks = both_ways(Config(**NESTEROV).validate(), tmp_path)
    assert_same_findings(every_step, blocks)
    assert blocks["verdict"] == "drift" and len(blocks["blocks"]["last_step"]) == 2 * 10


def test_a_diverging_run_stops_at_the_same_step_both_ways(tmp_path):
    config = Config(lr=1e5, activation="relu", output_activation="linear", loss="mse", epochs=3).validate()
    every_step, blocks = both_ways(config, tmp_path)
    assert_same_findings(every_step, blocks)
    assert blocks["non_finite"]["step"] % 16 != 15  # inside its block: Keras ran past it, then was taken back
    assert len(blocks["steps"]["scratch_loss"]) == blocks["non_finite"]["step"] + 1
    assert blocks["blocks"]["last_step"][-1] == blocks["non_finite"]["step"]  # its block, cut short there
    assert blocks["first_step_mismatch"] is None  # both validation losses NaN: not a step's disagreement


def test_replaying_every_block_reproduces_the_run_bitwise(monkeypatch, tmp_path):
    """Every block made to fail its checks, and every replay made to look back as far as it can
    (LOOKBACK blocks, across epoch ends): each replayed block must end bitwise where the run ended
    it, on both sides, and every step checked that way agrees (the run drifts, see above)."""
    from compare import blocks
    from compare.harness import run_comparison

    check_block = blocks.InBlocks.check_block
    monkeypatch.setattr(blocks.InBlocks, "check_block", lambda *a: (check_block(*a)[0], True, True))
    monkeypatch.setattr(blocks, "NEAR", 0.0)  # a start's gap is never small enough to stop looking back
    config = Config(hidden=[16, 8], activation="tanh", momentum=0.9, nesterov=True, lr=0.3, epochs=2).validate()
    report = run_comparison(config, str(tmp_path / "r"), print_=lambda *a: None, check="blocks")
    assert report["verdict"] == "drift" and report["check"]["not_exact"] is None
    replayed = report["check"]["replayed"]
    assert [last for _, last in replayed] == [end for epoch in (0, 145) for end in (*range(epoch + 15, epoch + 144, 16),
                                                                                     epoch + 144)]  # every block
    assert [first for first, _ in replayed[:4]] == [0, 0, 0, 0]  # looking back to step 0 while it could
    assert any(first < 145 <= last for first, last in replayed)  # and across the end of epoch 1
    assert None not in report["steps"]["update_error"] and None not in report["steps"]["keras_loss"]


def test_a_replay_that_does_not_retrace_the_run_is_told_apart():
    """The exactness check can fail: a checkpoint one ulp off is not the state the replay reaches."""
    from compare.replay import Checkpoint, differences
    from compare.state import State

    weights = [np.array([[0.5, -1.0]]), np.array([0.25])]
    state, scratch = State(weights, [], [np.array(3)]), State([w.copy() for w in weights], [])
    same = Checkpoint(3, 0, 3, state, State([w.copy() for w in weights], []), 0.0)
    assert differences(scratch, state, same) == []
    nudged = [w.copy() for w in weights]
    nudged[0][0, 1] = np.nextafter(-1.0, 0.0)
    off = Checkpoint(3, 0, 3, State(nudged, [], [np.array(3)]), State(nudged, []), 0.0)
    assert differences(scratch, state, off) == ["scratch 1.1e-16", "keras 1.1e-16"]
