"""The paper benchmark (``mnist --quick``) on fake IDX files: the suite on
every row, the worst case, the verdict, the page, the cache and resuming."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace

import pytest

from benchmarks import mnist
from benchmarks.__main__ import main, parse
from benchmarks._fitting import fit_settings
from benchmarks._protocol import ROWS, PaperConfig, attack_settings
from benchmarks._runner import run_paper_benchmark
from benchmarks._suite import evaluate_table
from benchmarks._verdict import rank
from sklearn_daeknn import (
    MNISTCNN,
    PGD,
    AutoAttack,
    DAEkNNClassifier,
    KNNAdaptiveAttack,
    harmonic_mean,
)

from .page_check import numbers_not_from

NAMES = ["KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN-WAT", "DAEkNN-WAD", "DAEkNN"]
#: The runs of a full suite: 2 networks x (PGD, AutoAttack), 5 kNN votes.
N_RUNS = 9


@pytest.fixture(scope="module")
def quick_run(fake_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "results"
    cache = tmp_path_factory.mktemp("cache")
    argv = ["mnist", "--quick", "--data", str(fake_mnist)]
    argv += ["--out", str(out), "--cache-dir", str(cache), "--seed", "1", "--quiet"]
    assert main(argv) == 0
    return out, cache, json.loads((out / "mnist.json").read_text())


def test_every_row_gets_the_suite(quick_run):
    _, _, results = quick_run
    table = results["table"]
    assert list(table) == NAMES
    for name, row in table.items():
        expected = {"PGD", "AutoAttack"} | (
            {"adaptive"} if ROWS[name].adaptive else set()
        )
        assert set(row["attacks"]) == expected, name
        assert set(row["wins"]) == expected
        for attack in row["attacks"].values():
            assert 0.0 <= attack["AA"] <= 1.0
            assert row["worst_case_AA"] <= attack["AA"]
            assert attack["time_s"] >= 0
        # The paper's columns are PGD's, labelled as the paper's protocol.
        assert row["AA_transfer"] == row["attacks"]["PGD"]["AA"]
        assert row["HM_transfer"] == pytest.approx(
            harmonic_mean(row["SA"], row["AA_transfer"])
        )
        assert row["worst_case_HM"] == pytest.approx(
            harmonic_mean(row["SA"], row["worst_case_AA"])
        )
    assert "SoftKNNVote" in table["KNN"]["attacks"]["adaptive"]["protocol"]
    assert "pixels" in table["KNN"]["attacks"]["adaptive"]["made_against"]
    assert table["KNN"]["attacks"]["PGD"]["run"] == "PGD against the standard CNN"
    assert table["DAEkNN"]["attacks"]["PGD"]["made_against"] == "the AT-CNN (transfer)"
    assert table["AT-CNN"]["attacks"]["AutoAttack"]["made_against"] == (
        "the AT-CNN itself (white-box)"
    )
    assert table["DAEkNN"]["attacks"]["adaptive"]["protocol"].startswith(
        "KNNAdaptiveAttack on a soft-kNN surrogate"
    )


def test_each_attack_runs_once_and_is_timed(quick_run):
    _, _, results = quick_run
    runs = results["attack_runs"]
    assert len(runs) == N_RUNS
    assert {run["attack"] for run in runs.values()} == {"PGD", "AutoAttack", "adaptive"}
    for run in runs.values():
        assert run["n_images"] == 30 and run["time_s"] >= 0
        assert run["network_pass_s_per_image"] > 0
        assert run["network_passes_per_image"] >= 0
        assert run["from_cache"] is False
    # The rows on one network share its runs.
    table = results["table"]
    assert (
        table["DkNN"]["attacks"]["AutoAttack"]["run"]
        == table["CNN"]["attacks"]["AutoAttack"]["run"]
    )


def test_the_verdict_ranks_by_the_worst_case(quick_run):
    _, _, results = quick_run
    verdict = results["verdict"]
    assert verdict["ranking"] == rank(results["table"])
    assert verdict["most_robust"] == verdict["ranking"][0]
    assert verdict["sentences"][0].startswith(
        f"Most robust under the worst case over PGD, AutoAttack and the adaptive "
        f"attack: {verdict['most_robust']}"
    )


def test_the_run_writes_json_page_and_pngs(quick_run, fake_mnist):
    out, _, results = quick_run
    assert results["seed"] == 1
    assert results["sizes"]["train"] == 100 and results["sizes"]["test"] == 30
    assert results["attacks"]["PGD"]["eps"] == pytest.approx(80 / 255)
    assert results["attacks"]["PGD"]["step_size"] == pytest.approx(2.5 * 80 / 255)
    assert results["attacks"]["AutoAttack"]["n_steps"] == 2
    assert results["attacks"]["adaptive"]["n_steps"] == 2
    assert results["per_layer"]["models"]["DAEkNN"]["layer"] == [
        "block1",
        "block2",
        "block3",
    ]
    assert results["per_layer"]["protocol"].startswith("transfer PGD only")
    assert set(results["weightings"]["models"]["DAEkNN"]["scores"]) == {
        "relative",
        "softmax",
        "uniform",
        "released",
    }
    sweep = results["hardening_sweep"]["networks"]["AT-CNN"]
    assert sweep["hardening_strength"] == [0.0, 0.3]
    # The sweep's eps_h = 0.3 point is the DAEkNN row's transfer figure.
    assert sweep["AA"][1] == pytest.approx(results["table"]["DAEkNN"]["AA_transfer"])
    assert set(results["credibility"]["DAEkNN"]) == {
        "clean",
        "transfer PGD",
        "transfer AutoAttack",
        "adaptive",
    }
    assert results["config"]["data"] == "FOLDER"  # no folder of the machine
    assert "not a result" in results["notes"]["scaled"]
    assert results["hardware"]["cpu_count"] >= 1
    assert results["command"].startswith("python -m benchmarks mnist --quick")
    for suffix in ("table1", "table2", "layers", "hardening", "weightings"):
        assert (out / f"mnist_{suffix}.png").stat().st_size > 1000
        assert suffix in results["figures"]
    page = (out / "mnist.md").read_text()
    assert page.startswith("# MNIST: the paper's Tables I-II under an attack suite")
    assert numbers_not_from(page, results) == []
    for sentence in results["verdict"]["sentences"]:
        assert sentence in page
    assert "transfer, the paper's protocol" in page
    assert "![Table I: transfer and worst case](mnist_table1.png)" in page


def _count_generate(monkeypatch):
    calls = {"PGD": 0, "AutoAttack": 0, "KNNAdaptiveAttack": 0}
    for cls in (PGD, AutoAttack, KNNAdaptiveAttack):
        original = cls.generate

        def counted(self, *args, _original=original, _name=cls.__name__, **kw):
            calls[_name] += 1
            return _original(self, *args, **kw)

        monkeypatch.setattr(cls, "generate", counted)
    return calls


def _config(fake_mnist, **changes):
    args = parse(["mnist", "--quick", "--data", str(fake_mnist)])
    return replace(mnist.config_from_args(args), **changes)


def test_a_rerun_refits_and_reattacks_nothing(
    quick_run, fake_mnist, tmp_path, monkeypatch
):
    _, cache, before = quick_run

    def no_fit(*args, **kwargs):
        raise AssertionError("a cached model was refitted")

    monkeypatch.setattr(DAEkNNClassifier, "fit", no_fit)
    calls = _count_generate(monkeypatch)
    results = run_paper_benchmark(
        _config(fake_mnist, seed=1),
        tmp_path,
        cache_dir=cache,
        verbose=0,
        evaluations=[("table", evaluate_table)],
        figures=False,
    )
    assert calls == {"PGD": 0, "AutoAttack": 0, "KNNAdaptiveAttack": 0}
    assert all(run["from_cache"] for run in results["attack_runs"].values())
    for name in NAMES:
        assert (
            results["table"][name]["worst_case_AA"]
            == before["table"][name]["worst_case_AA"]
        )
    # A loaded run reports the time of the run that made it.
    for label, run in results["attack_runs"].items():
        assert run["time_s"] == before["attack_runs"][label]["time_s"]
    page = (tmp_path / "mnist.md").read_text()
    assert f"{N_RUNS} of the {N_RUNS} attack runs were loaded from the cache" in page
    assert not list(tmp_path.glob("*.png"))


def test_another_vote_reattacks_only_the_votes(
    quick_run, fake_mnist, tmp_path, monkeypatch
):
    _, cache, _ = quick_run
    calls = _count_generate(monkeypatch)
    run_paper_benchmark(
        _config(fake_mnist, seed=1, weighting="uniform"),
        tmp_path,
        cache_dir=cache,
        verbose=0,
        evaluations=[("table", evaluate_table)],
        figures=False,
    )
    # The networks' inputs are the same; the votes with hardening data
    # (DAEkNN-WAT, DAEkNN) vote differently, so their adaptive attack reruns.
    assert calls == {"PGD": 0, "AutoAttack": 0, "KNNAdaptiveAttack": 2}


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_without_redoing_finished_attacks(
    fake_mnist, tmp_path, monkeypatch
):
    config = _config(fake_mnist, seed=2)
    cache = tmp_path / "cache"
    original = KNNAdaptiveAttack.generate
    done = []

    def interrupt_at_the_third(self, *args, **kwargs):
        if len(done) == 2:
            raise Interrupted
        done.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KNNAdaptiveAttack, "generate", interrupt_at_the_third)
    steps = [("table", evaluate_table)]
    with pytest.raises(Interrupted):
        run_paper_benchmark(
            config, tmp_path, cache, verbose=0, evaluations=steps, figures=False
        )
    monkeypatch.undo()
    calls = _count_generate(monkeypatch)
    fits = []
    fit = DAEkNNClassifier.fit

    def counted_fit(self, *args, **kwargs):
        fits.append(1)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(DAEkNNClassifier, "fit", counted_fit)
    results = run_paper_benchmark(
        config, tmp_path, cache, verbose=0, evaluations=steps, figures=False
    )
    # The 4 network runs and 2 adaptive runs were finished: only the 3 other
    # adaptive runs are made, and no model is fitted again.
    assert calls == {"PGD": 0, "AutoAttack": 0, "KNNAdaptiveAttack": 3}
    assert fits == []
    cached = [run["from_cache"] for run in results["attack_runs"].values()]
    assert cached.count(True) == 6 and cached.count(False) == 3
    assert not list(cache.glob("*.partial"))


# ------------------------------------------------------------ the config


def test_cli_defaults_are_the_cpu_settings():
    config = mnist.config_from_args(parse(["mnist", "--data", "folder"]))
    assert (config.n_per_class, config.n_test) == (2000, 1000)
    assert (config.epochs, config.at_epochs) == (5, 2)
    assert (config.train_steps, config.hardening_steps) == (10, 10)
    assert config.train_eps_schedule == (0.1, 0.2, 0.3, 0.3, 0.3)
    assert config.sweep_strengths == () and config.sweep_strengths_wat == ()
    assert config.attack_eps == pytest.approx(80 / 255) and config.attack_steps == 10
    attacks = config.attacks()
    assert attacks["AutoAttack"].get_params()["version"] == "fast"
    assert attacks["AutoAttack"].n_steps == 100
    assert attacks["AutoAttack"].n_target_classes == 3
    assert attacks["adaptive"].get_params() == {
        **KNNAdaptiveAttack().get_params(),
        "eps": config.attack_eps,
        "clip": (0.0, 1.0),
        "random_state": 0,
    }
    assert config.paper["DAEkNN"] == [97.90, 68.26, 80.44]


def test_cli_options_change_the_config():
    args = parse(
        ["mnist", "--data", "f", "--sweep", "--adaptive-steps", "7"]
        + ["--adaptive-targets", "2", "--adaptive-losses", "vote-ce,classwise-t"]
        + ["--autoattack-steps", "50", "--autoattack-targets", "9"]
    )
    config = mnist.config_from_args(args)
    assert config.sweep_strengths == mnist.SWEEP["sweep_strengths"]
    adaptive = config.attacks()["adaptive"]
    assert (adaptive.n_steps, adaptive.n_target_classes) == (7, 2)
    assert adaptive.losses == ("vote-ce", "classwise-t")
    assert config.attacks()["AutoAttack"].n_target_classes == 9
    assert config.autoattack_steps == 50


def test_quick_gives_way_to_explicit_options():
    config = mnist.config_from_args(
        parse(["mnist", "--quick", "--data", "f", "--n-test", "12", "--no-sweep"])
    )
    assert config.n_per_class == mnist.QUICK["n_per_class"]
    assert config.n_test == 12 and config.sweep_strengths == ()


def test_config_is_data():
    config = mnist.mnist_config("folder")
    with pytest.raises(FrozenInstanceError):
        config.epochs = 1
    variant = replace(config, epochs=7, adaptive_steps=3)
    assert (config.epochs, variant.epochs) == (5, 7)
    assert variant.attacks()["adaptive"].n_steps == 3


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
        autoattack_steps=5,
        adaptive_steps=5,
        vote_layers=("block3",),
        paper={},
    )
    assert fit_settings(same) == key
    assert fit_settings(replace(config, epochs=4)) != key


def test_attack_settings_come_from_get_params():
    pgd = PGD(eps=0.2, n_steps=4, random_state=3)
    settings = attack_settings(pgd)
    params = pgd.get_params()
    for name in ("eps", "n_steps", "random_start", "random_state", "batch_size"):
        assert settings[name] == params[name]
    assert settings["step_size"] == pytest.approx(2.5 * 0.2 / 4)
    assert "verbose" not in settings
    adaptive = attack_settings(KNNAdaptiveAttack(eps=0.1, n_steps=8))
    assert adaptive["name"] == "KNNAdaptiveAttack" and "step_size" not in adaptive
    assert adaptive["losses"] == list(KNNAdaptiveAttack().losses)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"vote_layers": ("block9",)}, "vote_layers must be a non-empty subset"),
        ({"at_init": "warm"}, "at_init must be"),
        ({"weighting": "nearest"}, "weighting must be one of"),
        ({"adaptive_losses": ("vote-ce", "nope")}, "adaptive_losses must be"),
        ({"adaptive_losses": ()}, "adaptive_losses must be"),
    ],
)
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        replace(mnist.MNIST, **change)


def test_a_config_without_layers_is_valid():
    config = PaperConfig("x", None, (1, 8, 8), MNISTCNN, vote_layers=("block1",))
    assert config.layers is None


def test_figures_of_an_earlier_run_that_this_run_did_not_draw_go(quick_run, tmp_path):
    from benchmarks._reports import save_figures

    _, _, results = quick_run
    stale = tmp_path / "mnist_hardening.png"
    stale.write_bytes(b"an earlier run's sweep")
    other = tmp_path / "other_hardening.png"
    other.write_bytes(b"another benchmark's")
    without_sweep = {k: v for k, v in results.items() if k != "hardening_sweep"}
    paths = save_figures(without_sweep, tmp_path)
    assert {p.stem for p in paths} == {
        "mnist_table1",
        "mnist_table2",
        "mnist_layers",
        "mnist_weightings",
        "mnist_credibility",
    }
    assert not stale.exists() and other.exists()
