"""Why a check failed, in the primer's equations (docs/checking.md, "When it says mismatch").

When step 0's gradients disagree, or a step taken from Keras's own state does, the harness holds a
reference it trusts for the same state and batch: the scratch network's BP1-BP4 (scratch/network.py)
at those weights. The judged network's numbers are tested against the known wrong variants of each
equation (compare/wrong_backprop.py) and of the SGD step, and a cause is claimed only where they
*equal* the variant's, every tensor within the dtype's gradient tolerance (norm_relative_error),
never on resemblance:

1. a constant factor k: all gradients k times the reference (or one layer's), with what k usually
   means (the number of outputs, 2, the batch size, -1);
2. a known wrong form of BP1-BP4 (compare/wrong_backprop.py);
3. a forward pass that computes another function: gradients that agree with finite differences
   through the network's own forward pass, but not with Keras;
4. an update rule other than the SGD step, where the gradients are right: the learning rate scaled,
   the biases not updated, weight decay that is not --l2's, another form of momentum;
5. otherwise: not one of the causes this check recognizes.

With an L2 term (--l2) the gradients compared are of C = C0 + (lambda / 2n) sum w^2; the causes
1-3 are about C0, so its term (lambda / n) W is taken out of both sides first (`without_l2`), and a
network whose own gradients held it already is told so.
"""
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from scratch.network import Network
from scratch.regularization import NONE as NO_L2

from .state import State
from .tolerances import max_relative_error, norm_relative_error
from .wrong_backprop import EQUATIONS, wrong_forms

UNKNOWN = "not one of the causes this check recognizes"
AVERAGE_OVER_OUTPUTS = ("mse", "binary_crossentropy")  # Keras's losses that take the mean over the k outputs


@dataclass
class Finding:
    """One cause, with its evidence: the tensors compared, the quantity, the worst relative error."""

    cause: str  # "factor", "equation", "forward pass", "update rule" or "unknown"
    words: str
    evidence: dict = field(default_factory=dict)
    equation: str = None  # "BP1" .. "BP4", for cause "equation"
    layer: str = None  # e.g. "dense_2"


def reference(judged, weights):
    """The scratch network, in float64, with the judged network's sizes and activations at `weights`."""
    network = Network(judged.sizes, [f.name for f in judged.activation_functions], dtype="float64")
    network.set_parameters([np.asarray(w, np.float64) for w in weights])
    return network


def keras_order(nabla_w, nabla_b):
    return [p for pair in zip(nabla_w, nabla_b) for p in pair]


def worst_error(ours, theirs):
    """The largest norm_relative_error over the tensors, or inf where shapes differ."""
    if len(ours) != len(theirs) or any(np.shape(a) != np.shape(b) for a, b in zip(ours, theirs)):
        return np.inf
    return max(norm_relative_error(np.asarray(a, np.float64), b) for a, b in zip(ours, theirs))


def of_gradients(judged, loss, x, y, rows, truth, settings, tolerances, names):
    """The findings for step 0's gradients (GradientRows `rows`; `truth`: Keras's gradients), [] when
    they all agree; `judged` still holds step 0's weights. `settings`: (learning rate, momentum,
    nesterov): the network's own update is then held against SGD's step along its own gradients."""
    if all(r.keras_ok and r.fd_ok for r in rows):
        return []
    ours, tolerance = judged.probe().gradients(x, y), tolerances.gradient_rel
    right = reference(judged, judged.parameter_copies())
    findings = gradient_causes(ours, truth, right, loss, x, y, tolerance, names, l2=judged.l2)
    if not findings and all(r.fd_ok for r in rows):
        findings = [another_function(judged, right, x, tolerance)]
    if not findings:
        findings = [Finding("unknown", f"{UNKNOWN}: the gradients disagree first in "
                                       f"{next(r.name for r in reversed(rows) if not (r.keras_ok and r.fd_ok))}")]
    return findings + own_update(judged, judged.snapshot(), (x, y, None), ours, settings, tolerances.step_rel)


