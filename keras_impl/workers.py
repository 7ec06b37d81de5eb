"""The workers of multiworker:N: started, watched and stopped by the chief, worker 0.

Workers 1..N-1 are `python -m keras_impl` with the run's flags and three hidden ones (--worker INDEX,
--cluster PORTS, --initial-weights PATH). Each builds the same twin from the same initial weights
and runs the chief's collective steps, in its order: the gradient check's all-reduce, then `fit`
over the same batch plan. They write nothing (no run folder, no logs); each prints a heartbeat every
HEARTBEAT_SECONDS on its stdout, a pipe to the chief.

The chief notices within WATCH_SECONDS a worker that exits before it has finished, and counts as
lost one silent for SILENCE_LIMIT seconds (stopped, hung). It then aborts its own collectives, which
would otherwise wait for that worker forever: training ends with a partial report, a line naming the
worker and exit code 1; a chief that does not come back within ABORT_GRACE seconds ends at once.
Workers run in sessions of their own, so that Ctrl-C in a terminal reaches the chief alone, and are
stopped when the chief ends, however it ends; a worker whose chief has gone (its pipe closed) ends too.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

import numpy as np

from .interrupts import WorkerLost, deferred, end_at_once, end_start_up, forget, in_start_up, stop_at_once

HEARTBEAT_SECONDS = 1.0
WATCH_SECONDS = 0.2
SILENCE_LIMIT = 30.0
ABORT_GRACE = 10.0
STOP_WAIT = 5.0
UNAVAILABLE = 14  # the error code TensorFlow's own health check aborts collectives with


def free_ports(n):
    """n distinct TCP ports free on 127.0.0.1 now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports, index):
    """TF_CONFIG of worker `index` in a cluster of workers on 127.0.0.1 at `ports`."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


class Workers:
    """The chief's handle on workers 1..N-1."""

    def __init__(self, count, worker_argv):
        """worker_argv(index, ports, weights_path): the command line of worker `index`."""
        self.count, self.worker_argv = count, worker_argv
        self.processes, self.heard = {}, {}
        self.lost, self.folder = None, None
        self.acknowledged, self.stopping = threading.Event(), threading.Event()

    def start(self, initial_weights):
        """Start the workers and make this process worker 0 (TF_CONFIG); call before TensorFlow starts.
        A signal that ends the process at once before training stops them first (interrupts.stop_at_once)."""
        stop_at_once(self.stop)
        with deferred():  # a signal waits until every worker started is known, to be stopped
            self.folder = tempfile.mkdtemp(prefix="multiworker-")
            weights = os.path.join(self.folder, "initial_weights.npz")
            np.savez(weights, *initial_weights)
            ports = free_ports(self.count)
            os.environ["TF_CONFIG"] = tf_config(ports, 0)
            for index in range(1, self.count):
                with open(os.path.join(self.folder, f"worker_{index}.err"), "w") as err:
                    process = subprocess.Popen(self.worker_argv(index, ports, weights), stdout=subprocess.PIPE,
                                               stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
                self.processes[index], self.heard[index] = process, time.monotonic()
                threading.Thread(target=self.listen, args=(index, process), daemon=True).start()
        threading.Thread(target=self.watch, daemon=True).start()

    def pids(self):
        return [os.getpid(), *(p.pid for p in self.processes.values())]

    def listen(self, index, process):
        for _ in process.stdout:
            self.heard[index] = time.monotonic()

    def watch(self):
        while not self.stopping.wait(WATCH_SECONDS):
            for index, process in self.processes.items():
                code = process.poll()
                if code not in (None, 0):  # 0: it has run all its steps
                    return self.lose(index, self.exited(index, code))
                silent = time.monotonic() - self.heard[index]
                if code is None and silent > SILENCE_LIMIT:
                    return self.lose(index, f"stopped answering: no heartbeat for {silent:.0f} s")

    def exited(self, index, code):
        """'exited with code -9 (SIGKILL)', or with the worker's last error line: why it ended, as far as
        can be told."""
        if code < 0:
            return f"exited with code {code} ({signal.Signals(-code).name})"
        with open(os.path.join(self.folder, f"worker_{index}.err"), errors="replace") as err:
            errors = [line.strip() for line in err if re.match(r"\w+(Error|Exception)\b", line)]
        return f"exited with code {code}" + (f": {errors[-1][:200]}" if errors else "")

    def lose(self, index, what):
        """Worker `index` is lost: abort this process's collectives; end it if it does not come back."""
        self.lost = f"worker {index} (pid {self.processes[index].pid}) {what}"
        if "tensorflow" in sys.modules:
            from tensorflow.python.eager import context

            try:
                context.context().abort_collective_ops(UNAVAILABLE, self.lost)
            except Exception:  # the strategy is still starting (waiting for that worker): nothing to abort yet
                pass
        if not self.acknowledged.wait(ABORT_GRACE):
            if in_start_up():  # TensorFlow still starting: the workers stopped, the run folder removed, exit 1
                end_at_once(self.lost)
                return  # the main thread is ending the process already
            print(f"error: {self.lost}; the run did not stop within {ABORT_GRACE:.0f} s, ending it", file=sys.stderr,
                  flush=True)
            end_start_up(self.lost)  # the workers stopped, the temporary folders removed
            os._exit(1)

    @contextmanager
    def guard(self):
        """An error raised because a worker was lost becomes WorkerLost (a partial report, exit 1): after
        this watch aborted the collectives, or when TensorFlow's own health check got there first."""
        try:
            yield
        except Exception as e:
            if self.lost is None and not collective_failure(e):
                raise
            self.acknowledged.set()
            raise WorkerLost(self.lost or self.blame(e)) from None

    def blame(self, error):
        """Which worker TensorFlow found lost: one that has exited, else the task its message names."""
        for index, process in self.processes.items():
            if process.poll() is not None:
                return f"worker {index} (pid {process.pid}) {self.exited(index, process.returncode)}"
        named = [int(task) for task in re.findall(r"task:(\d+)", str(error)) if int(task) in self.processes]
        if named:
            return (f"worker {named[-1]} (pid {self.processes[named[-1]].pid}) stopped answering: TensorFlow's "
                    "health check found it unhealthy")
        return f"a worker was lost: {str(error).strip().splitlines()[0][:200]}"

    def stop(self):
        """Stop every worker still running (SIGTERM, then SIGKILL after STOP_WAIT s), wait for each, and
        remove the temporary folder."""
        forget(self.stop)
        self.stopping.set()
        self.acknowledged.set()
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_WAIT
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def kill(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()


def collective_failure(error):
    """Whether `error` is TensorFlow's word that a collective could not complete (a peer is gone)."""
    import tensorflow as tf

    return isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError,
                              tf.errors.CancelledError))


