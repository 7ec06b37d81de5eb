"""`python -m scratch`: train the NumPy network alone, the primer's recipe by default."""
import signal
import sys

from .command_line import ArgumentParser, add_config_arguments, bad_input_exits_2, config_from_args
from .training import Diverged, fit

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, `kill` or a job's end, a closed terminal


class Stopped(KeyboardInterrupt):
    """Raised by any of SIGNALS: training stops. This CLI writes no files, so none is left half written."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def stop(signum, frame):
    raise Stopped(signum)


@bad_input_exits_2
def main(argv=None):
    for signum in SIGNALS:
        signal.signal(signum, stop)
    try:
        train(argv)
    except Stopped as e:
        print(f"Interrupted ({signal.Signals(e.signum).name}): python -m scratch writes no files, so nothing is left.",
              file=sys.stderr)
        sys.exit(128 + e.signum)


def train(argv):
    parser = ArgumentParser(prog="python -m scratch", description=__doc__)
    add_config_arguments(parser)
    config = config_from_args(parser.parse_args(argv))
    data = config.load_dataset()
    network = config.build_network(data)
    print(f"{network} on {data.name}: {len(data.x_train)} training, {len(data.x_val)} validation examples")
    try:
        history = fit(network, data.x_train, data.y_train, config.loss, config.build_optimizer(),
                      config.epochs, config.batch_size, config.seed, validation_data=(data.x_val, data.y_val),
                      l2=config.build_l2(data))
    except Diverged as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"Final validation accuracy: {history[-1]['val_accuracy']:.2%}")


if __name__ == "__main__":
    main()
