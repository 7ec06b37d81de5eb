"""What a person sees: a real TensorBoard server answering over HTTP, and a real browser drawing
both twins' curves. No server or browser may outlive these tests: each check for leftover processes
waits for them to exit (with a bound), since a process that has been told to stop takes a moment."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import numpy as np
import pytest

from compare.view import (TensorBoardServer, browser_available, chart_url, comparison_runs, screenshot,
                          wait_until_gone)
from helpers import ROOT, read_line

GONE_WITHIN_S = 30

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_tensorboard_view")]  # the module fixture runs once: one comparison run


def assert_no_process_mentions(text, what):
    left = wait_until_gone(text, timeout=GONE_WITHIN_S)
    assert left == [], f"{what} still running {GONE_WITHIN_S} s after it was stopped: pids {left}"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """A short comparison run: (runs folder, its report)."""
    base = tmp_path_factory.mktemp("view")
    env = {**os.environ, "PYTHONPATH": ROOT}
    result = subprocess.run([sys.executable, "-m", "compare", "run", "--epochs", "3", "--logdir", str(base / "runs"),
                             "--name", "short", "--json", str(base / "r.json")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    yield base / "runs", json.loads((base / "r.json").read_text())
    assert_no_process_mentions(str(base), "a TensorBoard or browser process")


def test_tensorboard_http_api_serves_the_reports_numbers(comparison):
    runs_dir, report = comparison
    with TensorBoardServer(str(runs_dir)) as server:
        pid = server.process.pid
        runs = server.wait_for_runs(["short/scratch/train", "short/keras/train"])
        assert {"short/scratch/validation", "short/keras/validation", "short/agreement"} <= set(runs)
        for side in ("scratch", "keras"):
            for folder, key in (("train", "loss"), ("validation", "val_loss")):
                query = urllib.parse.urlencode({"run": f"short/{side}/{folder}", "tag": "epoch_loss"})
                points = server.get(f"/data/plugin/scalars/scalars?{query}")  # [[wall time, step, value]]
                assert [p[1] for p in points] == [1, 2, 3]  # epochs as the CLIs count them
                np.testing.assert_allclose([p[2] for p in points], [e[side][key] for e in report["epochs"]], rtol=1e-6)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_browser_draws_both_twins_and_names_them(comparison, tmp_path):
    runs_dir, _ = comparison
    runs = comparison_runs(str(runs_dir))
    assert runs == ["short/keras/train", "short/scratch/train"]
    picture, profile = tmp_path / "chart.png", tmp_path / "profile"
    profile.mkdir()
    with TensorBoardServer(str(runs_dir)) as server:
        server.wait_for_runs(runs)
        legend = screenshot(chart_url(server.url), str(picture), runs, profile=str(profile))
    assert "short/scratch/train" in legend and "short/keras/train" in legend
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    assert_no_process_mentions(str(profile), "a Chromium process of this test")


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_view_screenshot_cli(comparison, tmp_path, run):
    runs_dir, _ = comparison
    result = run("compare", "view", "short", "--logdir", str(runs_dir), "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "http://127.0.0.1:" in result.stdout and (tmp_path / "x.png").stat().st_size > 20_000


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 0), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_view_stops_cleanly_on_ctrl_c_sigterm_and_sighup(comparison, signum, code):
    runs_dir, _ = comparison
    env = {**os.environ, "PYTHONPATH": ROOT}
    process = subprocess.Popen([sys.executable, "-m", "compare", "view", "--logdir", str(runs_dir)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "http://127.0.0.1:" in read_line(process.stdout)
        assert "Press Ctrl-C to stop." in read_line(process.stdout)
        process.send_signal(signum)
        assert process.wait(30) == code, process.stderr.read()[-2000:]
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert_no_process_mentions(f"--logdir\0{runs_dir}", "TensorBoard")


ONE_RECORD = (8).to_bytes(8, "little") + bytes(4) + b"an event" + bytes(4)  # TFRecord: length, crc, data, crc


def event_file_with_a_loss(folder):
    """The bytes of an event file holding its version, then one epoch_loss (written by keras_impl/event_files.py)."""
    from keras_impl.event_files import EventFile

    events = EventFile(str(folder))
    events.scalar("epoch_loss", 0.5, 1)
    events.file.close()
    (path,) = folder.iterdir()
    return path.read_bytes()


def test_view_takes_the_latest_comparison_run(tmp_path):
    """Not a later `python -m keras_impl` run (Keras's logs alone), nor a folder without event files, nor
    one whose event files are empty, cut, overwritten or hold no epoch_loss (TensorBoard would draw no
    line for them: a 90 s wait for the screenshot, then no reason)."""
    from compare.view import latest_run, view

    whole = event_file_with_a_loss(tmp_path / "whole")
    for run, sides, content in (("compared", ("scratch", "keras"), whole), ("keras_alone", ("keras",), whole),
                                ("empty", ("scratch", "keras"), b""), ("corrupt", ("scratch",), b"garbage" * 9),
                                ("cut", ("scratch", "keras"), whole[:len(whole) - 30]),  # the loss's record cut
                                ("overwritten", ("scratch",), whole[:60] + b"\xff" * 40 + whole[100:]),
                                ("no_loss", ("scratch",), ONE_RECORD), ("no_events", (), b"")):
        for side in sides:
            (tmp_path / run / side / "train").mkdir(parents=True)
            (tmp_path / run / side / "train" / "events.out.tfevents.1.host").write_bytes(content)
        (tmp_path / run).mkdir(exist_ok=True)
        time.sleep(0.01)  # the later folders are newer
    assert latest_run(str(tmp_path)) == str(tmp_path / "compared")
    with pytest.raises(ValueError, match="viewed by its name"):
        latest_run(str(tmp_path / "keras_alone"))
    for run in ("empty", "corrupt", "cut", "overwritten", "no_loss"):
        started = time.monotonic()
        with pytest.raises(ValueError, match="empty, cut or damaged ones are left out"):
            view(str(tmp_path / run))
        assert time.monotonic() - started < 5  # said at once, no TensorBoard started


def test_view_refuses_a_missing_run(run, tmp_path):
    result = run("compare", "view", "nope", "--logdir", str(tmp_path))
    assert result.returncode == 2 and "no run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_a_one_epoch_run_can_be_screenshotted(run, tmp_path):
    """One epoch is one point per run, which TensorBoard draws as a dot, not a line."""
    from compare.harness import run_comparison
    from scratch.config import Config

    run_comparison(Config.recipe("xor", epochs=1).validate(), str(tmp_path / "runs" / "one"), print_=lambda *a: None)
    result = run("compare", "view", "--logdir", str(tmp_path / "runs"), "--screenshot", str(tmp_path / "one.png"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "one.png").stat().st_size > 20_000


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_view_refuses_a_folder_as_screenshot_and_a_taken_port(run, comparison, tmp_path):
    runs_dir, _ = comparison
    folder = run("compare", "view", "--logdir", str(runs_dir), "--screenshot", str(tmp_path))
    assert folder.returncode == 2 and "is a folder: give a file name" in folder.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = run("compare", "view", "--logdir", str(runs_dir), "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 2 and "is taken" in busy.stderr and len(busy.stderr.splitlines()) == 1
