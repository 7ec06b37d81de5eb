"""SIGTERM handled like Ctrl-C: what `timeout`, `docker stop`, CI runners and job schedulers send
gets the same clean-up as a KeyboardInterrupt (files flushed, children stopped, a partial report),
and the exit code a shell expects for each signal (128 + its number)."""
import signal

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
