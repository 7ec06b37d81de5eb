"""One comparison: build both twins from one Config, check step 0's gradients, train in lockstep,
log to TensorBoard, and say where (if anywhere) they part. The report's keys: docs/design.md."""
import hashlib
import os
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass

import keras
import numpy as np

from keras_impl import departures_of, device
from keras_impl.interrupts import deferred, signal_name, signals_interrupt
from keras_impl.training import fit_with_plan, tensorboard_callback
from keras_impl.twin import build_twin, keras_loss, runs_steps_together
from scratch.batches import BatchPlan
from scratch.datasets import Dataset
from scratch.network import Network
from scratch.training import EpochRunner, train_step

from . import replicas
from . import report as reporting
from .blocks import BLOCK_STEPS, Blocks
from .gradcheck import gradient_check
from .lockstep import Lockstep
from .records import drift_of, verdict
from .replay import KerasReplay
from .step_check import StepCheck
from .step_losses import StepLosses
from .stopwatch import Stopwatch
from .tensorboard_logs import ComparisonLogs
from .tolerances import TOLERANCES
from .your_network import YourNetwork, your_train_step


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
    network: Network
    model: object  # the compiled keras.Sequential
    plan: BatchPlan
    distribution: object = None  # a keras_impl.distribute.Distribution, or None
    check: str = "every-step"  # or "blocks" (compare/blocks.py)
    step_loss_metric: object = None  # checked in blocks: the StepLosses metric compiled into the model

    def first_batch(self):
        """Step 0's mini-batch (x, y)."""
        return self.plan.first_batch(self.data.x_train, self.data.y_train)

    def check_gradients(self):
        """Step 0's GradientRows, within this dtype's tolerances."""
        x0, y0 = self.first_batch()
        return gradient_check(self.network, self.model, self.config.loss, keras_loss(self.config.loss), x0, y0,
                              TOLERANCES[self.config.dtype])


def build_twins(config, network=None, data=None, distribution=None, check="every-step"):
    """Twins for `config` (Keras configured for its dtype and seed first; inside the scope of
    `distribution`, a started keras_impl.distribute.Distribution, if given), to be compared as
    `check` says: "blocks" runs Keras's fit BLOCK_STEPS steps per execution where the backend can."""
    where = device.configure(config.dtype, config.seed)
    data = data or config.load_dataset()
    network = network or config.build_network(data)
    together = BLOCK_STEPS if check == "blocks" and runs_steps_together() else 1
    metrics = [StepLosses(keras_loss(config.loss), BLOCK_STEPS)] if check == "blocks" else []
    model = build_twin(network, config, steps_per_execution=together, metrics=metrics)
    plan = BatchPlan(len(data.x_train), config.batch_size, config.seed)
    return Twins(config, where, data, network, model, plan, distribution, check, metrics[0] if metrics else None)


def weights_digest(network):
    """SHA-256 of the scratch weights' bytes: equal digests mean bitwise-equal weights."""
    digest = hashlib.sha256()
    for p in network.parameter_copies():
        digest.update(np.ascontiguousarray(p).tobytes())
    return digest.hexdigest()


def run_gradient_check(config, network=None, data=None, print_=print):
    """The gradient check alone, as `compare gradcheck` runs it; returns its report."""
    twins = build_twins(config, network, data)
    rows = twins.check_gradients()
    print_(f"{twins.network} on {twins.data.name}, Keras on {twins.where}")
    print_(reporting.gradient_table(rows, TOLERANCES[config.dtype], whose(twins.network)))
    result, batch_size = verdict(rows), len(twins.first_batch()[0])
    print_(f"verdict: {result} (gradients at step 0, a batch of {batch_size})")
    return {"config": config.as_dict(), "backend": keras.backend.backend(), "device": twins.where,
            "gradients": {"batch_size": batch_size, "layers": [asdict(r) for r in rows]},
            "verdict": result, "keras_departures": keras_departures(twins),
            "implementation": implementation(twins.network)}