def own_update(judged, state, batch, gradients, settings, tolerance):
    """[] when the network's own step from `state` on `batch` is SGD's step along its own `gradients`
    (or the harness takes its steps); else what its update does instead."""
    if judged.applies_gradients or not all(np.isfinite(g).all() for g in gradients):
        return []  # the harness's own step; or none to hold it against
    probe = judged.probe()
    probe.restore(state)
    probe.train_step(*batch)
    reached, expected = probe.snapshot(), sgd_step(state, gradients, settings)
    if all(max_relative_error(a, b) <= tolerance for a, b in zip(reached.weights + reached.velocities,
                                                                  expected.weights + expected.velocities)):
        return []
    return update_causes(reached, state, expected, gradients, settings, tolerance) or [
        Finding("unknown", f"{UNKNOWN}: besides, your update is not SGD's step along your own gradients")]


def sgd_step(state, g, settings):
    """The State SGD (Keras's form of momentum) reaches from `state` along the gradients g."""
    lr, mu, nesterov = settings
    if mu == 0:
        return State([w - lr * g_ for w, g_ in zip(state.weights, g)], [])
    v = [mu * v_ - lr * g_ for v_, g_ in zip(state.velocities or [np.zeros_like(w) for w in state.weights], g)]
    step = [mu * v_ - lr * g_ for v_, g_ in zip(v, g)] if nesterov else v
    return State([w + s for w, s in zip(state.weights, step)], v)


def gradient_causes(ours, truth, right, loss, x, y, tolerance, names, batch_size=None, l2=None):
    """Findings that reproduce the gradients `ours` exactly from the right ones, `truth`, or from the
    reference network `right`'s forward pass: the L2 term counted twice, a constant factor, then a wrong
    form of BP1-BP4, then a factor in some layers only. `l2`: the run's L2 term; both sides' gradients
    hold it, and the causes are looked for in C0's."""
    if not all(np.isfinite(g).all() for g in ours):
        return [Finding("unknown", f"{UNKNOWN}: your gradients hold NaN or inf",
                        {"tensors": [n for n, g in zip(names, ours) if not np.isfinite(g).all()]})]
    terms = (l2 or NO_L2).gradients(right.parameter_copies())
    ours, truth = ([g - t for g, t in zip(gradients, terms)] for gradients in (ours, truth))
    if l2:
        error = worst_error([g - t for g, t in zip(ours, terms)], truth)
        if error <= tolerance:
            return [Finding("l2", "your gradients hold the L2 term (lambda / n) W already, and the harness adds it: "
                            "return the gradient of C0 alone, as the book's backprop does (docs/your-own-network.md)",
                            {"quantity": "your gradients against C's plus (lambda / n) W", "relative_error": error})]
    found = constant_factor(ours, truth, tolerance, len(x), right.sizes[-1], loss, batch_size)
    if found:
        return [found]
    for form in wrong_forms(right, x, y, loss):
        gradients = keras_order(*form.gradients())
        if worst_error(gradients, truth) <= tolerance:
            continue  # the same as the right form here (f'(a) = f'(z) for ReLU): it explains nothing
        error = worst_error(ours, gradients)
        if error <= tolerance:
            words = (f"your gradients are exactly those of {form.words}, where the primer has "
                     f"{EQUATIONS[form.equation]} (every tensor within {error:.1e})")
            evidence = {"tensors": names, "quantity": f"gradients against {form.name}", "relative_error": error}
            return [Finding("equation", words, evidence, form.equation, form.layer)]
    return layer_factors(ours, truth, tolerance, names)


def exact_factor(ours, truth, tolerance):
    """k where ours == k truth in every tensor given (within tolerance), else None."""
    norm = sum(float(np.vdot(t, t)) for t in truth)
    if norm == 0:
        return None
    k = sum(float(np.vdot(np.asarray(o, np.float64), t)) for o, t in zip(ours, truth)) / norm
    return k if worst_error(ours, [k * t for t in truth]) <= tolerance else None


