"""The book's chapter 3: its cross-entropy cost (`--loss cross_entropy`) and L2 regularization (`--l2
LAMBDA`, C = C0 + (lambda / 2n) sum w^2) in the scratch network, in its Keras twin, and in networks of
yours written that way (examples/network_chapter3.py). The CLI runs are in tests/test_compare.py
(30 epochs, TensorFlow) and tests/test_backends.py (JAX)."""
import json
import shutil
import zlib

import numpy as np
import pytest

from compare.finite_differences import finite_differences
from compare.judged import OurNetwork
from compare.tolerances import max_relative_error, norm_relative_error
from helpers import ROOT, compare_in_process
from scratch import losses
from scratch.optimizers import SGD
from scratch.regularization import L2
from scratch.training import train_step
from test_backprop import EPS, random_case

CASES = [("sigmoid", "sigmoid", "cross_entropy"), ("tanh", "sigmoid", "cross_entropy"), ("relu", "softmax", "cross_entropy"),
         ("sigmoid", "sigmoid", "quadratic"), ("relu", "linear", "mse"), ("tanh", "softmax", "categorical_crossentropy")]


def random_l2(case):
    """A random lambda in [0.1, 10) and training set size n in [10, 5000), drawn from the case's name."""
    rng = np.random.default_rng(zlib.crc32("-".join(case).encode()))
    return rng, L2(float(rng.uniform(0.1, 10)), int(rng.integers(10, 5000)))


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_regularized_gradients_match_finite_differences_of_the_regularized_cost(case):
    """dC/dw = dC0/dw + (lambda / n) w, dC/db = dC0/db, against central differences of C = C0 + (lambda / 2n)
    sum w^2, the judged network's cost."""
    rng, l2 = random_l2(case)
    network, x, y = random_case(rng, *case)
    judged = OurNetwork(network, case[2], SGD(), l2)
    gradients = np.concatenate([g.ravel() for g in judged.gradients(x, y)])
    numeric, kinks = finite_differences(judged, x, y, losses.get(case[2]), EPS)
    assert not any(k.any() for k in kinks)
    assert norm_relative_error(gradients, np.concatenate([g.ravel() for g in numeric])) <= 1e-7
    plain = np.concatenate([g.ravel() for g in OurNetwork(network, case[2], SGD()).gradients(x, y)])
    assert norm_relative_error(plain, gradients) > 1e-4  # the term is there, and large enough to be seen


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_the_regularized_step_is_the_books_weight_decay(momentum, nesterov):
    """Plain SGD: w -> (1 - eta lambda / n) w - eta dC0/dw, b -> b - eta dC0/db (the book's (93)); with
    momentum the velocity takes the whole gradient dC0/dw + (lambda / n) w, as Keras's does."""
    rng, l2 = random_l2(("step", str(momentum), str(nesterov)))
    network, x, y = random_case(rng, "sigmoid", "sigmoid", "cross_entropy")
    eta, mu = 0.7, momentum
    w0, b0 = [w.copy() for w in network.weights], [b.copy() for b in network.biases]
    nabla_w, nabla_b = network.backprop(x, y, "cross_entropy")
    optimizer = SGD(eta, momentum, nesterov)
    optimizer.velocities = [rng.normal(size=p.shape) for p in w0 + b0] if mu else None
    v0 = [v.copy() for v in optimizer.velocities] if mu else None
    train_step(network, x, y, "cross_entropy", optimizer, l2=l2)
    g = [nw + l2.lmbda / l2.n * w for nw, w in zip(nabla_w, w0)] + nabla_b
    if mu == 0:
        expected = [(1 - eta * l2.lmbda / l2.n) * w - eta * nw for w, nw in zip(w0, nabla_w)] + \
                   [b - eta * nb for b, nb in zip(b0, nabla_b)]
    else:
        v = [mu * v_ - eta * g_ for v_, g_ in zip(v0, g)]
        step = [mu * v_ - eta * g_ for v_, g_ in zip(v, g)] if nesterov else v
        expected = [p + s for p, s in zip(w0 + b0, step)]
    for reached, want in zip(network.weights + network.biases, expected):
        np.testing.assert_allclose(reached, want, rtol=1e-14, atol=1e-15)


def test_the_cost_holds_the_l2_term_before_the_step():
    rng, l2 = random_l2(("cost",))
    network, x, y = random_case(rng, "sigmoid", "sigmoid", "cross_entropy")
    c0 = network.cost(x, y, "cross_entropy")
    penalty = l2.lmbda / (2 * l2.n) * sum(np.sum(w ** 2) for w in network.weights)
    assert network.cost(x, y, "cross_entropy", l2) == pytest.approx(c0 + penalty, rel=1e-14)
    cost, _ = train_step(network, x, y, "cross_entropy", SGD(0.5), l2=l2)
    assert cost == pytest.approx(c0 + penalty, rel=1e-14)


