"""`python -m compare run --backend all`: the comparison once per installed Keras backend, then one table.

Keras fixes its backend when first imported, so each backend runs in a process of its own: the same
command with `--backend NAME --part-of RUN_DIR`, writing into one run folder (keras_NAME/,
agreement_NAME/, report_NAME.json, comparison_NAME.png, keras_weights_NAME.npz; the first one also
scratch/), so TensorBoard overlays scratch and every backend. Then a table (backend, device,
gradient error, max |d w| after the last epoch, validation accuracy, wall time, verdict), the
backends' final weights compared pairwise, and `backends.json` (also written to --json).
"""
import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np

from keras_impl.backends import BACKENDS, installed
from keras_impl.interrupts import answered, deferred, exit_code, signal_name, signals_interrupt
from keras_impl.runs import view_command_line
from scratch.command_line import config_argv

from . import report as reporting

CHILD_GRACE_SECONDS = 60  # how long an interrupted backend's run has to write its partial report


def child_argv(args, config, run_dir, backend, first):
    argv = [sys.executable, "-m", "compare", "run", *config_argv(config), "--backend", backend, "--part-of", run_dir]
    argv += ["--writes-scratch"] if first else []
    argv += ["--implementation", args.implementation] if args.implementation else []
    argv += ["--check", args.check] if args.check else []
    return argv + (["--verbose"] if args.verbose else [])


def run_one(argv):
    """Run one backend's comparison; returns (exit code, seconds). A signal stops it too, and waits
    for its partial report. The child has a session of its own, so that a signal sent to the whole
    process group (Ctrl-C in a terminal, `timeout`) reaches it once, from here, not twice."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, start_new_session=True)
    try:
        code = child.wait()
    except KeyboardInterrupt as e:
        stop(child, signal_name(e))
        raise
    return code, time.perf_counter() - start


def stop(child, name):
    """Stop the running backend as this process was stopped (SIGINT, else SIGTERM: SIGHUP too) and wait
    for its partial report; a second signal while waiting, or CHILD_GRACE_SECONDS, kills it instead.
    Either way it is gone before this returns: no child outlives its parent."""
    child.send_signal(2 if name == "SIGINT" else 15)
    try:
        child.wait(timeout=CHILD_GRACE_SECONDS)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        with deferred():  # a third signal waits until the child is gone
            child.kill()
            child.wait()


def row_of(run_dir, backend, code, seconds):
    """One row of the table from the backend's report (None where it wrote none)."""
    path = os.path.join(run_dir, f"report_{backend}.json")
    if not os.path.exists(path):
        return {"backend": backend, "status": "interrupted" if code is None else f"failed (exit {code})",
                "seconds": seconds}
    with open(path) as f:
        report = json.load(f)
    last = report["epochs"][-1] if report["epochs"] else None
    verdict = report["verdict"] + (" (interrupted)" if report.get("interrupted") else "")
    return {"backend": backend, "status": "ran", "device": report["device"], "verdict": verdict,
            "gradient_rel_error": max(layer["scratch_vs_keras_rel"] for layer in report["gradients"]["layers"]),
            "max_abs_weight_diff": last and last["max_abs_weight_diff"],
            "val_accuracy": last and last["keras"].get("val_accuracy"), "seconds": seconds}


def pairwise_weight_gaps(run_dir, backends):
    """max |w_a - w_b| over every weight, for each pair of backends that saved final weights."""
    weights = {}
    for backend in backends:
        path = os.path.join(run_dir, f"keras_weights_{backend}.npz")
        if os.path.exists(path):
            with np.load(path) as saved:
                weights[backend] = [saved[k] for k in sorted(saved.files, key=lambda k: int(k.split("_")[1]))]
    return [{"a": a, "b": b,
             "max_abs_weight_diff": max(float(np.abs(x - y).max()) for x, y in zip(weights[a], weights[b]))}
            for a, b in itertools.combinations(weights, 2)]


def run_every_backend(args, config, run_dir):
    """Each installed backend in turn, then the table; returns the exit code (0: every backend that
    ran matched or drifted)."""
    signals_interrupt()  # from here a signal stops the running backend and ends with the table so far
    rows, interrupted_by, first = [], None, True
    for backend in BACKENDS:
        if not installed(backend):
            rows.append({"backend": backend, "status": "not installed"})
            continue
        print(f"\n=== Keras on {backend} ===", flush=True)
        try:
            code, seconds = run_one(child_argv(args, config, run_dir, backend, first))
        except KeyboardInterrupt as e:
            interrupted_by = signal_name(e)
            rows.append(row_of(run_dir, backend, None, float("nan")))
            break
        rows.append(row_of(run_dir, backend, code, seconds))
        first = False
    with deferred():  # the summary is written whole
        if interrupted_by:
            answered()  # the run is stopping for a signal already: a later one changes nothing
        summary = {"rows": rows, "pairwise": pairwise_weight_gaps(run_dir, BACKENDS), "interrupted_by": interrupted_by}
        written = write_summary(summary, [os.path.join(run_dir, "backends.json")] + ([args.json] if args.json else []))
        print("\n" + reporting.backends_table(rows, summary["pairwise"]))
        print(f"Reports: {run_dir}/report_<backend>.json; see the curves: {view_command_line(args.logdir, run_dir)}")
    if interrupted_by:
        return exit_code(interrupted_by)
    ran = [row for row in rows if row["status"] != "not installed"]
    return 0 if written and ran and all(row.get("verdict") in ("match", "drift") for row in ran) else 1


def write_summary(summary, paths):
    """The summary into each of `paths`; whether all were written (on a full disk the table is all there is)."""
    written = True
    for path in paths:
        try:
            reporting.write_json(summary, path)
        except OSError as e:
            print(f"error: could not write {path}: {e.strerror or e}", file=sys.stderr)
            written = False
    return written