def constant_factor(ours, truth, tolerance, n, outputs, loss, batch_size=None):
    """A Finding for gradients that are one constant k times the right ones, or None. `batch_size`:
    the run's, at a later step than 0 (step 0's gradients were right, so only readings that depend
    on the mini-batch can hold there)."""
    k = exact_factor(ours, truth, tolerance)
    if k is None or abs(k - 1) <= tolerance:
        return None
    if k == 0:
        return Finding("factor", "your gradients are all zero", {"factor": 0.0, "quantity": "gradients"})
    readings = factor_meanings(n, outputs, loss) if batch_size is None else batch_meanings(n, batch_size)
    meanings = [words for value, words in readings if abs(k - value) <= 1e-9 * abs(value)]
    said = " or ".join(meanings) if meanings else "not a factor this check knows a reason for"
    both = f" ({len(meanings)} readings fit: another --batch-size tells them apart)" if len(meanings) > 1 else ""
    error = worst_error(ours, [k * t for t in truth])
    return Finding("factor", f"every gradient is {k:.6g} times the right one: {said}{both}",
                   {"factor": k, "quantity": "gradients against k x BP1-BP4's", "relative_error": error})


def batch_meanings(n, batch_size):
    """The readings of a factor k that can first show after step 0: those of the mini-batch's size n."""
    meanings = [(float(n), f"a sum over the mini-batch of {n} where the cost takes the mean"),
                (1 / n, f"the mean over the mini-batch of {n} taken twice")]
    if n != batch_size:
        meanings.append((n / batch_size, f"your code divides by --batch-size {batch_size} where this mini-batch has "
                                         f"{n} examples"))
    return [(k, words) for k, words in meanings if k != 1]


def factor_meanings(n, outputs, loss):
    """(k, what a gradient k times the right one usually means) for a batch of n and `outputs` outputs."""
    over_outputs = (float(outputs), f"your cost sums over the {outputs} outputs where --loss {loss} averages them") \
        if loss in AVERAGE_OVER_OUTPUTS else (1 / outputs, f"your cost averages over the {outputs} outputs where "
                                                           f"--loss {loss} sums them")
    meanings = [(-1.0, "the sign is flipped: a step up the gradient (gradient ascent)"), over_outputs,
                (float(n), f"a sum over the mini-batch of {n} where the cost takes the mean"),
                (1 / n, f"the mean over the mini-batch of {n} taken twice")]
    if loss == "binary_crossentropy":
        meanings[1] = (meanings[1][0], meanings[1][1] + ": --loss cross_entropy (the book's) matches")
    if loss == "cross_entropy":
        meanings[1] = (meanings[1][0], meanings[1][1] + ": --loss binary_crossentropy (Keras's) matches")
    if loss == "quadratic":
        meanings += [(2.0, "the quadratic cost without its 1/2 (C = 1/n sum ||y - a||^2)"),
                     (2 / outputs, "your cost is Keras's mean squared error, 1/(nk) sum ||y - a||^2: --loss mse "
                                   "matches")]
    if loss == "mse":
        meanings += [(0.5, "the cost with a 1/2 that mean squared error does not have"),
                     (outputs / 2, "your cost is the primer's quadratic cost, 1/(2n) sum ||y - a||^2: --loss "
                                   "quadratic matches")]
    return [(k, words) for k, words in meanings if k != 1]


def layer_factors(ours, truth, tolerance, names):
    """Findings for the layers whose gradients are k != 1 times the right ones, when every layer's are
    some constant times the right ones."""
    pairs = range(0, len(truth), 2)
    factors = {i: exact_factor(ours[i:i + 2], truth[i:i + 2], tolerance) for i in pairs}
    if any(k is None for k in factors.values()) or all(abs(k - 1) <= tolerance for k in factors.values()):
        return []
    layer_of = {i: names[i].split("/")[0] for i in pairs}
    right = [layer_of[i] for i, k in factors.items() if abs(k - 1) <= tolerance]
    others = f", {' and '.join(right)}'s are right" if right else ""
    return [layer_factor(ours[i:i + 2], truth[i:i + 2], k, names[i:i + 2], others) for i, k in factors.items()
            if abs(k - 1) > tolerance]