def test_the_twins_l2_term_is_lambda_over_2n_in_float64():
    """Keras's own L2 casts its factor through float32 (docs/keras-notes.md); the twin's keeps it, so its
    gradients at step 0 agree with the scratch network's to rounding."""
    import keras

    from compare.gradcheck import keras_gradients
    from keras_impl import device
    from keras_impl.twin import ExactL2, build_twin, keras_loss
    from scratch.config import Config

    device.configure("float64", 0)
    l2 = L2(5.0, 1437)
    x = keras.ops.convert_to_tensor(np.ones((1,)))
    assert float(keras.ops.convert_to_numpy(ExactL2(5.0 / 2874)(x))) == 5.0 / 2874
    assert float(keras.ops.convert_to_numpy(keras.regularizers.L2(5.0 / 2874)(x))) != 5.0 / 2874
    config = Config(loss="cross_entropy", l2=5.0, hidden=[7]).validate()
    data = config.load_dataset()
    l2 = config.build_l2(data)
    judged = OurNetwork(config.build_network(data), config.loss, config.build_optimizer(), l2)
    model = build_twin(judged, config, l2)
    x, y = data.x_train[:10], data.y_train[:10]
    for ours, theirs in zip(judged.gradients(x, y), keras_gradients(model, keras_loss(config.loss), x, y)):
        assert max_relative_error(ours, theirs) <= 1e-15


# --- networks of yours written as the book's chapter 3 -------------------------------------------------

RUN = ["--epochs", "1", "--initializer", "scaled_normal"]


def check(tmp_path, capsys, spec, *flags):
    """`python -m compare --implementation SPEC FLAGS` for one epoch: (exit code, its report or None, stderr)."""
    code, out, err = compare_in_process(["--implementation", spec, *RUN, *flags, "--logdir", str(tmp_path / "runs"),
                                         "--json", str(tmp_path / "r.json")], capsys)
    report = json.loads((tmp_path / "r.json").read_text()) if (tmp_path / "r.json").exists() else None
    return code, report, err


def your_file(tmp_path, name, source):
    """`source` written as tmp_path/name.py beside copies of the examples it may import; its path."""
    for example in ("network_rows.py", "network_chapter3.py"):
        shutil.copy(f"{ROOT}/examples/{example}", tmp_path / example)
    (tmp_path / f"{name}.py").write_text(source)
    return str(tmp_path / f"{name}.py")


@pytest.mark.slow
def test_a_chapter_3_network_matches_with_its_cost_and_lambda(tmp_path, capsys):
    code, report, _ = check(tmp_path, capsys, f"{ROOT}/examples/network_chapter3.py:Network", "--loss", "cross_entropy",
                            "--l2", "5")
    assert code == 0 and report["verdict"] == "match", report["first_step_mismatch"]
    assert report["implementation"]["update"] == "your update_mini_batch"


@pytest.mark.slow
def test_a_chapter_3_network_run_without_l2_gets_lambda_0(tmp_path, capsys):
    """Its update_mini_batch(mini_batch, eta, lmbda, n) needs lambda: without --l2 it gets 0 (and so
    computes the run's cost); the lambda it got is seen in its weights, not decayed."""
    spec = your_file(tmp_path, "seen", "from network_chapter3 import Network as Book\n\n"
                                       "class Network(Book):\n"
                                       "    def update_mini_batch(self, mini_batch, eta, lmbda, n):\n"
                                       "        assert lmbda == 0.0 and n == 1442, (lmbda, n)\n"
                                       "        super().update_mini_batch(mini_batch, eta, lmbda, n)\n")
    code, report, _ = check(tmp_path, capsys, spec + ":Network", "--loss", "cross_entropy")
    assert code == 0 and report["verdict"] == "match"


@pytest.mark.slow
def test_a_chapter_3_network_with_the_wrong_loss_is_told_which_cost_it_computes(tmp_path, capsys):
    code, report, _ = check(tmp_path, capsys, f"{ROOT}/examples/network_chapter3.py:Network",
                            "--loss", "binary_crossentropy", "--l2", "5")
    assert code == 1 and report["verdict"] == "mismatch" and report["first_step_mismatch"]["step"] == 0
    factor = report["diagnosis"][0]
    assert factor["cause"] == "factor" and factor["evidence"]["factor"] == pytest.approx(10, rel=1e-12)
    assert "--loss cross_entropy (the book's) matches" in factor["words"]


