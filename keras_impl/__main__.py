"""`python -m keras_impl`: the Keras follow-up example, the scratch network's twin trained with model.fit.

Same flags and defaults as `python -m scratch`, and --backend (TensorFlow, JAX or PyTorch) and
--distribute (distribute.py); logs to TensorBoard under --logdir/--name/keras.
"""
if __name__ == "__main__":  # from the first moment: a signal while the modules below load ends it in one line
    from keras_impl.interrupts import quit_while_importing

    quit_while_importing()

import argparse
import os
import sys
from contextlib import ExitStack

from scratch.batches import BatchPlan
from scratch.command_line import (ArgumentParser, add_config_arguments, add_run_arguments, add_verbose_argument,
                                  bad_input_exits_2, config_from_args)

from . import backends, check_activations, departures_of, distribute, native_logs
from .interrupts import (StartUp, deferred, exit_at_once_on_signal, exit_code, ignored_from_now, in_start_up,
                         signal_name, signals_interrupt)
from .runs import new_run_dir, private_temporary_folder, view_command_line

@bad_input_exits_2
def main(argv=None):
    parser = ArgumentParser(prog="python -m keras_impl", description=__doc__)
    add_config_arguments(parser)
    backends.add_backend_argument(parser)
    add_run_arguments(parser)
    distribute.add_distribute_argument(parser)
    add_verbose_argument(parser)
    for hidden in ("--worker", "--cluster", "--initial-weights"):  # multiworker's workers 1..N-1 (workers.py)
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--gradient-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    start_up = StartUp()
    exit_at_once_on_signal(start_up.abandon)  # until training starts (train: signals_interrupt)
    private_temporary_folder("keras_impl-")
    config = config_from_args(args)
    data = config.load_dataset()
    network = config.build_network(data)  # draws the initial weights the twin starts from
    check_activations([config.activation, config.output_activation])
    backend = backends.use(args.backend)  # before Keras is imported, which fixes its backend
    spec = args.distribute
    distribute.check_plan(spec, backend, config.batch_size, len(data.x_train), len(data.x_val))
    distribute.prepare(spec)
    if args.worker is not None:
        from .workers import serve

        native_logs.quiet(args.verbose)
        serve(config, data, network, spec, int(args.worker), [int(p) for p in args.cluster.split(",")],
              args.initial_weights, args.gradient_check)
        return
    for departure in departures_of(config, backend, spec, len(data.x_train)):
        print(f"warning: {departure}", file=sys.stderr)
    start_up.run_dir = run_dir = new_run_dir(args.logdir, args.name, prefix="keras")
    native_logs.quiet(args.verbose)
    print(f"Loading {backends.NAMES[backend]} (a few seconds)...", flush=True)
    try:
        train(config, data, network, run_dir, spec)
    except KeyboardInterrupt as e:  # fit_with_plan has closed (flushed) the TensorBoard files
        print(flush=True)  # ends the progress bar's line
        if in_start_up() or not any(files for _, _, files in os.walk(run_dir)):  # before anything was logged
            start_up.abandon(signal_name(e))
        else:
            print(f"Interrupted ({signal_name(e)}): {run_dir} holds the epochs done.", file=sys.stderr)
        sys.exit(exit_code(signal_name(e)))
    except OSError as e:  # a full disk, the run folder deleted during the run
        print(f"error: could not write the TensorBoard logs into {run_dir}: {e.strerror or e}; training stopped",
              file=sys.stderr)
        sys.exit(1)
    print(f"See the curves: {view_command_line(args.logdir, run_dir)}")
    ignored_from_now()


def train(config, data, network, run_dir, spec=None):
    """The twin of `network`, trained with model.fit over the shared batch plan, logging to run_dir;
    distributed by `spec` (a distribute.Distribute) if given."""
    from .workers import start_workers

    with ExitStack() as stack:
        workers = start_workers(spec, config, network)
        if workers:
            stack.callback(workers.stop)  # however training ends
            stack.enter_context(workers.guard())  # a lost worker raises WorkerLost (exit 1)
        train_twin(config, data, network, run_dir, spec, workers, stack)


def train_twin(config, data, network, run_dir, spec, workers, stack):
    """train's work; the strategy's scope, once started, is entered on `stack`."""
    from . import device  # importing Keras and its backend takes seconds: only once the input is known good
    from .training import SignalsStopTraining, fit_with_plan, tensorboard_callback
    from .twin import build_twin

    where = device.configure(config.dtype, config.seed)
    distribution = distribute.start(spec, workers)
    if distribution:
        stack.enter_context(distribution.scope())
        where += f", {distribution}"
    model = build_twin(network, config, config.build_l2(data))
    print(f"Keras twin of {network} on {data.name}, running on {where}")
    model.summary()
    signals_interrupt()  # from here a signal stops training (between two steps); the TensorBoard files are flushed
    stack.enter_context(deferred())
    history = fit_with_plan(
        model, data.x_train, data.y_train, BatchPlan(len(data.x_train), config.batch_size, config.seed),
        config.epochs, validation_data=(data.x_val, data.y_val),
        callbacks=[tensorboard_callback(f"{run_dir}/keras"), SignalsStopTraining()],
    )
    print(f"Final validation accuracy: {history[-1]['val_accuracy']:.2%}")


if __name__ == "__main__":
    main()
