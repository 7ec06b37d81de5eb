"""The typed records a comparison's report is made of (docs/design.md, "The report"), and the one
place where the verdict is decided. `report.json` holds them as plain dicts (dataclasses.asdict)."""
from dataclasses import dataclass

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
    """Both twins' summaries of one epoch (SUMMARY_KEYS) and how far apart their weights ended it."""

    epoch: int  # counted from 1, as the CLIs print it
    scratch: dict
    keras: dict
    max_abs_weight_diff: float
    max_abs_weight_diff_per_tensor: dict


@dataclass
class Parting:
    """Where the twins first parted: a weight or a loss out of tolerance (report key first_divergence)."""

    step: int
    epoch: int
    layer: str
    tensor: str  # a tensor name like dense_2/kernel, or loss / val_loss
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


def verdict(rows, parting=None, non_finite=None):
    """'match' when every gradient agrees and the twins neither parted nor diverged, else 'mismatch'."""
    gradients_agree = all(r.keras_ok and r.fd_ok for r in rows)
    return "match" if gradients_agree and parting is None and non_finite is None else "mismatch"
