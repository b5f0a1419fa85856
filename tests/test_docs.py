"""The documentation's code: doctests of the pages, Examples of the public API.

The Sphinx build itself (``sphinx-build -W``) runs in CI (``.ci/run``); these
tests keep the code shown on the pages true without building the site.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

import sklearn_daeknn

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import api_reference  # noqa: E402
import executed_notebooks  # noqa: E402

PAGES = sorted(
    str(path.relative_to(DOCS))
    for path in DOCS.rglob("*.rst")
    if "_build" not in path.parts
    and "generated" not in path.parts
    and ">>> " in path.read_text()
)
PUBLIC_MODULES = [
    "sklearn_daeknn",
    "sklearn_daeknn.datasets",
    "sklearn_daeknn.plotting",
]
#: Public names whose docstrings may lack a runnable Examples section, and why.
NO_EXAMPLES = {
    "NNDescentIndex": "building one compiles pynndescent's numba kernels (tens of s)",
}


def test_pages_with_code_are_found():
    assert {"getting_started.rst", "user_guide/persistence.rst"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_doctests(page):
    result = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) of docs/{page} failed"


def _public_objects():
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{module_name}.{name}", name, obj


@pytest.mark.parametrize(
    ("qualname", "name", "obj"),
    list(_public_objects()),
    ids=[q for q, _, _ in _public_objects()],
)
def test_public_api_has_runnable_examples(qualname, name, obj):
    # pytest --doctest-modules runs these Examples; this checks they exist.
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{qualname} has no docstring"
    if name in NO_EXAMPLES:
        return
    assert "\nExamples\n--------\n" in doc, f"{qualname} has no Examples section"
    examples = doc.split("\nExamples\n--------\n", 1)[1]
    assert ">>> " in examples, f"{qualname}'s Examples have no doctest"


def test_version_and_typed_marker():
    assert isinstance(sklearn_daeknn.__version__, str)
    assert sklearn_daeknn.__version__.count(".") >= 1
    package = Path(sklearn_daeknn.__file__).parent
    assert (package / "py.typed").is_file()


# -- the API reference's topic map ---------------------------------------------


def test_api_topics_cover_the_public_modules():
    assert set(api_reference.API_TOPICS) == set(PUBLIC_MODULES)


def test_every_public_name_is_placed_in_a_topic():
    assert api_reference.placement_errors() == []


def test_an_unplaced_public_name_is_reported(monkeypatch):
    monkeypatch.setattr(sklearn_daeknn, "__all__", [*sklearn_daeknn.__all__, "Nova"])
    (error,) = api_reference.placement_errors()
    assert "sklearn_daeknn exports Nova" in error
    assert "API_TOPICS['sklearn_daeknn']" in error
    assert "estimator" in error  # the topics to choose from


def test_a_stale_or_misplaced_name_is_reported():
    topics = {
        module: dict(placed) for module, placed in api_reference.API_TOPICS.items()
    }
    topics["sklearn_daeknn"]["Gone"] = "attacks"
    topics["sklearn_daeknn.datasets"]["load_mnist"] = "nowhere"
    errors = api_reference.placement_errors(topics)
    assert len(errors) == 2
    assert "places Gone, which sklearn_daeknn.__all__ does not export" in errors[0]
    assert "unknown topics {'load_mnist': 'nowhere'}" in errors[1]


def test_api_reference_lists_each_name_once_in_topic_order():
    text = api_reference.reference_text()
    titles = [title for title, _ in api_reference.TOPICS.values()]
    positions = [text.index(f"\n{title}\n{'-' * len(title)}\n") for title in titles]
    assert positions == sorted(positions)
    entries = re.findall(r"^   (\w+)$", text, flags=re.MULTILINE)
    placed = [name for names in api_reference.API_TOPICS.values() for name in names]
    assert sorted(entries) == sorted(placed)


def test_public_constants_have_a_doc_comment():
    pytest.importorskip("sphinx")
    for module_name, placed in api_reference.API_TOPICS.items():
        module = importlib.import_module(module_name)
        for name in placed:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                continue
            doc = api_reference.constant_doc(module_name, name)
            assert doc, f"{module_name}.{name} needs a '#:' comment where it is set"


# -- pages that list other pages ------------------------------------------------


def _toctree_entries(page: Path) -> list[str]:
    entries, inside = [], False
    for line in page.read_text().splitlines():
        if line.startswith(".. toctree::"):
            inside = True
        elif inside and line.startswith("   ") and not line.strip().startswith(":"):
            entries.append(line.strip())
        elif inside and line and not line.startswith(" "):
            inside = False
    return entries


def test_results_index_lists_every_results_page_main_results_first():
    entries = _toctree_entries(DOCS / "results" / "index.rst")
    pages = {
        path.stem
        for path in (DOCS / "results").iterdir()
        if path.suffix in {".md", ".rst"} and path.stem != "index"
    }
    assert sorted(entries) == sorted(pages), "list every results page, once"
    assert entries[:3] == ["digits", "mnist", "mnist_gpu"]
    assert entries[-1] == "cifar10"  # not run here: last


def test_notebooks_page_lists_every_notebook():
    entries = _toctree_entries(DOCS / "notebooks.rst")
    sources = executed_notebooks.sources()
    assert entries == [f"notebooks/{source.stem}" for source in sources]


# -- the executed copies of the notebooks ----------------------------------------


@pytest.fixture
def notebook_dirs(tmp_path, monkeypatch):
    """A notebook, a library and a folder of executed copies, all in tmp_path."""
    nbformat = pytest.importorskip("nbformat")
    source = tmp_path / "notebooks" / "demo.ipynb"
    source.parent.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(notebook, source)
    package = tmp_path / "package"
    package.mkdir()
    (package / "core.py").write_text("X = 1\n")
    monkeypatch.setattr(executed_notebooks, "PACKAGE_DIR", package)
    monkeypatch.setattr(executed_notebooks, "EXECUTED_DIR", tmp_path / "executed")
    return nbformat, source, package


def test_an_executed_copy_is_fresh_until_notebook_or_library_change(notebook_dirs):
    nbformat, source, package = notebook_dirs
    assert not executed_notebooks.is_fresh(source)  # no copy yet
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    target = executed_notebooks.store(notebook, source)
    assert target == executed_notebooks.EXECUTED_DIR / "demo.ipynb"
    assert executed_notebooks.is_fresh(source)
    assert nbformat.read(target, as_version=4).cells[0].outputs[0].text == "1\n"

    (package / "core.py").write_text("X = 2\n")
    assert not executed_notebooks.is_fresh(source)
    executed_notebooks.store(notebook, source)
    assert executed_notebooks.is_fresh(source)

    source.write_text(source.read_text().replace("print(1)", "print(2)"))
    assert not executed_notebooks.is_fresh(source)


def test_an_unexecuted_or_broken_copy_is_not_fresh(notebook_dirs):
    nbformat, source, _ = notebook_dirs
    executed_notebooks.store(
        nbformat.read(source, as_version=4), source, executed=False
    )
    assert not executed_notebooks.is_fresh(source)
    executed_notebooks.executed_path(source).write_text('{"cells": [')
    assert not executed_notebooks.is_fresh(source)
    assert list(executed_notebooks.EXECUTED_DIR.glob(".*partial")) == []


def test_every_results_figure_is_shown_by_a_page():
    results = DOCS / "results"
    pages = " ".join(p.read_text() for p in results.glob("*.md"))
    unshown = [png.name for png in results.glob("*.png") if png.name not in pages]
    assert unshown == [], "show these figures on a page, or remove them"
