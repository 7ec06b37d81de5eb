"""Runs `python -m compare` in this one process again and again (TensorFlow is imported once), each
time with a signal sent at one moment of the run: at the start of a function the run calls (its
n-th call), from another thread, as when TensorFlow's threads take a signal. Used by
tests/test_interruptions.py: `python tests/signal_moments.py FOLDER` writes FOLDER/moments.json, one
entry per moment with the run's exit code, stdout and stderr; each run's folder is FOLDER/runs/MOMENT.
"""
import contextlib
import io
import json
import os
import queue
import signal
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from compare import findings, harness, lockstep, report, tensorboard_logs  # noqa: E402
from compare.__main__ import main  # noqa: E402
from keras_impl import training  # noqa: E402

FLAGS = ["--epochs", "2", "--hidden", "16,8", "--activation", "relu"]  # a run whose blocks are replayed

# moment: [(where, the function's name, which call, the signal)]; signals sent in this order
MOMENTS = {
    "a signal taken inside a __del__": [(training.PlanTensorBoard, "on_train_batch_end", 3, "SIGINT", "in __del__")],
    "logging an epoch": [(tensorboard_logs.ComparisonLogs, "log_epoch", 1, "SIGTERM")],
    "checking a block": [(findings.Findings, "block", 3, "SIGINT")],
    "replaying a block": [(lockstep.Lockstep, "compare_step", 5, "SIGHUP")],
    "closing the event files": [(tensorboard_logs.ComparisonLogs, "close", 1, "SIGINT")],
    "building the report": [(report, "comparison_report", 1, "SIGTERM")],
    "drawing the plot": [(report, "plot", 1, "SIGINT")],
    "saving Keras's weights": [(np, "savez", 1, "SIGHUP")],
    "writing report.json": [(json, "dump", 1, "SIGINT")],
    "writing --json": [(json, "dump", 2, "SIGTERM")],
    "a second signal while the report is written": [(findings.Findings, "block", 3, "SIGINT"),
                                                     (report, "plot", 1, "SIGTERM")],
    "comparing a step, every step": [(findings.Findings, "same_state", 20, "SIGTERM")],
    "a second signal as training stops": [(findings.Findings, "block", 3, "SIGHUP"),
                                          (harness, "signal_name", 1, "SIGINT")],  # inside `except KeyboardInterrupt`
}
MORE_FLAGS = {"comparing a step, every step": ["--check", "every-step"]}


class OtherThread(threading.Thread):
    """A thread started before any run, as TensorFlow's are: it takes each signal it is asked to."""

    def __init__(self):
        super().__init__(daemon=True)
        self.asked, self.done = queue.Queue(), queue.Queue()

    def run(self):
        while True:
            signal.pthread_kill(threading.get_ident(), signal.Signals[self.asked.get()])
            self.done.put(True)

    def send(self, name):
        """The signal, taken by this thread (Python then runs its handler in the main thread)."""
        self.asked.put(name)
        self.done.get(timeout=10)


OTHER_THREAD = OtherThread()


class SendsWhenDeleted:
    """Sends a signal from its __del__, so that Python runs the handler there: an exception raised by it
    is printed as "Exception ignored in ..." and lost, as when a garbage collector's callback runs."""

    def __init__(self, signal_name):
        self.signal_name = signal_name

    def __del__(self):
        OTHER_THREAD.send(self.signal_name)
        for _ in range(10000):  # Python checks for pending signals in loops: the handler runs here
            pass


def signal_at(owner, name, call, signal_name, where="before"):
    """Replace owner.name by a function that sends the signal at the start of its call-th call (or
    from a __del__ run there); returns undo."""
    original, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call and where == "in __del__":
            SendsWhenDeleted(signal_name)  # deleted at once
        elif calls[0] == call:
            OTHER_THREAD.send(signal_name)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def folder_name(moment):
    return moment.replace(" ", "-").replace("'", "").replace(",", "")


def run(moment, folder):
    """One run of compare with the moment's signals; (exit code, stdout, stderr)."""
    out, err, code = io.StringIO(), io.StringIO(), None
    undo = [signal_at(*where) for where in MOMENTS[moment]]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(FLAGS + MORE_FLAGS.get(moment, []) + ["--logdir", os.path.join(folder, "runs"), "--name",
                                                        folder_name(moment), "--json",
                                                        os.path.join(folder, folder_name(moment) + ".json")])
    except SystemExit as e:
        code = e.code
    finally:
        for u in undo:
            u()
    return code, out.getvalue(), err.getvalue()


if __name__ == "__main__":
    folder, results = sys.argv[1], {}
    OTHER_THREAD.start()
    for moment in MOMENTS:
        code, stdout, stderr = run(moment, folder)
        results[moment] = {"code": code, "stdout": stdout, "stderr": stderr}
    with open(os.path.join(folder, "moments.json"), "w") as f:
        json.dump(results, f, indent=1)
