"""A signal at any moment of a run, in any thread: the run ends with the signal's exit code, and its
report is whole and says what its own fields say (tests/signal_moments.py sends them)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from compare.report import verdict_line
from helpers import CHILD_ENV, ROOT, read_scalars

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_interruptions")]  # one process runs compare 13 times

CODES = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}
MOMENTS = {  # moment: (the signal the run ends by, whether training was cut short, the epochs in its report)
    "logging an epoch": ("SIGTERM", True, 1),
    "checking a block": ("SIGINT", True, 0),
    "replaying a block": ("SIGHUP", True, 0),
    "closing the event files": ("SIGINT", False, 2),
    "building the report": ("SIGTERM", False, 2),
    "drawing the plot": ("SIGINT", False, 2),
    "saving Keras's weights": ("SIGHUP", False, 2),
    "writing report.json": ("SIGINT", False, 2),
    "writing --json": ("SIGTERM", False, 2),
    "a second signal while the report is written": ("SIGINT", True, 0),
    "comparing a step, every step": ("SIGTERM", True, 0),
    "a second signal as training stops": ("SIGHUP", True, 0),
    "a signal taken inside a __del__": ("SIGINT", True, 0),
}


@pytest.fixture(scope="module")
def moments(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moments")
    result = subprocess.run([sys.executable, "tests/signal_moments.py", str(folder)], cwd=ROOT, env=CHILD_ENV,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads((folder / "moments.json").read_text())
    assert set(runs) == set(MOMENTS)
    return folder, runs


def verdict_of(report):
    """The verdict the report's own fields call for (compare/records.verdict, from the JSON)."""
    if not all(r["keras_ok"] and r["fd_ok"] for r in report["gradients"]["layers"]):
        return "mismatch"
    if report["first_step_mismatch"] or report["non_finite"]:
        return "mismatch"
    return "drift" if report["first_divergence"] else "match"


def check_agrees_with_itself(report):
    """The report's verdict, the parting and the replays, against the series it records."""
    tolerances, steps = report["tolerances"], report["steps"]
    assert report["verdict"] == verdict_of(report)
    over = [step for step, gap in enumerate(steps["weight_gap"]) if gap is not None and gap > tolerances["weight_rel"]]
    if over:  # a gap out of tolerance was recorded: the trajectories parted there or before
        assert report["first_divergence"] and report["first_divergence"]["step"] <= over[0], over
    if report["check"]["mode"] == "every-step":
        assert None not in steps["update_error"] and len(steps["update_error"]) == len(steps["weight_gap"])
        return
    replayed = {step for first, last in report["check"]["replayed"] for step in range(first, last + 1)}
    measured = {step for step, error in enumerate(steps["update_error"]) if error is not None}
    assert measured == replayed, (sorted(measured), report["check"]["replayed"])
    for last_step, error in zip(report["blocks"]["last_step"], report["blocks"]["update_error"]):
        if error is not None and error > tolerances["step_rel"]:  # a block check failed: it was replayed
            assert last_step in replayed or report["verdict"] == "mismatch", last_step


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_signal_at_any_moment_leaves_a_whole_report_that_agrees_with_its_verdict(moments, moment):
    folder, runs = moments
    name, cut_short, epochs = MOMENTS[moment]
    run = runs[moment]
    assert run["code"] == CODES[name], run["stderr"][-3000:]
    assert "Traceback" not in run["stderr"], run["stderr"][-3000:]
    run_dir = folder / "runs" / moment.replace(" ", "-").replace("'", "").replace(",", "")  # as signal_moments names it
    report = json.loads((run_dir / "report.json").read_text())
    assert json.loads((folder / f"{run_dir.name}.json").read_text()) == report  # --json: the same report
    assert report["interrupted"] is cut_short and report["interrupted_by"] == (name if cut_short else None)
    assert len(report["epochs"]) == epochs
    assert verdict_line(report) in run["stdout"]
    check_agrees_with_itself(report)
    if report["epochs"]:  # the event files hold the epochs the report holds
        assert len(read_scalars(run_dir / "scratch" / "train", "epoch_loss")) == len(report["epochs"])
    with np.load(run_dir / "keras_weights.npz") as weights:
        assert len(weights.files) == 6  # W and b of three layers
    assert (run_dir / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in folder.rglob("*partial*")], "a file was left half written"
