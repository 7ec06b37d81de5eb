"""TensorFlow's own logging kept off stderr, which is for our messages.

TensorFlow's C++ code logs through absl straight to file descriptor 2. TF_CPP_MIN_LOG_LEVEL=3 hides
most of it ("failed call to cuInit", "NodeDef mentions attribute use_unbounded_threadpool ..."), but
not the lines logged before absl reads any setting ("WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR", "Could not find cuda drivers"). Those are
filtered at the source: file descriptor 2 becomes a pipe whose reader drops lines in absl's log
format and passes every other line on, while Python's sys.stderr keeps writing to the real stderr.
`--verbose` leaves all of it alone.
"""
import atexit
import os
import re
import sys
import threading

ABSL_LINE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\] )")


def quiet(verbose=False):
    """Hide TensorFlow's native logs from here on (call before TensorFlow is imported).

    Does nothing with `verbose`, or when sys.stderr is not the process's own (pytest's capture, a
    notebook): redirecting file descriptor 2 under those would bypass them."""
    if verbose or sys.stderr is not sys.__stderr__ or sys.stderr is None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    real_stderr = os.dup(2)
    sys.stderr = sys.__stderr__ = os.fdopen(real_stderr, "w", buffering=1, encoding=sys.stderr.encoding,
                                            errors=sys.stderr.errors, closefd=False)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    reader = threading.Thread(target=pass_on_non_absl_lines, args=(read_end, real_stderr), daemon=True)
    reader.start()

    def drain():  # at exit: close our end of the pipe and let the reader pass on what is left
        os.dup2(real_stderr, 2)
        reader.join(timeout=2)

    atexit.register(drain)


def pass_on_non_absl_lines(read_end, out):
    """Copy lines from `read_end` to `out`, dropping absl log lines; returns at end of file."""
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if not ABSL_LINE.match(line):
                os.write(out, line)
