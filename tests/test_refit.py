"""Refit experiments on a fitted estimator's network."""

from __future__ import annotations

import pytest
import torch
from numpy.testing import assert_allclose

from sklearn_daeknn import hardening_sweep, refit_knn, vote_scores

from . import _mlp_fixtures

mlp_data = _mlp_fixtures.mlp_data
mlp_daeknn = _mlp_fixtures.mlp_daeknn
mlp_adv = _mlp_fixtures.mlp_adv


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
