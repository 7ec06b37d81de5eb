"""The mutation check: plant small named bugs in compare/'s rules, one at a time, in a copy of the
repository, and run the core test files against each. A mutation that no test catches is a rule
the tests do not guard (or an equivalent one: EQUIVALENT says why).

    python tests/mutations.py            # every mutation (about 10-20 minutes on 2 cores)
    python tests/mutations.py --list     # their names
    python tests/mutations.py --only "block error: min"

Scope: the tolerances, the verdict, the step check, the block rules and the finite differences.
It prints a line per mutation (caught, by which test; or SURVIVED) and exits 1 if one survived.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = ["tests/test_verdict_rules.py", "tests/test_step_check.py", "tests/test_blocks.py", "tests/test_compare.py",
        "tests/test_your_network.py"]  # the fast rules first: most mutations fail there in seconds

MUTATIONS = [  # name, file, [(text, what it becomes)]
    ("gradient tolerance 1e-13 -> 1e-7", "compare/tolerances.py",
     [('"float64": Tolerances(gradient_rel=1e-13', '"float64": Tolerances(gradient_rel=1e-7')]),
    ("NaN passes first_out_of_tolerance", "compare/findings.py",
     [("        if not within(value, limit):", "        if value > limit:")]),
    ("within: < for <=", "compare/tolerances.py", [("    return error <= tolerance", "    return error < tolerance")]),
    ("block error: min", "compare/tolerances.py",
     [("    return float(np.max(list(errors.values())))", "    return float(np.min(list(errors.values())))")]),
    ("block error: the first tensor's", "compare/blocks.py",
     [("            error = worst_of(errors)", "            error = next(iter(errors.values()))")]),
    ("block check: mean loss only", "compare/blocks.py",
     [("findings.losses_within([probe_loss, *probe_losses], [keras_loss, *keras_losses], scales)",
       "findings.losses_within([probe_loss], [keras_loss], scales)")]),
    ("trajectory check: mean loss only", "compare/blocks.py",
     [("findings.losses_within([scratch_loss, *scratch_losses], [keras_loss, *keras_losses], scales)",
       "findings.losses_within([scratch_loss], [keras_loss], scales)")]),
    ("last short block never stepping wrong", "compare/blocks.py",
     [("(findings.step_mismatch is None and stepped_wrong)",
       "(findings.step_mismatch is None and stepped_wrong and len(batches) > 1)")]),
    ("replay starts at the failing block", "compare/blocks.py",
     [("        while earlier and not blocks[0].start.gap", "        while False and not blocks[0].start.gap")]),
    ("noise floor 1000x", "compare/finite_differences.py",
     [("    return np.sqrt(size) * 1e-16 * max(1.0, abs(cost)) / eps / 1e-6",
       "    return np.sqrt(size) * 1e-16 * max(1.0, abs(cost)) / eps / 1e-9")]),
    ("one-sided finite differences", "compare/finite_differences.py",
     [("            p[i] = saved - eps\n", "            p[i] = saved\n"),
      ("            g[i] = (plus - minus) / (2 * eps)", "            g[i] = (plus - minus) / eps")]),
    ("verdict ignores a non-finite loss", "compare/records.py",
     [("step_mismatch is not None or non_finite is not None:", "step_mismatch is not None:")]),
    ("verdict: keras_ok or fd_ok", "compare/records.py",
     [("gradients_agree = all(r.keras_ok and r.fd_ok for r in rows)",
       "gradients_agree = all(r.keras_ok or r.fd_ok for r in rows)")]),
    ("step check: velocities not compared", "compare/step_check.py",
     [("            if reached.velocities:", "            if False:")]),
    ("step check: the probe's loss not compared", "compare/findings.py",
     [("            checks.update({name: (loss_error(a, b, scale), self.tol.loss_rel) for name, a, b, scale in losses})",
       "            pass")]),
    ("step check: scaled by our side", "compare/step_check.py",
     [("max_relative_error(reached.weights[i], after.weights[i])",
       "max_relative_error(after.weights[i], reached.weights[i])")]),
]
EQUIVALENT = {  # name: why no test can tell it from the original
    "step check: scaled by our side": "the two sides differ by rounding or by far more than max(1, |w|) can "
                                      "change: the scales differ only where one side is already out of tolerance",
}


def mutant(name, path, edits, folder):
    """A copy of the repository in `folder` with the mutation applied; ValueError if its text moved."""
    shutil.copytree(ROOT, folder, ignore=shutil.ignore_patterns(".git", "runs", "__pycache__", ".whl"),
                    dirs_exist_ok=True)
    target = os.path.join(folder, path)
    text = open(target).read()
    for old, new in edits:
        if text.count(old) != 1:
            raise ValueError(f"mutation {name!r}: {path} holds {text.count(old)} copies of {old.strip()!r}; "
                             "update tests/mutations.py to where the rule lives now")
        text = text.replace(old, new)
    with open(target, "w") as f:
        f.write(text)


def run_core(folder, timeout):
    """(caught, the first failing test or the reason) for the core test files in `folder`."""
    env = {**os.environ, "PYTHONPATH": folder}
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *CORE],
                                cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, f"the core tests ran past {timeout} s"
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.M)
    if result.returncode == 0:
        return False, "every core test passed"
    return True, failed[0] if failed else f"pytest exited {result.returncode}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--only", metavar="NAME", action="append", help="run this mutation only (repeatable)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per mutation (default: %(default)s)")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m[0] in args.only]
    if args.list or not chosen:
        print("\n".join(m[0] for m in MUTATIONS))
        return 0 if args.list else 2
    survivors = []
    for i, (name, path, edits) in enumerate(chosen, 1):
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
            mutant(name, path, edits, folder)
            caught, why = run_core(folder, args.timeout)
        verdict = "caught by " + why if caught else "SURVIVED: " + EQUIVALENT.get(name, why)
        print(f"[{i}/{len(chosen)}] {name}: {verdict} ({time.monotonic() - start:.0f} s)", flush=True)
        if not caught and name not in EQUIVALENT:
            survivors.append(name)
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} caught or equivalent" +
          (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
