"""One comparison: build both twins from one Config, check step 0's gradients, train in lockstep,
log to TensorBoard, and say where (if anywhere) they part. The report's keys: docs/design.md."""
import os
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass

import numpy as np

from keras_impl import device
from keras_impl.interrupts import answered, deferred, signal_name, signals_interrupt
from keras_impl.runs import written_whole
from keras_impl.training import SignalsStopTraining, fit_with_plan, tensorboard_callback
from keras_impl.twin import build_twin, keras_loss, runs_steps_together
from scratch.batches import BatchPlan
from scratch.datasets import Dataset

from . import diagnosis
from . import report as reporting
from .blocks import BLOCK_STEPS, InBlocks
from .epoch_runner import EpochRunner
from .findings import Findings
from .gradcheck import gradient_check, keras_gradients
from .judged import our_network
from .lockstep import EveryStep, Lockstep
from .replay import KerasReplay
from .step_check import StepCheck
from .step_losses import StepLosses
from .stopwatch import Stopwatch
from .tensorboard_logs import ComparisonLogs
from .tolerances import TOLERANCES


@dataclass
class RunFiles:
    """What a comparison writes into its run folder: its Keras and agreement TensorBoard folders, its
    report and plot, and whether it writes the scratch side's logs. With `--backend all` several
    runs share one folder, each under its backend's names (RunFiles.of_backend)."""

    keras: str = "keras"
    agreement: str = "agreement"
    report: str = "report.json"
    plot: str = "comparison.png"
    scratch: bool = True
    keras_weights: str = "keras_weights.npz"  # Keras's final weights (--backend all compares them pairwise)

    @classmethod
    def of_backend(cls, backend, scratch):
        return cls(f"keras_{backend}", f"agreement_{backend}", f"report_{backend}.json", f"comparison_{backend}.png",
                   scratch, f"keras_weights_{backend}.npz")


@dataclass
class Twins:
    """Both twins from one Config, from the same initial weights, with the batch plan they share."""

    config: object
    where: str  # the device Keras runs on
    data: Dataset
    judged: object  # the network judged (compare/judged.py): scratch's, or yours
    model: object  # the compiled keras.Sequential
    plan: BatchPlan
    distribution: object = None  # a keras_impl.distribute.Distribution, or None
    check: str = "blocks"  # or "every-step" (compare/lockstep.py)
    step_loss_metric: object = None  # checked in blocks: the StepLosses metric compiled into the model

    def first_batch(self):
        """Step 0's mini-batch (x, y)."""
        return self.plan.first_batch(self.data.x_train, self.data.y_train)

    def check_gradients(self):
        """Step 0's GradientRows, within this dtype's tolerances."""
        x0, y0 = self.first_batch()
        return gradient_check(self.judged, self.model, self.config.loss, keras_loss(self.config.loss), x0, y0,
                              TOLERANCES[self.config.dtype])

    def diagnose_gradients(self, rows):
        """Why step 0's gradients disagree (compare/diagnosis.py), [] when they agree; call it before
        training, while the judged network holds step 0's weights."""
        if all(r.keras_ok and r.fd_ok for r in rows):
            return []
        x0, y0 = self.first_batch()
        truth = keras_gradients(self.model, keras_loss(self.config.loss), x0, y0)
        config = self.config
        return diagnosis.of_gradients(self.judged, config.loss, x0, y0, rows, truth,
                                      (config.lr, config.momentum, config.nesterov), TOLERANCES[config.dtype],
                                      self.judged.parameter_names())

    def diagnose_step(self, findings):
        """Why the first step taken from Keras's state disagreed, [] when none did (or it is not a step's)."""
        if findings.step_mismatch is None or findings.mismatch_states is None:
            return []
        config = self.config
        return diagnosis.of_step(self.judged, config.loss, findings.mismatch_states, findings.step_mismatch.step,
                                 (config.lr, config.momentum, config.nesterov), TOLERANCES[config.dtype],
                                 self.judged.parameter_names(), config.batch_size)


def default_check(judged, distribution):
    """The judged network's own default (compare/judged.py), but every step when distributed (a
    replay would need the strategy's other replicas)."""
    return "every-step" if distribution else judged.default_check


