"""Smoke tests of the paper benchmark (``benchmark mnist --quick``) on fake IDX."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sklearn_daeknn.__main__ import main as cli_main
from sklearn_daeknn.benchmarks import paper
from sklearn_daeknn.benchmarks.mnist import mnist_config

from .test_datasets import write_idx

ROWS = ["KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN-WAT", "DAEkNN-WAD", "DAEkNN"]


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """A folder with the four IDX files: 24 train images per class, 60 test."""
    folder = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 240), ("t10k", 60)):
        labels = np.arange(n, dtype=np.uint8) % 10
        # Class-dependent blobs so that the networks can learn something.
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 8, 4:24] = 250
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


@pytest.fixture(scope="module")
def quick_run(fake_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    cache = tmp_path_factory.mktemp("cache")
    argv = ["benchmark", "mnist", "--quick", "--data", str(fake_mnist)]
    argv += ["--out", str(out), "--cache-dir", str(cache), "--seed", "1"]
    assert cli_main(argv) == 0
    return out, cache


def test_quick_run_writes_json_and_pngs(quick_run, capsys):
    out, _ = quick_run
    results = json.loads((out / "mnist.json").read_text())
    for row in ROWS:
        for metric in ("SA", "AA", "HM"):
            assert 0.0 <= results[row][metric] <= 1.0
        assert results[row]["HM"] == pytest.approx(
            paper.harmonic_mean(results[row]["SA"], results[row]["AA"])
        )
    assert results["rows"] == ROWS
    assert results["seed"] == 1
    assert results["sizes"]["train"] == 100 and results["sizes"]["test"] == 30
    assert results["attack"]["eps"] == pytest.approx(80 / 255)
    assert "standard CNN" in results["KNN"]["protocol"]
    assert results["AT-CNN"]["attacked_network"] == "adversarially trained"
    assert results["per_layer"]["DAEkNN"]["layer"] == ["block1", "block2", "block3"]
    assert set(results["weightings"]["DAEkNN"]["scores"]) == {
        "relative",
        "softmax",
        "uniform",
        "released",
    }
    sweep = results["hardening_sweep"]["adversarially trained"]
    assert sweep["hardening_strength"] == [0.0, 0.3]
    # The sweep's eps_h = 0.3 point is the DAEkNN row itself.
    assert sweep["AA"][1] == pytest.approx(results["DAEkNN"]["AA"])
    assert sweep["SA"][0] == pytest.approx(results["DAEkNN-WAD"]["SA"])
    for key in ("versions", "wall_time_s", "notes", "config", "timings"):
        assert key in results
    for suffix in ("table1", "table2", "layers", "hardening", "weightings"):
        assert (out / f"mnist_{suffix}.png").stat().st_size > 1000


def test_rerun_uses_the_cache(quick_run, fake_mnist, tmp_path, monkeypatch):
    out, cache = quick_run
    before = json.loads((out / "mnist.json").read_text())

    def no_fit(*args, **kwargs):
        raise AssertionError("a cached model was refitted")

    monkeypatch.setattr(paper.DAEkNNClassifier, "fit", no_fit)
    config = mnist_config(
        fake_mnist, n_per_class=10, n_test=30, epochs=1, at_epochs=1,
        hardening_steps=1, train_steps=1, sweep=False, seed=1,
        train_eps_schedule=(), weighting="uniform",
    )  # fmt: skip
    config.attack_steps = 1
    results = paper.run_paper_benchmark(
        config,
        tmp_path,
        cache_dir=cache,
        verbose=0,
        evaluations=[("table", paper.evaluate_table)],
        figures=False,
    )
    # Rows without hardening data do not depend on the weighting.
    for row in ("KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN-WAD"):
        assert results[row]["SA"] == before[row]["SA"]
        assert results[row]["AA"] == before[row]["AA"]
    # The cached hardened models vote with the new config's weighting.
    uniform = before["weightings"]["DAEkNN"]["scores"]["uniform"]
    assert results["DAEkNN"]["SA"] == pytest.approx(uniform["SA"])
    assert results["DAEkNN"]["AA"] == pytest.approx(uniform["AA"])
    assert (tmp_path / "mnist.json").exists()
    assert not list(tmp_path.glob("*.png"))


def test_cli_help_lists_mnist(capsys):
    with pytest.raises(SystemExit):
        cli_main(["benchmark", "mnist", "--help"])
    text = capsys.readouterr().out
    assert "--data" in text and "--quick" in text and "--cache-dir" in text


def test_markdown_tables(quick_run):
    out, _ = quick_run
    results = json.loads((out / "mnist.json").read_text())
    text = paper.markdown_tables(results)
    sa = 100 * results["DAEkNN"]["SA"]
    assert f"| DAEkNN | {sa:.2f} |" in text
    assert "| block3 |" in text and "| released |" in text
