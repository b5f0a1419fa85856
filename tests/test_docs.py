"""The documentation's code: doctests of the pages, Examples of the public API.

The Sphinx build itself (``sphinx-build -W``) runs in CI (``.ci/run``); these
tests keep the code shown on the pages true without building the site.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from pathlib import Path

import pytest

import sklearn_daeknn

DOCS = Path(__file__).resolve().parent.parent / "docs"
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
