"""The adaptive and credibility steps of the paper benchmark."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import _adaptive
from benchmarks.__main__ import parse
from benchmarks._protocol import ADAPTIVE_ROWS, CREDIBILITY_ROWS, PaperConfig
from benchmarks._reports import markdown_adaptive, print_adaptive
from benchmarks.mnist_adaptive import config_from_args
from sklearn_daeknn import PGD, SmallCNN, vote_scores

EPS = 0.1


def test_vote_view_and_benchmark_steps(fitted_digits, digits_split, capsys):
    _, _, X, y = digits_split
    X, y = X[:24], y[:24]
    X_pgd = PGD(eps=EPS, n_steps=3, random_state=0).generate(fitted_digits, X, y)
    view = _adaptive.vote_view(fitted_digits, ["block3"])
    assert view.layers_ == ("block3",) and fitted_digits.layers_ != view.layers_
    assert view.verbose == 0
    scores = vote_scores(fitted_digits, X, y, X_pgd, layers=["block3"])
    assert np.mean(view.predict(X) == y) == scores["SA"]
    assert np.mean(view.predict(X_pgd) == y) == scores["AA"]
    # The two evaluation steps on a small state.
    config = PaperConfig(
        "digits", None, (1, 8, 8), SmallCNN, attack_eps=EPS, attack_steps=1
    )
    models = {"standard": fitted_digits, "adversarial": fitted_digits}
    models["adversarial+hardening"] = fitted_digits
    state = SimpleNamespace(
        config=config,
        models=models,
        X_test=X,
        y_test=y,
        X_adv={"standard": X_pgd, "adversarial": X_pgd},
        attack=PGD(eps=EPS, n_steps=3, random_state=0),
        verbose=0,
    )
    results = {"adaptive": _adaptive.evaluate_adaptive(state)}
    results["credibility"] = _adaptive.evaluate_credibility(state)
    assert results["adaptive"]["attack"]["n_steps"] == 2
    for row in ADAPTIVE_ROWS:
        s = results["adaptive"][row]
        assert s["worst_case_AA"] <= min(s["AA_transfer"], s["AA_adaptive"])
        assert s["max_perturbation"] <= EPS + 1e-6
    for row in CREDIBILITY_ROWS:
        entry = results["credibility"][row]
        assert set(entry) == {"clean", "transfer PGD", "adaptive"}
        assert sum(entry["clean"]["histogram"]) == len(X) - len(X) // 2
        assert 0 <= entry["adaptive"]["auc"] <= 1
    # Calibrating the views left the fitted model alone.
    assert fitted_digits.calibration_scores_ is None
    print_adaptive(results)
    assert "worst" in capsys.readouterr().out
    text = "\n\n".join(markdown_adaptive(results))
    assert "| DAEkNN-WAD |" in text and "detection AUC" in text


def test_adaptive_options_are_config_fields():
    args = parse(
        ["mnist-adaptive", "--data", "folder", "--adaptive-steps", "7"]
        + ["--adaptive-weighting", "uniform", "--rows", "DkNN,DAEkNN"]
    )
    config = config_from_args(args)
    assert config.adaptive_steps == 7 and config.attack("adaptive").n_steps == 7
    assert config.adaptive_weighting == "uniform"
    assert config.adaptive_rows == ("DkNN", "DAEkNN")


def test_adaptive_rows_must_be_known():
    args = parse(["mnist-adaptive", "--data", "folder", "--rows", "DkNN,CNN"])
    with pytest.raises(ValueError, match="adaptive_rows must be some of"):
        config_from_args(args)
