"""The benchmark runs and reports what it promises (speed itself is not asserted: machines are noisy)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT

from scratch.batches import BatchPlan
from scratch.network import Network
from scratch.optimizers import SGD
from scratch.training import mini_batches, train_step


@pytest.mark.slow
def test_benchmark_quick_run_writes_its_json(tmp_path):
    """The two batch 100 and 1000 workloads (the others run the same code on other shapes)."""
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "benchmarks/bench_training.py", "--quick", "--only", "784-100-10",
                             "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [w["batch_size"] for w in report["workloads"]] == [100, 1000] and report["peak_rss_mb"] > 0
    for workload in report["workloads"]:
        speeds = workload["samples_per_s"]
        assert {"scratch_float64", "scratch_float32", "per_example_loop_float64", "inlined_numpy_float64",
                "inlined_numpy_float32"} <= set(speeds)
        assert any(k.startswith("keras_fit_steps_per_execution") for k in speeds)
        assert isinstance(workload["doubts"], list)  # what cannot be right, flagged (none on a quiet machine)
        assert any(k.startswith("tf_function_step") for k in speeds)
        for v in speeds.values():
            assert 0 < v["min"] <= v["median"] <= v["max"]
        assert 0 < workload["roofline_fraction"]["scratch_float32"]
        assert workload["ratios"]
    assert "samples/s median" in result.stdout


def test_a_measurement_that_cannot_be_right_is_flagged():
    """Over 100 % of the roofline (as 168 % and 817 % were, under load) or a spread wider than the median."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from bench_training import doubts

    def result(fraction, low, high):
        return {"roofline_fraction": {"scratch_float64": fraction},
                "samples_per_s": {"scratch_float64": {"median": 1000.0, "min": low, "max": high}}}

    assert doubts(result(0.42, 900.0, 1100.0)) == []
    assert doubts(result(1.68, 900.0, 1100.0)) == ["scratch_float64 ran at 168% of the roofline, which no "
                                                   "implementation can"]
    (spread,) = doubts(result(0.42, 300.0, 1400.0))
    assert spread.startswith("scratch_float64's samples spread from 300 to 1,400/s")


def test_repeats_below_one_are_refused():
    result = subprocess.run([sys.executable, "benchmarks/bench_training.py", "--repeats", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == "error: --repeats must be at least 1, got 0\n"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_inlined_step_is_the_scratch_step(dtype):
    """The benchmark's hand-inlined row times the same arithmetic as scratch: equal weights after 30 steps."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import bench_training

    x, y = bench_training.workload_data([64, 30, 10], None)
    order = BatchPlan(len(x), 10).permutation(0)
    inlined, scratch = Network([64, 30, 10], "sigmoid", dtype=dtype), Network([64, 30, 10], "sigmoid", dtype=dtype)
    bench_training.inlined_impl([64, 30, 10], x[order], y[order], 10, dtype, network=inlined)(30)
    optimizer = SGD(bench_training.LR)
    for x_batch, y_batch, labels in mini_batches(BatchPlan(len(x), 10), x.astype(dtype), y.astype(dtype), 0)[:30]:
        train_step(scratch, x_batch, y_batch, "quadratic", optimizer, labels)
    for a, b in zip(inlined.live_parameters(), scratch.live_parameters()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_the_lockstep_benchmark_times_both_and_writes_its_json(tmp_path):
    """One pair of one epoch: compare's training-time work and a plain fit, both timed, and their ratio."""
    out = tmp_path / "lockstep.json"
    result = subprocess.run([sys.executable, "benchmarks/bench_lockstep.py", "--pairs", "1", "--epochs", "1",
                             "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(out.read_text())
    (pair,) = summary["pairs"]
    assert 0 < pair["plain_fit_s"] and 0 < pair["compare_training_s"] < pair["compare_split_s"]["total"]
    assert summary["median_ratio"] == pair["ratio"] == pair["compare_training_s"] / pair["plain_fit_s"]
    assert "compare / plain fit (1 step per execution): median" in result.stdout
