"""The benchmarks' command line: ``python -m benchmarks [NAME] --help``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS, main

ROOT = Path(__file__).resolve().parents[2]


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_help_lists_the_benchmarks(capsys):
    out = _help(capsys)
    assert out.startswith("usage: python -m benchmarks")
    for name in BENCHMARKS:
        assert name in out


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_each_benchmark_has_help(capsys, name):
    out = _help(capsys, name)
    assert out.startswith(f"usage: python -m benchmarks {name}")
    assert "--out" in out
    # No default points into a clone's neighbours or the committed pages.
    assert "../" not in out and "default docs/results" not in out


def test_mnist_help(capsys):
    text = _help(capsys, "mnist")
    assert "--data" in text and "--quick" in text and "--cache-dir" in text
    assert "DAEKNN_MNIST" in text


def test_mnist_help_shows_the_suite_and_the_defaults(capsys):
    out = " ".join(_help(capsys, "mnist").split())
    for option in ("--adaptive-steps", "--autoattack-steps", "--sweep, --no-sweep"):
        assert option in out
    assert "training images per class (2000)" in out
    assert "adversarial-training epochs per eps stage (2)" in out
    assert "each attack's adversarial inputs" in out  # --cache-dir resumes


def test_digits_help_has_the_main_jobs_options(capsys):
    out = _help(capsys, "digits")
    for option in ("--eps", "--adaptive-steps", "--epochs", "--out", "--quiet"):
        assert option in out


def test_python_dash_m_benchmarks():
    # The real entry point, in a fresh interpreter, from the repository root.
    env = {k: v for k, v in os.environ.items() if k != "DAEKNN_MNIST"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    for name in BENCHMARKS:
        assert name in result.stdout
