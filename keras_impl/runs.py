"""Run folders under the TensorBoard log directory: one per run, never reused."""
import atexit
import errno
import os
import shlex
import shutil
import tempfile
import time
from contextlib import contextmanager

from .interrupts import stop_at_once

MAX_SAME_SECOND = 1000  # timestamped names tried before giving up (a bound, not a limit users meet)


def new_run_dir(logdir, name=None, prefix="run"):
    """Create and return logdir/name. A name that exists is refused (earlier logs are never touched);
    without a name, `prefix-YYYYmmdd-HHMMSS` with a counter appended if that exists too."""
    if name is not None and (not name or os.sep in name or name in (".", "..")):
        raise ValueError(f"run name {name!r} must be a plain folder name, like digits-1")
    make_logdir(logdir)
    base = name or f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, counter = base, 1
    while counter <= MAX_SAME_SECOND:
        path = os.path.join(logdir, candidate)
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            if name is not None:
                raise ValueError(f"run folder {path} already exists: choose another --name; earlier runs are kept") from None
            counter += 1
            candidate = f"{base}-{counter}"
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                raise ValueError(f"run name {candidate[:40]}... ({len(candidate)} characters) is too long for the file "
                                 "system: choose a shorter --name") from None
            raise ValueError(f"cannot create run folder {path}: {e.strerror}; pass a --logdir you can write to") from None
    raise ValueError(f"{MAX_SAME_SECOND} runs named {base} already exist: pass --name")


def make_logdir(logdir):
    """The runs folder `logdir`, created if need be; ValueError saying what is in the way."""
    if os.path.islink(logdir) and not os.path.exists(logdir):  # its target is missing, or it loops
        raise ValueError(f"--logdir {logdir} is a symbolic link to {os.readlink(logdir)}, which does not exist (or "
                         "leads back to itself): pass a folder for the runs")
    if os.path.exists(logdir) and not os.path.isdir(logdir):
        raise ValueError(f"--logdir {logdir} is a file, not a folder: pass a folder for the runs")
    try:
        os.makedirs(logdir, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create run folder {logdir}: {e.strerror}; pass a --logdir you can write to") from None


def view_command_line(logdir, run_dir):
    """`python -m compare view NAME [--logdir DIR]`: the command that shows the run in `run_dir`."""
    where = "" if os.path.normpath(logdir) == "runs" else f" --logdir {shlex.quote(logdir)}"
    return f"python -m compare view {shlex.quote(os.path.basename(os.path.normpath(run_dir)))}{where}"


@contextmanager
def written_whole(path):
    """A temporary name beside `path` to write to (same extension, which numpy and matplotlib read),
    renamed to `path` once the block is done: `path` then holds either what it held before or the whole
    new file, never a part of it (a full disk, a crash, a kill -9)."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.partial{os.path.splitext(name)[1]}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def private_temporary_folder(prefix):
    """From now on, tempfile's folder (and, through TMPDIR, its child processes') is a new one of this
    process's own, removed when it exits, at once on a signal too (interrupts.stop_at_once): TensorFlow
    writes the modules autograph generates to the temporary folder, and removes them only when Python
    exits normally."""
    folder = tempfile.mkdtemp(prefix=prefix)
    os.environ["TMPDIR"] = tempfile.tempdir = folder

    def remove():
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    stop_at_once(remove)  # first in, so stopped last: after the workers that use it