def layer_factor(ours, truth, k, names, others):
    layer = names[0].split("/")[0]
    return Finding("factor", f"the gradients of {layer} are {k:.6g} times the right ones{others}",
                   {"factor": k, "tensors": names, "quantity": "that layer's gradients against k x BP1-BP4's",
                    "relative_error": worst_error(ours, [k * t for t in truth])}, layer=layer)


def another_function(judged, right, x, tolerance):
    """The Finding for gradients right for the function the network computes, which is not the twins'."""
    ours, theirs = np.asarray(judged.outputs(x), np.float64), right.feedforward(np.asarray(x, np.float64))
    off = np.abs(ours - theirs).max(axis=0) > tolerance * np.maximum(1.0, np.abs(theirs).max(axis=0))
    columns = [int(j) for j in np.flatnonzero(off)]
    return Finding("forward pass", "your backprop is right for the function your feedforward computes (finite "
                   "differences through it agree), but that function is not the network the flags describe: on "
                   f"step 0's batch its outputs differ from the math's by up to {np.abs(ours - theirs).max():.2e}, "
                   f"in outputs {columns}", {"quantity": "outputs on step 0's batch against a^L of the flags' network",
                                             "max_abs_difference": float(np.abs(ours - theirs).max()),
                                             "outputs": columns})


def as_dicts(findings):
    return [asdict(f) for f in findings]


def of_step(judged, loss, states, step, settings, tolerances, names, batch_size):
    """The findings for `step`, the first step that disagreed taken from Keras's own state: `states`
    (Keras's State before and after it, its mini-batch, the judged network's own state before it),
    `settings` (learning rate, momentum, nesterov), `batch_size` the run's. Gradients first, at
    Keras's state before it; if they are right, the update rule."""
    before, after, (x, y, labels), own = states
    probe = judged.probe()
    probe.restore(replace(before, rest=own))
    right = reference(judged, before.weights)
    truth = [g + t for g, t in zip(keras_order(*right.backprop(x, y, loss)), judged.l2.gradients(before.weights))]
    ours = probe.gradients(x, y)
    if worst_error(ours, truth) > tolerances.gradient_rel:
        return (gradient_causes(ours, truth, right, loss, x, y, tolerances.gradient_rel, names, batch_size,
                                judged.l2) or [
            Finding("unknown", f"{UNKNOWN}: at step {step} the gradients from Keras's state are not BP1-BP4's")]) + \
            own_update(judged, replace(before, rest=own), (x, y, labels), ours, settings, tolerances.step_rel)
    if judged.applies_gradients:
        return [Finding("unknown", f"{UNKNOWN}: the gradients at step {step} are right, and the harness took the step")]
    probe.restore(replace(before, rest=own))
    probe.train_step(x, y, labels)
    return update_causes(probe.snapshot(), before, after, truth, settings, tolerances.step_rel, judged.l2) or [
        Finding("unknown", f"{UNKNOWN}: the gradients at step {step} are right, your update is not SGD's step")]


def update_causes(reached, before, after, g, settings, tolerance, l2=None):
    """Findings for an update that reached `reached` from `before` with the right gradients g, where
    Keras reached `after`: each candidate rule is taken whole and compared as the step check does.
    `l2`: the run's L2 term, whose weight decay Keras's step holds."""
    lr, mu, nesterov = settings
    w0, ours = before.weights, reached.weights
    d_keras = [k - w for k, w in zip(after.weights, w0)]

    def claim(candidate, velocities=None):
        """The rule's worst error if it reproduces your weights and velocities (Keras's, unless it says)."""
        pairs = list(zip(ours, candidate)) + list(zip(reached.velocities, after.velocities if velocities is None
                                                      else velocities))
        error = max(max_relative_error(o, c) for o, c in pairs)
        return error if error <= tolerance else None

    found = momentum_forms(w0, before.velocities, g, settings, claim)
    if all(max_relative_error(o, k) <= tolerance for o, k in zip(ours, after.weights)):
        return found  # the weights are right: only the velocities can be wrong
    k = exact_factor([o - w for o, w in zip(ours, w0)], d_keras, np.inf)
    scaled = [w + k * d for w, d in zip(w0, d_keras)] if k is not None and abs(k - 1) > tolerance else None
    error = claim(scaled) if mu == 0 and scaled is not None else None
    if error is not None:
        found.append(update_finding(f"your step is {k:.6g} times SGD's: a learning rate of {k * lr:.6g} where --lr "
                                    f"is {lr:g}", error))
    error = claim([w + d if i % 2 == 0 else w for i, (w, d) in enumerate(zip(w0, d_keras))])
    if error is not None:
        found.append(update_finding("the biases are not updated (the weights are, as SGD updates them)", error))
    return found + weight_decay(w0, d_keras, ours, claim, lr, l2)


