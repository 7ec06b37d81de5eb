"""`python -m compare`: train the scratch network and its Keras twin side by side and check that
they agree. With no subcommand it runs `run` with the primer's recipe.

Verdicts: match (the twins agree at every step), drift (their trajectories part, but every step
taken from the same state agrees: training amplified rounding), mismatch (a step disagrees).
Exit codes: 0 match or drift, 1 mismatch or training diverged (the report says where) or the report
could not be written, 2 bad input, 130 interrupted by Ctrl-C, 143 by SIGTERM, 129 by SIGHUP (the
partial report is written).
"""
if __name__ == "__main__":  # from the first moment: a signal while the modules below load ends it in one line
    from keras_impl.interrupts import quit_while_importing

    quit_while_importing()

import argparse
import os
import shutil
import sys

from contextlib import ExitStack, nullcontext

from keras_impl import backends, check_activations, departures_of, distribute, native_logs
from keras_impl.interrupts import (StartUp, WorkerLost, exit_at_once_on_signal, exit_code, ignored_from_now,
                                   signal_name, sigterm_interrupts)
from keras_impl.runs import new_run_dir, private_temporary_folder, view_command_line
from scratch.command_line import (ArgumentParser, add_config_arguments, add_run_arguments, add_verbose_argument,
                                  bad_input_exits_2, config_from_args)

from . import your_network
from .judged import our_network
from .report import NotWritten
from .stopwatch import Stopwatch

SUBCOMMANDS = ("run", "gradcheck", "view")
CHECKS = ("blocks", "every-step")  # compare/blocks.py, compare/lockstep.py


class CompareParser(ArgumentParser):
    """The top-level help goes on with the flags of `run`, which is what runs without a subcommand."""

    def format_help(self):
        return (super().format_help() + "\nWithout a subcommand `run` runs; its flags (gradcheck takes the "
                "same, less --logdir, --name, --check and --distribute):\n\n" + self.run_parser.format_help())


def port_number(text):
    """--port: an integer in 1..65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {text!r}; "
                                         "leave --port out to take a free one")
    return int(text)


def build_parser():
    parser = CompareParser(prog="python -m compare", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="{run,gradcheck,view}", parser_class=ArgumentParser)
    run = sub.add_parser("run", help="train both twins in lockstep and compare (the default)")
    gradcheck = sub.add_parser("gradcheck", help="compare step 0's gradients only")
    for p in (run, gradcheck):
        p.error = parser.error  # one line, exit 2
        add_config_arguments(p)
        p.add_argument("--json", metavar="PATH", help="also write the machine-readable report here")
        p.add_argument("--implementation", metavar="PATH.py:NAME",
                       help="check your own network instead of scratch's: NAME(sizes) from PATH.py (this runs "
                            "that file's code; docs/your-own-network.md)")
    backends.add_backend_argument(run, all_too=True)
    backends.add_backend_argument(gradcheck)
    add_run_arguments(run)
    run.add_argument("--check", choices=CHECKS,
                     help="blocks: check the weights every 16 steps and the losses at every step, and replay a "
                          "block step by step where a check fails, at about the speed of Keras's own fit; "
                          "every-step: read and check Keras's state after "
                          "every step, about twice as slow (default: blocks; every-step with --distribute or "
                          "--implementation)")
    distribute.add_distribute_argument(run)
    run.add_argument("--part-of", metavar="RUN_DIR", help=argparse.SUPPRESS)  # --backend all's own runs
    run.add_argument("--writes-scratch", action="store_true", help=argparse.SUPPRESS)
    for p in (run, gradcheck):
        add_verbose_argument(p)
    parser.run_parser = run
    view = sub.add_parser("view", help="start TensorBoard on the latest run (Ctrl-C stops it), or save a screenshot")
    view.error = parser.error
    view.add_argument("run", nargs="?", help="one run folder under --logdir (default: the most recent run)")
    view.add_argument("--all", action="store_true", help="every run under --logdir")
    view.add_argument("--logdir", default="runs", help="the runs folder (default: %(default)s)")
    view.add_argument("--port", type=port_number, help="TensorBoard's port on 127.0.0.1 (default: a free one)")
    view.add_argument("--screenshot", metavar="PATH", help="save a PNG of the epoch_loss chart and exit")
    return parser


@bad_input_exits_2
def main(argv=None):
    stopwatch = Stopwatch()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS + ("-h", "--help"):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    sigterm_interrupts()
    if args.command == "view":
        view_command(args)
    start_up = StartUp()
    exit_at_once_on_signal(start_up.abandon)  # until training starts (harness: signals_interrupt)
    private_temporary_folder("compare-")
    try:
        config, data, network = checked_inputs(args)
    except your_network.YourCodeFailed as e:
        print(e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # a signal now ends the process at once: this one was raised by your network
        if not args.implementation:
            raise
        print(f"error: your network ({args.implementation}) raised KeyboardInterrupt before training; nothing was "
              "written", file=sys.stderr)
        sys.exit(exit_code("SIGINT"))
    run_dir = run_folder(args, config, start_up)
    if args.command == "run" and args.backend == "all":
        from .every_backend import run_every_backend

        code = run_every_backend(args, config, run_dir)
        ignored_from_now()
        sys.exit(code)
    try:
        result = compare(args, config, data, network, run_dir, stopwatch)
    except KeyboardInterrupt as e:
        if isinstance(e, WorkerLost):  # before training: no report, no run folder
            if start_up.run_dir:
                shutil.rmtree(start_up.run_dir, ignore_errors=True)
            print(f"error: {e.what}; the run stopped before training: nothing was written", file=sys.stderr)
        else:  # held back from the end of training until the report was written
            print(f"Interrupted ({signal_name(e)}) after training ended: the report in {run_dir} is whole.",
                  file=sys.stderr)
        sys.exit(exit_code(signal_name(e)))
    except NotWritten as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except your_network.YourCodeFailed as e:
        if start_up.run_dir:
            shutil.rmtree(start_up.run_dir, ignore_errors=True)  # a run that could not run leaves nothing
        print(e, file=sys.stderr)
        sys.exit(1)
    code = exit_code_of(result, run_dir)
    ignored_from_now()
    sys.exit(code)


def run_folder(args, config, start_up):
    """The run's folder (None for gradcheck): a new one, or with --part-of the one of --backend all."""
    if args.command != "run":
        return None
    if args.part_of:  # one backend's run inside --backend all's folder
        if not os.path.isdir(args.part_of):
            raise ValueError(f"--part-of {args.part_of}: no such run folder")
        return args.part_of
    start_up.run_dir = new_run_dir(args.logdir, args.name, prefix=config.dataset.split(":")[0])
    return start_up.run_dir


