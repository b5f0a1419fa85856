"""The command line: ``python -m sklearn_daeknn [demo|benchmark] --help``."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sklearn_daeknn
from sklearn_daeknn import benchmarks
from sklearn_daeknn.__main__ import COMMANDS, main


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_main_help_lists_the_commands(capsys):
    out = _help(capsys)
    assert out.startswith("usage: python -m sklearn_daeknn")
    for name in COMMANDS:
        assert name in out
    assert {"demo", "benchmark"} <= set(COMMANDS)


def test_demo_help_lists_its_options(capsys):
    out = _help(capsys, "demo")
    for option in ("--eps", "--steps", "--hardening-strength", "--epochs", "--quiet"):
        assert option in out


def test_benchmark_help_lists_the_benchmarks(capsys):
    out = _help(capsys, "benchmark")
    assert "NAME" in out
    for name in benchmarks.BENCHMARKS:
        assert name in out


@pytest.mark.parametrize("name", sorted(benchmarks.BENCHMARKS))
def test_each_benchmark_has_help(capsys, name):
    out = _help(capsys, "benchmark", name)
    assert out.startswith(f"usage: python -m sklearn_daeknn benchmark {name}")


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == sklearn_daeknn.__version__


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    # The real entry point, in a fresh interpreter.
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_daeknn", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout
    assert "benchmark" in result.stdout
