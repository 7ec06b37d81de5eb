"""`python -m keras_impl`: the Keras follow-up example, the scratch network's twin trained with model.fit.

Same flags and defaults as `python -m scratch`; logs to TensorBoard under --logdir/--name/keras.
"""
import os
import shutil
import sys

from scratch.batches import BatchPlan
from . import check_activations, departures, native_logs
from .interrupts import exit_code, signal_name, sigterm_interrupts
from .runs import new_run_dir
from scratch.cli import ArgumentParser, add_config_arguments, bad_input_exits_2, config_from_args

DEFAULT_LOGDIR = "runs"


def add_run_arguments(parser):
    parser.add_argument("--logdir", default=DEFAULT_LOGDIR, help="TensorBoard log directory (default: %(default)s)")
    parser.add_argument("--name", help="this run's folder under --logdir (default: a new timestamped name)")


def add_verbose_argument(parser):
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines on stderr")


@bad_input_exits_2
def main(argv=None):
    parser = ArgumentParser(prog="python -m keras_impl", description=__doc__)
    add_config_arguments(parser)
    add_run_arguments(parser)
    add_verbose_argument(parser)
    args = parser.parse_args(argv)
    sigterm_interrupts()
    run_dir = None
    try:
        config = config_from_args(args)
        data = config.load_dataset()
        network = config.build_network(data)  # draws the initial weights the twin starts from
        check_activations([config.activation, config.output_activation])
        for departure in departures(config.output_activation, config.loss):
            print(f"warning: {departure}", file=sys.stderr)
        run_dir = new_run_dir(args.logdir, args.name, prefix="keras")
        native_logs.quiet(args.verbose)
        train(config, data, network, run_dir)
    except KeyboardInterrupt as e:
        sys.exit(interrupted(e, run_dir))
    print(f"See the curves: tensorboard --logdir {args.logdir}")


def train(config, data, network, run_dir):
    """The twin of `network`, trained with model.fit over the shared batch plan, logging to run_dir."""
    from . import device  # importing TensorFlow takes seconds: only once the input is known good
    from .training import PlanTensorBoard, fit_with_plan
    from .twin import build_twin

    where = device.configure(config.dtype, config.seed)
    model = build_twin(network, config)
    print(f"Keras twin of {network} on {data.name}, running on {where}")
    model.summary()
    history = fit_with_plan(
        model, data.x_train, data.y_train, BatchPlan(len(data.x_train), config.batch_size, config.seed),
        config.epochs, validation_data=(data.x_val, data.y_val),
        callbacks=[PlanTensorBoard(f"{run_dir}/keras")],
    )
    print(f"Final validation accuracy: {history[-1]['val_accuracy']:.2%}")


def interrupted(interruption, run_dir):
    """Ctrl-C or SIGTERM: the TensorBoard files are already flushed (fit_with_plan closes them); a run
    folder that holds nothing yet is removed. Returns the exit code."""
    name = signal_name(interruption)
    if run_dir is None:
        print(f"\nInterrupted ({name}).", file=sys.stderr)
    elif not any(files for _, _, files in os.walk(run_dir)):
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"\nInterrupted ({name}) before training started: nothing was written.", file=sys.stderr)
    else:
        print(f"\nInterrupted ({name}): {run_dir} holds the epochs done.", file=sys.stderr)
    return exit_code(name)


if __name__ == "__main__":
    main()