def build_twins(config, judged=None, data=None, distribution=None, check=None):
    """Twins for `config` (Keras configured for its dtype and seed first; inside the scope of
    `distribution`, a started keras_impl.distribute.Distribution, if given), `judged` the scratch
    network by default, to be compared as `check` says (default_check by default): "blocks" runs
    Keras's fit BLOCK_STEPS steps per execution where the backend can."""
    where = device.configure(config.dtype, config.seed)
    data = data or config.load_dataset()
    judged = judged or our_network(config, data)
    check = check or default_check(judged, distribution)
    together = BLOCK_STEPS if check == "blocks" and runs_steps_together() else 1
    metrics = [StepLosses(keras_loss(config.loss), BLOCK_STEPS)] if check == "blocks" else []
    model = build_twin(judged, config, judged.l2, steps_per_execution=together, metrics=metrics)
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    return Twins(config, where, data, judged, model, plan, distribution, check, metrics[0] if metrics else None)


def run_gradient_check(config, network=None, data=None, print_=print):
    """The gradient check alone, as `compare gradcheck` runs it; returns its report."""
    twins = build_twins(config, network, data, check="every-step")
    rows = twins.check_gradients()
    print_(f"{twins.judged} on {twins.data.name}, Keras on {twins.where}")
    print_(reporting.gradient_table(rows, TOLERANCES[config.dtype], twins.judged.whose))
    report = reporting.gradient_report(twins, rows)
    report["diagnosis"] = diagnosis.as_dicts(twins.diagnose_gradients(rows))
    print_(f"verdict: {report['verdict']} (gradients at step 0, a batch of {report['gradients']['batch_size']})"
           + reporting.diagnosis_words(report))
    return report


def run_comparison(config, run_dir, network=None, data=None, print_=print, stopwatch=None, files=None,
                   distribution=None, check=None, hold=None):
    """Train both twins in lockstep for config.epochs; returns the report (docs/design.md). `network`:
    the network judged (compare/judged.py; default: the scratch network); `files`: what it writes
    where (RunFiles; default: a run folder of its own); `distribution`: a started
    keras_impl.distribute.Distribution that trains the Keras twin, or None; `check`: "blocks"
    (compare/blocks.py) or "every-step" (compare/lockstep.py), by default as default_check says;
    `hold`: an ExitStack that holds signals back, from the start of training until it closes (by
    default until the report is written and the verdict printed; a signal during training still stops
    it, between two steps)."""
    with distribution.scope() if distribution else nullcontext():
        return compare_twins(config, run_dir, network, data, print_, stopwatch or Stopwatch(), files or RunFiles(),
                             distribution, check, hold)


def compare_twins(config, run_dir, network, data, print_, stopwatch, files, distribution, check, hold):
    """run_comparison's work, inside the strategy's scope when distributed."""
    with stopwatch.part("start-up"):
        twins = build_twins(config, network, data, distribution, check)
    keras_on = f"{twins.where}, {distribution}" if distribution else twins.where
    print_(f"Comparing {twins.judged} on {twins.data.name} ({len(twins.data.x_train)} training, "
           f"{len(twins.data.x_val)} validation examples), Keras on {keras_on}")
    with stopwatch.part("gradient check"):
        rows = twins.check_gradients()
        why = twins.diagnose_gradients(rows)
    print_(reporting.gradient_table(rows, TOLERANCES[config.dtype], twins.judged.whose))
    with stopwatch.part("TensorBoard"):
        logs = ComparisonLogs(run_dir, config, config.lr, files.agreement, files.scratch)
        logs.log_gradients(rows)
    with ExitStack() as held:
        keras_board = tensorboard_callback(os.path.join(run_dir, files.keras), histogram_freq=1)
        findings, interrupted_by, lost = train_in_lockstep(twins, logs, keras_board, stopwatch, print_,
                                                           held if hold is None else hold)
        report = reporting.comparison_report(twins, rows, findings, run_dir)
        report["diagnosis"] = diagnosis.as_dicts(why or twins.diagnose_step(findings))
        report.update(interrupted=interrupted_by is not None, interrupted_by=interrupted_by)
        unwritten = ([("the TensorBoard logs", lost)] if lost else []) + \
            write_results(report, run_dir, files, twins.model, stopwatch)
        print_(reporting.verdict_line(report))
    if unwritten:
        raise reporting.NotWritten(", ".join(name for name, _ in unwritten) + f" into {run_dir}", run_dir,
                                   unwritten[0][1], report)
    print_(stopwatch.summary())
    return report