@pytest.mark.slow
def test_a_chapter_3_network_that_leaves_out_the_decay_is_found_at_step_0(tmp_path, capsys):
    with open(f"{ROOT}/examples/network_chapter3.py") as f:
        source = f.read()
    spec = your_file(tmp_path, "no_decay", source.replace("(1 - eta * lmbda / n) * w", "w"))
    code, report, _ = check(tmp_path, capsys, spec + ":Network", "--loss", "cross_entropy", "--l2", "5")
    assert code == 1 and report["first_step_mismatch"]["step"] == 0
    assert report["gradients"]["layers"] and all(r["keras_ok"] for r in report["gradients"]["layers"])
    assert [f["cause"] for f in report["diagnosis"]] == ["update rule"]
    assert "leaves out the weight decay of --l2 5" in report["diagnosis"][0]["words"]


ROWS_WITH_L2 = """
from network_rows import Network as Rows

class Network(Rows):
    '''CS231n's way: the gradient of the data cost plus reg * sum W^2 (reg = lambda / 2n), {how}.'''
    def gradients(self, x, y):
        grads = super().gradients(x, y)
        return [g + 2 * {reg!r} * p if i % 2 == 0 else g for i, (g, p) in enumerate(zip(grads, self.get_weights()))]
    {train_step}
"""


@pytest.mark.slow
def test_gradients_that_hold_the_l2_term_already_are_told_so(tmp_path, capsys):
    spec = your_file(tmp_path, "reg", ROWS_WITH_L2.format(how="the harness stepping it", reg=5 / (2 * 1442),
                                                            train_step="train_step = None"))
    code, report, _ = check(tmp_path, capsys, spec + ":Network", "--l2", "5")
    assert code == 1 and report["first_step_mismatch"]["step"] == 0
    assert [f["cause"] for f in report["diagnosis"]] == ["l2"]


@pytest.mark.slow
def test_the_harness_adds_the_l2_term_to_gradients_of_c0(tmp_path, capsys):
    """A rows network with no train_step of its own: the harness takes its steps, L2 term and all."""
    spec = your_file(tmp_path, "plain", "from network_rows import Network as Rows\n\nclass Network(Rows):\n"
                                        "    train_step = None\n")
    code, report, _ = check(tmp_path, capsys, spec + ":Network", "--l2", "5", "--momentum", "0.9")
    assert code == 0 and report["verdict"] == "match"


ROWS_DECAYING = """
from network_rows import Network as Rows

class Network(Rows):
    '''Its own step with the book's weight decay, lambda and n given as to update_mini_batch.'''
    def train_step(self, x, y, learning_rate, lmbda, n):
        assert (lmbda, n) == (5.0, 1442), (lmbda, n)
        decay = [1 - learning_rate * lmbda / n, 1.0] * len(self.W)  # the weights decay, the biases do not
        self.set_weights([d * p - learning_rate * g for d, p, g in zip(decay, self.get_weights(), self.gradients(x, y))])
"""


@pytest.mark.slow
def test_a_rows_train_step_takes_lambda_and_n_like_the_books(tmp_path, capsys):
    code, report, _ = check(tmp_path, capsys, your_file(tmp_path, "rows_l2", ROWS_DECAYING) + ":Network", "--l2", "5")
    assert code == 0 and report["verdict"] == "match", report["diagnosis"]


def test_l2_with_an_update_that_takes_no_lambda_is_refused(tmp_path, capsys):
    code, report, err = check(tmp_path, capsys, f"{ROOT}/examples/network_rows.py:Network", "--l2", "5")
    assert code == 2 and report is None and len(err) == 1
    assert err[0].startswith("error: --l2: your train_step takes no lambda")
    assert not (tmp_path / "runs").exists()


def test_l2_with_an_update_whose_next_arguments_are_momentum_is_refused(tmp_path, capsys):
    """train_step(x, y, learning_rate, momentum=0, nesterov=False) would take lambda and n as momentum and
    nesterov: refused, not run."""
    spec = your_file(tmp_path, "momentum_form", "from network_rows import Network as Rows\n\nclass Network(Rows):\n"
                                                "    def train_step(self, x, y, learning_rate, momentum=0.0, nesterov=False):\n"
                                                "        super().train_step(x, y, learning_rate)\n")
    code, report, err = check(tmp_path, capsys, spec + ":Network", "--l2", "5")
    assert code == 2 and report is None and err[0].startswith("error: --l2: your train_step takes no lambda")
