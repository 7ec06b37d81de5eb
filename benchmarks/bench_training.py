"""Training throughput: the scratch network against the per-example textbook loop and Keras.

    python benchmarks/bench_training.py [--quick] [--json out.json] [--only TEXT]

Workloads: digits 64-30-10 at batch 10; synthetic 60000x784, 784-30-10 at batch 10; synthetic
784-100-10 at batch 100 and 1000. Each implementation trains the same sigmoid network with the
quadratic cost and plain SGD; one sample times enough calls of a fixed number of steps to last
0.1 s. Repeats are interleaved (every implementation once, then again) so a noisy neighbour hurts
all alike. Besides scratch, the textbook loop and Keras, `inlined_numpy` is the scratch step written
out by hand into preallocated buffers: about the best NumPy can do. Reported: samples per second
(median, min, max), ratios of medians from this run, and the fraction of the BLAS roofline: the
same run's speed of the step's matrix products alone at the workload's shapes and dtype,
4 n_in h + 6 h o FLOPs per sample (the input gradient is never needed).
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from scipy.special import expit  # noqa: E402

from keras_impl import native_logs  # noqa: E402
from scratch import datasets  # noqa: E402
from scratch.activations import EXPIT_MAX_SIZE  # noqa: E402
from scratch.batches import BatchPlan  # noqa: E402
from scratch.config import Config  # noqa: E402
from scratch.network import Network  # noqa: E402
from scratch.optimizers import SGD  # noqa: E402
from scratch.training import mini_batches, train_step  # noqa: E402

LR = 0.1
MIN_SAMPLE_S = 0.1  # each timed sample runs at least this long (a tenth of it with --quick)
QUICK_EXAMPLES = 8000  # --quick draws this many synthetic examples, not 60000: enough for its steps

# name, layer sizes, examples (None: digits), batch size, steps timed, dtype of the Keras rows
WORKLOADS = [
    ("digits 64-30-10, batch 10", [64, 30, 10], None, 10, 144, "float64"),
    ("60000x784, 784-30-10, batch 10", [784, 30, 10], 60000, 10, 600, "float64"),
    ("784-100-10, batch 100", [784, 100, 10], 60000, 100, 100, "float32"),
    ("784-100-10, batch 1000", [784, 100, 10], 60000, 1000, 30, "float32"),
]


def workload_data(sizes, n):
    if n is None:
        d = datasets.digits()
        return d.x_train, d.y_train
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n, sizes[0])), np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]


def scratch_impl(sizes, x, y, batch, dtype):
    """The scratch network's own step (train_step on the epoch's mini-batches, as `fit` and `compare` run it)."""
    network, optimizer = Network(sizes, "sigmoid", dtype=dtype), SGD(LR)
    batches = mini_batches(BatchPlan(len(x), batch), x.astype(dtype), y.astype(dtype), 0)

    def run(steps):
        for x_batch, y_batch, labels in batches[:steps]:
            train_step(network, x_batch, y_batch, "quadratic", optimizer, labels)
    return run


def per_example_impl(sizes, x, y, batch, dtype="float64"):
    """The primer's textbook loop (Nielsen's network.py): column vectors, weights (out, in), one
    example at a time through feedforward and backprop, gradients summed, then the update."""
    network = Network(sizes, "sigmoid", dtype=dtype)
    weights = [w.T.copy() for w in network.weights]
    biases = [b.reshape(-1, 1).copy() for b in network.biases]

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def sigmoid_prime(z):
        return sigmoid(z) * (1 - sigmoid(z))

    def cost_derivative(output_activations, y):
        return output_activations - y

    def backprop(xi, yi):
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        activation, activations, zs = xi, [xi], []
        for b, w in zip(biases, weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = cost_derivative(activations[-1], yi) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(sizes)):
            delta = np.dot(weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def update_mini_batch(mini_batch):
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        for xi, yi in mini_batch:
            delta_nabla_b, delta_nabla_w = backprop(xi, yi)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        weights[:] = [w - (LR / len(mini_batch)) * nw for w, nw in zip(weights, nabla_w)]
        biases[:] = [b - (LR / len(mini_batch)) * nb for b, nb in zip(biases, nabla_b)]

    examples = [(xi.reshape(-1, 1), yi.reshape(-1, 1)) for xi, yi in zip(x, y)]  # as the primer's loader gives them

    def run(steps):
        for k in range(steps):
            update_mini_batch(examples[k * batch:(k + 1) * batch])
    return run


def inlined_impl(sizes, x, y, batch, dtype, network=None):
    """The scratch step written out by hand: preallocated buffers, every operation in place, no
    Python layers; the same loss and accuracy per batch. About the best NumPy can do, so that the
    ratio scratch / inlined shows what the readable code costs. Trains `network` when given."""
    network = network or Network(sizes, "sigmoid", dtype=dtype)
    ws, bs = network.weights, network.biases
    x, y = x.astype(dtype), y.astype(dtype)
    labels = y.argmax(axis=1)
    zs, acts, deltas, primes = ([np.empty((batch, n), dtype) for n in sizes[1:]] for _ in range(4))
    grads = [np.empty_like(p) for p in ws + bs]
    ones = np.ones(batch, dtype)

    def sigmoid(z, out):  # as scratch's: one scipy call for small arrays, NumPy's exp for large ones
        if z.size <= EXPIT_MAX_SIZE:
            expit(z, out=out)
        else:
            np.negative(z, out=out)
            np.exp(out, out=out)
            np.add(out, 1, out=out)
            np.divide(1, out, out=out)

    def step(xb, yb, labels_b):
        a = xb
        for w, b, z, out in zip(ws, bs, zs, acts):
            np.dot(a, w, out=z)
            np.add(z, b, out=z)
            sigmoid(z, out)
            a = out
        r = np.subtract(a, yb, out=deltas[-1])
        cost = float(np.vdot(r, r)) / (2 * batch)
        correct = np.count_nonzero(a.argmax(axis=1) == labels_b)
        np.divide(r, batch, out=r)  # dC/da = (a - y) / n
        for l in reversed(range(len(ws))):
            np.subtract(1, acts[l], out=primes[l])
            np.multiply(primes[l], acts[l], out=primes[l])
            np.multiply(deltas[l], primes[l], out=deltas[l])
            np.dot((xb if l == 0 else acts[l - 1]).T, deltas[l], out=grads[l])
            np.dot(ones, deltas[l], out=grads[len(ws) + l])
            if l > 0:
                np.dot(deltas[l], ws[l].T, out=deltas[l - 1])
        for p, g in zip(ws + bs, grads):  # w -= eta g
            np.multiply(g, LR, out=g)
            np.subtract(p, g, out=p)
        return cost, correct

    def run(steps):
        with np.errstate(over="ignore"):
            for k in range(steps):
                batch_k = slice(k * batch, (k + 1) * batch)
                step(x[batch_k], y[batch_k], labels[batch_k])
    return run


def keras_fit_impl(sizes, x, y, batch, dtype, steps_per_execution=1):
    """model.fit as `compare` uses it (the twin from keras_impl, determinism on, XLA off)."""
    from keras_impl import device
    from keras_impl.twin import build_optimizer, build_model, keras_loss

    device.configure(dtype, 0)
    config = Config(hidden=sizes[1:-1], lr=LR, batch_size=batch, dtype=dtype)
    model = build_model(Network(sizes, "sigmoid", dtype=dtype))
    model.compile(optimizer=build_optimizer(config), loss=keras_loss("quadratic"), jit_compile=False,
                  steps_per_execution=steps_per_execution)
    x, y = x.astype(dtype), y.astype(dtype)

    def run(steps):
        model.fit(x[:steps * batch], y[:steps * batch], batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return run


def tf_function_impl(sizes, x, y, batch, dtype):
    """A hand-written tf.function step: GradientTape through the twin, then w -= lr * g."""
    import tensorflow as tf
    from keras_impl import device
    from keras_impl.twin import build_model, keras_loss

    device.configure(dtype, 0)
    model = build_model(Network(sizes, "sigmoid", dtype=dtype))
    loss_fn = keras_loss("quadratic")
    lr = tf.constant(LR, dtype=dtype)

    @tf.function(jit_compile=False)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        for v, g in zip(model.trainable_weights, tape.gradient(loss, model.trainable_weights)):
            v.assign_sub(lr * g)
        return loss

    batches = [(tf.constant(x[k * batch:(k + 1) * batch].astype(dtype)),
                tf.constant(y[k * batch:(k + 1) * batch].astype(dtype))) for k in range(min(len(x) // batch, 600))]

    def run(steps):
        for k in range(steps):
            loss = step(*batches[k % len(batches)])
        loss.numpy()  # wait for the queued steps
    return run


def roofline_impl(sizes, x, y, batch, dtype):
    """The step's matrix products alone, into preallocated outputs: what BLAS does at these shapes."""
    shapes = list(zip(sizes[:-1], sizes[1:]))
    rng = np.random.default_rng(0)
    xb = x[:batch].astype(dtype)
    ws = [rng.normal(size=s).astype(dtype) for s in shapes]
    outs = [np.empty((batch, n_out), dtype) for _, n_out in shapes]
    grads = [np.empty(s, dtype) for s in shapes]
    deltas = [np.empty((batch, n_in), dtype) for n_in, _ in shapes]

    def run(steps):
        for _ in range(steps):
            a = xb
            for w, out in zip(ws, outs):  # forward: a W
                np.matmul(a, w, out=out)
                a = out
            for l in range(len(ws) - 1, -1, -1):  # backward: a^T delta, and delta W^T below the top
                np.matmul((xb if l == 0 else outs[l - 1]).T, outs[l], out=grads[l])
                if l > 0:
                    np.matmul(outs[l], ws[l].T, out=deltas[l])
    return run


