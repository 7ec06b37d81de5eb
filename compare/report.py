"""What a comparison prints and writes: the report (built from the run's Findings, docs/design.md),
the gradient table, a row per epoch, the verdict, the JSON file and a PNG of both training curves
with their difference on a log axis."""
import hashlib
import json
import math
import os
from dataclasses import asdict, is_dataclass

import numpy as np

from keras_impl.runs import written_whole

from .records import drift_of, verdict
from .tolerances import TOLERANCES


def comparison_report(twins, rows, findings, run_dir):
    """The report's keys (docs/design.md) from step 0's GradientRows and the run's Findings, as
    plain JSON-ready values."""
    result = verdict(rows, findings.parting, findings.non_finite, findings.step_mismatch)
    steps = findings.series()
    drift = drift_of(steps["weight_gap"]) if result == "drift" else None
    return {
        **gradient_report(twins, rows), "tolerances": asdict(TOLERANCES[twins.config.dtype]),
        "epochs": [asdict(e) for e in findings.epochs], "check": findings.check, "steps": steps,
        "blocks": findings.blocks, "first_divergence": findings.parting and asdict(findings.parting),
        "first_step_mismatch": findings.step_mismatch and asdict(findings.step_mismatch),
        "non_finite": findings.non_finite and asdict(findings.non_finite),
        "verdict": result, "drift": drift and asdict(drift),
        "scratch_weights_sha256": weights_digest(twins.judged), "logdir": run_dir,
        "distribute": distribute_report(twins, findings),
    }


def gradient_report(twins, rows):
    """The keys of a report that step 0's gradient check gives (all of `compare gradcheck`'s)."""
    import keras

    return {"config": twins.config.as_dict(), "backend": keras.backend.backend(), "device": twins.where,
            "gradients": {"batch_size": len(twins.first_batch()[0]), "layers": [asdict(r) for r in rows]},
            "verdict": verdict(rows), "keras_departures": keras_departures(twins),
            "implementation": twins.judged.implementation, "changed_arguments": twins.judged.changed_arguments()}


def weights_digest(judged):
    """SHA-256 of the judged network's weights' bytes: equal digests mean bitwise-equal weights."""
    digest = hashlib.sha256()
    for p in judged.parameter_copies():
        digest.update(np.ascontiguousarray(p).tobytes())
    return digest.hexdigest()


def distribute_report(twins, findings):
    """The report's `distribute`: the strategy, its steps that split unevenly and, when the first step
    mismatch is one of them, what Keras computed there (compare/replicas.py); None if not distributed."""
    from . import replicas

    if twins.distribution is None:
        return None
    spec = twins.distribution.spec
    uneven = replicas.uneven_steps(twins.plan, findings.steps_run, spec.replicas)
    return {**twins.distribution.as_dict(), "uneven_steps": uneven,
            "explanation": replicas.explain(twins.judged, findings, uneven)}


def keras_departures(twins):
    """keras_impl.departures_of this run on the backend Keras runs on."""
    import keras

    from keras_impl import departures_of

    spec = twins.distribution and twins.distribution.spec
    return departures_of(twins.config, keras.backend.backend(), spec, len(twins.data.x_train))


def gradient_table(rows, tolerances, ours="scratch"):
    """The gradient check as text, a line per weight and bias tensor; `ours` names the network checked
    ("yours" for --implementation)."""
    lines = [
        f"Gradients at step 0: {ours} vs Keras <= {tolerances.gradient_rel:g} relative, "
        f"{ours} vs finite differences <= {tolerances.fd_rel:g} relative",
        f"  {'tensor':<16} {'max|d| keras':>13} {'rel keras':>10} {'rel fd':>10} {'kinks':>6}  verdict",
    ]
    for r in rows:
        verdict = "ok" if r.keras_ok and r.fd_ok else \
            "MISMATCH " + " and ".join(w for w, ok in (("keras", r.keras_ok), ("fd", r.fd_ok)) if not ok)
        lines.append(f"  {r.name:<16} {r.scratch_vs_keras_max_abs:>13.2e} {r.scratch_vs_keras_rel:>10.2e} "
                     f"{r.scratch_vs_fd_rel:>10.2e} {r.kinks:>6}  {verdict}")
    return "\n".join(lines)


