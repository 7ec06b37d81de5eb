"""The harness: train the scratch network and its Keras twin side by side and say whether they agree.

For your own network, from Python (docs/your-own-network.md):

    from compare import assert_matches_keras
    assert_matches_keras(Network, epochs=3)   # Network(sizes) builds your network
"""


def check_network(make_network, logdir=None, print_=None, check=None, **settings):
    """The comparison of your network (make_network(sizes) builds it; or give "PATH.py:NAME", as
    --implementation takes it) with its Keras twin, as
    `python -m compare --implementation` runs it; returns the report (a dict, as report.json).
    `settings` are the command line's flags as keywords (hidden=[30], lr=3.0, epochs=30, ...); the
    run's TensorBoard files go to `logdir` (default: a new temporary folder); `check` is --check
    (default: every-step). Keras's and TensorFlow's own DeprecationWarnings stay out of your test run."""
    import tempfile
    import warnings

    from scratch.config import Config

    from . import your_network
    from .harness import run_comparison

    config = Config.recipe(**settings).validate()
    data = config.load_dataset()
    network = your_network.build(make_network, config, data)
    quiet = print_ or (lambda *a: None)
    with warnings.catch_warnings():  # theirs, not your code's: e.g. NumPy 2's copy keyword, in keras/src/backend
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(keras|tensorflow)(\.|$)")
        if logdir:
            return run_comparison(config, logdir, network, data, print_=quiet, check=check)
        with tempfile.TemporaryDirectory(prefix="check_network-") as run_dir:
            return run_comparison(config, run_dir, network, data, print_=quiet, check=check)


def assert_matches_keras(make_network, **settings):
    """check_network's report when the verdict is match or drift; AssertionError carrying the
    verdict line (the first step and layer where your network disagrees) for a mismatch."""
    from .report import verdict_line

    report = check_network(make_network, **settings)
    if report["verdict"] == "mismatch":
        raise AssertionError(verdict_line(report))
    return report
