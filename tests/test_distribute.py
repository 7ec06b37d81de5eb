"""--distribute: Keras's twin trained by tf.distribute strategies, checked step by step against the
scratch network (docs/backends.md: Distributed training).

The even plans run 2 epochs on digits (batch 10: 144 steps of 5 + 5 examples and a last one of
1 + 1): the second epoch is a second fit call over a new permutation, and further epochs repeat the
same even steps, at 5-10 s of CI time each."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import CHILD_ENV, ROOT, read_line, tensorflow_is_loading
from helpers import read_scalars

from keras_impl.distribute import MAX_REPLICAS, replica_sizes
from scratch import losses
from scratch.batches import BatchPlan
from scratch.config import Config
from scratch.training import mini_batches, train_step

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)

LOST_WORKER_BOUND = 60  # s from a worker's death to the chief's exit: noticed in 0.2 s, aborted, report written


def compare_run(tmp_path, *flags):
    return [sys.executable, "-m", "compare", "run", "--logdir", str(tmp_path), "--name", "d", *flags]


def report_of(tmp_path):
    return json.loads((tmp_path / "d" / "report.json").read_text())


def assert_matches_at_every_epoch(report, epochs):
    assert report["verdict"] == "match"
    assert len(report["epochs"]) == epochs
    assert all(e["max_abs_weight_diff"] <= 1e-12 for e in report["epochs"])
    assert report["distribute"]["uneven_steps"] == [] and report["distribute"]["explanation"] is None


def test_mirrored_2_matches_scratch_at_every_epoch(run, tmp_path):
    result = run("compare", "run", "--distribute", "mirrored:2", "--epochs", "2", "--logdir", str(tmp_path),
                 "--name", "d")
    assert result.returncode == 0, result.stderr[-2000:]
    report = report_of(tmp_path)
    assert_matches_at_every_epoch(report, 2)
    assert report["distribute"]["strategy"] == "mirrored" and report["distribute"]["replicas"] == 2
    assert report["distribute"]["devices"] == ["/cpu:0", "/cpu:1"]  # no GPU here: two logical CPUs
    assert all(r["keras_ok"] for r in report["gradients"]["layers"])  # step 0 through the replicated model
    keras_losses = read_scalars(tmp_path / "d" / "keras" / "train", "epoch_loss")
    assert np.allclose(keras_losses, [e["keras"]["loss"] for e in report["epochs"]], rtol=1e-6)
    assert "mirrored:2 over /cpu:0, /cpu:1" in result.stdout


def alive(pid):
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def start_multiworker(tmp_path, epochs):
    """`compare run --distribute multiworker:2`; returns (process, [chief pid, worker pid]) once it
    printed its first line, which names both."""
    chief = subprocess.Popen(compare_run(tmp_path, "--distribute", "multiworker:2", "--epochs", str(epochs)), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**CHILD_ENV, "PYTHONPATH": ROOT})
    first = read_line(chief.stdout, 120)
    if first.startswith("Loading TensorFlow"):  # printed while it loads
        first = read_line(chief.stdout, 120)
    assert "worker pids:" in first, first
    pids = [int(p) for p in first.split("worker pids:")[1].strip(" )\n").split(",")]
    assert pids[0] == chief.pid and len(pids) == 2
    return chief, pids


def read_until_epoch(process, epoch):
    line = ""
    while line.split()[:1] != [str(epoch)]:
        line = read_line(process.stdout, 120)
        assert line, f"compare ended before epoch {epoch}"


@pytest.mark.slow
def test_multiworker_2_runs_two_processes_and_matches_scratch_at_every_epoch(tmp_path):
    chief, (_, worker) = start_multiworker(tmp_path, 2)
    try:
        read_until_epoch(chief, 1)
        assert alive(worker), "the worker process is not running during training"
        out, err = chief.communicate(timeout=180)
    finally:
        chief.kill()
    assert chief.returncode == 0, err[-2000:]
    report = report_of(tmp_path)
    assert_matches_at_every_epoch(report, 2)
    assert report["distribute"]["strategy"] == "multiworker" and report["distribute"]["workers"] == 2
    assert report["distribute"]["worker_pids"] == [chief.pid, worker]
    assert not alive(worker), "the worker outlived the run"
    assert sorted(os.listdir(tmp_path)) == ["d"]  # the worker wrote nothing


@pytest.mark.parametrize("how", ["SIGKILL to the worker", "SIGTERM to the chief"])
@pytest.mark.slow
def test_a_lost_worker_or_a_signal_ends_the_run_with_a_partial_report(tmp_path, how):
    chief, (_, worker) = start_multiworker(tmp_path, 6)
    try:
        read_until_epoch(chief, 1)  # training is under way
        start = time.monotonic()
        os.kill(worker, signal.SIGKILL) if how.endswith("worker") else chief.terminate()
        out, err = chief.communicate(timeout=LOST_WORKER_BOUND)
        seconds = time.monotonic() - start
    finally:
        chief.kill()
    report = report_of(tmp_path)
    assert report["interrupted"] and 1 <= len(report["epochs"]) < 6
    if how.endswith("worker"):
        assert chief.returncode == 1, err[-2000:]
        assert f"error: worker 1 (pid {worker}) exited with code -9 (SIGKILL)" in err
        assert report["interrupted_by"] == f"worker 1 (pid {worker}) exited with code -9 (SIGKILL)"
    else:
        assert chief.returncode == 143 and report["interrupted_by"] == "SIGTERM", err[-2000:]
    assert "Traceback" not in err and seconds < LOST_WORKER_BOUND
    deadline = time.monotonic() + 10
    while alive(worker):
        assert time.monotonic() < deadline, "the worker outlived the run by 10 s"
        time.sleep(0.05)


def test_an_uneven_step_is_found_and_keras_rule_reproduced_in_numpy(run, tmp_path):
    """Batch 28 over 4 replicas: 51 steps of 7 + 7 + 7 + 7 examples, then 14 = 4 + 4 + 4 + 2. Keras's step
    there is rebuilt here from the scratch network's per-replica gradients, independently of the harness."""
    result = run("compare", "run", "--distribute", "mirrored:4", "--batch-size", "28", "--epochs", "1",
                 "--logdir", str(tmp_path), "--name", "d")
    assert result.returncode == 1, result.stderr[-2000:]
    report = report_of(tmp_path)
    assert report["distribute"]["uneven_steps"] == [{"step": 51, "epoch": 1, "replica_sizes": [4, 4, 4, 2]}]
    assert report["first_step_mismatch"]["step"] == 51 and report["first_divergence"]["step"] == 51
    assert max(report["steps"]["update_error"][:51]) <= 1e-15  # every even step agrees
    assert report["distribute"]["explanation"]["error_of_keras_rule"] <= 1e-14
    assert "split its 14 examples 4+4+4+2 over 4 replicas" in result.stdout
    uneven = "each epoch's mini-batches split unevenly over 4 replicas at 1 of its 52 steps"
    assert any(uneven in d for d in report["keras_departures"]) and uneven in result.stderr

    config = Config(batch_size=28, epochs=1)
    data = config.load_dataset()
    network = config.build_network(data)
    plan = BatchPlan(len(data.x_train), 28, 0)
    batches, optimizer = mini_batches(plan, data.x_train, data.y_train, 0), config.build_optimizer()
    for x, y, labels in batches[:51]:
        train_step(network, x, y, "quadratic", optimizer, labels)
    x, y, _ = batches[51]
    before = network.parameter_copies()
    per_replica, start = [], 0
    for size in (4, 4, 4, 2):
        nabla_w, nabla_b = network.backprop(x[start:start + size], y[start:start + size], losses.get("quadratic"))
        per_replica.append([g for pair in zip(nabla_w, nabla_b) for g in pair])
        start += size
    keras_rule = [w - 3.0 * sum(parts) / 4 for w, *parts in zip(before, *per_replica)]
    nabla_w, nabla_b = network.backprop(x, y, losses.get("quadratic"))
    batch_mean = [w - 3.0 * g for w, g in zip(before, [g for pair in zip(nabla_w, nabla_b) for g in pair])]
    with np.load(tmp_path / "d" / "keras_weights.npz") as saved:
        keras_after = [saved[name] for name in saved.files]
    gap = lambda ours: max(float(np.abs(a - b).max()) for a, b in zip(ours, keras_after))  # noqa: E731
    assert gap(keras_rule) <= 1e-14
    assert gap(batch_mean) > 1e-3


