"""`python notebooks/refresh.py`: rebuild keras_follow_up.ipynb from keras_follow_up.py, its text form
for review (jupytext's percent format: edit that one), and run it top to bottom in this folder with
its outputs saved, so that it reads on GitHub without running. A cell tagged `tensorboard` starts a
TensorBoard server: it is kept in the notebook, not run here. TensorFlow's own log lines (absl's,
written before TF_CPP_MIN_LOG_LEVEL takes effect) are left out of the saved outputs."""
import pathlib

import re

import jupytext
import nbclient
import nbformat

HERE = pathlib.Path(__file__).resolve().parent
SOURCE, NOTEBOOK = HERE / "keras_follow_up.py", HERE / "keras_follow_up.ipynb"
NOT_RUN = "tensorboard"  # the tag of the cells left for a reader's own kernel
NATIVE_LOG_LINE = r"(WARNING: All log messages before absl::InitializeLog\(\) is called|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\] )"


def execute(notebook, folder=HERE, timeout=600):
    """Run every code cell of `notebook` but those tagged NOT_RUN, in `folder`, keeping their outputs."""
    kept = [(i, cell) for i, cell in enumerate(notebook.cells) if NOT_RUN in cell.metadata.get("tags", [])]
    for i, _ in reversed(kept):
        del notebook.cells[i]
    try:
        nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for i, cell in kept:
            notebook.cells.insert(i, cell)
    return notebook


def without_native_logs(notebook):
    """`notebook` without TensorFlow's own log lines in its stderr outputs (keras_impl/native_logs.py)."""
    absl = re.compile(NATIVE_LOG_LINE)
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                output.text = "".join(line for line in output.text.splitlines(True) if not absl.match(line))
                if not output.text:
                    continue
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return notebook


def main():
    notebook = without_native_logs(execute(jupytext.read(SOURCE)))
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK.relative_to(HERE.parent)}: {len(notebook.cells)} cells, outputs saved")


if __name__ == "__main__":
    main()
