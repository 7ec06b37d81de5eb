"""What a person sees: a real TensorBoard server answering over HTTP, and a real browser drawing
both twins' curves. No server or browser may outlive these tests."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from compare.view import TensorBoardServer, browser_available, chart_url, comparison_runs, screenshot
from conftest import ROOT


def processes_mentioning(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return [p for p in found if p != os.getpid()]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """A short comparison run: (runs folder, its report)."""
    base = tmp_path_factory.mktemp("view")
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "compare", "run", "--epochs", "3", "--logdir", str(base / "runs"),
                             "--name", "short", "--json", str(base / "r.json")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    yield base / "runs", json.loads((base / "r.json").read_text())
    assert processes_mentioning(str(base)) == [], "a TensorBoard or browser process outlived the tests"


def test_tensorboard_http_api_serves_the_reports_numbers(comparison):
    runs_dir, report = comparison
    with TensorBoardServer(str(runs_dir)) as server:
        pid = server.process.pid
        runs = server.wait_for_runs(["short/scratch/train", "short/keras/train"])
        assert {"short/scratch/validation", "short/keras/validation", "short/agreement"} <= set(runs)
        for side in ("scratch", "keras"):
            for folder, key in (("train", "loss"), ("validation", "val_loss")):
                points = server.scalars(f"short/{side}/{folder}", "epoch_loss")
                assert [p[1] for p in points] == [0, 1, 2]
                np.testing.assert_allclose([p[2] for p in points], [e[side][key] for e in report["epochs"]], rtol=1e-6)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_browser_draws_both_twins_and_names_them(comparison, tmp_path):
    runs_dir, _ = comparison
    runs = comparison_runs(str(runs_dir))
    assert runs == ["short/keras/train", "short/scratch/train"]
    picture = tmp_path / "chart.png"
    with TensorBoardServer(str(runs_dir)) as server:
        server.wait_for_runs(runs)
        legend = screenshot(chart_url(server.url), str(picture), runs)
    assert "short/scratch/train" in legend and "short/keras/train" in legend
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    assert processes_mentioning("compare-chromium-") == []


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_view_screenshot_cli(comparison, tmp_path, run):
    runs_dir, _ = comparison
    result = run("compare", "view", "short", "--logdir", str(runs_dir), "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "http://127.0.0.1:" in result.stdout and (tmp_path / "x.png").stat().st_size > 20_000


def test_view_stops_cleanly_on_ctrl_c(comparison):
    runs_dir, _ = comparison
    env = {**os.environ, "PYTHONPATH": ROOT}
    process = subprocess.Popen([sys.executable, "-m", "compare", "view", "--logdir", str(runs_dir)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert processes_mentioning(f"--logdir\0{runs_dir}") == []


def test_view_refuses_a_missing_run(run, tmp_path):
    result = run("compare", "view", "nope", "--logdir", str(tmp_path))
    assert result.returncode == 2 and "no run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
