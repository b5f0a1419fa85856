"""Smoke tests of the paper benchmark (``mnist --quick``) on fake IDX files."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace

import pytest

from benchmarks import mnist
from benchmarks.__main__ import main, parse
from benchmarks._fitting import fit_settings
from benchmarks._protocol import PaperConfig, attack_settings
from benchmarks._reports import markdown_tables
from benchmarks._runner import run_paper_benchmark
from benchmarks._transfer import evaluate_table
from sklearn_daeknn import (
    MNISTCNN,
    PGD,
    DAEkNNClassifier,
    KNNAdaptiveAttack,
    harmonic_mean,
)

ROWS = ["KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN-WAT", "DAEkNN-WAD", "DAEkNN"]


@pytest.fixture(scope="module")
def quick_run(fake_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "results"
    cache = tmp_path_factory.mktemp("cache")
    argv = ["mnist", "--quick", "--data", str(fake_mnist)]
    argv += ["--out", str(out), "--cache-dir", str(cache), "--seed", "1"]
    assert main(argv) == 0
    return out, cache


def test_quick_run_writes_json_and_pngs(quick_run, fake_mnist):
    out, _ = quick_run
    results = json.loads((out / "mnist.json").read_text())
    for row in ROWS:
        for metric in ("SA", "AA", "HM"):
            assert 0.0 <= results[row][metric] <= 1.0
        assert results[row]["HM"] == pytest.approx(
            harmonic_mean(results[row]["SA"], results[row]["AA"])
        )
    assert results["rows"] == ROWS
    assert results["seed"] == 1
    assert results["sizes"]["train"] == 100 and results["sizes"]["test"] == 30
    assert results["attack"]["eps"] == pytest.approx(80 / 255)
    assert results["attack"]["step_size"] == pytest.approx(2.5 * 80 / 255)
    assert results["attack"]["protocol"].startswith("transfer")
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
    assert results["adaptive"]["attack"]["n_steps"] == 2  # twice the quick PGD's
    assert set(results["credibility"]) >= {"DkNN", "DAEkNN"}
    assert results["config"]["data"] == str(fake_mnist)
    assert "not a result" in results["notes"]["scaled"]
    for key in ("versions", "wall_time_s", "notes", "config", "timings"):
        assert key in results
    for suffix in ("table1", "table2", "layers", "hardening", "weightings"):
        assert (out / f"mnist_{suffix}.png").stat().st_size > 1000


def test_rerun_uses_the_cache(quick_run, fake_mnist, tmp_path, monkeypatch):
    out, cache = quick_run
    before = json.loads((out / "mnist.json").read_text())

    def no_fit(*args, **kwargs):
        raise AssertionError("a cached model was refitted")

    monkeypatch.setattr(DAEkNNClassifier, "fit", no_fit)
    # The quick run's config, with another vote: no refit needed.
    config = replace(
        mnist.config_from_args(parse(["mnist", "--quick", "--data", str(fake_mnist)])),
        seed=1,
        weighting="uniform",
        sweep_strengths=(),
        sweep_strengths_wat=(),
    )
    results = run_paper_benchmark(
        config,
        tmp_path,
        cache_dir=cache,
        verbose=0,
        evaluations=[("table", evaluate_table)],
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


def test_markdown_tables(quick_run):
    out, _ = quick_run
    results = json.loads((out / "mnist.json").read_text())
    text = markdown_tables(results)
    sa = 100 * results["DAEkNN"]["SA"]
    assert f"| DAEkNN | {sa:.2f} |" in text
    assert "| block3 |" in text and "| released |" in text
    assert "| DAEkNN-WAD |" in text and "detection AUC" in text


def test_config_is_data():
    config = mnist.mnist_config("folder")
    with pytest.raises(FrozenInstanceError):
        config.epochs = 1
    variant = replace(config, epochs=7, adaptive_steps=3)
    assert (config.epochs, variant.epochs) == (3, 7)
    assert variant.attack("adaptive").n_steps == 3
    assert config.attack("adaptive").n_steps == 2 * config.attack_steps


def test_estimator_params_cover_every_estimator_field():
    config = mnist.mnist_config("folder")
    params = config.estimator_params(verbose=0, hardening_strength=0)
    DAEkNNClassifier(**params)  # every key is a parameter
    assert params["module"] is MNISTCNN and params["layers"] == list(mnist.BLOCKS)
    assert params["max_epochs"] == config.epochs
    assert params["random_state"] == config.seed
    assert params["hardening_strength"] == 0 and params["verbose"] == 0
    for name in ("train_steps", "hardening_steps", "n_neighbors", "index", "lr"):
        assert params[name] == getattr(config, name)


def test_the_cache_key_ignores_what_fits_nothing():
    config = mnist.mnist_config("folder")
    key = fit_settings(config)
    same = replace(
        config,
        name="other",
        data="elsewhere",
        weighting="uniform",
        attack_eps=0.1,
        adaptive_steps=5,
        vote_layers=("block3",),
    )
    assert fit_settings(same) == key
    assert fit_settings(replace(config, epochs=4)) != key


def test_attack_settings_come_from_get_params():
    pgd = PGD(eps=0.2, n_steps=4, random_state=3)
    settings = attack_settings(pgd, "transfer")
    params = pgd.get_params()
    for name in ("eps", "n_steps", "random_start", "random_state", "batch_size"):
        assert settings[name] == params[name]
    assert settings["step_size"] == pytest.approx(2.5 * 0.2 / 4)
    assert "verbose" not in settings
    adaptive = attack_settings(KNNAdaptiveAttack(eps=0.1, n_steps=8), "adaptive")
    assert adaptive["name"] == "KNNAdaptiveAttack" and adaptive["n_guides"] == 16
    assert adaptive["step_size"] == pytest.approx(2.5 * 0.1 / 8)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"vote_layers": ("block9",)}, "vote_layers must be a non-empty subset"),
        ({"at_init": "warm"}, "at_init must be"),
        ({"weighting": "nearest"}, "weighting must be one of"),
        ({"adaptive_rows": ("CNN",)}, "adaptive_rows must be some of"),
    ],
)
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        replace(mnist.MNIST, **change)


def test_a_config_without_layers_is_valid():
    config = PaperConfig("x", None, (1, 8, 8), MNISTCNN, vote_layers=("block1",))
    assert config.layers is None
