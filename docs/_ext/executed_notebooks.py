"""Executed copies of the notebooks, for the docs to render with their outputs.

The notebooks of ``notebooks/`` are stored without outputs. Their test
(``tests/test_notebooks.py``) executes each one and saves the executed copy
to ``docs/notebooks/`` (git-ignored) with a key made from the notebook and the
library's source. At the start of a docs build, this extension checks every
copy: a copy whose key matches is rendered as it is, and a missing or stale
one (the notebook or the library changed since) is executed here first, so a
docs build alone also shows outputs. Setting ``DAEKNN_DOCS_EXECUTE=never``
skips that execution and renders stale notebooks without outputs.

Execution runs a fresh ``python3`` kernel in ``notebooks/``, as a user who
opens the notebook there would.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_DIR = REPO / "notebooks"
EXECUTED_DIR = REPO / "docs" / "notebooks"
PACKAGE_DIR = REPO / "sklearn_daeknn"
#: The notebook metadata entry that holds the key of an executed copy.
METADATA_KEY = "sklearn_daeknn_executed"
#: Seconds one cell may run before the execution fails.
CELL_TIMEOUT = 300


def sources() -> list[Path]:
    """The notebooks of ``notebooks/``, by name."""
    return sorted(SOURCE_DIR.glob("*.ipynb"))


def source_key(source: Path) -> str:
    """A hash of the notebook's file and of every ``.py`` file of the library."""
    digest = hashlib.sha256(source.read_bytes())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def executed_path(source: Path) -> Path:
    return EXECUTED_DIR / source.name


def is_fresh(source: Path) -> bool:
    """Whether the executed copy of ``source`` exists and matches its key."""
    import nbformat

    target = executed_path(source)
    if not target.is_file():
        return False
    try:
        notebook = nbformat.read(target, as_version=4)
    except Exception:  # a truncated or foreign file is simply not fresh
        return False
    return notebook.metadata.get(METADATA_KEY) == source_key(source)


def execute(source: Path, timeout: int = CELL_TIMEOUT):
    """Run ``source`` top to bottom in a fresh kernel in its own folder.

    Returns the executed notebook and the seconds it took; raises nbclient's
    ``CellExecutionError``, with the traceback, when a cell fails.
    """
    import nbclient
    import nbformat

    notebook = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(source.parent)}},
    )
    # The kernel draws inline figures, whatever backend this process chose
    # (the docs build sets MPLBACKEND=Agg, which would hide every plot).
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    start = time.perf_counter()
    client.execute(env=env)
    return notebook, time.perf_counter() - start


def store(notebook, source: Path, *, executed: bool = True) -> Path:
    """Write ``notebook`` as the copy of ``source`` that the docs render.

    Only an ``executed`` copy gets the key that marks it fresh. The write is
    atomic, so an interrupted run never leaves a half-written copy.
    """
    import nbformat

    notebook.metadata.pop(METADATA_KEY, None)
    if executed:
        notebook.metadata[METADATA_KEY] = source_key(source)
    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    target = executed_path(source)
    partial = target.with_name(f".{target.name}.partial")
    nbformat.write(notebook, partial)
    partial.replace(target)
    return target


def prepare(app, config) -> None:
    """``config-inited``: make every copy fresh; drop copies of removed notebooks."""
    import nbformat
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    names = {source.name for source in sources()}
    for stale in EXECUTED_DIR.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    execute_stale = os.environ.get("DAEKNN_DOCS_EXECUTE", "auto") != "never"
    for source in sources():
        if is_fresh(source):
            logger.info(f"notebooks/{source.name}: rendering its executed copy")
        elif execute_stale:
            logger.info(f"notebooks/{source.name}: no fresh executed copy, executing")
            notebook, seconds = execute(source)
            store(notebook, source)
            logger.info(f"notebooks/{source.name}: executed in {seconds:.0f} s")
        else:
            store(nbformat.read(source, as_version=4), source, executed=False)


def setup(app) -> dict:
    app.connect("config-inited", prepare)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
