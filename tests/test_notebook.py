"""notebooks/keras_follow_up.ipynb, the follow-up the primer promised: its saved outputs show the curves,
the gradients and the planted bug found (so it reads on GitHub without running), its text form is the
same notebook, and it runs top to bottom."""
import os
import sys

import jupytext
import nbformat
import pytest

from helpers import ROOT

NOTEBOOKS = os.path.join(ROOT, "notebooks")
sys.path.insert(0, NOTEBOOKS)
import refresh  # noqa: E402 - notebooks/refresh.py, beside the notebook

NOTEBOOK = os.path.join(NOTEBOOKS, "keras_follow_up.ipynb")


def texts(notebook):
    """Every code cell's printed text (stdout, stderr, text/plain), in order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(found)


def test_the_saved_notebook_shows_the_curves_the_gradients_and_the_planted_bug():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    run = [cell for cell in notebook.cells if cell.cell_type == "code" and refresh.NOT_RUN not in cell.metadata.get("tags", [])]
    assert run and all(cell.outputs for cell in run), [c.source[:60] for c in run if not c.outputs]
    assert not [o for c in run for o in c.outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for c in run for o in c.outputs)  # the two curves, one chart
    text = texts(notebook)
    assert "max |difference|" in text and "dense_2/bias" in text  # step 0's gradients side by side
    assert "after 30 epochs: validation accuracy" in text
    assert "verdict: mismatch. step 0" in text and "BP1 without f'(z^L)" in text  # the planted bug, found
    assert "absl" not in text and "I0000" not in text  # TensorFlow's own log lines left out


def test_the_text_form_is_the_same_notebook():
    """notebooks/keras_follow_up.py (jupytext, percent format) holds the cells the .ipynb holds: edit
    the .py, then `python notebooks/refresh.py`."""
    saved, text = nbformat.read(NOTEBOOK, as_version=4), jupytext.read(os.path.join(NOTEBOOKS, "keras_follow_up.py"))
    assert [(c.cell_type, c.source) for c in saved.cells] == [(c.cell_type, c.source) for c in text.cells]


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    """Run as a reader runs it (its own kernel, in notebooks/), 3 epochs instead of 30."""
    monkeypatch.setenv("FOLLOW_UP_EPOCHS", "3")
    monkeypatch.setenv("FOLLOW_UP_LOGDIR", str(tmp_path / "runs"))
    notebook = refresh.execute(nbformat.read(NOTEBOOK, as_version=4), timeout=180)
    text = texts(notebook)
    assert "3 epochs, TensorBoard logs in" in text and "after 3 epochs: validation accuracy" in text
    assert "verdict: mismatch. step 0" in text
    assert os.listdir(tmp_path / "runs" / "keras")  # Keras's TensorBoard folders
