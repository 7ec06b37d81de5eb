"""Which Keras backend runs the twin: TensorFlow, JAX or PyTorch (never imported here).

Keras fixes its backend when it is first imported, from the KERAS_BACKEND environment variable, so
`use` sets it (and the switches that JAX and CUDA read from the environment) before that:
    JAX_ENABLE_X64=1                    JAX computes in float32 only, unless this is on before it starts
    JAX_DEFAULT_MATMUL_PRECISION=highest  no reduced-precision matmuls (TF32, bfloat16 passes) on a GPU
    CUBLAS_WORKSPACE_CONFIG=:4096:8     what deterministic cuBLAS needs (PyTorch on CUDA)
The rest of the determinism switches are set in device.configure, once Keras is imported.
"""
import argparse
import importlib.util
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")
NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
INSTALL = {"tensorflow": "pip install -r requirements.txt", "jax": "pip install -r requirements.txt",
           "torch": "pip install torch (docs/backends.md: Every Keras backend)"}


def default():
    """The KERAS_BACKEND environment variable if set, else tensorflow."""
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def installed(name):
    """Whether `name` can be imported here (found without importing it)."""
    return importlib.util.find_spec(name) is not None


def check(name, where="--backend"):
    """ValueError for a backend that is unknown or not installed; returns the name."""
    if name not in BACKENDS:
        raise ValueError(f"{where}: unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    if not installed(name):
        raise ValueError(f"{where}: the {name} backend is not installed here: {INSTALL[name]}")
    return name


def backend_name(text):
    """--backend: one of BACKENDS, as argparse's type."""
    if text == "all":
        raise argparse.ArgumentTypeError(f"`all` is for `python -m compare run` only: use one of {', '.join(BACKENDS)}")
    if text not in BACKENDS:
        raise argparse.ArgumentTypeError(f"unknown backend {text!r}: use one of {', '.join(BACKENDS)}")
    return text


def backend_or_all(text):
    """--backend of `compare run`: one of BACKENDS, or all."""
    return text if text == "all" else backend_name(text)


def add_backend_argument(parser, all_too=False):
    every = " or all (each installed backend in turn, then one table)" if all_too else ""
    parser.add_argument("--backend", type=backend_or_all if all_too else backend_name,
                        help=f"the Keras backend: {', '.join(BACKENDS)}{every} "
                             "(default: $KERAS_BACKEND if set, else tensorflow)")


def use(name=None):
    """Make Keras run on `name` (default: `default()`), checked; call before Keras is imported.
    Returns the name."""
    name = check(name) if name else check(default(), where="KERAS_BACKEND")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != name:
            raise RuntimeError(f"Keras was imported on {keras.backend.backend()} before {name} was chosen")
    os.environ["KERAS_BACKEND"] = name
    if name == "jax":
        os.environ["JAX_ENABLE_X64"] = "1"
        os.environ["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
    if name == "torch":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return name
