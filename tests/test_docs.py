"""The docs check: every command in the ```bash blocks of README.md and docs/*.md is run, either here
(one epoch; in this process when it needs nothing TensorFlow has already fixed, else in a process of its
own) or by the test named for it in RUN_ELSEWHERE (what needs a server, a browser, another backend or a
strategy's devices, or 30 epochs). Where a command's comment claims a verdict, the run must give it."""
import glob
import os
import re
import shlex

import pytest

from helpers import ROOT, compare_in_process, run_module

pytestmark = pytest.mark.slow  # every test here runs the harness or a CLI (python -m pytest -m "not slow" leaves them out)

FENCE = re.compile(r"```bash\n(.*?)```", re.S)
VERDICTS = re.compile(r"\b(mismatch|match|drift)\b")
RUN_ELSEWHERE = {  # command, as written -> the test (file::name) that runs it, or .ci/run
    "pip install -r requirements.txt && python -m compare":
        "test_compare.py::test_default_comparison_matches_and_tensorboard_agrees_with_the_report",
    "python -m pytest -q": ".ci/run",
    "python -m compare view": "test_tensorboard_view.py::test_view_stops_cleanly_on_ctrl_c_sigterm_and_sighup",
    "python -m compare view --screenshot docs/tensorboard.png": "test_tensorboard_view.py::test_view_screenshot_cli",
    "python -m compare --backend jax": "test_backends.py::test_the_default_run_matches_at_every_epoch",
    "python -m compare run --backend all": "test_backends.py::test_every_backend_in_one_table",
    "python -m compare run --distribute mirrored:2": "test_distribute.py::test_mirrored_2_matches_scratch_at_every_epoch",
    "python -m compare run --distribute multiworker:2":
        "test_distribute.py::test_multiworker_2_runs_two_processes_and_matches_scratch_at_every_epoch",
    "python -m compare run --distribute mirrored:4 --batch-size 28 --epochs 1":
        "test_distribute.py::test_an_uneven_step_is_found_and_keras_rule_reproduced_in_numpy",
    "python -m compare run --backend jax --distribute dataparallel:2 --dataset xor --activation sigmoid --batch-size 2":
        "test_distribute.py::test_dataparallel_on_jax_matches_scratch",
    "python -m compare --loss cross_entropy": "test_compare.py::test_the_books_cross_entropy_matches_at_every_epoch",
    "python -m compare --loss cross_entropy --l2 5": "test_compare.py::test_the_books_cross_entropy_matches_at_every_epoch",
    "python -m compare --implementation mynet.py:Network": "(mynet.py stands for your file)",
    "python -m compare gradcheck --implementation mynet.py:Network": "(mynet.py stands for your file)",
}
OWN_PROCESS = ("python -m keras_impl",)  # strategies and backends are fixed when TensorFlow starts


def documented_commands():
    """[(page, command, the comment after it)] from every ```bash block, continuation lines joined."""
    found = []
    for path in ["README.md", *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]:
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for block in FENCE.findall(text):
            for line in block.replace("\\\n", " ").splitlines():
                command, comment = (re.split(r"\s+#\s?", line.strip(), maxsplit=1) + [""])[:2]
                if command:
                    found.append((os.path.relpath(path, ROOT), " ".join(command.split()), comment))
    return found


def run_here():
    return [(page, command, comment) for page, command, comment in documented_commands() if command not in RUN_ELSEWHERE]


def test_every_documented_command_is_run_by_a_test_or_here():
    assert len(documented_commands()) >= 15
    for command, where in RUN_ELSEWHERE.items():
        assert any(c == command for _, c, _ in documented_commands()), f"no longer documented: {command}"
        if "::" in where:
            path, name = where.split("::")
            with open(os.path.join(ROOT, "tests", path)) as f:
                assert f"def {name}(" in f.read(), where
    for _, command, _ in run_here():
        assert command.startswith(("python -m compare", "python -m keras_impl", "python -m scratch")), command


@pytest.mark.parametrize("page,command,comment", run_here(), ids=[c for _, c, _ in run_here()])
def test_a_documented_command_runs(page, command, comment, tmp_path, capsys):
    argv = shlex.split(command)[3:] + ["--logdir", str(tmp_path)] + ([] if "--epochs" in command else ["--epochs", "1"])
    if command.startswith(OWN_PROCESS):
        result = run_module(shlex.split(command)[2], *argv, timeout=300)
        code, out = result.returncode, result.stdout
    else:
        code, out, _ = compare_in_process(argv, capsys)
    claimed = VERDICTS.search(comment)
    if claimed:
        assert f"verdict: {claimed.group(1)}" in out, f"{page}: {command} # {comment}\n{out[-2000:]}"
        assert code == (1 if claimed.group(1) == "mismatch" else 0)
    else:
        assert code == 0, f"{page}: {command}\n{out[-2000:]}"
