"""Only the estimator's own module reads its private attributes.

Every module of ``sklearn_daeknn`` but ``_classifier.py``, and every file of
the clone's ``benchmarks/``, works with a fitted estimator through its public
API (``kneighbors``, ``layer_features``, ``layer_reducers_``,
``benign_rows_``, ...). Read from the source (``ast``).

The heuristic: an attribute access ``x._name`` (one leading underscore and a
lower-case letter, not a dunder) is a private read unless

* ``x`` is the code's own ``self`` or ``cls``, ``super()``, or a class (a
  name in CamelCase, such as ``_Attack``, whose class-level helpers are not
  a fitted estimator's state); or
* ``_name`` is a private attribute or method of a class defined in the same
  file (a module's functions may use its own classes' internals) and not one
  of :class:`~sklearn_daeknn.DAEkNNClassifier`'s.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sklearn_daeknn import DAEkNNClassifier

ROOT = Path(__file__).resolve().parent.parent
#: The one module allowed to read the estimator's private state.
OWNER = ROOT / "sklearn_daeknn" / "_classifier.py"
FILES = sorted(
    path
    for folder in ("sklearn_daeknn", "benchmarks")
    for path in (ROOT / folder).rglob("*.py")
    if path != OWNER
)

# A private class of a module (``torch.nn.modules.batchnorm._BatchNorm``) is
# not an estimator's attribute: attributes and methods are lower case.
_PRIVATE = re.compile(r"_[a-z0-9]")
_CLASS = re.compile(r"_?[A-Z]")


def _is_private(name: str) -> bool:
    return bool(_PRIVATE.match(name)) and not name.startswith("__")


def class_private_names(tree: ast.AST) -> set[str]:
    """The private names the classes of ``tree`` define: methods, class
    attributes and ``self._x = ...`` assignments."""
    names = set()
    for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
        for node in ast.walk(cls):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return {name for name in names if _is_private(name)}


#: Private names of a fitted estimator: its class's (scikit-learn's bases
#: included) and those its own module assigns.
ESTIMATOR_PRIVATE = {
    name for name in dir(DAEkNNClassifier) if _is_private(name)
} | class_private_names(ast.parse(OWNER.read_text()))


def _is_own(value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls") or bool(_CLASS.match(value.id))
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def private_reads(source: str, filename: str) -> list[str]:
    """``file:line: expression`` of each private attribute read."""
    tree = ast.parse(source, filename)
    local = class_private_names(tree) - ESTIMATOR_PRIVATE
    return [
        f"{filename}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _is_private(node.attr)
        and node.attr not in local
        and not _is_own(node.value)
    ]


def test_the_check_finds_private_reads():
    source = (
        "class Vote:\n"
        "    def __init__(self):\n"
        "        self._banks = []\n"
        "        self._proba = None\n"
        "def f(clf, self, other):\n"
        "    a = clf._y\n"
        "    b = clf.net_._history\n"
        "    c = self._x + cls_like.public\n"
        "    d = _Attack._constraints(1)\n"
        "    e = super().__init__, obj.__dict__, torch._BatchNorm\n"
        "    g = other._banks\n"
        "    h = clf._proba(1)\n"
        "    return estimator._reducers[0]\n"
    )
    assert private_reads(source, "m.py") == [
        "m.py:6: clf._y",
        "m.py:7: clf.net_._history",
        "m.py:12: clf._proba",
        "m.py:13: estimator._reducers",
    ]
    assert {"_proba", "_fit", "_validate_X", "_get_param_names"} <= ESTIMATOR_PRIVATE


def test_the_files_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in FILES}
    assert {"sklearn_daeknn/_vote.py", "benchmarks/_runner.py"} <= names
    assert "sklearn_daeknn/_classifier.py" not in names


@pytest.mark.parametrize(
    "path", FILES, ids=[path.relative_to(ROOT).as_posix() for path in FILES]
)
def test_no_private_attribute_read_outside_the_estimator(path):
    found = private_reads(path.read_text(), path.relative_to(ROOT).as_posix())
    assert not found, (
        "private attributes read outside sklearn_daeknn/_classifier.py (use the "
        "estimator's public API):\n" + "\n".join(found)
    )
