"""The vote analysed without refitting: layers, weightings."""

from __future__ import annotations

import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_daeknn import (
    DAEkNNClassifier,
    compare_weightings,
    per_layer_scores,
    robustness_report,
    vote_scores,
)

from . import _mlp_fixtures
from ._mlp_fixtures import ATTACK
from .conftest import FAST

mlp_data = _mlp_fixtures.mlp_data
mlp_daeknn = _mlp_fixtures.mlp_daeknn
mlp_adv = _mlp_fixtures.mlp_adv


def test_vote_scores_all_layers_equals_predict(mlp_daeknn, mlp_data, mlp_adv):
    _, _, X_test, y_test = mlp_data
    report = robustness_report(mlp_daeknn, X_test, y_test, X_adv=mlp_adv)
    scores = vote_scores(mlp_daeknn, X_test, y_test, mlp_adv)
    given = report["attacks"]["given"]
    assert scores == pytest.approx(
        {"SA": report["SA"], "AA": given["AA"], "HM": given["HM"]}
    )


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
        assert scores["AA"][i] == pytest.approx(report["attacks"]["given"]["AA"])
        assert scores["HM"][i] == pytest.approx(report["attacks"]["given"]["HM"])


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
