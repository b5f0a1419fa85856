"""Adversarial pruning (Yang et al., 2020) of the indexed sets in feature space."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn._pruning import adversarial_pruning, layer_scale

from .conftest import DIGITS_DAEKNN


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 40),
    n_classes=st.integers(2, 4),
    radius=st.floats(0.1, 3.0),
)
def test_kept_points_are_separated_and_every_removal_had_a_conflict(
    seed, n, n_classes, radius
):
    rng = np.random.RandomState(seed)
    layers = [rng.rand(n, 3).astype(np.float32), rng.rand(n, 2).astype(np.float32)]
    labels = rng.randint(n_classes, size=n)
    result = adversarial_pruning(layers, labels, radius)
    keep = result.keep
    for f, threshold in zip(layers, result.thresholds, strict=True):
        assert threshold == pytest.approx(radius * layer_scale(f), rel=1e-6)
        d = cdist(f[keep], f[keep])
        other = labels[keep][:, None] != labels[keep][None, :]
        assert not (other & (d < threshold * (1 - 1e-5))).any()
    # A greedy cover removes no point that conflicted with nothing.
    conflicted = np.zeros(n, dtype=bool)
    for f, threshold in zip(layers, result.thresholds, strict=True):
        d = cdist(f, f)
        bad = (labels[:, None] != labels[None, :]) & (d < threshold)
        conflicted |= bad.any(1)
    assert not (~keep & ~conflicted).any()
    assert sum(result.n_conflicts) > 0 or keep.all()


def test_greedy_removes_the_point_between_two_classes():
    X = np.array([[0.0], [0.1], [0.2], [2.0], [3.0], [3.1]], dtype=np.float32)
    labels = np.array([0, 1, 0, 1, 1, 0])
    result = adversarial_pruning([X], labels, 1.5)
    # 0.1 conflicts with 0.0 and 0.2: removing it alone clears both; 3.0 or
    # 3.1 goes (a tie, broken by index).
    assert result.keep.tolist() == [True, False, True, True, False, True]
    assert result.removed_per_layer == [2]


def test_cosine_distances_are_the_votes():
    X = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    # 1 - cos: 0.2 between the first two, 0.4 and 1.0 to the third.
    assert layer_scale(X, "cosine") == pytest.approx(0.2)
    assert layer_scale(X) == pytest.approx(np.sqrt(0.4))


def test_radius_zero_and_a_radius_that_removes_nothing_change_nothing(digits):
    X, y, X_test, _ = digits
    X, y = X[:300], y[:300]
    params = {**DIGITS_DAEKNN, "max_epochs": 2}
    plain = DAEkNNClassifier(**params).fit(X, y)
    tiny = DAEkNNClassifier(**params, prune_radius=1e-6).fit(X, y)
    assert all(len(rows) == 0 for rows in tiny.pruned_rows_.values())
    np.testing.assert_array_equal(
        tiny.predict_proba(X_test), plain.predict_proba(X_test)
    )


def test_estimator_prunes_each_set_and_reports_it(digits):
    X, y, X_test, _ = digits
    X, y = X[:300], y[:300]
    est = DAEkNNClassifier(**{**DIGITS_DAEKNN, "max_epochs": 2}, prune_radius=1.5)
    est.fit(X, y)
    assert set(est.pruned_rows_) == {"benign", "hardening"}
    for name, rows in (
        ("benign", est.benign_rows_),
        ("hardening", est.hardening_rows_),
    ):
        removed = est.pruned_rows_[name]
        assert len(removed) > 0
        # Kept and removed rows partition the training rows (one point each).
        np.testing.assert_array_equal(
            np.sort(np.concatenate([rows, removed])), np.arange(300)
        )
        assert set(est.pruned_per_layer_[name]) == set(est.layers_)
        assert max(est.pruned_per_layer_[name].values()) <= len(removed)
        assert sum(est.pruned_per_layer_[name].values()) >= len(removed)
    np.testing.assert_array_equal(
        est.benign_labels_, np.searchsorted(est.classes_, y[est.benign_rows_])
    )
    # The indexes hold the kept points only, and the vote uses them.
    assert est.benign_indexes_[0].n_points == len(est.benign_rows_)
    neighbors = est.kneighbors(X_test[:5])
    for by_set in neighbors.values():
        assert np.isin(by_set["benign"][1], est.benign_rows_).all()
        assert np.isin(by_set["hardening"][1], est.hardening_rows_).all()
    assert est.predict_proba(X_test).shape == (len(X_test), 10)


def test_a_radius_that_leaves_too_few_points_is_an_error(digits):
    X, y, _, _ = digits
    est = DAEkNNClassifier(
        **{**DIGITS_DAEKNN, "max_epochs": 1}, prune_radius=50.0, n_neighbors=30
    )
    with pytest.raises(ValueError, match="prune_radius=50.0 left .* fewer than"):
        est.fit(X[:200], y[:200])
