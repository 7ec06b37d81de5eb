"""The typed records a comparison's report is made of (docs/design.md, "The report"), and the one
place where the verdict is decided. `report.json` holds them as plain dicts (dataclasses.asdict)."""
import math
from dataclasses import dataclass

import numpy as np

SUMMARY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class GradientRow:
    """One weight or bias tensor at step 0: scratch backprop against Keras and finite differences."""

    name: str
    scratch_vs_keras_max_abs: float
    scratch_vs_keras_rel: float
    scratch_vs_fd_max_abs: float
    scratch_vs_fd_rel: float
    kinks: int  # entries whose +-eps nudge crosses a kink: counted, not judged
    keras_ok: bool
    fd_ok: bool


@dataclass
class EpochEntry:
    """Both twins' summaries of one epoch (SUMMARY_KEYS), how far apart their weights ended it, and how
    far apart a step taken from the same state came at worst."""

    epoch: int  # counted from 1, as the CLIs print it
    scratch: dict
    keras: dict
    max_abs_weight_diff: float
    max_abs_weight_diff_per_tensor: dict
    max_update_error: float  # the per-step check's largest error in this epoch (compare/step_check.py)


@dataclass
class Parting:
    """Where the twins first parted (report key first_divergence: the trajectories; first_step_mismatch:
    a step taken from the same state): a weight, velocity or loss out of tolerance."""

    step: int
    epoch: int
    layer: str
    tensor: str  # a tensor name like dense_2/kernel or dense_2/kernel/velocity, or loss / val_loss
    value: float


@dataclass
class NonFinite:
    """Where training diverged: the first step whose loss was NaN or inf, on which side(s)."""

    side: str
    step: int
    epoch: int
    layer: str
    tensor: str
    scratch_loss: float
    keras_loss: float


@dataclass
class Drift:
    """How the gap between the trajectories grew in a run that amplifies rounding: from its first
    nonzero value to its largest, doubling every `doubling_steps` steps on average."""

    from_step: int
    from_gap: float
    to_step: int
    to_gap: float
    doubling_steps: float


def drift_of(gaps):
    """The Drift of a per-step gap series (None where a step's gap was not measured), or None while
    the gap never grew."""
    measured = [(step, gap) for step, gap in enumerate(gaps) if gap is not None and gap > 0]
    if not measured:
        return None
    start, from_gap = measured[0]
    end, to_gap = measured[int(np.argmax([gap for _, gap in measured]))]  # the first largest gap
    if not to_gap > from_gap:
        return None
    return Drift(start, from_gap, end, to_gap, (end - start) / math.log2(to_gap / from_gap))


def verdict(rows, parting=None, non_finite=None, step_mismatch=None):
    """'mismatch' when a gradient at step 0 or a step taken from the same state disagrees, or
    training diverged; else 'drift' when the trajectories parted all the same; else 'match'."""
    gradients_agree = all(r.keras_ok and r.fd_ok for r in rows)
    if not gradients_agree or step_mismatch is not None or non_finite is not None:
        return "mismatch"
    return "drift" if parting is not None else "match"
