"""The command line: ``python -m sklearn_daeknn [demo] --help``.

The benchmarks have their own, ``python -m benchmarks`` (a clone's
``benchmarks/`` folder, tested in ``benchmarks/tests/``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import sklearn_daeknn
from sklearn_daeknn.__main__ import COMMANDS, main


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _fails(capsys, *argv) -> str:
    """Run the command line; it must fail with status 2 and one line on stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_main_help_lists_the_commands(capsys):
    out = _help(capsys)
    assert out.startswith("usage: python -m sklearn_daeknn")
    for name in COMMANDS:
        assert name in out
    assert set(COMMANDS) == {"demo"}


def test_demo_help_lists_its_options(capsys):
    out = _help(capsys, "demo")
    for option in ("--eps", "--steps", "--hardening-strength", "--epochs", "--quiet"):
        assert option in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == sklearn_daeknn.__version__


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["no-such-command"], "error: argument COMMAND: invalid choice: 'no-such"),
        (["--eps", "abc"], "error: argument --eps: invalid float value: 'abc'"),
        (["demo", "--steps", "1.5"], "error: argument --steps: invalid int value"),
        (["--epochs"], "error: argument --epochs: expected one argument"),
        (["--no-such-option"], "error: unrecognized arguments: --no-such-option"),
        (["benchmark", "mnist"], "error: the benchmarks are not part of the installed"),
    ],
)
def test_parse_errors_are_one_line(capsys, argv, start):
    err = _fails(capsys, *argv)
    assert err.startswith(start), err
    assert err.rstrip().endswith("(see python -m sklearn_daeknn --help)") or (
        "(see python -m sklearn_daeknn demo --help)" in err
    )


@pytest.mark.parametrize(
    ("argv", "parameter"),
    [(["--epochs", "-1"], "epochs"), (["--n-neighbors", "0"], "n_neighbors")],
)
def test_bad_values_are_one_line(capsys, argv, parameter):
    # The estimator rejects the value before any training: fast.
    err = _fails(capsys, *argv, "--quiet")
    assert err.startswith("error: ") and parameter in err, err


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


def test_python_dash_m_user_error_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_daeknn", "--n-neighbors", "0", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
