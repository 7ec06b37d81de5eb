"""The Keras twin trained by a distribution strategy (--distribute), synchronous data parallelism:

    mirrored:N      tf.distribute.MirroredStrategy, N replicas in this process: the first N GPUs
                    when TensorFlow sees at least N, else N logical CPU devices
    multiworker:N   tf.distribute.MultiWorkerMirroredStrategy, N worker processes on this machine
                    (this one is worker 0, the chief) exchanging gradients over gRPC on 127.0.0.1,
                    one replica each (workers.py starts and watches the others)
    dataparallel:N  keras.distribution.DataParallel on JAX over N devices (on a CPU, N host devices)

Each step TensorFlow cuts the global mini-batch of m examples into N contiguous parts of ceil(m / N)
examples until they run out (`replica_sizes`); each replica computes its
loss as the mean over its own part times 1/N, and the gradients are summed over the replicas
(keras/src/losses/loss.py, scale_loss_for_distribution; backend/tensorflow/optimizer.py,
_all_reduce_sum_gradients). So Keras steps along

    (1/N) sum_r grad C_r,  C_r the mean cost over replica r's part (0 for an empty part),

which is the batch's mean gradient when the parts are equal, and not otherwise. On JAX, DataParallel
shards one global computation, so the mean is the batch's own, but every batch must split evenly.
"""
import argparse
import os
from contextlib import nullcontext
from dataclasses import dataclass

MAX_REPLICAS = 8  # replicas (devices or worker processes) on one machine; the tests use 2 and 4
BACKEND_OF = {"mirrored": "tensorflow", "multiworker": "tensorflow", "dataparallel": "jax"}


@dataclass(frozen=True)
class Distribute:
    """A --distribute value: the strategy and its number of replicas."""

    strategy: str
    replicas: int

    @property
    def workers(self):
        return self.replicas if self.strategy == "multiworker" else 1

    def __str__(self):
        return f"{self.strategy}:{self.replicas}"


def distribute_spec(text):
    """--distribute: STRATEGY:N, as argparse's type."""
    strategy, _, count = text.partition(":")
    if strategy not in BACKEND_OF:
        raise argparse.ArgumentTypeError(f"unknown strategy {text!r}: use mirrored:N, multiworker:N or dataparallel:N")
    if not (count.lstrip("-").isdigit() and count.isascii()):  # isdigit alone takes "２" (a full-width 2)
        raise argparse.ArgumentTypeError(f"{text!r}: give the number of replicas after a colon, e.g. {strategy}:2")
    if int(count) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of replicas must be at least 1")
    if int(count) > MAX_REPLICAS:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_REPLICAS} replicas on one machine")
    return Distribute(strategy, int(count))


def add_distribute_argument(parser):
    parser.add_argument("--distribute", type=distribute_spec, metavar="STRATEGY:N",
                        help=f"train Keras's twin distributed over N replicas (1-{MAX_REPLICAS}): mirrored:N or "
                             "multiworker:N (TensorFlow), dataparallel:N (JAX); docs/backends.md: Distributed training")


def tf_replicas(spec):
    """The number of replicas a tf.distribute strategy splits each batch over: 1 without one (or on JAX)."""
    return spec.replicas if spec is not None and BACKEND_OF[spec.strategy] == "tensorflow" else 1


