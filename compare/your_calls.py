"""Calling your network's code (compare/your_network.py) so that nothing it does can reach the
check: each call gets arrays of its own, so a change it makes to its arguments cannot reach the
dataset, the batches, Keras or the probe (the first change of each argument is noted, as a finding);
the working directory and the warnings filters are put back after it; what it returns is checked
(compare/your_layouts.py); and every way out of it other than returning (any exception, sys.exit,
os._exit) comes back as YourCodeFailed, which names your network and shows your frames of the
traceback. A KeyboardInterrupt goes on as an interrupt: it may be Ctrl-C arriving while your code runs.
"""
import copy
import os
import traceback
import warnings

import numpy as np


class YourCodeFailed(Exception):
    """Your network's code failed (raised, exited, or returned what it should not): exit code 1."""


class Exited(BaseException):
    """os._exit(code) called by your code, while the harness runs it (the process goes on)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def exit_instead(code):
    raise Exited(code)


def raised(path, error, what):
    """YourCodeFailed for `error` raised in `what`, with the traceback cut to the frames of `path`."""
    if isinstance(error, (SystemExit, Exited)):
        how = "os._exit" if isinstance(error, Exited) else "sys.exit"
        return YourCodeFailed(f"error: your network ({path}) called {how}({error.code!r}) in {what}: a network the "
                              "harness checks must return, not end the process")
    frames = [f for f in traceback.extract_tb(error.__traceback__) if os.path.abspath(f.filename) == path]
    lines = traceback.format_list(frames) + traceback.format_exception_only(error)
    return YourCodeFailed(f"error: your network ({path}) raised {type(error).__name__} in {what}; your part of "
                          "the traceback:\n" + "".join(lines).rstrip())


def calling(path, function, *args, what=None):
    """function(*args) run as your code, `what` naming it in messages: the working directory put back
    afterwards, os._exit caught; an exception or exit from it raised as YourCodeFailed; a call that
    does not fit the function's signature (a TypeError before any line of yours ran) is bad input,
    ValueError."""
    what = what or getattr(function, "__qualname__", str(function))
    folder, os_exit, os._exit = os.getcwd(), os._exit, exit_instead
    try:
        with warnings.catch_warnings():  # a filter your code sets (e.g. warnings as errors) stays yours
            return function(*args)
    except KeyboardInterrupt:
        raise  # Ctrl-C may arrive while your code runs: an interrupt, with its partial report
    except BaseException as error:  # noqa: BLE001 - whatever their code raises is theirs, GeneratorExit too
        theirs = [f for f in traceback.extract_tb(error.__traceback__) if os.path.abspath(f.filename) == path]
        if isinstance(error, TypeError) and not theirs:
            raise ValueError(f"--implementation: calling {what} with {len(args)} argument(s) failed ({error}); "
                             "docs/your-own-network.md gives the signatures, e.g. NAME(sizes)") from None
        raise raised(path, error, what) from None
    finally:
        os._exit = os_exit
        if os.getcwd() != folder:
            os.chdir(folder)  # the run's paths stay where they were


def own_copy(value):
    """A copy of an argument: arrays, and lists or tuples of them, copied all through."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(own_copy(v) for v in value)
    return copy.copy(value)


def same(a, b):
    """Whether an argument is as it was given: the same structure and bitwise the same arrays."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


class Calls:
    """Calls into the methods of your network object, each on copies of its arguments. `changes`
    holds the first change your code made to each argument of each method: {method, argument, step},
    `step` the training steps your network had taken; it is shared with copies of the network."""

    def __init__(self, network, path, changes=None):
        self.network, self.path, self.changes = network, path, [] if changes is None else changes
        self.step = 0

    def __call__(self, method, **arguments):
        """network.method(*arguments' values), each given a copy; changes to them noted."""
        given = {name: own_copy(value) for name, value in arguments.items()}
        result = calling(self.path, getattr(self.network, method), *given.values(), what=method)
        for name, value in arguments.items():
            if not same(value, given[name]) and not any(c["method"] == method and c["argument"] == name
                                                        for c in self.changes):
                self.changes.append({"method": method, "argument": name, "step": self.step})
        return result

    def copied(self):
        """Calls into a deep copy of the network, sharing `changes`."""
        try:
            calls = Calls(copy.deepcopy(self.network), self.path, self.changes)
        except Exception as e:  # noqa: BLE001 - whatever stops a copy: a file or a lock it took on later
            raise YourCodeFailed(f"error: your network ({self.path}) cannot be copied after {self.step} step(s) "
                                 f"(copy.deepcopy raised {type(e).__name__}: {e}); the harness copies it to take "
                                 "steps from Keras's state: keep files, locks and modules out of its attributes") \
                from None
        calls.step = self.step
        return calls

    def assign(self, name, value):
        """network.name = value (a property's setter is your code too)."""
        calling(self.path, setattr, self.network, name, value, what=f"setting {name}")
