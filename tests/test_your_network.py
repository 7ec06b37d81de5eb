"""Your own network in the harness: both layouts of examples/ match Keras, the buggy example is
located, the Python API works from another project's tests, and mistakes in your file are named."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from helpers import CHILD_ENV, ROOT
from helpers import check_refused

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)


def example(name, attribute="Network"):
    """NAME from examples/<name>.py, imported from its path as a user's file would be."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


@pytest.mark.parametrize("name,attribute,settings", [
    ("network_columns", "Network", {}),
    ("network_columns", "Network", {"batch_size": 7}),  # a partial last batch
    ("network_rows", "Network", {}),
    # ReLU at lr 3.0 drifts (docs/checking.md, "Three verdicts"), for the scratch network too: lr 0.3 matches
    ("network_rows", "ReLUNetwork", {"activation": "relu", "batch_size": 7, "lr": 0.3}),
])
def test_both_layouts_match_keras_at_every_epoch(tmp_path, name, attribute, settings):
    from compare import check_network

    report = check_network(example(name, attribute), logdir=str(tmp_path), epochs=2, **settings)
    assert report["verdict"] == "match", (report["first_step_mismatch"], report["first_divergence"])
    assert all(e["max_abs_weight_diff"] <= 1e-12 for e in report["epochs"])
    assert all(r["scratch_vs_keras_rel"] <= 1e-13 and r["scratch_vs_fd_rel"] <= 1e-6
               for r in report["gradients"]["layers"])
    own = "your train_step" if name == "network_rows" else "your update_mini_batch"
    assert report["implementation"]["update"] == own
    assert report["epochs"][-1]["scratch"]["val_accuracy"] > 0.5  # it learns


def test_the_buggy_example_is_found_at_step_0_in_the_output_layer(run, tmp_path):
    result = run("compare", "--implementation", "examples/network_buggy.py:Network", "--epochs", "1",
                 "--logdir", str(tmp_path), "--json", str(tmp_path / "r.json"), cwd=ROOT)
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "mismatch"
    assert (report["first_step_mismatch"]["step"], report["first_step_mismatch"]["layer"]) == (0, "dense_2")
    assert "step 0 (epoch 1), taken from Keras's own state, disagrees first in dense_2" in result.stdout
    wrong = {r["name"] for r in report["gradients"]["layers"] if not r["fd_ok"]}
    assert {"dense_2/kernel", "dense_2/bias"} <= wrong  # finite differences through its feedforward agree


def test_assert_matches_keras_from_another_projects_tests(tmp_path):
    (tmp_path / "test_theirs.py").write_text(textwrap.dedent(f"""
        import importlib.util
        import pytest
        from compare import assert_matches_keras

        def load(name):
            spec = importlib.util.spec_from_file_location(name, r"{ROOT}/examples/" + name + ".py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.Network

        def test_a_correct_network_passes():
            assert assert_matches_keras(load("network_rows"), epochs=1)["verdict"] == "match"

        def test_a_buggy_one_fails_with_the_locator():
            with pytest.raises(AssertionError, match="step 0 .* disagrees first in dense_2"):
                assert_matches_keras(load("network_buggy"), epochs=1)
    """))
    env = {**CHILD_ENV, "PYTHONPATH": ROOT}  # as `pip install -e .` would make it importable
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_theirs.py"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
    assert "DeprecationWarning" not in result.stdout and "warnings summary" not in result.stdout  # Keras's own


ROWS = """
import numpy as np

class Network:
    def __init__(self, sizes):
        self.w = [np.zeros((a, b)) for a, b in zip(sizes[:-1], sizes[1:])] + [np.zeros(b) for b in sizes[1:]]
        self.calls = 0
    def get_weights(self):
        return [p for pair in zip(self.w[:len(self.w) // 2], self.w[len(self.w) // 2:]) for p in pair]
    def set_weights(self, weights):
        self.w = list(weights[0::2]) + list(weights[1::2])
    def feedforward(self, x):
        for W, b in zip(self.w[:len(self.w) // 2], self.w[len(self.w) // 2:]):
            x = 1 / (1 + np.exp(-(x @ W + b)))
        return x
    def gradients(self, x, y):
        return [np.zeros_like(p) for p in self.get_weights()]
"""
FLAT_COLUMNS = """
import numpy as np

class Network:
    def __init__(self, sizes):
        self.weights = [np.zeros((b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros((b, 1)) for b in sizes[1:]]
    def feedforward(self, a):
        for w, b in zip(self.weights, self.biases):
            a = w @ a + b
        return a.ravel()  # a flat vector where a column belongs
    def backprop(self, x, y):
        return [np.zeros_like(b) for b in self.biases], [np.zeros_like(w) for w in self.weights]
"""
YOUR_FILES = {
    "neither.py": "class Network:\n    def __init__(self, sizes):\n        self.sizes = sizes\n",
    "no_sizes.py": "class Network:\n    def __init__(self):\n        pass\n",
    "flat.py": FLAT_COLUMNS,
    "shapes.py": ROWS + "\n    def gradients(self, x, y):\n        return [np.zeros_like(p).T for p in self.get_weights()]\n",
    "fails.py": ROWS + "\n    def feedforward(self, x):\n        return helper(x)\n\ndef helper(x):\n    return 1 / 0\n",
    "later.py": ROWS + "\n    def train_step(self, x, y, eta):\n        self.calls += 1\n"
                       "        if self.calls == 3:\n            raise RuntimeError('my step broke')\n",
    "nan.py": ROWS + "\n    def train_step(self, x, y, eta):\n        self.calls += 1\n"
                     "        if self.calls == 3:\n            self.w[0][...] = np.nan\n",
}


