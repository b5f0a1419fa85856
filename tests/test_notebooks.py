"""Execute the notebooks of ``notebooks/`` (deselect with ``-m "not notebooks"``).

Each notebook runs top to bottom in a fresh kernel, in its own folder, as a
user would run it. The ``notebooks`` extra (nbclient, nbformat, ipykernel)
must be installed; without it these tests are skipped. A notebook that
passes is saved, executed, to ``docs/notebooks/`` (git-ignored), which the
docs build then renders instead of executing the notebook again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(REPO / "docs" / "_ext"))
import executed_notebooks  # noqa: E402

NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
#: Seconds a whole notebook may take (each is meant to run in under 2 minutes
#: on 2 cores; the margin absorbs a busy machine).
TIME_LIMIT = 300


def test_the_notebooks_are_there():
    assert len(NAMES) >= 3
    for prefix in ("01_", "02_", "03_"):
        assert any(name.startswith(prefix) for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    notebook = json.loads((NOTEBOOKS / name).read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name} holds outputs: clear them"
            assert cell["execution_count"] is None


@pytest.mark.notebooks
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, monkeypatch):
    mnist = REPO.parent / "shared" / "data" / "mnist"
    if mnist.is_dir():  # notebook 03 reads MNIST from the folder this names
        monkeypatch.setenv("DAEKNN_MNIST", str(mnist))
    pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # Raises CellExecutionError, with the traceback, when a cell fails.
    notebook, elapsed = executed_notebooks.execute(NOTEBOOKS / name, TIME_LIMIT)
    assert elapsed < TIME_LIMIT, f"{name} took {elapsed:.0f} s"
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    # Every code cell ran, and the plots were drawn.
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    images = [
        output
        for cell in code
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, f"{name} drew no figure"
    executed_notebooks.store(notebook, NOTEBOOKS / name)
    assert executed_notebooks.is_fresh(NOTEBOOKS / name)