def exit_code_of(result, run_dir):
    """0 for match or drift, 1 for mismatch or a lost worker, 130 or 143 when interrupted by a signal."""
    if result.get("interrupted"):
        code = exit_code(result["interrupted_by"])
        if code == 1:  # a lost worker
            print(f"error: {result['interrupted_by']}; training stopped, the partial report is in {run_dir}",
                  file=sys.stderr)
        return code
    return 0 if result["verdict"] in ("match", "drift") else 1


def checked_inputs(args):
    """(config, data, network) once every input is known good: bad input is refused here, before
    TensorFlow spends seconds starting and before any run folder exists."""
    from .report import check_writable

    config = config_from_args(args)
    if args.json is not None:
        check_writable(args.json)
    spec = getattr(args, "distribute", None)
    if args.backend == "all" and spec:
        raise ValueError(f"--distribute {spec} runs on one backend: --backend tensorflow takes mirrored:N and "
                         "multiworker:N, --backend jax dataparallel:N")
    if spec and getattr(args, "check", None) == "blocks":
        raise ValueError(f"--check blocks cannot go with --distribute {spec}: its replays would need the "
                         "strategy's other replicas; leave --check out (a distributed run is checked every step)")
    if args.backend != "all":
        args.backend = backends.use(args.backend)  # before Keras is imported, which fixes its backend
    data = config.load_dataset()
    distribute.check_plan(spec, args.backend, config.batch_size, len(data.x_train), len(data.x_val))
    distribute.prepare(spec)
    check_activations([config.activation, config.output_activation])
    if args.implementation:  # your network, holding the initial weights both twins start from
        network = your_network.build(args.implementation, config, data)
    else:
        network = our_network(config, data)  # draws the initial weights both twins start from
    if args.backend == "all":
        return config, data, network  # each backend's own run warns of its departures
    for departure in departures_of(config, args.backend, spec, len(data.x_train)):
        print(f"warning: {departure}", file=sys.stderr)
    return config, data, network


def compare(args, config, data, network, run_dir, stopwatch):
    """Run the gradient check or the whole comparison; returns its report (also written to --json)."""
    from keras_impl.workers import start_workers

    native_logs.quiet(args.verbose)
    with ExitStack() as stack:
        spec = getattr(args, "distribute", None)
        workers = start_workers(spec, config, network, gradient_check=True)  # they start while this imports
        if workers:
            stack.callback(workers.stop)  # however the run ends
            stack.enter_context(workers.guard())  # losing one before training raises WorkerLost
        print(f"Loading {backends.NAMES[args.backend]} (a few seconds)...", flush=True)
        with stopwatch.part(f"importing {backends.NAMES[args.backend]}"):
            from .harness import run_gradient_check
        if args.command == "gradcheck":
            result, failure = run_gradient_check(config, network, data), None
        else:
            result, failure = run(args, config, data, network, run_dir, stopwatch, workers, stack)
        write_json_too(args.json, result, failure)
        return result  # a signal held back since training ended is delivered here, as `stack` closes


def run(args, config, data, network, run_dir, stopwatch, workers, stack):
    """`compare run` on one backend: (its report, the NotWritten that kept some of its files from the
    run folder, or None). Signals are held back from the start of training until `stack` closes."""
    from .harness import RunFiles, run_comparison

    spec = getattr(args, "distribute", None)
    with stopwatch.part("starting the strategy") if spec else nullcontext():
        distribution = distribute.start(spec, workers)
    part_of_all = args.part_of is not None
    files = RunFiles.of_backend(args.backend, args.writes_scratch) if part_of_all else RunFiles()
    try:
        result = run_comparison(config, run_dir, network, data, stopwatch=stopwatch, files=files,
                                distribution=distribution, check=args.check, hold=stack)
    except NotWritten as e:
        return e.report, e
    print(f"Report: {run_dir}/{files.report}, plot: {run_dir}/{files.plot}")
    if not part_of_all:  # --backend all says it once, at the end
        print(f"See the curves: {view_command_line(args.logdir, run_dir)}")
    return result, None


def write_json_too(path, result, failure):
    """The report at --json `path` too (even when the run folder could not take it); then raises
    `failure` (a NotWritten, or None), or the NotWritten of --json itself."""
    from . import report as reporting

    if path:
        try:
            reporting.write_json(result, path)
        except OSError as e:
            failure = failure or NotWritten(f"--json {path}", os.path.dirname(path) or ".", e)
    if failure:
        raise failure


def view_command(args):
    """`compare view`: serve or screenshot; exits."""
    from .view import view, view_folder

    folder = view_folder(args.logdir, args.run, args.all)
    try:
        view(folder, args.port, args.screenshot)
    except (TimeoutError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        sys.exit(exit_code(signal_name(e)))
    sys.exit(0)


if __name__ == "__main__":
    main()
