"""The layout: the library is the package, the experiments its first client.

Read from the source files (``ast``), nothing imported: the import graph of
``sklearn_daeknn`` and of the clone's ``benchmarks/`` has no circle, the
library never imports the benchmarks, and the benchmarks use only the
library's public API.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = "sklearn_daeknn"
BENCHMARKS = "benchmarks"
#: The library's public submodules; everything else under it is private.
#: ``__main__`` is the command line's (``[project.scripts]`` names it).
PUBLIC_SUBMODULES = ("datasets", "plotting", "__main__")


def _module_files(package: str) -> dict[str, Path]:
    modules = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = {**_module_files(LIBRARY), **_module_files(BENCHMARKS)}


def _imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """``(imported module, names, line)`` of every import statement, anywhere."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            yield base, [alias.name for alias in node.names], node.lineno


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``modules`` it imports (submodules by name)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for base, names, _ in _imports(name, path):
            submodules = {f"{base}.{n}" for n in names} & modules.keys()
            graph[name] |= submodules
            if base in modules and (not names or len(submodules) < len(names)):
                graph[name].add(base)
        graph[name].discard(name)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


GRAPH = import_graph(MODULES)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_relative_and_lazy_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("def f():\n    from . import b\n")
    (package / "b.py").write_text("from .a import f\nfrom pkg import a\n")
    modules = {
        "pkg": package / "__init__.py",
        "pkg.a": package / "a.py",
        "pkg.b": package / "b.py",
    }
    graph = import_graph(modules)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert find_cycles(graph) == [["pkg.a", "pkg.b"]]


def test_both_packages_are_read():
    assert {f"{LIBRARY}._classifier", f"{BENCHMARKS}._runner"} <= GRAPH.keys()
    assert f"{BENCHMARKS}._runner" in GRAPH[f"{BENCHMARKS}.mnist"]


def test_no_import_cycles():
    assert find_cycles(GRAPH) == []


def test_the_library_never_imports_the_benchmarks():
    for module, targets in GRAPH.items():
        if module.split(".")[0] == LIBRARY:
            assert not {t for t in targets if t.split(".")[0] == BENCHMARKS}, module
    assert not (ROOT / LIBRARY / "benchmarks").exists()


# ---------------------------------------------------------------- public API


def _public(submodule: str | None) -> set[str]:
    name = LIBRARY if submodule is None else f"{LIBRARY}.{submodule}"
    return set(importlib.import_module(name).__all__)


def _library_names(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` of everything ``path`` takes from the library."""
    aliases = set()
    for base, names, line in _imports(module, path):
        if base == LIBRARY and not names:
            aliases.add(LIBRARY)
        if base.split(".")[0] != LIBRARY:
            continue
        if not names:
            yield line, base
        for name in names:
            yield line, f"{base}.{name}"
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            yield node.lineno, f"{LIBRARY}.{node.attr}"


def _is_public(dotted: str) -> bool:
    parts = dotted.split(".")[1:]
    if not parts:
        return True  # ``import sklearn_daeknn``: the attributes are checked
    if len(parts) == 1:
        return parts[0] in _public(None) or parts[0] in PUBLIC_SUBMODULES
    return (
        len(parts) == 2
        and parts[0] in PUBLIC_SUBMODULES
        and parts[1] in _public(parts[0])
    )


BENCHMARK_FILES = {
    name: path for name, path in MODULES.items() if name.split(".")[0] == BENCHMARKS
}


@pytest.mark.parametrize("module", sorted(BENCHMARK_FILES))
def test_benchmarks_use_only_public_names(module):
    path = BENCHMARK_FILES[module]
    private = [
        f"{path.name}:{line}: {name}"
        for line, name in _library_names(path, module)
        if not _is_public(name)
    ]
    assert private == []
    # Code run in a subprocess is a string: no private module there either.
    assert not re.findall(rf"{LIBRARY}\._[a-z]", path.read_text())


@pytest.mark.parametrize("module", sorted(BENCHMARK_FILES))
def test_benchmarks_touch_no_private_attribute(module):
    # The heuristic: ``x._name`` on anything but the code's own ``self``;
    # a fitted estimator's private attributes are its ``_fit_context`` state.
    path = BENCHMARK_FILES[module]
    found = [
        f"{path.name}:{node.lineno}: .{node.attr}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute)
        and re.match(r"_[a-z]", node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert found == []


def test_the_public_name_check_can_fail():
    assert _is_public(f"{LIBRARY}.DAEkNNClassifier")
    assert _is_public(f"{LIBRARY}.datasets.load_mnist")
    assert not _is_public(f"{LIBRARY}._classifier")
    assert not _is_public(f"{LIBRARY}._index.ExactIndex")
    assert not _is_public(f"{LIBRARY}.datasets._check_folder")
    assert not _is_public(f"{LIBRARY}.no_such_name")


def test_public_names_of_each_benchmark_file():
    """The report of the layout: what each benchmark file takes from the library."""
    used = {
        module: sorted({name for _, name in _library_names(path, module)})
        for module, path in BENCHMARK_FILES.items()
    }
    assert f"{LIBRARY}.DAEkNNClassifier" in used[f"{BENCHMARKS}._protocol"]
    assert f"{LIBRARY}.refit_knn" in used[f"{BENCHMARKS}._fitting"]
    assert all(_is_public(n) for names in used.values() for n in names)


# ---------------------------------------------------------------- packaging


def test_the_wheel_holds_the_library_only_and_pytest_finds_the_benchmarks():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == [
        f"{LIBRARY}*"
    ]
    testpaths = config["tool"]["pytest"]["ini_options"]["testpaths"]
    assert BENCHMARKS in testpaths and LIBRARY in testpaths


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


def test_the_study_pins_every_runtime_dependency_within_its_range():
    # The pins reproduce the study pages' networks; a pin outside the
    # library's own range would be an environment the library refuses.
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = _pins(ROOT / BENCHMARKS / "constraints.txt")
    for requirement in map(Requirement, config["project"]["dependencies"]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"benchmarks/constraints.txt does not pin {name}"
        assert requirement.specifier.contains(pins[name]), (name, pins[name])
    ci = (ROOT / ".ci" / "run").read_text()
    assert f'"torch=={pins["torch"]}"' in ci