SPLIT_PROBE = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 4)
for n in (2, 3, 4):
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(n)])
    for m in range(1, 14):
        batch = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.range(m).batch(m))))
        print(n, m, *[len(part) for part in strategy.experimental_local_results(batch)])
"""


def test_the_l2_term_is_added_once_over_the_replicas(run, tmp_path):
    """--l2 under mirrored:4: Keras scales each replica's L2 term by 1/4, as its loss, and sums the
    replicas' gradients, so the term counts once; at the last step (2 examples as 1 + 1 + 0 + 0) the empty
    replicas add their share of it too, and Keras's rule, rebuilt with it, reproduces Keras's step."""
    result = run("compare", "run", "--distribute", "mirrored:4", "--batch-size", "12", "--epochs", "1", "--loss",
                 "cross_entropy", "--l2", "5", "--logdir", str(tmp_path), "--name", "d")
    assert result.returncode == 1, result.stderr[-2000:]
    report = report_of(tmp_path)
    assert report["distribute"]["uneven_steps"] == [{"step": 120, "epoch": 1, "replica_sizes": [1, 1, 0, 0]}]
    assert all(r["keras_ok"] for r in report["gradients"]["layers"])  # step 0 through the replicated model
    assert report["first_step_mismatch"]["step"] == 120 and max(report["steps"]["update_error"][:120]) <= 1e-15
    assert report["distribute"]["explanation"]["error_of_keras_rule"] <= 1e-14


def test_replica_sizes_are_how_tensorflow_splits_a_batch():
    result = subprocess.run([sys.executable, "-c", SPLIT_PROBE], capture_output=True, text=True, timeout=120,
                            env={**CHILD_ENV, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [list(map(int, line.split())) for line in result.stdout.splitlines()]
    assert len(rows) == 3 * 13
    for n, m, *sizes in rows:
        assert replica_sizes(m, n) == sizes, (n, m)


def test_uneven_steps_are_those_run_whatever_the_epoch_count():
    """Item 4 of #32: the report listed the uneven steps of every epoch asked for, 1e9 of them with
    --epochs 1000000000, before keeping those run. 14 examples in batches of 5: 5, 5, 4, of which
    the two 5s split 3+2 over 2 replicas."""
    from compare.replicas import uneven_steps

    plan = BatchPlan(14, 5, 0)
    assert uneven_steps(plan, 0, 2) == []
    assert [u["step"] for u in uneven_steps(plan, 7, 2)] == [0, 1, 3, 4, 6]
    assert uneven_steps(plan, 4, 2)[-1] == {"step": 3, "epoch": 2, "replica_sizes": [3, 2]}
    assert uneven_steps(plan, 4, 2) == uneven_steps(plan, 7, 2)[:3]


def test_mirrored_takes_the_first_n_gpus_when_there_are_enough(monkeypatch):
    """No GPU here: TensorFlow's device list is faked at the one call that reads it."""
    import tensorflow as tf

    from keras_impl.distribute import pick_devices

    gpus = lambda n: [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(n)]  # noqa: E731
    for seen, asked, expected in [(4, 2, ["/gpu:0", "/gpu:1"]), (2, 2, ["/gpu:0", "/gpu:1"]),
                                  (1, 2, ["/cpu:0", "/cpu:1"]), (0, 3, ["/cpu:0", "/cpu:1", "/cpu:2"])]:
        monkeypatch.setattr(tf.config, "list_physical_devices",
                            lambda kind, seen=seen: gpus(seen) if kind == "GPU" else [])
        assert pick_devices(asked) == expected


