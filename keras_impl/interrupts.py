"""SIGTERM and SIGHUP handled like Ctrl-C: what `timeout`, `docker stop`, CI runners and job schedulers
send, and what a closed terminal sends, get the same clean-up as a KeyboardInterrupt (files flushed,
children stopped, a partial report), and the exit code a shell expects for each signal (128 + its
number).

Before training starts a CLI has a signal end it at once (`exit_at_once_on_signal`): a
KeyboardInterrupt raised inside TensorFlow's import can be swallowed there, and the run would go on.
From the start of training until the report is written, signals are held back (`deferred`) and
acted on where that is safe: between two steps (`raise_if_noted`), or once the report is written.
What a user gets from all this is stated in docs/checking.md.
"""
import os
import shutil
import signal
import sys
import threading
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
    """From now on SIGINT raises KeyboardInterrupt, SIGTERM Terminated and SIGHUP HungUp, in the main
    thread."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_terminated)
    signal.signal(signal.SIGHUP, raise_terminated)


_exit_at_once, _clean_up = False, None
_stop_at_once = []  # what a signal that ends the process at once must still stop: workers, temporary folders


def stop_at_once(stop):
    """Until forget(stop): a signal that ends the process at once (exit_at_once_on_signal) calls stop() first."""
    _stop_at_once.append(stop)


def forget(stop):
    if stop in _stop_at_once:
        _stop_at_once.remove(stop)


def in_start_up():
    """Whether training has yet to start (exit_at_once_on_signal called, signals_interrupt not yet)."""
    return _exit_at_once


def end_start_up(name):
    """Ending the process at once for `name` (a signal's, or a lost worker): what stop_at_once holds
    is stopped (workers, temporary folders), then, before training, exit_at_once_on_signal's
    clean_up(name) undoes the run's start."""
    for stop in reversed(_stop_at_once):
        stop()
    if _exit_at_once:
        _clean_up(name)


def ignored_from_now():
    """The run's work is done and said: a signal while Python exits (TensorFlow's clean-up takes up to a
    second) would change nothing but add a traceback from an exit handler, so it is ignored."""
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_IGN)


def quit_while_importing():
    """Until a CLI sets its own handlers: SIGINT, SIGTERM and SIGHUP end the process at once, in one
    line, rather than as a traceback from whichever import they land in (nothing is written yet)."""
    def quit_(signum, frame):
        name = signal.Signals(signum).name
        StartUp().abandon(name)  # no run folder yet: says so
        sys.stderr.flush()
        EXIT_NOW(exit_code(name))

    for signum in HANDLED:
        signal.signal(signum, quit_)


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
    global _exit_at_once, _clean_up

    def handler(signum, frame):
        end_at_once(signal.Signals(signum).name)

    _exit_at_once, _clean_up = True, clean_up
    for signum in HANDLED:
        signal.signal(signum, handler)


_ending = threading.Lock()


def end_at_once(name):
    """Before training: end_start_up(name), then end the process with its exit code. Done once; a
    second caller (the main thread's handler and a thread losing a worker, at once) returns."""
    if not _ending.acquire(blocking=False):
        return
    try:
        end_start_up(name)
        sys.stdout.flush()
        sys.stderr.flush()
        EXIT_NOW(exit_code(name))
    finally:  # reached only where EXIT_NOW does not end the process (compare/your_calls.py)
        _ending.release()


def signals_interrupt():
    """Training starts: SIGINT raises KeyboardInterrupt and SIGTERM Terminated again, for the
    partial report (a no-op unless exit_at_once_on_signal was called)."""
    global _exit_at_once
    if _exit_at_once:
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


_noted = []  # the signals that arrived while held back, in order
_held = {}  # while held back: each signal's own handler, to deliver it with
_answered = False  # while held back: the run is already stopping (raise_if_noted raised, or answered() was called)


def note(signum, frame):
    _noted.append(signum)


@contextmanager
def deferred():
    """SIGINT, SIGTERM and SIGHUP held back while the block runs (training and writing its report,
    starting workers), and the first of them delivered when it ends, by its own handler: what the
    block writes is never left half done. Inside, `raise_if_noted()` raises it earlier, at a point
    where that is safe (between two steps of training). Once the run is stopping anyway (`answered()`),
    signals are dropped instead.

    The OS may hand a signal to any thread (TensorFlow runs many), but Python runs its handler in the
    main thread, at whatever it is doing there: masking a thread holds nothing back, and an exception
    raised inside a garbage collector's callback is printed and lost. So the handler itself is swapped
    for one that only notes the signal. Blocks nest (the outermost delivers); outside the main thread,
    where no handler can be set, the block runs as it is. A block that raises delivers nothing: its
    exception goes on."""
    global _answered
    if _held or threading.current_thread() is not threading.main_thread():
        yield
        return
    _held.update({signum: signal.signal(signum, note) for signum in HANDLED})
    try:
        yield
    finally:
        handlers = dict(_held)
        _held.clear()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        first = _noted[0] if _noted and not _answered else None
        _noted.clear()
        _answered = False
    if first is not None:
        deliver(first, handlers[first])


def raise_if_noted():
    """Inside `deferred`, at a point where stopping is safe: the first signal noted raised now, as
    KeyboardInterrupt (SIGINT), Terminated (SIGTERM) or HungUp (SIGHUP); later ones are dropped."""
    if _noted and not _answered:
        answered()
        raise {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated, signal.SIGHUP: HungUp}[_noted[0]]()


def answered():
    """Inside `deferred`: the run is stopping already (a signal raised, a worker lost): signals that
    come now are dropped when the block ends, not delivered."""
    global _answered
    if _held:
        _answered = True


def deliver(signum, handler):
    """What `signum` would have done had it not been held back."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # its default action: the process ends