def run_comparison(config, run_dir, network=None, data=None, print_=print, stopwatch=None, files=None,
                   distribution=None, check=None):
    """Train both twins in lockstep for config.epochs; returns the report (docs/design.md). `files`:
    what it writes where (RunFiles; default: a run folder of its own); `distribution`: a started
    keras_impl.distribute.Distribution that trains the Keras twin, or None; `check`: "blocks"
    (compare/blocks.py) or "every-step" (compare/lockstep.py); by default blocks, but every step
    when distributed (a replay would need the strategy's other replicas) and for your network
    (a replay restores its weights, not whatever else it keeps)."""
    check = check or ("every-step" if distribution or isinstance(network, YourNetwork) else "blocks")
    with distribution.scope() if distribution else nullcontext():
        return compare_twins(config, run_dir, network, data, print_, stopwatch or Stopwatch(), files or RunFiles(),
                             distribution, check)


def compare_twins(config, run_dir, network, data, print_, stopwatch, files, distribution, check):
    """run_comparison's work, inside the strategy's scope when distributed."""
    with stopwatch.part("start-up"):
        twins = build_twins(config, network, data, distribution, check)
    keras_on = f"{twins.where}, {distribution}" if distribution else twins.where
    print_(f"Comparing {twins.network} on {twins.data.name} ({len(twins.data.x_train)} training, "
           f"{len(twins.data.x_val)} validation examples), Keras on {keras_on}")
    with stopwatch.part("gradient check"):
        rows = twins.check_gradients()
    print_(reporting.gradient_table(rows, TOLERANCES[config.dtype], whose(twins.network)))
    with stopwatch.part("TensorBoard"):
        logs = ComparisonLogs(run_dir, config, config.lr, files.agreement, files.scratch)
        logs.log_gradients(rows)
    with ExitStack() as after_training:
        keras_board = tensorboard_callback(os.path.join(run_dir, files.keras), histogram_freq=1)
        lockstep, epochs, interrupted_by = train_in_lockstep(twins, logs, keras_board, stopwatch, print_,
                                                             after_training)
        report = build_report(twins, rows, lockstep, epochs, run_dir)
        report.update(interrupted=interrupted_by is not None, interrupted_by=interrupted_by)
        with stopwatch.part("report"):
            reporting.plot(report, os.path.join(run_dir, files.plot))
            np.savez(os.path.join(run_dir, files.keras_weights), *twins.model.get_weights())
        report["seconds"] = stopwatch.as_dict()
        reporting.write_json(report, os.path.join(run_dir, files.report))
    print_(reporting.verdict_line(report))
    print_(stopwatch.summary())
    return report


def train_in_lockstep(twins, logs, keras_board, stopwatch, print_, after_training):
    """Keras's fit with the Lockstep callback; returns (lockstep, epoch entries, signal name or None).
    From the moment training ends (or is interrupted), signals wait until `after_training` closes."""
    epochs = []

    def on_epoch(entry, scratch_logs, keras_logs):
        with stopwatch.part("TensorBoard"), deferred():  # the report and the event files hold the same epochs
            epochs.append(entry)
            logs.log_epoch(entry.epoch - 1, scratch_logs, keras_logs, entry.max_abs_weight_diff_per_tensor,
                           twins.network)
        header = reporting.epoch_header(whose(twins.network), twins.check) + "\n" if entry.epoch == 1 else ""
        print_(header + reporting.epoch_row(entry))

    config, data = twins.config, twins.data
    validation = (data.x_val, data.y_val)
    step = your_train_step if isinstance(twins.network, YourNetwork) else train_step
    runner = EpochRunner(twins.network, data.x_train, data.y_train, config.loss, config.build_optimizer(),
                         twins.plan, validation, step)
    names = twins.network.parameter_names()
    step_check = StepCheck(twins.network, config.loss, config.build_optimizer(), names, step)
    arguments = (runner, step_check, config.momentum, names, TOLERANCES[config.dtype], stopwatch,
                 config.epochs * twins.plan.steps_per_epoch, on_epoch)
    if twins.check == "blocks":
        lockstep = Blocks(*arguments, replay=KerasReplay(twins.network, config, config.momentum),
                          step_loss_metric=twins.step_loss_metric)
    else:
        lockstep = Lockstep(*arguments)
    interrupted_by = None
    signals_interrupt()  # from here a signal stops training and the partial report is written
    try:
        with stopwatch.part("Keras fit"), np.errstate(over="ignore", invalid="ignore"), \
                twins.distribution.guard() if twins.distribution else nullcontext():  # NaN: caught by loss
            fit_with_plan(twins.model, data.x_train, data.y_train, twins.plan, config.epochs, validation,
                          callbacks=[lockstep, keras_board], verbose=0)
    except KeyboardInterrupt as e:
        interrupted_by = signal_name(e)
        print_(f"Interrupted ({interrupted_by}): writing the partial report.")
    finally:
        after_training.enter_context(deferred())  # from here on the report is written whole
        with stopwatch.part("TensorBoard"):
            logs.log_steps(lockstep.series(), getattr(lockstep, "blocks", None))
            logs.close()
    return lockstep, epochs, interrupted_by


