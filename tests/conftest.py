import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_module(*args, cwd=None, timeout=600, env=None):
    """Run `python -m ...` in a subprocess from the repository root; returns CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


@pytest.fixture
def run():
    return run_module