def epoch_header(ours="scratch", check="every-step"):
    """The column names over epoch_row's rows; checked in blocks, "block err" is the block check's
    worst error (and of the steps replayed), every step "step err" the per-step check's."""
    error = "block err" if check == "blocks" else "step err"
    return (f"{'epoch':>5} {ours + ' loss':>13} {'keras loss':>13} {'|d loss|':>9} {'max|d w|':>9} "
            f"{error:>9} {ours + ' val acc':>15} {'keras val acc':>13}")


def epoch_row(entry):
    """One EpochEntry as a row under epoch_header()."""
    s, k = entry.scratch, entry.keras
    return (f"{entry.epoch:>5} {s['loss']:>13.8f} {k['loss']:>13.8f} {abs(s['loss'] - k['loss']):>9.1e} "
            f"{entry.max_abs_weight_diff:>9.1e} {entry.max_update_error:>9.1e} "
            f"{s.get('val_accuracy', float('nan')):>15.2%} {k.get('val_accuracy', float('nan')):>13.2%}")


def backends_table(rows, pairwise):
    """`--backend all`'s table: a row per backend (every_backend.row_of), then the final weights of
    each pair of backends that ran."""
    def shown(value, spec):  # "-" for what a run cut short did not measure
        return "-" if value is None or value != value else format(value, spec)

    lines = [f"{'backend':<11} {'device':<28} {'grad err':>9} {'max|d w|':>9} {'val acc':>8} {'seconds':>8}  verdict"]
    for row in rows:
        if row["status"] != "ran":
            lines.append(f"{row['backend']:<11} {row['status']}")
            continue
        lines.append(f"{row['backend']:<11} {row['device'][:28]:<28} {shown(row['gradient_rel_error'], '.1e'):>9} "
                     f"{shown(row['max_abs_weight_diff'], '.1e'):>9} {shown(row['val_accuracy'], '.2%'):>8} "
                     f"{shown(row['seconds'], '.1f'):>8}  {row['verdict']}")
    if pairwise:
        lines.append("Final Keras weights, backend against backend: " + ", ".join(
            f"{p['a']} vs {p['b']} max |d w| {p['max_abs_weight_diff']:.1e}" for p in pairwise))
    return "\n".join(lines)


def verdict_line(report):
    """The verdict in words: match, drift (with how the gap grew) or mismatch (with where), and
    what else your network did that the check should know (changed_arguments_words)."""
    return verdict_words(report) + not_exact_words(report) + changed_arguments_words(report) + \
        diagnosis_words(report)


def diagnosis_words(report):
    """The diagnosis (compare/diagnosis.py) as lines under the verdict: '\nwhy: ...', or ''."""
    return "".join(f"\nwhy: {f['words']}" for f in report.get("diagnosis") or [])


def not_exact_words(report):
    """' A replay did not retrace the run: ...' when one ended elsewhere than the run did, or ''."""
    missed = report["check"].get("not_exact")
    if not missed:
        return ""
    return (f" A replay did not retrace the run: replaying steps {missed['first_step']} to {missed['last_step']} "
            f"ended elsewhere ({missed['max_abs_difference']}), so a step this run names may not be the first "
            "where the twins differ (something the network depends on was not restored: docs/your-own-network.md); "
            "--check every-step finds the first.")


def changed_arguments_words(report):
    """' Your network changed its arguments in place: train_step its x (from step 3); ...', or ''."""
    changes = report.get("changed_arguments")
    if not changes:
        return ""
    return (" Your network changed its arguments in place: " + "; ".join(
        f"{c['method']} its {c['argument']} (first at step {c['step']})" for c in changes) +
        ". Each call had copies of its own, so this touched neither the data nor the check, but a caller "
        "that reuses its arrays would see them changed.")