def build_report(twins, rows, lockstep, epochs, run_dir):
    """The report's keys (docs/design.md) from what the run found, as plain JSON-ready values."""
    config = twins.config
    result = verdict(rows, lockstep.parting, lockstep.non_finite, lockstep.step_mismatch)
    steps = lockstep.series()
    drift = drift_of(steps["weight_gap"]) if result == "drift" else None
    return {
        "config": config.as_dict(), "backend": keras.backend.backend(), "device": twins.where,
        "tolerances": asdict(TOLERANCES[config.dtype]),
        "gradients": {"batch_size": len(twins.first_batch()[0]), "layers": [asdict(r) for r in rows]},
        "epochs": [asdict(e) for e in epochs],
        "check": check_report(twins, lockstep), "steps": steps, "blocks": getattr(lockstep, "blocks", None),
        "first_divergence": lockstep.parting and asdict(lockstep.parting),
        "first_step_mismatch": lockstep.step_mismatch and asdict(lockstep.step_mismatch),
        "non_finite": lockstep.non_finite and asdict(lockstep.non_finite),
        "verdict": result, "drift": drift and asdict(drift),
        "keras_departures": keras_departures(twins),
        "scratch_weights_sha256": weights_digest(twins.network), "logdir": run_dir,
        "implementation": implementation(twins.network), "distribute": distribute_report(twins, lockstep),
    }


def check_report(twins, lockstep):
    """The report's `check`: how the twins were compared (every step, or in blocks with replays)."""
    if twins.check != "blocks":
        return {"mode": "every-step", "block_steps": 1, "replayed": [], "not_exact": None}
    return {"mode": "blocks", "block_steps": lockstep.block_steps, "replayed": lockstep.replayed,
            "not_exact": lockstep.not_exact}


def distribute_report(twins, lockstep):
    """The report's `distribute`: the strategy, its steps that split unevenly and, when the first step
    mismatch is one of them, what Keras computed there (compare/replicas.py); None if not distributed."""
    if twins.distribution is None:
        return None
    spec, steps_run = twins.distribution.spec, lockstep.step
    uneven = [u for u in replicas.uneven_steps(twins.plan, twins.config.epochs, spec.replicas) if u["step"] < steps_run]
    return {**twins.distribution.as_dict(), "uneven_steps": uneven,
            "explanation": replicas.explain(twins.network, twins.config, lockstep, uneven)}


def keras_departures(twins):
    """keras_impl.departures_of this run on the backend Keras runs on."""
    spec = twins.distribution and twins.distribution.spec
    return departures_of(twins.config, keras.backend.backend(), spec, len(twins.data.x_train))


def whose(network):
    """What the printed tables call the network checked: scratch's, or yours."""
    return "yours" if isinstance(network, YourNetwork) else "scratch"


def implementation(network):
    """null for the scratch network; for yours, where it came from and how it takes its steps."""
    if not isinstance(network, YourNetwork):
        return None
    layout = network.layout
    update = f"your {layout.update_method}" if layout.has_update else "the harness's SGD applied to your gradients"
    return {"path": layout.path, "layout": layout.name, "update": update}
