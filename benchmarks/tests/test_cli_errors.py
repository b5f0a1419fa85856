"""Hostile command lines: each a user's mistake, each one line and status 2.

No traceback, and nothing written: ``--out`` is created only after the data
were read.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import _cli
from benchmarks.__main__ import main

from .conftest import write_idx

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_mnist_env(monkeypatch):
    monkeypatch.delenv(_cli.MNIST_ENV, raising=False)


def _fails(capsys, *argv) -> str:
    """Run ``python -m benchmarks ARGV`` in-process: status 2, one line."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def corrupt_mnist(tmp_path, fake_mnist):
    """The fake MNIST files, the training images cut short."""
    folder = tmp_path / "corrupt"
    folder.mkdir()
    for path in fake_mnist.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    images = folder / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    return folder


# ----------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["--eps", "abc"], "error: argument --eps: must be a number >= 0; got 'abc'"),
        (["--eps", "-0.1"], "error: argument --eps: must be a finite number >= 0"),
        (["--eps", "nan"], "error: argument --eps: must be a finite number >= 0"),
        (["--eps", "inf"], "error: argument --eps: must be a finite number >= 0"),
        (["--n-per-class", "0"], "error: argument --n-per-class: must be a positive"),
        (["--n-test", "1.5"], "error: argument --n-test: must be a positive integer"),
        (["--steps", "-1"], "error: argument --steps: must be a positive integer"),
        (["--epochs", "-1"], "error: argument --epochs: must be an integer >= 0"),
        (["--seed", "x"], "error: argument --seed: must be an integer >= 0"),
        (["--n-neighbors", "0"], "error: argument --n-neighbors: must be a positive"),
        (
            ["--hardening-strength", "-1"],
            "error: argument --hardening-strength: must be a finite number >= 0",
        ),
        (["--train-eps", "0.1,,0.3"], "error: argument --train-eps: must be one eps"),
        (["--train-eps", "abc"], "error: argument --train-eps: must be one eps"),
        (["--train-eps", "0.1,-0.2"], "error: argument --train-eps: must be one eps"),
        (["--train-eps", ""], "error: argument --train-eps: must be one eps"),
        (
            ["--vote-layers", "block1,,block2"],
            "error: argument --vote-layers: must be comma-separated names",
        ),
        (["--weighting", "nearest"], "error: argument --weighting: invalid choice"),
        (["--steps"], "error: argument --steps: expected one argument"),
        (["--no-such-option"], "error: unrecognized arguments: --no-such-option"),
    ],
)
def test_mnist_bad_values(capsys, tmp_path, argv, start):
    out = tmp_path / "out"
    err = _fails(capsys, "mnist", "--data", str(tmp_path), "--out", str(out), *argv)
    assert err.startswith(start), err
    assert err.rstrip().endswith("--help)") and "(see python -m benchmarks" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["no-such-benchmark"], "error: argument NAME: invalid choice: 'no-such"),
        ([], "error: the following arguments are required: NAME"),
        (["mnist", "--adaptive-steps", "0"], "error: argument --adaptive-steps"),
        (["mnist", "--autoattack-targets", "x"], "error: argument --autoattack"),
        (["digits", "--eps", "x"], "error: argument --eps: invalid float value"),
        (["cifar10", "--width", "0"], "error: argument --width: must be a finite"),
        (["cifar10", "--lr=-1e-3"], "error: argument --lr: must be a finite"),
        (["cifar10", "--gpu-tflops", "0"], "error: argument --gpu-tflops: must be"),
        (["scale", "--sizes", "0"], "error: argument --sizes: must be a positive"),
        (["scale", "-k", "0"], "error: argument -k: must be a positive integer"),
        (["scale", "--skip", "nothing"], "error: argument --skip: invalid choice"),
    ],
)
def test_other_bad_values(capsys, argv, start):
    err = _fails(capsys, *argv)
    assert err.startswith(start), err


def test_vote_layers_must_be_indexed(capsys, tmp_path):
    err = _fails(capsys, "mnist", "--data", str(tmp_path), "--vote-layers", "block9")
    assert err.startswith("error: vote_layers must be a non-empty subset of the")


def test_adaptive_losses_must_be_known(capsys, tmp_path):
    argv = ["mnist", "--data", str(tmp_path), "--adaptive-losses", "vote-ce,nope"]
    assert _fails(capsys, *argv).startswith("error: adaptive_losses must be a non-")


# ----------------------------------------------------------- data


def test_mnist_needs_data(capsys, tmp_path):
    err = _fails(capsys, "mnist", "--out", str(tmp_path / "out"))
    assert err.startswith("error: --data FOLDER is required (the four MNIST IDX")
    assert "DAEKNN_MNIST" in err
    assert not (tmp_path / "out").exists()


def test_missing_data_folder(capsys, tmp_path):
    out = tmp_path / "out"
    missing = tmp_path / "no-such-folder"
    err = _fails(capsys, "mnist", "--quick", "--data", str(missing), "--out", str(out))
    assert err.startswith(f"error: cannot read the mnist data in '{missing}': ")
    assert not out.exists()


def test_missing_data_folder_from_the_environment(capsys, tmp_path, monkeypatch):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv(_cli.MNIST_ENV, str(missing))
    err = _fails(capsys, "mnist", "--quick", "--out", str(tmp_path / "out"))
    assert err.startswith(f"error: cannot read the mnist data in '{missing}': ")


