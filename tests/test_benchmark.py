"""The benchmark runs and reports what it promises (speed itself is not asserted: machines are noisy)."""
import json
import subprocess
import sys

from conftest import ROOT


def test_benchmark_quick_run_writes_its_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "benchmarks/bench_training.py", "--quick", "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert len(report["workloads"]) == 4 and report["peak_rss_mb"] > 0
    for workload in report["workloads"]:
        speeds = workload["samples_per_s"]
        assert {"scratch_float64", "scratch_float32", "per_example_loop_float64"} <= set(speeds)
        assert any(k.startswith("keras_fit_steps_per_execution") for k in speeds)
        assert any(k.startswith("tf_function_step") for k in speeds)
        for v in speeds.values():
            assert 0 < v["min"] <= v["median"] <= v["max"]
        assert 0 < workload["roofline_fraction"]["scratch_float32"]
        assert workload["ratios"]
    assert "samples/s median" in result.stdout
