"""The command-line kit shared by `python -m scratch`, `python -m keras_impl` and `python -m compare`:
their common flags, and bad input as one line on stderr with exit code 2, never a traceback.

The library's errors name its parameters (`learning_rate must be ...`); here alone they are mapped
to the flags a user typed (`--lr: learning rate must be ...`).
"""
import argparse
import functools
import sys

from . import activations, datasets, losses
from dataclasses import fields

from .config import LOSS_RECIPES, RECIPES, Config
from .initializers import INITIALIZERS

EXIT_BAD_INPUT = 2
FLAGS = {"learning_rate": "--lr", "batch_size": "--batch-size", "epochs": "--epochs", "momentum": "--momentum",
         "nesterov": "--nesterov", "seed": "--seed", "lmbda": "--l2"}  # library parameter -> the flag that sets it


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


L2_HELP = ("L2 regularization in the book's convention: C = C0 + (LAMBDA / 2n) sum w^2 over the weights, n the "
           "training set size, e.g. 5.0 (default: %(default)s, none). From Keras's L2(l2): LAMBDA = 2 n l2; from "
           "a CS231n-style reg * sum w^2 on the mean loss: LAMBDA = 2 n reg")


def parse_hidden(text):
    """'30' -> [30]; '64,32' -> [64, 32]; '' or 'none' -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden sizes must be integers like 30 or 64,32, got {text!r}") from None
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be at least 1, got {text!r}")
    return sizes


def recipe_default(setting, shown=str):
    """'default: 3.0; xor and vacation: 5.0; --loss cross_entropy: 0.5': the primer's default, the
    truth tables' own and the losses' own."""
    tables = [name for name, recipe in RECIPES.items() if setting in recipe]
    own = f"; {' and '.join(tables)}: {shown(RECIPES[tables[0]][setting])}" if tables else ""
    own += "".join(f"; --loss {loss}: {shown(recipe[setting])}" for loss, recipe in LOSS_RECIPES.items()
                   if setting in recipe)
    return f"default: {shown(getattr(Config(), setting))}{own}"


def add_config_arguments(parser):
    """The flags that make a Config, with the dataset's recipe as defaults (Config.recipe)."""
    d = Config()
    add = parser.add_argument
    sizes = lambda hidden: ",".join(map(str, hidden))  # noqa: E731
    add("--dataset", default=d.dataset, help=f"{datasets.SPEC_HELP} (default: %(default)s)")
    add("--hidden", type=parse_hidden, help=f"hidden layer sizes, e.g. 30 or 64,32 ({recipe_default('hidden', sizes)})")
    add("--activation",
        help=f"hidden activation: {', '.join(activations.ACTIVATIONS)} ({recipe_default('activation')})")
    add("--output-activation", default=d.output_activation, help="output activation (default: %(default)s)")
    add("--loss", default=d.loss, help=f"{', '.join(losses.LOSSES)}; cross_entropy is the book's chapter 3 cost for "
        "sigmoid outputs, summed over the outputs (binary_crossentropy averages them) (default: %(default)s)")
    add("--l2", type=float, default=d.l2, metavar="LAMBDA", help=L2_HELP)
    add("--lr", type=float, help=f"learning rate eta ({recipe_default('lr')})")
    add("--momentum", type=float, default=d.momentum, help="SGD momentum mu (default: %(default)s)")
    add("--nesterov", action="store_true", help="Nesterov momentum")
    add("--batch-size", type=int, default=d.batch_size, help="mini-batch size m (default: %(default)s)")
    add("--epochs", type=int, default=d.epochs, help="passes over the training set (default: %(default)s)")
    add("--dtype", default=d.dtype, help="float64 or float32 (default: %(default)s)")
    add("--seed", type=int, default=d.seed, help="seed of the initial weights and the batch order (default: %(default)s)")
    add("--initializer", default=d.initializer, help=f"{', '.join(INITIALIZERS)} (default: %(default)s)")


def add_run_arguments(parser):
    """--logdir and --name: where a run that logs to TensorBoard writes."""
    parser.add_argument("--logdir", default="runs", help="TensorBoard log directory (default: %(default)s)")
    parser.add_argument("--name", help="this run's folder under --logdir (default: a new timestamped name)")


def add_verbose_argument(parser):
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines on stderr")


def config_from_args(args):
    """A validated Config from parsed flags; flags left out take the dataset's recipe."""
    given = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    return Config.recipe(**given).validate()


def config_argv(config):
    """The flags that give back `config` in a child process: each Config field's flag is its name
    with dashes (scratch/command_line.py)."""
    argv = []
    for name, value in config.as_dict().items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):  # --nesterov: present or not
            argv += [flag] if value else []
        elif isinstance(value, list):  # --hidden 64,32, or none
            argv += [flag, ",".join(map(str, value)) or "none"]
        else:  # repr: a float's exact digits
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    return argv


def fail(message):
    """Print `error: message` on stderr and exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def in_flags(message):
    """The message with a leading library parameter named as its flag: 'learning_rate must be ...'
    becomes '--lr: learning rate must be ...'."""
    parameter = message.split(" ", 1)[0]
    if parameter in FLAGS:
        return f"{FLAGS[parameter]}: {parameter.replace('_', ' ')}{message[len(parameter):]}"
    return message


def bad_input_exits_2(main):
    """Run main(); a ValueError (bad input) becomes one line on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except ValueError as e:
            fail(in_flags(str(e).splitlines()[0]) if str(e) else type(e).__name__)

    return wrapper
