import os
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # for TensorFlow in this process
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the CLIs quiet it themselves


def run_module(*args, cwd=None, timeout=600, env=None):
    """Run `python -m ...` in a subprocess from the repository root; returns CompletedProcess."""
    full_env = {**CHILD_ENV, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


@pytest.fixture
def run():
    return run_module


def read_line(stream, timeout=90):
    """One line from a child process's pipe; fails the test if none comes within `timeout` s."""
    line = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert line, f"the process printed no line within {timeout} s"
    return line[0]
