"""SIGTERM and SIGHUP handled like Ctrl-C: what `timeout`, `docker stop`, CI runners and job schedulers
send, and what a closed terminal sends, get the same clean-up as a KeyboardInterrupt (files flushed,
children stopped, a partial report), and the exit code a shell expects for each signal (128 + its
number).

Before training starts a CLI can instead have a signal end it at once (`exit_at_once_on_signal`):
a KeyboardInterrupt raised inside TensorFlow's import can be swallowed there, and the run would go
on. Once training starts (`signals_interrupt`), signals raise again so that the partial report is
written.
"""
import os
import shutil
import signal
import sys
from contextlib import contextmanager

EXIT_NOW = os._exit  # bound now: while a user's network runs, compare/your_calls.py stands in for os._exit

EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143
EXIT_SIGHUP = 128 + signal.SIGHUP  # 129
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM; a KeyboardInterrupt, so every Ctrl-C clean-up path handles it too."""


class HungUp(Terminated):
    """Raised by SIGHUP (the terminal closed): handled as SIGTERM, exit code 129."""


def raise_terminated(signum, frame):
    raise HungUp() if signum == signal.SIGHUP else Terminated()


def sigterm_interrupts():
    """From now on SIGTERM raises Terminated, and SIGHUP HungUp, in the main thread."""
    signal.signal(signal.SIGTERM, raise_terminated)
    signal.signal(signal.SIGHUP, raise_terminated)


_exit_at_once = False


class StartUp:
    """What a signal before training must undo: the run folder, once one was made."""

    run_dir = None

    def abandon(self, name):
        if self.run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)  # only what this run had begun to write
        print(f"Interrupted ({name}) before training started: nothing was written.", file=sys.stderr)


def exit_at_once_on_signal(clean_up):
    """From now until signals_interrupt(): SIGINT, SIGTERM and SIGHUP call clean_up(name) ('SIGINT',
    'SIGTERM', 'SIGHUP') and end the process at once with exit code 130, 143 or 129."""
    global _exit_at_once

    def handler(signum, frame):
        name = signal.Signals(signum).name
        clean_up(name)
        sys.stdout.flush()
        sys.stderr.flush()
        EXIT_NOW(exit_code(name))

    _exit_at_once = True
    for signum in HANDLED:
        signal.signal(signum, handler)


def signals_interrupt():
    """Training starts: SIGINT raises KeyboardInterrupt and SIGTERM Terminated again, for the
    partial report (a no-op unless exit_at_once_on_signal was called)."""
    global _exit_at_once
    if _exit_at_once:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sigterm_interrupts()
        _exit_at_once = False


class WorkerLost(KeyboardInterrupt):
    """Raised in the chief of a multiworker run when another worker exited or stopped answering
    (keras_impl/workers.py): like a signal it ends training with a partial report, but exits 1."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


def signal_name(interruption):
    """'SIGHUP', 'SIGTERM' or 'SIGINT': which signal raised this KeyboardInterrupt; for WorkerLost, which worker."""
    if isinstance(interruption, WorkerLost):
        return interruption.what
    if isinstance(interruption, HungUp):
        return "SIGHUP"
    return "SIGTERM" if isinstance(interruption, Terminated) else "SIGINT"


def exit_code(name):
    """130 for 'SIGINT' (Ctrl-C), 143 for 'SIGTERM', 129 for 'SIGHUP', 1 for a lost worker."""
    return {"SIGINT": EXIT_SIGINT, "SIGTERM": EXIT_SIGTERM, "SIGHUP": EXIT_SIGHUP}.get(name, 1)


@contextmanager
def deferred():
    """SIGINT, SIGTERM and SIGHUP held back while the block runs (writing a report, logging an epoch), and
    delivered when it ends: what the block writes is never left half done."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(HANDLED))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