def heartbeat():
    """On a worker: a line on stdout every HEARTBEAT_SECONDS; when the chief has gone, end."""
    def beat():
        while True:
            try:
                os.write(1, b".\n")
            except OSError:  # the pipe is closed: the chief has gone
                os._exit(1)
            time.sleep(HEARTBEAT_SECONDS)

    threading.Thread(target=beat, daemon=True).start()


def serve(config, data, network, spec, index, ports, weights_path, gradient_check):
    """Be worker `index` of multiworker:N: the chief's collective steps on the same twin, nothing written."""
    heartbeat()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the chief stops its workers itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ["TF_CONFIG"] = tf_config(ports, index)
    with np.load(weights_path) as saved:
        network.set_parameters([saved[name] for name in saved.files])
    from scratch.batches import BatchPlan

    from . import device, distribute
    from .training import fit_with_plan
    from .twin import build_twin, keras_loss

    device.configure(config.dtype, config.seed)
    distribution = distribute.start(spec)
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    with distribution.scope():
        model = build_twin(network, config, config.build_l2(data))
        if gradient_check:
            distribute.replicated_gradients(model, keras_loss(config.loss), *plan.first_batch(data.x_train,
                                                                                              data.y_train))
        fit_with_plan(model, data.x_train, data.y_train, plan, config.epochs, (data.x_val, data.y_val), verbose=0)


def start_workers(spec, config, network, gradient_check=False):
    """For multiworker:N, workers 1..N-1 started (this process becomes worker 0); else None.
    gradient_check: the chief runs the gradient check's all-reduce before fit, so they must too."""
    if spec is None or spec.strategy != "multiworker":
        return None
    from scratch.command_line import config_argv

    def argv(index, ports, weights):
        return [sys.executable, "-m", "keras_impl", *config_argv(config), "--backend", "tensorflow",
                "--distribute", str(spec), "--worker", str(index), "--cluster", ",".join(map(str, ports)),
                "--initial-weights", weights, *(["--gradient-check"] if gradient_check else [])]

    workers = Workers(spec.replicas, argv)
    workers.start(network.parameter_copies())
    return workers
