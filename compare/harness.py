"""One comparison: build both twins from one Config, check step 0's gradients, train in lockstep,
log to TensorBoard, and say where (if anywhere) they part."""
import hashlib
import os
from contextlib import ExitStack

import numpy as np

from keras_impl import departures, device
from keras_impl.training import PlanTensorBoard, fit_with_plan
from keras_impl.twin import build_twin, keras_loss
from scratch.batches import BatchPlan
from scratch.training import EpochRunner

from . import report as reporting
from .gradcheck import gradient_check
from keras_impl.interrupts import deferred, signal_name, signals_interrupt
from .lockstep import Lockstep
from .stopwatch import Stopwatch
from .tensorboard_logs import ComparisonLogs
from .tolerances import TOLERANCES


def weights_digest(network):
    """SHA-256 of the scratch weights' bytes: equal digests mean bitwise-equal weights."""
    digest = hashlib.sha256()
    for p in network.get_parameters():
        digest.update(np.ascontiguousarray(p).tobytes())
    return digest.hexdigest()


def prepare(config, network=None, data=None):
    """(device, data, network, model, plan): both twins from the same initial weights."""
    where = device.configure(config.dtype, config.seed)
    data = data or config.load_dataset()
    network = network or config.build_network(data)
    model = build_twin(network, config)
    return where, data, network, model, BatchPlan(len(data.x_train), config.batch_size, config.seed)


def first_batch(data, plan):
    order = plan.permutation(0)
    first = plan.slices()[0]
    return data.x_train[order][first], data.y_train[order][first]


def check_gradients(config, network=None, data=None, print_=print):
    """The gradient check alone; returns the report (verdict and gradient rows)."""
    where, data, network, model, plan = prepare(config, network, data)
    tolerances = TOLERANCES[config.dtype]
    x0, y0 = first_batch(data, plan)
    rows = gradient_check(network, model, config.loss, keras_loss(config.loss), x0, y0, tolerances)
    print_(f"{network} on {data.name}, Keras on {where}")
    print_(reporting.gradient_table(rows, tolerances))
    ok = all(r["keras_ok"] and r["fd_ok"] for r in rows)
    print_(f"verdict: {'match' if ok else 'mismatch'} (gradients at step 0, a batch of {len(x0)})")
    return {"config": config.as_dict(), "device": where, "gradients": {"batch_size": len(x0), "layers": rows},
            "verdict": "match" if ok else "mismatch", "keras_departures": departures(config.output_activation, config.loss)}


def build_report(config, where, tolerances, gradients, epochs, lockstep, network, run_dir):
    """The report's keys (docs/design.md) from what the run found."""
    gradients_ok = all(r["keras_ok"] and r["fd_ok"] for r in gradients["layers"])
    agreed = gradients_ok and lockstep.first_divergence is None and lockstep.non_finite is None
    return {
        "config": config.as_dict(), "device": where, "tolerances": vars(tolerances),
        "gradients": gradients,
        "epochs": epochs,
        "steps": {"scratch_loss": lockstep.step_losses["scratch"], "keras_loss": lockstep.step_losses["keras"]},
        "first_divergence": lockstep.first_divergence, "non_finite": lockstep.non_finite,
        "verdict": "match" if agreed else "mismatch",
        "keras_departures": departures(config.output_activation, config.loss),
        "scratch_weights_sha256": weights_digest(network), "logdir": run_dir,
    }


def run_comparison(config, run_dir, network=None, data=None, print_=print, stopwatch=None):
    """Train both twins in lockstep for config.epochs; returns the report (see docs/design.md)."""
    stopwatch = stopwatch or Stopwatch()
    with stopwatch.part("start-up"):
        where, data, network, model, plan = prepare(config, network, data)
    tolerances = TOLERANCES[config.dtype]
    print_(f"Comparing {network} on {data.name} ({len(data.x_train)} training, {len(data.x_val)} validation "
           f"examples), Keras on {where}")
    x0, y0 = first_batch(data, plan)
    with stopwatch.part("gradient check"):
        rows = gradient_check(network, model, config.loss, keras_loss(config.loss), x0, y0, tolerances)
    print_(reporting.gradient_table(rows, tolerances))

    with stopwatch.part("TensorBoard"):
        logs = ComparisonLogs(run_dir, config, config.lr)
        logs.log_gradients(rows)
    epochs = []

    def on_epoch(epoch, scratch_logs, keras_logs, diffs):
        entry = {"epoch": epoch + 1,
                 "scratch": {k: scratch_logs[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")},
                 "keras": {k: keras_logs[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")},
                 "max_abs_weight_diff": max(diffs.values()), "max_abs_weight_diff_per_tensor": diffs}
        with stopwatch.part("TensorBoard"), deferred():  # the report and the event files hold the same epochs
            epochs.append(entry)
            logs.log_epoch(epoch, scratch_logs, keras_logs, diffs, lockstep.runner.network)
        if epoch == 0:
            print_(reporting.EPOCH_HEADER)
        print_(reporting.epoch_row(entry))

    validation = (data.x_val, data.y_val)
    runner = EpochRunner(network, data.x_train, data.y_train, config.loss, config.build_optimizer(), plan, validation)
    lockstep = Lockstep(runner, network.parameter_names(), tolerances, stopwatch, on_epoch)
    keras_board = PlanTensorBoard(os.path.join(run_dir, "keras"), histogram_freq=1)
    inside_fit = ("scratch", "comparing", "TensorBoard")
    already = {name: stopwatch.seconds[name] for name in inside_fit}
    interrupted_by = None
    signals_interrupt()  # from here a signal stops training and the partial report is written
    with ExitStack() as after_training:
        try:
            with stopwatch.part("Keras fit"), np.errstate(over="ignore", invalid="ignore"):  # NaN: caught by loss
                fit_with_plan(model, data.x_train, data.y_train, plan, config.epochs, validation,
                              callbacks=[lockstep, keras_board], verbose=0)
        except KeyboardInterrupt as e:
            interrupted_by = signal_name(e)
            print_(f"Interrupted ({interrupted_by}): writing the partial report.")
        finally:
            after_training.enter_context(deferred())  # from here on the report is written whole
            stopwatch.seconds["Keras fit"] -= sum(stopwatch.seconds[n] - already[n] for n in inside_fit)
            with stopwatch.part("TensorBoard"):
                logs.log_steps(lockstep.step_losses)
                logs.close()
        report = build_report(config, where, tolerances, {"batch_size": len(x0), "layers": rows}, epochs, lockstep,
                              network, run_dir)
        report.update(interrupted=interrupted_by is not None, interrupted_by=interrupted_by)
        with stopwatch.part("report"):
            reporting.plot(report, os.path.join(run_dir, "comparison.png"))
        report["seconds"] = stopwatch.as_dict()
        reporting.write_json(report, os.path.join(run_dir, "report.json"))
    print_(reporting.verdict_line(report))
    print_(stopwatch.summary())
    return report
