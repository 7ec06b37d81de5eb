"""What the diagnosis of a failing check costs (compare/diagnosis.py): step 0's gradients of
examples/network_buggy.py on the default recipe, diagnosed `--repeat` times in one process.

    python benchmarks/bench_diagnosis.py [--repeat 5]

It prints each time and their median. A check that passes costs nothing: no diagnosis is made.
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="diagnoses to time (default: %(default)s)")
    args = parser.parse_args()
    from compare import your_network
    from compare.harness import build_twins
    from scratch.config import Config

    config = Config()
    data = config.load_dataset()
    network = your_network.build(os.path.join(ROOT, "examples", "network_buggy.py:Network"), config, data)
    twins = build_twins(config, network, data, check="every-step")
    rows = twins.check_gradients()
    seconds = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        findings = twins.diagnose_gradients(rows)
        seconds.append(time.perf_counter() - start)
    print(f"diagnosis: {findings[0].words}")
    print("seconds: " + ", ".join(f"{s:.3f}" for s in seconds) + f"; median {statistics.median(seconds):.3f}")


if __name__ == "__main__":
    main()
