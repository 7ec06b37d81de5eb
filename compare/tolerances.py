"""How close the twins must stay, per dtype, and the one way every check in compare/ measures it.

float64: both sides compute the same arithmetic in a different order, so they differ by rounding
(about 1e-16 per operation); float32 rounds at about 6e-8 and drifts further over many steps.

The scale convention, for every gap between two tensors: the difference is measured relative to
max(1, magnitude of Keras's side), the reference (a network that blows its own weights up cannot
shrink its error by it):

    max_relative_error(ours, theirs) = max |ours - theirs| / max(1, max |theirs|)

so a value near 0 is held to an absolute tolerance, a large one to a relative one. Losses likewise:
|ours - theirs| / max(1, |C|), C the size of the loss compared (loss_error). Finite
differences are noisier and are judged by a norm-relative error instead (norm_relative_error).
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerances:
    gradient_rel: float  # scratch vs Keras gradients at step 0: max_relative_error
    fd_rel: float  # scratch vs central finite differences (always float64): norm_relative_error
    weight_rel: float  # the trajectories' weights at every step or block end, relative to scale_of(Keras's)
    step_rel: float  # one step from Keras's own state against Keras's (step_check.py): max_relative_error
    loss_rel: float  # |C_scratch - C_keras| / max(1, |C|), per step, per block and per epoch


TOLERANCES = {
    "float64": Tolerances(gradient_rel=1e-13, fd_rel=1e-6, weight_rel=1e-12, step_rel=1e-12, loss_rel=1e-11),
    "float32": Tolerances(gradient_rel=1e-5, fd_rel=1e-3, weight_rel=1e-5, step_rel=1e-5, loss_rel=1e-5),
}
FD_EPSILON = 1e-6


def within(error, tolerance):
    """Whether `error` is within `tolerance`; never for NaN (which compares False with everything)."""
    return error <= tolerance


def scale_of(reference):
    """max(1, max |reference|): what a gap from `reference` is divided by."""
    return max(1.0, float(np.max(np.abs(reference))))


def max_relative_error(ours, theirs):
    """max |ours - theirs| / scale_of(theirs), where equal entries (inf and inf too) differ by 0;
    NaN when either side holds NaN."""
    gap = np.abs(ours - theirs)
    if not np.isfinite(gap).all():  # inf - inf is NaN, yet both sides overflowed alike
        gap[ours == theirs] = 0
    return float(gap.max()) / scale_of(theirs)


def worst_of(errors):
    """The largest of {tensor name: error}: a block's or a step's error is its worst tensor's (NaN if any is)."""
    return float(np.max(list(errors.values())))


def loss_error(ours, theirs, scale):
    """|ours - theirs| / max(1, |scale|) for two losses, `scale` the size of the loss compared."""
    return abs(ours - theirs) / max(1.0, abs(scale))


def norm_relative_error(a, b, floor=0.0):
    """||a - b|| / max(||a|| + ||b||, floor); 0 when both are zero."""
    scale = max(np.linalg.norm(a) + np.linalg.norm(b), floor)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)