def test_data_folder_without_the_files(capsys, tmp_path):
    argv = ["mnist", "--quick", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    assert _fails(capsys, *argv).startswith("error: cannot read the mnist data in")
    assert not (tmp_path / "o").exists()


def test_corrupt_idx(capsys, tmp_path, corrupt_mnist):
    out = tmp_path / "out"
    err = _fails(
        capsys, "mnist", "--quick", "--data", str(corrupt_mnist), "--out", str(out)
    )
    assert err.startswith(f"error: cannot read the mnist data in '{corrupt_mnist}': ")
    assert not out.exists()


def test_corrupt_gzip_idx(capsys, tmp_path, fake_mnist):
    folder = tmp_path / "gz"
    folder.mkdir()
    for path in fake_mnist.iterdir():
        target = folder / f"{path.name}.gz"
        target.write_bytes(gzip.compress(path.read_bytes()))
    labels = folder / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-12])  # a truncated stream
    err = _fails(
        capsys, "mnist", "--quick", "--data", str(folder), "--out", str(folder)
    )
    assert err.startswith(f"error: cannot read the mnist data in '{folder}': ")


def test_idx_of_the_wrong_shape(capsys, tmp_path, fake_mnist):
    folder = tmp_path / "shape"
    folder.mkdir()
    for path in fake_mnist.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8))
    err = _fails(capsys, "mnist", "--quick", "--data", str(folder))
    assert err.startswith(f"error: cannot read the mnist data in '{folder}': ")


def test_cifar10_missing_data(capsys, tmp_path):
    argv = ["cifar10", "--device", "cpu", "--data", str(tmp_path / "none")]
    err = _fails(capsys, *argv, "--out", str(tmp_path / "out"))
    assert err.startswith("error: cannot read the cifar10 data in")
    assert not (tmp_path / "out").exists()


def test_cifar10_needs_data(capsys):
    err = _fails(capsys, "cifar10")
    assert err.startswith("error: --data FOLDER is required (CIFAR-10's")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cifar10_default_device_needs_a_gpu(capsys, tmp_path):
    err = _fails(capsys, "cifar10", "--data", str(tmp_path))
    assert err.startswith("error: --device 'cuda' but no CUDA GPU is visible")


def test_scale_mnist_folder_without_files(capsys, tmp_path):
    err = _fails(capsys, "scale", "--mnist", str(tmp_path), "--out", str(tmp_path))
    assert err.startswith(f"error: --mnist '{tmp_path}': no MNIST IDX files there")


# ----------------------------------------------------------- --out


@pytest.mark.parametrize("name", ["mnist", "digits", "cifar10", "scale"])
def test_out_is_an_existing_file(capsys, tmp_path, fake_mnist, name):
    out = tmp_path / "results.json"
    out.write_text("{}")
    data = {"mnist": fake_mnist, "cifar10": tmp_path}
    argv = [name, "--out", str(out)]
    if name in data:
        argv += ["--data", str(data[name])]
    if name == "cifar10":
        argv += ["--device", "cpu"]
    if name == "scale":
        argv += ["--quick"]
    err = _fails(capsys, *argv)
    assert err.startswith(f"error: --out '{out}' is a file, not a folder"), err
    assert out.read_text() == "{}"


def test_out_under_a_file(capsys, tmp_path, fake_mnist):
    parent = tmp_path / "file"
    parent.write_text("")
    out = parent / "results"
    err = _fails(
        capsys, "mnist", "--quick", "--data", str(fake_mnist), "--out", str(out)
    )
    assert err.startswith(f"error: --out '{out}' cannot be created: '{parent}' is a")


def test_cache_dir_is_a_file(capsys, tmp_path, fake_mnist):
    cache = tmp_path / "cache"
    cache.write_text("")
    argv = ["mnist", "--quick", "--data", str(fake_mnist), "--cache-dir", str(cache)]
    err = _fails(capsys, *argv, "--out", str(tmp_path / "out"))
    assert err.startswith(f"error: --cache-dir '{cache}' is a file, not a folder")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root may write anywhere",
)
def test_out_not_writable(capsys, tmp_path, fake_mnist):  # pragma: no cover - root
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        out = locked / "results"
        argv = ["mnist", "--quick", "--data", str(fake_mnist), "--out", str(out)]
        err = _fails(capsys, *argv)
    finally:
        locked.chmod(0o700)
    assert err.startswith(f"error: --out '{out}' is not writable")


def test_out_not_writable_as_the_os_says(capsys, tmp_path, fake_mnist, monkeypatch):
    # The same check where the tests run as root: the OS refuses the write.
    monkeypatch.setattr(_cli.os, "access", lambda path, mode: False)
    out = tmp_path / "results"
    argv = ["mnist", "--quick", "--data", str(fake_mnist), "--out", str(out)]
    err = _fails(capsys, *argv)
    assert err.startswith(f"error: --out '{out}' is not writable (no write permission")
    assert not out.exists()


# ----------------------------------------------------------- the real entry point


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["mnist", "--train-eps", "0.1,x"], "error: argument --train-eps: must be"),
        (["mnist", "--quick"], "error: --data FOLDER is required"),
    ],
)
def test_python_dash_m_has_no_traceback(tmp_path, argv, start):
    env = {k: v for k, v in os.environ.items() if k != _cli.MNIST_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(start), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("cache", "says"),
    [(True, "the same command resumes"), (False, "with --cache-dir, a rerun")],
)
def test_an_interrupted_run_says_how_to_resume(
    capsys, tmp_path, monkeypatch, cache, says
):
    from benchmarks import __main__ as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    argv = ["mnist", "--data", str(tmp_path)]
    argv += ["--cache-dir", str(tmp_path / "cache")] if cache else []
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted;") and says in err and err.count("\n") == 1
