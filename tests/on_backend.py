"""`python tests/on_backend.py BACKEND OUT`: the comparisons that tests/test_backends.py checks on one
Keras backend, run in one process (Keras fixes its backend at import, and each process start costs
seconds), with TensorFlow made unimportable (GPU machines with JAX or PyTorch may have none): the
default 30-epoch comparison through `python -m compare`'s main into OUT/default (and with the book's
cross-entropy and L2 term, `--loss cross_entropy --l2 5`, into OUT/cross_entropy), the MATRIX rows in
ROWS into OUT/row-<i>, a ReLU run that drifts checked both ways into OUT/relu-every-step and
OUT/relu-blocks, and the Keras follow-up example (`python -m keras_impl`, 1 epoch) into
OUT/keras_impl. Each report is written as OUT/<name>.json.
"""
import json
import pathlib
import sys
import time

from matrix import MATRIX, matrix_config

ROWS = (1, 6, 8, 9, 10, 14)  # a subset of MATRIX for CI's time (with the default run, quadratic in float64):
# every other loss, both dtypes, momentum and Nesterov, batch sizes 1 to 10, each kind of departure, and
# the book's cross-entropy with an L2 term


def main(backend, out):
    sys.modules["tensorflow"] = None  # as if not installed: `import tensorflow` fails, find_spec finds none
    from keras_impl import backends

    backends.use(backend)  # before Keras is imported: compare's main would, but harness comes first
    from compare import report as reporting
    from compare.__main__ import main as compare_main
    from compare.harness import run_comparison
    from keras_impl.__main__ import main as keras_impl_main
    from scratch.config import Config

    out.mkdir(parents=True, exist_ok=True)
    quiet = lambda *a: None  # noqa: E731
    for name, flags in (("default", []), ("cross_entropy", ["--loss", "cross_entropy", "--l2", "5"])):
        try:
            compare_main(["--backend", backend, "--logdir", str(out), "--name", name, "--json", str(out / f"{name}.json"),
                          *flags])
        except SystemExit as e:
            print(f"compare {name} exited {e.code}", file=sys.stderr)
    for i in ROWS:
        row = MATRIX[i]
        folder = out / f"row-{i}"
        folder.mkdir()
        start = time.perf_counter()
        report = run_comparison(matrix_config(row, folder), str(folder / "run"), print_=quiet)
        reporting.write_json(report, out / f"row-{i}.json")
        print(f"row {i}: {report['verdict']} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    relu = Config(hidden=[16, 8], activation="relu", epochs=3).validate()  # drifts: blocks are replayed
    for check in ("every-step", "blocks"):
        report = run_comparison(relu, str(out / f"relu-{check}"), print_=quiet, check=check)
        reporting.write_json(report, out / f"relu-{check}.json")
    keras_impl_main(["--backend", backend, "--epochs", "1", "--logdir", str(out), "--name", "keras_impl"])
    print(json.dumps({"ran": backend}))


if __name__ == "__main__":
    main(sys.argv[1], pathlib.Path(sys.argv[2]))