def verdict_words(report):
    """The verdict line itself, without the notes verdict_line adds after it."""
    done = len(report["epochs"])
    partial = f" (partial: interrupted after {done} epoch{'s' * (done != 1)})" if report.get("interrupted") else ""
    step_tolerance = report["tolerances"]["step_rel"]
    if report["verdict"] == "match":
        largest = f"max |d w| {max(e['max_abs_weight_diff'] for e in report['epochs']):.1e}" if report["epochs"] \
            else f"no epoch ended; largest gap {worst(report['steps']['weight_gap']):.1e} relative"
        if report["check"]["mode"] == "blocks":
            k = report["check"]["block_steps"]
            return (f"verdict{partial}: match. The twins agree within tolerance: gradients at step 0, weights "
                    f"after every block of up to {k} steps ({largest}), losses at every step and "
                    f"epoch; {same_state_words(report)}.")
        return (f"verdict{partial}: match. The twins agree within tolerance: gradients at step 0, "
                f"weights at every step ({largest}), losses at every step and epoch; "
                f"{same_state_words(report)}.")
    if report["verdict"] == "drift":
        return f"verdict{partial}: drift. " + drift_words(report)
    return f"verdict{partial}: mismatch. " + "; ".join(mismatch_parts(report, step_tolerance)) + "." + \
        uneven_split_words(report)


def worst(values):
    """The largest of the values measured (neither None nor NaN), or 0.0."""
    return max((v for v in values if v is not None and v == v), default=0.0)  # v == v: not NaN


def same_state_words(report):
    """'every step taken from Keras's own state agrees within 1e-12 (worst 2.2e-16 relative)', or in
    blocks what the block checks and the replays found."""
    tolerance, worst_step = report["tolerances"]["step_rel"], worst(report["steps"]["update_error"])
    if report["check"]["mode"] != "blocks":
        return f"every step taken from Keras's own state agrees within {tolerance:g} (worst {worst_step:.1e} relative)"
    k, blocks = report["check"]["block_steps"], report["blocks"]["update_error"]
    replayed = sum(1 for e in report["steps"]["update_error"] if e is not None)
    over = sum(1 for e in blocks if e > tolerance)
    words = f"every block of up to {k} steps taken from Keras's own state agrees within {tolerance:g}"
    if over:
        return (words + f" or, where rounding grew past that over the block ({over} of {len(blocks)} blocks, worst "
                f"{worst(blocks):.1e}), every one of its steps does, replayed one by one ({replayed} steps replayed, "
                f"worst {worst_step:.1e})")
    words += f" (worst {worst(blocks):.1e} relative)"
    return words + (f", and so does every one of the {replayed} steps replayed one by one (worst {worst_step:.1e})"
                    if replayed else "")


def uneven_split_words(report):
    """' Step 68 split its 14 examples 5+5+4 over 3 replicas: Keras ...' when the report explains the
    first step mismatch by an uneven split (compare/replicas.py), else ''."""
    why = (report.get("distribute") or {}).get("explanation")
    if not why:
        return ""
    sizes, n = why["replica_sizes"], len(why["replica_sizes"])
    rule = why["error_of_keras_rule"]
    reproduced = "" if rule is None else (f"; that rule reproduces Keras's step to {rule:.1e} (the batch's mean "
                                          f"gradient: {why['error_of_batch_mean']:.1e})")
    return (f" Step {why['step']} (epoch {why['epoch']}) split its {sum(sizes)} examples "
            f"{'+'.join(map(str, sizes))} over {n} replicas, and there Keras stepped along (1/{n}) sum_r grad C_r, "
            f"the mean of the replicas' mean gradients, not the batch's mean gradient{reproduced}. Take a "
            f"--batch-size whose every mini-batch, the last included, splits evenly over {n} replicas "
            "(docs/departures.md).")