@pytest.fixture(scope="module")
def your_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("yours")
    for name, text in YOUR_FILES.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("cli", [("compare", "run")], ids=" ".join)  # gradcheck loads the file the same way
@pytest.mark.parametrize("flags,message", [
    (["--implementation", "{d}/missing.py:Network"], "--implementation: no file"),
    (["--implementation", "{d}/neither.py"], "--implementation takes PATH.py:NAME"),
    (["--implementation", "{d}/neither.py:Net"], "defines no class or function Net"),
    (["--implementation", "{d}/neither.py:Network"], "has neither layout: rows needs get_weights"),
    (["--implementation", "{d}/no_sizes.py:Network"], "calling Network(sizes) with 1 argument(s) failed"),
    (["--implementation", "{d}/later.py:Network", "--momentum", "0.9"], "your train_step takes momentum, so your"),
    (["--implementation", "{d}/shapes.py:Network", "--dtype", "float32"], "in float64"),
], ids=["missing file", "no NAME", "wrong NAME", "no layout", "no sizes", "momentum", "float32"])
def test_mistakes_in_your_file_are_named_in_one_line(run, your_files, cli, flags, message):
    check_refused(run, cli, flags, message, your_files)


def test_an_exception_in_your_code_shows_your_frames(run, your_files, tmp_path):
    result = run("compare", "--implementation", f"{your_files}/fails.py:Network", cwd=str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: your network ({your_files}/fails.py) raised ZeroDivisionError")
    assert "in feedforward" in result.stderr and "in helper" in result.stderr and lines[-1].startswith("ZeroDivision")
    assert "compare/" not in result.stderr and "site-packages" not in result.stderr  # only their frames
    assert list(tmp_path.iterdir()) == []  # before TensorFlow and before any run folder


def test_an_exception_during_training_leaves_nothing(run, your_files, tmp_path):
    result = run("compare", "--implementation", f"{your_files}/later.py:Network", "--logdir", str(tmp_path / "runs"))
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: your network ({your_files}/later.py) raised RuntimeError")
    assert "my step broke" in result.stderr and "Traceback" not in result.stderr
    assert list((tmp_path / "runs").iterdir()) == []


def test_nan_from_your_network_takes_the_divergence_path(run, your_files, tmp_path):
    result = run("compare", "--implementation", f"{your_files}/nan.py:Network", "--epochs", "1",
                 "--json", str(tmp_path / "r.json"), "--logdir", str(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["non_finite"]["side"] == "scratch" and report["non_finite"]["step"] == 3
    assert report["steps"]["scratch_loss"][3] is None  # NaN, written as null
    assert "your code made the NaN or inf" in result.stdout and "smaller --lr" not in result.stdout  # Keras's stayed finite


def test_the_minimal_example_in_the_docs_matches(tmp_path):
    """docs/your-own-network.md's rows example, as printed there, trains in lockstep with Keras."""
    from compare import check_network
    from compare.your_network import load

    doc = open(os.path.join(ROOT, "docs", "your-own-network.md")).read()
    (tmp_path / "mynet.py").write_text(re.findall(r"```python\n(.*?)```", doc, re.S)[0])
    report = check_network(lambda sizes: load(f"{tmp_path}/mynet.py:Network", sizes)[0], epochs=1)
    assert report["verdict"] == "match"
    assert report["implementation"]["update"] == "the harness's SGD applied to your gradients"


def test_gradcheck_takes_your_network_too(run):
    result = run("compare", "gradcheck", "--implementation", "examples/network_rows.py:Network")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "your rows-layout network (network_rows.py, 64-30-10)" in result.stdout
    assert "verdict: match (gradients at step 0" in result.stdout
