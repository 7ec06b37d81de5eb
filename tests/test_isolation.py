"""scratch/ is NumPy only: every module imports and trains with tensorflow and keras unimportable."""
import pkgutil
import subprocess
import sys

import scratch
from helpers import ROOT

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
for name in ('tensorflow', 'keras'):
    try:
        __import__(name)
        raise SystemExit(name + ' was not blocked')
    except ImportError:
        pass
"""


def test_every_scratch_module_imports_without_tensorflow_or_keras():
    modules = [f"scratch.{m.name}" for m in pkgutil.iter_modules(scratch.__path__)]
    assert "scratch.network" in modules and "scratch.perceptron" in modules
    code = BLOCKER + f"""
import importlib
for name in {modules!r}:
    importlib.import_module(name)
from scratch.config import Config
from scratch.training import fit
c = Config(epochs=1)
d = c.load_dataset()
n = c.build_network(d)
fit(n, d.x_train, d.y_train, c.loss, c.build_optimizer(), 1, 10, verbose=False)
print('ok')
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