@pytest.mark.parametrize("cli, argv, words", [
    ("compare", ["--distribute", "ring:2"], "unknown strategy 'ring:2'"),
    ("compare", ["--distribute", "mirrored:0"], "at least 1"),
    ("compare", ["--distribute", f"mirrored:{MAX_REPLICAS + 1}"], f"at most {MAX_REPLICAS} replicas"),
    ("compare", ["--distribute", "mirrored"], "give the number of replicas"),
    ("compare", ["--distribute", "mirrored:\uff12"], "give the number of replicas"),  # a full-width 2
    ("compare", ["--distribute", "multiworker:2", "--backend", "jax"], "multiworker runs on tensorflow, not on jax"),
    ("compare", ["--distribute", "dataparallel:2"], "dataparallel runs on jax, not on tensorflow"),
    ("compare", ["--distribute", "mirrored:2", "--batch-size", "9"], "must split evenly over 2 replicas"),
    ("compare", ["--distribute", "dataparallel:2", "--backend", "jax"], "the validation set (355 examples)"),
    ("compare", ["--distribute", "mirrored:2", "--backend", "all"], "runs on one backend"),
    ("compare", ["--distribute", "mirrored:2", "--check", "blocks"], "--check blocks cannot go with --distribute"),
    ("keras_impl", ["--distribute", "dataparallel:2"], "dataparallel runs on jax, not on tensorflow"),
    ("keras_impl", ["--distribute", "mirrored:-1"], "at least 1"),
])
def test_bad_distribute_input_is_one_line_and_exit_2(run, tmp_path, cli, argv, words):
    result = run(cli, *(["run"] if cli == "compare" else []), *argv, "--logdir", str(tmp_path / "runs"))
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "runs").exists()