def replica_sizes(m, replicas):
    """How TensorFlow splits a global mini-batch of m examples over N replicas: contiguous parts of
    ceil(m / N), in replica order, until the examples run out (measured on TF 2.21: tf.data's rebatch).
    [4, 3] for 7 over 2; [4, 4, 4, 2] for 14 over 4; [3, 3, 3, 0] for 9 over 4."""
    part = -(-m // replicas)
    return [max(0, min(part, m - r * part)) for r in range(replicas)]


def batch_sizes(n, batch_size):
    """The sizes of the mini-batches of n examples: full ones, then the remainder if any."""
    full, rest = divmod(n, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


UNEVEN_SPLIT = (
    "Keras departs from the math here: each epoch's mini-batches split unevenly over {n} replicas at {count} "
    "of its {steps} steps (the first: {m} examples as {parts}), and there Keras steps along the mean of the "
    "replicas' mean gradients, not the batch's mean gradient; take a --batch-size whose every mini-batch, the "
    "last included, is a multiple of {n}")


def uneven_departure(spec, batch_size, n_train):
    """The departure sentence for a tf.distribute plan whose mini-batches do not all split evenly, or None."""
    n, sizes = tf_replicas(spec), batch_sizes(n_train, batch_size)
    uneven = [m for m in sizes if m % n]
    if not uneven:
        return None
    parts = " + ".join(map(str, replica_sizes(uneven[0], n)))
    return UNEVEN_SPLIT.format(count=len(uneven), steps=len(sizes), n=n, m=uneven[0], parts=parts)


def check_plan(spec, backend, batch_size, n_train, n_val):
    """ValueError for a strategy that cannot run these settings; checked before Keras starts."""
    if spec is None:
        return
    if backend != BACKEND_OF[spec.strategy]:
        other = {"tensorflow": "; TensorFlow takes mirrored:N or multiworker:N", "jax": "; JAX takes dataparallel:N"}
        raise ValueError(f"--distribute {spec}: {spec.strategy} runs on {BACKEND_OF[spec.strategy]}, not on "
                         f"{backend}{other.get(backend, '')}")
    for what, n in (("training", n_train), ("validation", n_val)):
        first = min(batch_size, n)
        if spec.strategy == "mirrored" and first % spec.replicas:
            raise ValueError(f"--distribute {spec}: the {what} set's first mini-batch ({first} examples) must split "
                             f"evenly over {spec.replicas} replicas: Keras's fit fails on one that does not (it "
                             "averages the replicas' inputs to build the model); take a --batch-size that is a "
                             f"multiple of {spec.replicas}")
        if spec.strategy == "dataparallel":
            odd = [m for m in batch_sizes(n, batch_size) if m % spec.replicas]
            if odd:
                raise ValueError(f"--distribute {spec}: JAX shards every mini-batch over {spec.replicas} devices, "
                                 f"and the {what} set ({n} examples) in batches of {batch_size} has one of "
                                 f"{odd[0]}; take a --batch-size whose every batch, the last included, is a "
                                 f"multiple of {spec.replicas}")


def prepare(spec):
    """What must be set before the backend starts: N host devices for dataparallel on a CPU (XLA reads
    its flags once)."""
    if spec is not None and spec.strategy == "dataparallel":
        flag = f"--xla_force_host_platform_device_count={spec.replicas}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


def pick_devices(replicas):
    """mirrored:N's devices: the first N GPUs when TensorFlow sees at least N, else N logical CPUs."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= replicas:
        return [f"/gpu:{i}" for i in range(replicas)]
    return [f"/cpu:{i}" for i in range(replicas)]


def start_mirrored(replicas):
    """The MirroredStrategy over pick_devices(replicas), CPUs split first if need be."""
    import tensorflow as tf

    devices = pick_devices(replicas)
    if devices[0].startswith("/cpu"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    return tf.distribute.MirroredStrategy(devices), devices


def start_multiworker():
    """The MultiWorkerMirroredStrategy of the cluster in TF_CONFIG, with Keras's fit made to run on it."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _reduce_logs_of_multiworker()
    return strategy, [f"worker {i} /cpu:0" for i in range(strategy.num_replicas_in_sync)]


def _reduce_logs_of_multiworker():
    """Keras 3.15's fit fails under MultiWorkerMirroredStrategy (keras-team/keras issue 20585): it averages
    each step's logs (loss, accuracy: scalars) over the workers with axis=0, which a scalar has not.
    Here those logs are averaged with axis=None (the workers' running means, each weighted alike: exact
    when their parts are equal); the gradients' all-reduce and the update stay Keras's."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "scalar_logs", False):
        return
    stock = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return trainer.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return stock(values, strategy, reduction)

    reduce_per_replica.scalar_logs = True
    trainer.reduce_per_replica = reduce_per_replica


def fit_ready(model):
    """The model, ready for fit under the strategy it was built in. Under MultiWorkerMirroredStrategy,
    Keras 3.15's fit first averages one batch over the workers to build the model, which fails
    (keras-team/keras issue 20585); a model with no strategy of its own skips that (it is built already) and
    fit takes the strategy from the scope it runs in."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            model._distribute_strategy = None
    return model


def start_dataparallel(replicas):
    """keras.distribution.DataParallel over the first N JAX devices, set for every model built after."""
    import jax
    import keras

    devices = jax.devices()[:replicas]
    if len(devices) < replicas:
        raise ValueError(f"--distribute dataparallel:{replicas}: JAX sees {len(devices)} device(s) here")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return keras.distribution.distribution(), [f"{d.platform}:{d.id}" for d in devices]


def replicated_gradients(model, loss_fn, x, y):
    """dC/dp through the replicated model: the batch split over the replicas as fit splits it, each
    replica's gradient of its (1/N-scaled) loss and penalties, summed over the replicas as fit sums them."""
    import tensorflow as tf

    from .twin import with_penalties

    strategy = tf.distribute.get_strategy()

    def replica_gradients(x, y):
        with tf.GradientTape() as tape:
            loss = with_penalties(model, loss_fn(y, model(x, training=True)), model.losses)
        gradients = tape.gradient(loss, model.trainable_weights)
        return tf.distribute.get_replica_context().all_reduce("sum", gradients)

    batch = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((x, y)))))
    summed = tf.function(lambda x, y: strategy.run(replica_gradients, args=(x, y)), jit_compile=False)(*batch)
    return strategy.experimental_local_results(summed)[0]


class Distribution:
    """A started strategy: what it is, where it runs, its scope; `workers` for multiworker."""

    def __init__(self, spec, strategy, devices, workers=None):
        self.spec, self.strategy, self.devices, self.workers = spec, strategy, devices, workers

    def scope(self):
        return self.strategy.scope() if self.spec.strategy != "dataparallel" else nullcontext()

    def guard(self):
        """Around training: a collective aborted because a worker was lost raises WorkerLost."""
        return self.workers.guard() if self.workers else nullcontext()

    def __str__(self):
        """'multiworker:2 over worker 0 /cpu:0, worker 1 /cpu:0 (worker pids: 10, 11)'"""
        pids = f" (worker pids: {', '.join(map(str, self.workers.pids()))})" if self.workers else ""
        return f"{self.spec} over {', '.join(self.devices)}{pids}"

    def as_dict(self):
        pids = self.workers.pids() if self.workers else None
        return {"strategy": self.spec.strategy, "replicas": self.spec.replicas, "workers": self.spec.workers,
                "devices": self.devices, "worker_pids": pids}


def start(spec, workers=None):
    """The Distribution for `spec` (None: none). Call after device.configure, before any model exists;
    for multiworker, after workers.start() has set this process's TF_CONFIG."""
    if spec is None:
        return None
    starters = {"mirrored": lambda: start_mirrored(spec.replicas), "multiworker": start_multiworker,
                "dataparallel": lambda: start_dataparallel(spec.replicas)}
    strategy, devices = starters[spec.strategy]()
    return Distribution(spec, strategy, devices, workers)