def drift_words(report):
    """Why a drift is not a bug: every step agreed from the same state; how the gap grew."""
    where, growth = report["first_divergence"], report.get("drift")
    words = (f"The twins compute the same steps: {same_state_words(report)}. This run amplifies rounding "
             "differences")
    if growth:
        words += (": the gap between the trajectories (max |d w| / max(1, |w|)) grew from "
                  f"{growth['from_gap']:.1e} at step {growth['from_step']} to {growth['to_gap']:.2g} at step "
                  f"{growth['to_step']}, doubling about every {growth['doubling_steps']:.0f} steps")
    return words + (f"; agreement ({report['tolerances']['weight_rel']:g}) was first lost at step {where['step']} "
                    f"(epoch {where['epoch']}) in {where['tensor']}. Not a bug: a smaller --lr keeps the twins "
                    "together longer.")


def divergence_words(report, blowup):
    """Where training diverged, and what to do: a smaller --lr, unless your network alone went
    non-finite while Keras's loss at that step stayed finite (then your code made the NaN or inf)."""
    yours = blowup["side"] == "scratch" and report.get("implementation")
    where = f"at step {blowup['step']} (epoch {blowup['epoch']}), {blowup['tensor']} first; training stopped there"
    keras_losses = report["steps"]["keras_loss"]
    keras_loss = keras_losses[blowup["step"]] if blowup["step"] < len(keras_losses) else None
    if yours and keras_loss is not None and math.isfinite(keras_loss):
        return (f"training diverged: your network's loss became non-finite {where}, while Keras's at that step was "
                f"{keras_loss:.6g}: your code made the NaN or inf (a log of 0, a division by 0, an overflow in its "
                "own arithmetic), not the learning rate")
    side = "your network's" if yours else f"the {blowup['side']}"
    return f"training diverged: {side} loss became non-finite {where}, try a smaller --lr"


def mismatch_parts(report, step_tolerance):
    """Each reason for a mismatch: divergence, the first step that disagrees, the gradients."""
    step, where, blowup = report.get("first_step_mismatch"), report["first_divergence"], report.get("non_finite")
    bad = [r["name"] for r in report["gradients"]["layers"] if not (r["keras_ok"] and r["fd_ok"])]
    parts = []
    if blowup:
        parts.append(divergence_words(report, blowup))
    whose = "your network's" if report.get("implementation") else "the scratch"
    if step and step["tensor"] == "val_loss":
        parts.append(f"after step {step['step']} (epoch {step['epoch']}), at Keras's own weights, {whose} cost of the "
                     f"validation set is not Keras's: {step['value']:.3e} relative (tolerance "
                     f"{report['tolerances']['loss_rel']:g}), so {whose} feedforward or cost differs from Keras's "
                     "there")
    elif step:
        if step["tensor"] == "loss":
            step_tolerance = report["tolerances"]["loss_rel"]
        parts.append(f"step {step['step']} (epoch {step['epoch']}), taken from Keras's own state, disagrees first "
                     f"in {step['tensor']}: {step['value']:.3e} relative (tolerance {step_tolerance:g}), so "
                     f"{whose} step is not Keras's step there")
    if where and not step:
        parts.append(f"agreement first lost at step {where['step']} (epoch {where['epoch']}) in "
                     f"{where['tensor']}: {where['value']:.3e}")
    if bad:
        parts.append(f"gradients disagree in {', '.join(bad)}")
    return parts


def json_safe(value):
    """The report with NaN and inf as null, so that any JSON reader accepts it."""
    if is_dataclass(value):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class NotWritten(Exception):
    """Results that could not be written (a full disk, a folder deleted during the run); the verdict
    was printed all the same. `what`: what was being written, `folder`: where, `error`: the OSError,
    `report`: the run's report, for the writes that may still succeed (--json)."""

    def __init__(self, what, folder, error, report=None):
        why = f"{folder} was deleted during the run" if not os.path.isdir(folder) else error.strerror or str(error)
        super().__init__(f"could not write {what}: {why}; the verdict above stands")
        self.report = report


def write_json(report, path):
    """The report as JSON at `path`, written whole or not at all (keras_impl/runs.written_whole)."""
    with written_whole(path) as temporary, open(temporary, "w") as f:
        json.dump(json_safe(report), f, indent=1)


COST_NAMES = {"quadratic": "quadratic cost", "mse": "mean squared error", "binary_crossentropy": "binary cross-entropy"}