def test_dataparallel_on_jax_matches_scratch(run, tmp_path):
    """JAX shards each batch over 2 host devices; xor (4 examples, batch 2) splits evenly everywhere."""
    result = run("compare", "run", "--backend", "jax", "--distribute", "dataparallel:2", "--dataset", "xor",
                 "--activation", "sigmoid", "--batch-size", "2", "--epochs", "20", "--logdir", str(tmp_path),
                 "--name", "d")
    assert result.returncode == 0, result.stderr[-2000:]
    report = report_of(tmp_path)
    assert_matches_at_every_epoch(report, 20)
    assert report["distribute"]["devices"] == ["cpu:0", "cpu:1"] and report["backend"] == "jax"


def children_of(pid):
    """The pids of process `pid`'s children (its workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except FileNotFoundError:
        return []


START_UP_MOMENTS = {  # how the test knows the chief has reached each moment of its start-up
    "workers started": lambda chief: children_of(chief.pid),
    "TensorFlow loading": lambda chief: tensorflow_is_loading(chief.pid),
}


@pytest.mark.parametrize("moment,signum", [("workers started", signal.SIGINT), ("TensorFlow loading", signal.SIGTERM),
                                           ("TensorFlow loading", "SIGKILL to the worker")])
def test_a_start_up_cut_short_leaves_no_folder_no_temporary_files_and_no_worker(tmp_path, moment, signum):
    """Item 8 of #32: a signal 2-9 s into multiworker:2 left its temporary folder (initial weights,
    worker_N.err) every time, and workers outlived the chief by 1-2 s; a worker killed during start-up
    left an empty run folder."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    chief = subprocess.Popen(compare_run(tmp_path / "runs", "--distribute", "multiworker:2"), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**CHILD_ENV, "PYTHONPATH": ROOT, "TMPDIR": str(temporary)})
    try:
        deadline = time.monotonic() + 60
        while not START_UP_MOMENTS[moment](chief):
            assert time.monotonic() < deadline and chief.poll() is None, f"the chief never reached {moment}"
            time.sleep(0.01)
        workers = children_of(chief.pid)
        if signum == "SIGKILL to the worker":
            os.kill(workers[0], signal.SIGKILL)
        else:
            chief.send_signal(signum)
        _, err = chief.communicate(timeout=60)
    finally:
        chief.kill()
    expected = 1 if signum == "SIGKILL to the worker" else 128 + signum
    assert chief.returncode == expected and "Traceback" not in err, err[-2000:]
    assert "before training" in err and "nothing was written" in err, err[-2000:]
    deadline = time.monotonic() + 1
    while any(alive(worker) for worker in workers):
        assert time.monotonic() < deadline, "a worker outlived the chief by 1 s"
        time.sleep(0.05)
    assert not (tmp_path / "runs" / "d").exists() and list(temporary.iterdir()) == []
