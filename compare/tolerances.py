"""How close the twins must stay, per dtype.

float64: both sides compute the same arithmetic in a different order, so they differ by rounding
(about 1e-16 per operation); float32 rounds at about 6e-8 and drifts further over many steps.
Weight and loss tolerances scale with max(1, magnitude).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    gradient_rel: float  # scratch vs Keras gradients, relative
    fd_rel: float  # scratch vs central finite differences (always float64), relative
    weight_abs: float  # |w_scratch - w_keras| / max(1, |w|), at every step
    step_rel: float  # one step from Keras's own state: |w_probe - w_keras| / max(1, |w|) (step_check.py)
    loss_rel: float  # |C_scratch - C_keras| / max(1, |C|), per step and per epoch


TOLERANCES = {
    "float64": Tolerances(gradient_rel=1e-13, fd_rel=1e-6, weight_abs=1e-12, step_rel=1e-12, loss_rel=1e-11),
    "float32": Tolerances(gradient_rel=1e-5, fd_rel=1e-3, weight_abs=1e-5, step_rel=1e-5, loss_rel=1e-5),
}
FD_EPSILON = 1e-6
