"""The wrong forms of BP1-BP4 that people write, computed exactly on the scratch network's own forward
pass (compare/diagnosis.py holds a network's gradients against each). The right forms, as
scratch/network.py writes them for a batch (rows are examples):

    delta^L = dC/da^L * f_L'(z^L)                       (BP1)
    delta^l = (delta^{l+1} W^{l+1}T) * f_l'(z^l)        (BP2)
    dC/db^l = sum over the batch of delta^l              (BP3)
    dC/dW^l = a^{l-1}T delta^l                          (BP4)

and the wrong ones: BP1 without f'(z^L); f' evaluated at a instead of z (in BP1, BP2 or both); BP2
without f'(z^l); BP2 without the transpose (square W only); BP3 as a mean over the batch where the
sum is meant; BP4 with a^l in place of a^{l-1} (square W only). Each wrong form of BP2-BP4 is tried
in every layer at once (a loop written wrong) and in each layer alone.
"""
from dataclasses import dataclass, field

import numpy as np

from scratch import losses

EQUATIONS = {"BP1": "BP1: delta^L = dC/da^L * f_L'(z^L)", "BP2": "BP2: delta^l = (delta^{l+1} W^{l+1}T) * f_l'(z^l)",
             "BP3": "BP3: dC/db^l = sum over the batch of delta^l", "BP4": "BP4: dC/dW^l = a^{l-1}T delta^l"}


def f_prime_at_a(f, a):
    """f' evaluated at a where z belongs: f'(a), e.g. sigma(a) (1 - sigma(a))."""
    return f.prime(a, f(a))


def backprop_as(network, x, y, loss, bp1=None, bp2=None, bp3=(), bp4=()):
    """(nabla_w, nabla_b) by BP1-BP4 with the wrong forms asked for: bp1 "no f'" or "f'(a)"; bp2
    {layer l: "no f'", "f'(a)" or "no transpose"}; bp3 and bp4: the layers l (1-based) where BP3 takes
    the mean and BP4 takes a^l."""
    loss, fs, bp2 = losses.get(loss), network.activation_functions, bp2 or {}
    zs, a = network.forward(np.asarray(x, np.float64))
    if bp1 == "no f'":
        delta = loss.prime(zs[-1], a[-1], y, fs[-1])
    elif bp1 == "f'(a)":
        delta = loss.prime(zs[-1], a[-1], y, fs[-1]) * f_prime_at_a(fs[-1], a[-1])
    else:
        delta = loss.output_delta(zs[-1], a[-1], y, fs[-1])
    nabla_w, nabla_b = [None] * network.num_layers, [None] * network.num_layers
    for i in reversed(range(network.num_layers)):  # layer l = i + 1
        nabla_w[i] = (a[i + 1] if i + 1 in bp4 else a[i]).T @ delta
        nabla_b[i] = delta.mean(axis=0) if i + 1 in bp3 else delta.sum(axis=0)
        if i > 0:  # delta^i by BP2, through W^{i+1} and f_i
            form, W, f = bp2.get(i), network.weights[i], fs[i - 1]
            back = delta @ (W if form == "no transpose" else W.T)
            delta = back if form == "no f'" else back * f_prime_at_a(f, a[i]) if form == "f'(a)" else \
                f.backward(zs[i - 1], a[i], back)
    return nabla_w, nabla_b


@dataclass
class WrongForm:
    """One wrong form: its name, the equation and layer it is in (None: every layer), what it says."""

    name: str
    equation: str
    layer: str
    words: str
    network: object = field(repr=False)
    batch: tuple = field(repr=False)
    switches: dict = field(default_factory=dict)

    def gradients(self):
        return backprop_as(self.network, *self.batch, **self.switches)


def wrong_forms(network, x, y, loss):
    """Every wrong form that applies to `network` (its activations and shapes), BP1's first."""
    fs, sizes, hidden = network.activation_functions, network.sizes, range(1, network.num_layers)
    batch = (x, y, loss)

    def form(name, equation, layers, words, **switches):
        where = "every layer" if layers is None else f"dense_{layers}"
        return WrongForm(name, equation, None if layers is None else f"dense_{layers}",
                         f"{name} in {where}: {words}", network, batch, switches)

    forms = []
    if fs[-1].prime is not None:
        forms += [form("BP1 without f'(z^L)", "BP1", len(sizes) - 1, "delta^L = dC/da^L, without the factor f_L'(z^L)",
                       bp1="no f'"),
                  form("BP1 with f'(a^L)", "BP1", len(sizes) - 1, "f' evaluated at a^L where z^L belongs", bp1="f'(a)")]
    for layers in ([None] + list(hidden) if len(hidden) > 1 else list(hidden)):
        chosen = list(hidden) if layers is None else [layers]
        square = all(sizes[l] == sizes[l + 1] for l in chosen)
        forms += [form("BP2 without f'(z^l)", "BP2", layers, "delta^l = delta^{l+1} W^{l+1}T, without the factor "
                       "f_l'(z^l)", bp2={l: "no f'" for l in chosen}),
                  form("BP2 with f'(a^l)", "BP2", layers, "f' evaluated at a^l where z^l belongs",
                       bp2={l: "f'(a)" for l in chosen})]
        if square:
            forms.append(form("BP2 without the transpose", "BP2", layers, "delta^{l+1} W^{l+1} where W^{l+1}T belongs",
                              bp2={l: "no transpose" for l in chosen}))
    if fs[-1].prime is not None and len(hidden):
        forms.append(form("f'(a) in BP1 and BP2", "BP1", None, "f' evaluated at a where z belongs, in BP1 and BP2",
                          bp1="f'(a)", bp2={l: "f'(a)" for l in hidden}))
    every = range(1, network.num_layers + 1)
    for layers in ([None] + list(every) if len(every) > 1 else list(every)):
        chosen = list(every) if layers is None else [layers]
        forms.append(form("BP3 as a mean", "BP3", layers, "the mean of delta^l over the batch where the sum belongs "
                          "(the cost's 1/n is already in delta^L)", bp3=set(chosen)))
        if all(sizes[l - 1] == sizes[l] for l in chosen):
            forms.append(form("BP4 with a^l", "BP4", layers, "a^l T delta^l where a^{l-1}T delta^l belongs",
                              bp4=set(chosen)))
    return forms
