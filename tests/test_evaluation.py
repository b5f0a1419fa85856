"""Tests for the evaluation API: scorer, per-layer scores, weightings, sweep."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_daeknn import (
    PGD,
    DAEkNNClassifier,
    compare_weightings,
    hardening_sweep,
    harmonic_mean,
    make_robustness_scorer,
    per_layer_scores,
    refit_knn,
    robustness_report,
    vote_scores,
)

from .conftest import FAST

ATTACK = PGD(eps=0.15, n_steps=3, random_state=0)


@pytest.fixture(scope="module")
def mlp_data(digits):
    X, y, X_test, y_test = digits
    return X[:300], y[:300], X_test[:100], y_test[:100]


@pytest.fixture(scope="module")
def mlp_daeknn(mlp_data):
    """A two-hidden-layer MLP DAEkNN: two kNN layers, fitted in ~1 s."""
    X, y, _, _ = mlp_data
    return DAEkNNClassifier(
        **FAST, clip=(0.0, 1.0), hardening_strength=0.1, train_eps=0.1
    ).fit(X, y)


@pytest.fixture(scope="module")
def mlp_adv(mlp_daeknn, mlp_data):
    _, _, X_test, y_test = mlp_data
    return ATTACK.generate(mlp_daeknn, X_test, y_test)


# ------------------------------------------------------------ harmonic mean


@given(
    st.floats(0, 1, allow_nan=False, allow_subnormal=False),
    st.floats(0, 1, allow_nan=False, allow_subnormal=False),
)
def test_harmonic_mean_properties(sa, aa):
    hm = harmonic_mean(sa, aa)
    assert hm == pytest.approx(harmonic_mean(aa, sa))
    assert min(sa, aa) - 1e-12 <= hm <= max(sa, aa) + 1e-12
    assert hm <= (sa + aa) / 2 + 1e-12
    if sa > 0 and aa > 0:
        assert hm == pytest.approx(2 / (1 / sa + 1 / aa))
    else:
        assert hm == 0.0


# ------------------------------------------------------------ scorer


def test_scorer_equals_report(mlp_daeknn, mlp_data):
    _, _, X_test, y_test = mlp_data
    report = robustness_report(mlp_daeknn, X_test, y_test, attack=ATTACK)
    for metric in ("SA", "AA", "HM"):
        scorer = make_robustness_scorer(ATTACK, metric=metric)
        assert scorer(mlp_daeknn, X_test, y_test) == pytest.approx(report[metric])
    assert report["AA"] < report["SA"]


def test_scorer_network_only_differs_from_vote(mlp_daeknn, mlp_data):
    _, _, X_test, y_test = mlp_data
    net = make_robustness_scorer(ATTACK, metric="SA", predict="predict_network")
    expected = np.mean(mlp_daeknn.predict_network(X_test) == y_test)
    assert net(mlp_daeknn, X_test, y_test) == pytest.approx(expected)


def test_scorer_in_grid_search_and_cross_validate(mlp_data):
    X, y, _, _ = mlp_data
    X, y = X[:200], y[:200]
    scorer = make_robustness_scorer(ATTACK, metric="HM")
    params = {**FAST, "max_epochs": 2, "clip": (0.0, 1.0), "hardening_strength": 0.1}
    search = GridSearchCV(
        DAEkNNClassifier(**params),
        {"n_neighbors": [1, 7]},
        scoring={
            "HM": scorer,
            "SA": make_robustness_scorer(ATTACK, metric="SA"),
            "AA": make_robustness_scorer(ATTACK, metric="AA"),
        },
        refit="HM",
        cv=2,
    ).fit(X, y)
    results = search.cv_results_
    hm = results["mean_test_HM"]
    assert hm.shape == (2,)
    for split in ("split0", "split1"):
        expected = [
            harmonic_mean(sa, aa)
            for sa, aa in zip(
                results[f"{split}_test_SA"], results[f"{split}_test_AA"], strict=True
            )
        ]
        assert_allclose(results[f"{split}_test_HM"], expected)
    assert search.best_params_["n_neighbors"] == [1, 7][int(np.argmax(hm))]

    cv = cross_validate(DAEkNNClassifier(**params), X, y, cv=2, scoring=scorer)
    assert cv["test_score"].shape == (2,)
    assert np.all((cv["test_score"] > 0) & (cv["test_score"] <= 1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metric": "accuracy"}, "metric must be one of"),
        ({"predict": 3}, "predict must be"),
        ({"attack": "pgd"}, "attack must be"),
    ],
)
def test_scorer_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_robustness_scorer(**kwargs)


# ------------------------------------------------------------ votes


def test_vote_scores_all_layers_equals_predict(mlp_daeknn, mlp_data, mlp_adv):
    _, _, X_test, y_test = mlp_data
    report = robustness_report(mlp_daeknn, X_test, y_test, attack=ATTACK, X_adv=mlp_adv)
    scores = vote_scores(mlp_daeknn, X_test, y_test, mlp_adv)
    assert scores == pytest.approx({m: report[m] for m in ("SA", "AA", "HM")})


def test_per_layer_equals_single_layer_estimator(mlp_daeknn, mlp_data, mlp_adv):
    X, y, X_test, y_test = mlp_data
    scores = per_layer_scores(mlp_daeknn, X_test, y_test, mlp_adv)
    assert scores["layer"] == list(mlp_daeknn.layers_)
    assert len(mlp_daeknn.layers_) == 2
    for i, layer in enumerate(mlp_daeknn.layers_):
        single = DAEkNNClassifier(
            **FAST,
            clip=(0.0, 1.0),
            hardening_strength=0.1,
            train_eps=0.1,
            layers=[layer],
        ).fit(X, y)
        for p, q in zip(
            single.net_.module_.parameters(),
            mlp_daeknn.net_.module_.parameters(),
            strict=True,
        ):
            torch.testing.assert_close(p, q)
        report = robustness_report(single, X_test, y_test, X_adv=mlp_adv)
        assert scores["SA"][i] == pytest.approx(report["SA"])
        assert scores["AA"][i] == pytest.approx(report["AA"])
        assert scores["HM"][i] == pytest.approx(report["HM"])


def test_vote_scores_layer_subset_matches_per_layer(mlp_daeknn, mlp_data, mlp_adv):
    _, _, X_test, y_test = mlp_data
    per_layer = per_layer_scores(mlp_daeknn, X_test, y_test, mlp_adv)
    last = mlp_daeknn.layers_[-1]
    scores = vote_scores(mlp_daeknn, X_test, y_test, mlp_adv, layers=last)
    assert scores["AA"] == pytest.approx(per_layer["AA"][-1])


def test_compare_weightings(mlp_daeknn, mlp_data, mlp_adv, fitted_dknn, digits):
    _, _, X_test, y_test = mlp_data
    scores = compare_weightings(mlp_daeknn, X_test, y_test, mlp_adv)
    assert list(scores) == ["relative", "softmax", "uniform", "released"]
    own = vote_scores(mlp_daeknn, X_test, y_test, mlp_adv)
    assert scores[mlp_daeknn.weighting] == pytest.approx(own)
    uniform = vote_scores(mlp_daeknn, X_test, y_test, mlp_adv, weighting="uniform")
    assert scores["uniform"] == pytest.approx(uniform)
    # Without hardening data every weighting is DkNN's vote.
    _, _, X_t, y_t = digits
    X_adv = ATTACK.generate(fitted_dknn, X_t[:60], y_t[:60])
    dknn = compare_weightings(fitted_dknn, X_t[:60], y_t[:60], X_adv)
    assert len({tuple(s.values()) for s in dknn.values()}) == 1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, X, y, A: vote_scores(m, X, y, A, layers=["nope"]), "layers must"),
        (lambda m, X, y, A: vote_scores(m, X, y, A, weighting="max"), "weighting"),
        (lambda m, X, y, A: compare_weightings(m, X, y, A, weightings=[]), "weight"),
    ],
)
def test_vote_functions_reject_bad_arguments(
    mlp_daeknn, mlp_data, mlp_adv, call, match
):
    _, _, X_test, y_test = mlp_data
    with pytest.raises(ValueError, match=match):
        call(mlp_daeknn, X_test, y_test, mlp_adv)


def test_unfitted_estimator_is_rejected(mlp_data):
    _, _, X_test, y_test = mlp_data
    with pytest.raises(NotFittedError):
        per_layer_scores(DAEkNNClassifier(), X_test, y_test, X_test)


# ------------------------------------------------------------ hardening sweep


def test_with_network_reuses_the_network(mlp_daeknn, mlp_data):
    X, y, X_test, _ = mlp_data
    refit = refit_knn(mlp_daeknn, X, y, hardening_strength=0)
    assert refit.hardening_indexes_ is None
    assert refit.adversarial_training == mlp_daeknn.adversarial_training
    for p, q in zip(
        refit.net_.module_.parameters(),
        mlp_daeknn.net_.module_.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(p, q)
    assert_allclose(
        refit.predict_proba_network(X_test), mlp_daeknn.predict_proba_network(X_test)
    )


def test_hardening_sweep(mlp_daeknn, mlp_data, mlp_adv):
    X, y, X_test, y_test = mlp_data
    sweep = hardening_sweep(mlp_daeknn, X, y, X_test, y_test, mlp_adv, [0.0, 0.1, 0.3])
    assert sweep["hardening_strength"] == [0.0, 0.1, 0.3]
    # The estimator's own strength reproduces the estimator.
    own = vote_scores(mlp_daeknn, X_test, y_test, mlp_adv)
    assert sweep["SA"][1] == pytest.approx(own["SA"])
    assert sweep["AA"][1] == pytest.approx(own["AA"])
    # Strength 0 is the plain DkNN vote on the same network.
    dknn = refit_knn(mlp_daeknn, X, y, hardening_strength=0)
    assert sweep["HM"][0] == pytest.approx(
        vote_scores(dknn, X_test, y_test, mlp_adv)["HM"]
    )
    for metric in ("SA", "AA", "HM"):
        assert len(sweep[metric]) == 3
        assert all(0 <= v <= 1 for v in sweep[metric])


def test_hardening_sweep_rejects_negative_strength(mlp_daeknn, mlp_data, mlp_adv):
    X, y, X_test, y_test = mlp_data
    with pytest.raises(ValueError, match="strengths"):
        hardening_sweep(mlp_daeknn, X, y, X_test, y_test, mlp_adv, [-0.1])
