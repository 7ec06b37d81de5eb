"""SIGTERM handled like Ctrl-C: what `timeout`, `docker stop`, CI runners and job schedulers send
gets the same clean-up as a KeyboardInterrupt (files flushed, children stopped, a partial report),
and the exit code a shell expects for each signal (128 + its number)."""
import signal
from contextlib import contextmanager

EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM; a KeyboardInterrupt, so every Ctrl-C clean-up path handles it too."""


def raise_terminated(signum, frame):
    raise Terminated()


def sigterm_interrupts():
    """From now on SIGTERM raises Terminated in the main thread."""
    signal.signal(signal.SIGTERM, raise_terminated)


def signal_name(interruption):
    """'SIGTERM' or 'SIGINT': which signal raised this KeyboardInterrupt."""
    return "SIGTERM" if isinstance(interruption, Terminated) else "SIGINT"


def exit_code(name):
    """130 for 'SIGINT' (Ctrl-C), 143 for 'SIGTERM'."""
    return EXIT_SIGTERM if name == "SIGTERM" else EXIT_SIGINT


@contextmanager
def deferred():
    """SIGINT and SIGTERM held back while the block runs (writing a report, logging an epoch), and
    delivered when it ends: what the block writes is never left half done."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