def plot(report, path):
    """Both twins' training and validation loss per epoch, and their differences on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [e["epoch"] for e in report["epochs"]]
    fig, (curves, gaps) = plt.subplots(1, 2, figsize=(11, 4))
    for side, style in (("scratch", "-"), ("keras", "--")):
        for key, color in (("loss", "C0"), ("val_loss", "C1")):
            values = [drawable(e[side].get(key)) for e in report["epochs"]]
            curves.plot(epochs, values, style, color=color, marker="." if len(epochs) < 10 else None,
                        label=f"{side} {key}")
    loss = report["config"]["loss"]
    curves.set(xlabel="epoch", ylabel=f"loss ({COST_NAMES.get(loss, loss)})",
               title="Training curves (they should coincide)")
    curves.legend()
    plot_differences(gaps, report, epochs)
    for axes in (curves, gaps):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    try:
        with written_whole(path) as temporary:
            fig.savefig(temporary, dpi=90)
    finally:
        plt.close(fig)


DRAWABLE = 1e100  # beyond it a run has diverged; matplotlib's log axis overflows computing ticks for 1e264


def drawable(value):
    """A value to draw: NaN (not drawn) for a missing one, NaN, or one beyond +-DRAWABLE (inf too)."""
    return value if value is not None and abs(value) <= DRAWABLE else np.nan


def plot_differences(axes, report, epochs):
    """|d loss|, max |d w| and the per-step check's worst error per epoch on a log axis, the weight
    tolerance, exact zeros as marks on the bottom edge (a log axis has no 0), and the epoch where
    agreement was first lost."""
    series = {"|d loss|": [abs(e["scratch"]["loss"] - e["keras"]["loss"]) for e in report["epochs"]],
              "max |d w|": [e["max_abs_weight_diff"] for e in report["epochs"]],
              f"{'block' if report['check']['mode'] == 'blocks' else 'step'} error (same state)":
                  [e["max_update_error"] for e in report["epochs"]]}
    bottom_edge = axes.get_xaxis_transform()  # x in epochs, y as a fraction of the axes' height
    for (label, values), color in zip(series.items(), ("C0", "C1", "C2")):
        drawn = [drawable(v) if v is not None and v > 0 else np.nan for v in values]  # a log axis: above 0
        axes.semilogy(epochs, drawn, ".-", color=color, label=label)
        zeros = [x for x, v in zip(epochs, values) if v == 0]
        if zeros:
            axes.plot(zeros, [0.03] * len(zeros), "v", color=color, transform=bottom_edge,
                      label=f"{label} exactly 0")
    tolerance = report.get("tolerances", {}).get("weight_rel")
    if tolerance:
        axes.axhline(tolerance, color="red", linestyle=":", label=f"weight tolerance {tolerance:g} x max(1, |w|)")
    where = report.get("first_divergence")
    if where:
        axes.axvline(where["epoch"], color="black", linestyle="--",
                     label=f"agreement first lost: step {where['step']}, {where['tensor']}")
    axes.set(xlabel="epoch", ylabel="|scratch - keras| (log scale)", title="Scratch vs Keras")
    axes.legend(fontsize="small", loc="center right")


def check_writable(path):
    """ValueError now, before training, if a report could not be written to `path` later: the file
    is really created (and removed again, if it was not there before)."""
    if not path:
        raise ValueError("--json needs a file name, like --json report.json")
    if os.path.exists(path) and not os.path.isfile(path):  # a pipe would hang here, a device fail at the end
        raise ValueError(f"--json {path} is not a regular file (a folder, a device or a pipe): give a file name, like "
                         "--json report.json")
    folder = os.path.dirname(path) or "."
    if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):  # written beside, then renamed
        raise ValueError(f"cannot write the report to {path}: its folder is not writable; choose a path in a folder "
                         "you can write to")
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as e:
        raise ValueError(f"cannot write the report to {path}: {e.strerror}; choose a path in a folder you can "
                         "write to") from None
    if not existed:
        os.remove(path)