def write_results(report, run_dir, files, model, stopwatch):
    """The plot, Keras's final weights and the report into run_dir, each written whole or not at all;
    returns [(the name of one that could not be written, its OSError: a full disk, the folder deleted
    during the run)]."""
    failed = []

    def attempt(name, write):
        try:
            write(os.path.join(run_dir, name))
        except OSError as e:
            failed.append((name, e))

    def save_weights(path):
        with written_whole(path) as temporary:
            np.savez(temporary, *model.get_weights())

    with stopwatch.part("report"):
        attempt(files.plot, lambda path: reporting.plot(report, path))
        attempt(files.keras_weights, save_weights)
    report["seconds"] = stopwatch.as_dict()
    attempt(files.report, lambda path: reporting.write_json(report, path))
    return failed


def lockstep_callback(twins, findings, stopwatch, on_epoch):
    """The callback that drives the judged network beside Keras's fit and checks the twins."""
    config, data = twins.config, twins.data
    runner = EpochRunner(twins.judged, data.x_train, data.y_train, config.loss, twins.plan, (data.x_val, data.y_val))
    lockstep = Lockstep(runner, StepCheck(twins.judged), findings, config.momentum, stopwatch, on_epoch)
    if twins.check == "blocks":
        return InBlocks(lockstep, KerasReplay(twins.judged, config, config.momentum), twins.step_loss_metric)
    return EveryStep(lockstep)


def train_in_lockstep(twins, logs, keras_board, stopwatch, print_, held):
    """Keras's fit with the lockstep callback; returns (its Findings, why training stopped early: a
    signal's name, a lost worker, logs that could not be written, or None; the OSError that kept the
    logs from being written whole, or None). Signals are held back from the start of training until
    the ExitStack `held` closes; one that comes during training stops it between two steps."""
    config, data = twins.config, twins.data
    findings = Findings(TOLERANCES[config.dtype], twins.judged.parameter_names(),
                        BLOCK_STEPS if twins.check == "blocks" else None)

    def on_epoch(entry, scratch_logs, keras_logs):
        with stopwatch.part("TensorBoard"):
            findings.epoch(entry)
            logs.log_epoch(entry.epoch - 1, scratch_logs, keras_logs, entry.max_abs_weight_diff_per_tensor,
                           twins.judged)
        header = reporting.epoch_header(twins.judged.whose, twins.check) + "\n" if entry.epoch == 1 else ""
        print_(header + reporting.epoch_row(entry))

    callback, interrupted_by, lost = lockstep_callback(twins, findings, stopwatch, on_epoch), None, None
    signals_interrupt()  # start-up is over: from here a signal stops training, and the partial report is written
    held.enter_context(deferred())  # noted, acted on between steps (SignalsStopTraining), never mid-write
    try:
        with stopwatch.part("Keras fit"), np.errstate(over="ignore", invalid="ignore"), \
                twins.distribution.guard() if twins.distribution else nullcontext():  # NaN: caught by loss
            fit_with_plan(twins.model, data.x_train, data.y_train, twins.plan, config.epochs, (data.x_val, data.y_val),
                          callbacks=[callback, keras_board, SignalsStopTraining()], verbose=0)
    except KeyboardInterrupt as e:  # a signal, a lost worker, or raised by your network
        interrupted_by = signal_name(e)
        answered()  # the run is stopping: a second signal changes nothing
        print_(f"Interrupted ({interrupted_by}): writing the partial report.")
    except OSError as e:  # a full disk, the run folder deleted: what is not logged is not run
        lost, interrupted_by = e, f"the TensorBoard logs could not be written ({e.strerror or e})"
        answered()
        print_(f"Stopped: {interrupted_by}; writing the partial report.")
    finally:
        with stopwatch.part("TensorBoard"):
            try:
                logs.log_steps(findings.series(), findings.blocks)
                logs.close()
            except OSError as e:
                lost = lost or e
    return findings, interrupted_by, lost
