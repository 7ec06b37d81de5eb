import os

import pytest

from helpers import run_module

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # for TensorFlow in this process


@pytest.fixture
def run():
    return run_module
