"""What the lockstep costs: `python -m compare`'s training-time work against a plain `model.fit` of
the same batch plan, on this machine, in one run.

    python benchmarks/bench_lockstep.py [--pairs 3] [--epochs 30] [--steps-per-execution 1] [--json out.json]

A: `python -m compare --epochs E` (checking in blocks, the default), its training-time work read from
   its report: the whole run less importing TensorFlow and writing the report (loading the data,
   start-up, gradient check, TensorBoard, scratch, comparing, the block checks, any replay, Keras's
   fit with its TensorBoard callback).
B: the same twin, the same plan, `keras_impl.training.fit_with_plan` with the validation data and no
   callbacks, timed around the fit alone; one step per call into the backend (Keras's default), or
   K with --steps-per-execution K (compare runs 16).
Each in a fresh process, paired A, B, A, B, ...; reported: each pair's ratio A / B, and their median
with its spread (min, max), which cancels a machine's slow drift better than a ratio of medians.
A's fixed costs (loading the data, start-up, the gradient check: a second or two) weigh on short runs:
one epoch measures a ratio of about 4; docs/performance.md's figures are for the default 30 epochs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
NOT_TRAINING = ("importing TensorFlow", "report")  # what A's training-time work leaves out

PLAIN_FIT = """
import json, sys, time
from keras_impl import device
from keras_impl.training import fit_with_plan
from keras_impl.twin import build_twin
from scratch.batches import BatchPlan
from scratch.config import Config

config = Config(epochs=int(sys.argv[1]))
data = config.load_dataset()
network = config.build_network(data)
device.configure(config.dtype, config.seed)
model = build_twin(network, config, config.build_l2(data), steps_per_execution=int(sys.argv[2]))
plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
start = time.perf_counter()
fit_with_plan(model, data.x_train, data.y_train, plan, config.epochs, (data.x_val, data.y_val), verbose=0)
print(json.dumps({"fit": time.perf_counter() - start}))
"""


def compare_training_seconds(epochs, folder):
    """A: the training-time work of one `python -m compare --epochs E`, and its whole split."""
    report = os.path.join(folder, "r.json")
    subprocess.run([sys.executable, "-m", "compare", "--epochs", str(epochs), "--json", report, "--logdir",
                    os.path.join(folder, "runs")], cwd=ROOT, env=ENV, check=True, capture_output=True)
    with open(report) as f:
        seconds = json.load(f)["seconds"]
    os.remove(report)
    return seconds["total"] - sum(seconds.get(part, 0.0) for part in NOT_TRAINING), seconds


def plain_fit_seconds(epochs, steps_per_execution):
    """B: fit_with_plan alone over the same plan, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", PLAIN_FIT, str(epochs), str(steps_per_execution)], cwd=ROOT,
                         env=ENV, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["fit"]


def positive(text):
    """An integer >= 1, for --pairs, --epochs and --steps-per-execution."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=positive, default=3, help="A, B pairs to time (default: %(default)s)")
    parser.add_argument("--epochs", type=positive, default=30, help="epochs of each run (default: %(default)s)")
    parser.add_argument("--steps-per-execution", type=positive, default=1, metavar="K",
                        help="steps per call into the backend in the plain fit (default: %(default)s, Keras's)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-lockstep-") as folder:
        for i in range(args.pairs):
            training, split = compare_training_seconds(args.epochs, folder)
            fit = plain_fit_seconds(args.epochs, args.steps_per_execution)
            pairs.append({"compare_training_s": training, "plain_fit_s": fit, "ratio": training / fit,
                          "compare_split_s": split})
            print(f"pair {i + 1}: compare's training-time work {training:6.1f} s, plain fit {fit:6.1f} s, "
                  f"ratio {training / fit:.2f}", flush=True)
    ratios = [p["ratio"] for p in pairs]
    summary = {"epochs": args.epochs, "plain_steps_per_execution": args.steps_per_execution, "pairs": pairs,
               "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios)}
    print(f"compare / plain fit ({plural(args.steps_per_execution, 'step')} per execution): median "
          f"{summary['median_ratio']:.2f} (spread {summary['min_ratio']:.2f}-{summary['max_ratio']:.2f}) over "
          f"{plural(len(pairs), 'pair')}, {plural(args.epochs, 'epoch')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


def plural(n, word):
    return f"{n} {word}{'s' * (n != 1)}"


if __name__ == "__main__":
    main()