def update_finding(words, error):
    return Finding("update rule", words, {"quantity": "weights after your step against that rule's, from Keras's "
                                                      "state", "relative_error": error})


def weight_decay(w0, d_keras, ours, claim, lr, l2=None):
    """[Finding] for w -> (1 - c) w - eta dC0/dw on the weights (not the biases) with a decay c other than
    the run's, eta lambda / n with --l2 (the `l2` term), 0 without."""
    kernels, decay = range(0, len(w0), 2), lr * l2.rate if l2 else 0.0
    extra = [ours[i] - w0[i] - d_keras[i] for i in kernels]
    norm = sum(float(np.vdot(w0[i], w0[i])) for i in kernels)
    c = -sum(float(np.vdot(e, w0[i])) for e, i in zip(extra, kernels)) / norm if norm else 0.0
    candidate = [w + d - c * w if i % 2 == 0 else w + d for i, (w, d) in enumerate(zip(w0, d_keras))]
    error = claim(candidate) if c > 0 or (decay and c < 0) else None
    return [] if error is None else [update_finding(decay_words(decay + c, decay, lr, l2), error)]


def decay_words(yours, decay, lr, l2):
    """What your weight decay (1 - yours) is, against the run's (1 - decay) from --l2."""
    if not decay:
        lmbda = f" (--l2 {yours * l2.n / lr:.6g} asks for it)" if l2 is not None else ""
        return f"weight decay the run did not ask for: w -> (1 - {yours:.6g}) w - eta dC/dw on the weights{lmbda}"
    if abs(yours) <= 1e-9 * decay:
        return (f"your update leaves out the weight decay of --l2 {l2.lmbda:g}: w -> (1 - eta lambda / n) w - eta "
                f"dC0/dw, (1 - {decay:.6g}) here, where yours keeps w (are lmbda and n used?)")
    return (f"your weight decay is (1 - {yours:.6g}) where --l2 {l2.lmbda:g} gives (1 - eta lambda / n) = "
            f"(1 - {decay:.6g}): lambda / n taken as {yours / lr:.6g} where it is {l2.rate:.6g}")


def momentum_forms(w0, v, g, settings, claim):
    """[Finding] for momentum in a form other than Keras's, from Keras's velocities v and the right g."""
    lr, mu, nesterov = settings
    if mu == 0 or not v:
        return []
    v_new = [mu * v_ - lr * g_ for v_, g_ in zip(v, g)]
    other = [w + mu * vn - lr * g_ for w, vn, g_ in zip(w0, v_new, g)] if not nesterov else \
        [w + vn for w, vn in zip(w0, v_new)]
    torch_v = [mu * v_ + g_ for v_, g_ in zip(v, g)]
    forms = [(other, v_new, "Nesterov's momentum where the run asked for plain momentum (add --nesterov)" if not
              nesterov else "plain momentum where the run asked for Nesterov's (leave out --nesterov)"),
             ([w - lr * t for w, t in zip(w0, torch_v)], torch_v,
              "velocities in PyTorch's convention (v -> mu v + g, w -> w - eta v) where Keras's is v -> mu v - eta g, "
              "w -> w + v")]
    errors = [(claim(weights, velocities), words) for weights, velocities, words in forms]
    return [update_finding(words, error) for error, words in errors if error is not None]