def flops_per_sample(sizes):
    """4 n_in h for the first layer (forward and weight gradient), 6 a b for each layer above it."""
    return 4 * sizes[0] * sizes[1] + sum(6 * a * b for a, b in zip(sizes[1:-1], sizes[2:]))


def calls_per_sample(run, steps, min_seconds):
    """How many run(steps) calls make a sample last min_seconds, as timeit's autorange does: a fast
    implementation timed for a few milliseconds right after another one measures its cold caches."""
    start = time.perf_counter()
    run(steps)
    return max(1, math.ceil(min_seconds / (time.perf_counter() - start)))


def dtype_of(implementation):
    """'float32' from 'scratch_float32'."""
    return implementation.rsplit("_", 1)[1]


def measure(workload, repeats, quick):
    name, sizes, n, batch, steps, keras_dtype = workload
    steps = max(2, steps // 4) if quick else steps
    x, y = workload_data(sizes, min(n, QUICK_EXAMPLES) if quick and n else n)
    impls = {
        "scratch_float64": scratch_impl(sizes, x, y, batch, "float64"),
        "scratch_float32": scratch_impl(sizes, x, y, batch, "float32"),
        "per_example_loop_float64": per_example_impl(sizes, x, y, batch),
        "inlined_numpy_float64": inlined_impl(sizes, x, y, batch, "float64"),
        "inlined_numpy_float32": inlined_impl(sizes, x, y, batch, "float32"),
        f"keras_fit_{keras_dtype}": keras_fit_impl(sizes, x, y, batch, keras_dtype),
        f"keras_fit_steps_per_execution_32_{keras_dtype}": keras_fit_impl(sizes, x, y, batch, keras_dtype, 32),
        f"tf_function_step_{keras_dtype}": tf_function_impl(sizes, x, y, batch, keras_dtype),
        "roofline_float64": roofline_impl(sizes, x, y, batch, "float64"),
        "roofline_float32": roofline_impl(sizes, x, y, batch, "float32"),
    }
    for run in impls.values():
        run(min(steps, 2))  # warm up: tracing, caches
    calls = {k: calls_per_sample(run, steps, MIN_SAMPLE_S / (10 if quick else 1)) for k, run in impls.items()}
    samples = {k: [] for k in impls}
    for _ in range(repeats):
        for key, run in impls.items():
            start = time.perf_counter()
            for _ in range(calls[key]):
                run(steps)
            samples[key].append(calls[key] * steps * batch / (time.perf_counter() - start))
    result = {k: {"median": statistics.median(v), "min": min(v), "max": max(v)} for k, v in samples.items()}
    medians = {k: v["median"] for k, v in result.items()}
    ratios = {f"{s} / {o}": medians[s] / medians[o] for s in medians if s.startswith("scratch")
              for o in medians if not o.startswith(("scratch", "roofline"))
              and (not o.startswith("inlined") or dtype_of(o) == dtype_of(s))}
    roofline = {k: medians[k] / medians["roofline_" + dtype_of(k)]
                for k in medians if not k.startswith("roofline")}
    measured = {"workload": name, "sizes": sizes, "batch_size": batch, "steps": steps,
                "flops_per_sample": flops_per_sample(sizes), "samples_per_s": result, "ratios": ratios,
                "roofline_fraction": roofline}
    return {**measured, "doubts": doubts(measured)}


def doubts(r):
    """What in one workload's result cannot be right: a fraction of the roofline over 100 % (faster than the
    BLAS's own bound: the roofline was measured while the machine was busy), or samples spread wider than
    their median (max - min > median): one line each."""
    found = [f"{k} ran at {frac:.0%} of the roofline, which no implementation can"
             for k, frac in r["roofline_fraction"].items() if frac > 1]
    found += [f"{k}'s samples spread from {v['min']:,.0f} to {v['max']:,.0f}/s, wider than their median"
              for k, v in r["samples_per_s"].items() if v["max"] - v["min"] > v["median"]]
    return found


def print_result(r):
    print(f"\n{r['workload']}  ({r['steps']} steps of {r['batch_size']}, {r['flops_per_sample']:,} FLOPs/sample)")
    print(f"  {'implementation':<44} {'samples/s median':>16} {'min':>10} {'max':>10} {'of roofline':>11}")
    for k, v in r["samples_per_s"].items():
        frac = r["roofline_fraction"].get(k)
        print(f"  {k:<44} {v['median']:>16,.0f} {v['min']:>10,.0f} {v['max']:>10,.0f} "
              f"{'' if frac is None else f'{frac:.0%}':>11}")
    for k, v in r["ratios"].items():
        print(f"  {k:<76} {v:7.1f}x")
    for doubt in r["doubts"]:
        print(f"  warning: {doubt}: the machine was busy; rerun on a quiet machine")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a quarter of the steps, {QUICK_EXAMPLES} examples, 2 repeats: proves it runs")
    parser.add_argument("--json", metavar="PATH", help="write the results here")
    parser.add_argument("--repeats", type=int, help="interleaved repeats (default 5, quick 2)")
    parser.add_argument("--only", metavar="TEXT", help="run only the workloads whose name contains TEXT, e.g. 'batch 1000'")
    args = parser.parse_args()
    workloads = [w for w in WORKLOADS if args.only is None or args.only in w[0]]
    if not workloads:
        print(f"error: no workload name contains {args.only!r}; the names are: {'; '.join(w[0] for w in WORKLOADS)}",
              file=sys.stderr)
        sys.exit(2)
    if args.repeats is not None and args.repeats < 1:
        print(f"error: --repeats must be at least 1, got {args.repeats}", file=sys.stderr)
        sys.exit(2)
    repeats = args.repeats or (2 if args.quick else 5)
    native_logs.quiet()  # TensorFlow's own log lines off stderr
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, {i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"NumPy {np.__version__}, BLAS: {'; '.join(blas)}, {os.cpu_count()} CPUs, repeats {repeats}")
    results = []
    for workload in workloads:
        results.append(measure(workload, repeats, args.quick))
        print_result(results[-1])
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak_rss_mb:.0f} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"numpy": np.__version__, "blas": blas, "repeats": repeats, "peak_rss_mb": peak_rss_mb,
                       "workloads": results}, f, indent=1)


if __name__ == "__main__":
    main()
