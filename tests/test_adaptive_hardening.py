"""Hardening data made against the vote (``hardening_attack``, ``hardening_rounds``)."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn._adaptive_hardening import check_max_points, hardening_attack

from .conftest import DIGITS_DAEKNN


@pytest.fixture(scope="module")
def train(digits):
    X, y, _, _ = digits
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def fitted(train):
    """The digits estimator without and with two rounds of adaptive hardening."""
    X, y = train
    plain = DAEkNNClassifier(**DIGITS_DAEKNN).fit(X, y)
    rounds = DAEkNNClassifier(
        **DIGITS_DAEKNN, hardening_rounds=2, hardening_max_points=300
    ).fit(X, y)
    return plain, rounds


def _success_rate(est, X, y, seed):
    """How often the hardening attack fools ``est`` on inputs it gets right."""
    attack = hardening_attack(
        est.hardening_strength, est.hardening_steps, random_state=seed
    )
    right = est.predict(X) == y
    X_adv = attack.generate(est, X[right], y[right])
    return float(np.mean(est.predict(X_adv) != y[right]))


def test_rounds_lower_the_success_of_the_attack_they_were_made_with(fitted, train):
    X, y = train
    plain, rounds = fitted
    # A new run of the attack (other random starts) on every training point.
    before = _success_rate(plain, X, y, seed=12345)
    after = _success_rate(rounds, X, y, seed=12345)
    assert before > 0.05  # the attack works on the plain vote
    assert after < 0.7 * before
    history = rounds.hardening_history_
    assert [h["attacked"] for h in history] == [300, 300]
    assert all(h["added"] > 0 for h in history)


def test_added_points_carry_their_source_rows_and_labels(fitted, train):
    X, y = train
    _, rounds = fitted
    added = sum(h["added"] for h in rounds.hardening_history_)
    assert len(rounds.hardening_rows_) == len(X) + added
    np.testing.assert_array_equal(rounds.hardening_rows_[: len(X)], np.arange(len(X)))
    np.testing.assert_array_equal(
        rounds.hardening_labels_,
        np.searchsorted(rounds.classes_, y[rounds.hardening_rows_]),
    )
    assert rounds.hardening_indexes_[0].n_points == len(X) + added
    # The first hardening set is the network's PGD set, as without rounds.
    plain, _ = fitted
    np.testing.assert_array_equal(
        rounds.hardening_indexes_[0].data[: len(X)], plain.hardening_indexes_[0].data
    )


def test_kneighbors_of_the_training_data_leaves_out_every_copy(fitted):
    _, rounds = fitted
    rows = rounds.hardening_rows_
    assert np.bincount(rows).max() > 1  # some row has several hardening points
    neighbors = rounds.kneighbors(n_neighbors=5, return_distance=False)
    for by_set in neighbors.values():
        found = by_set["hardening"]
        assert not (found == rounds.benign_rows_[:, None]).any()
        assert found.shape == (len(rounds.benign_rows_), 5)


def test_vote_attack_makes_one_point_per_sample(train):
    X, y = train
    X, y = X[:150], y[:150]
    params = {**DIGITS_DAEKNN, "max_epochs": 2, "hardening_steps": 3}
    network = DAEkNNClassifier(**params).fit(X, y)
    vote = DAEkNNClassifier(**params, hardening_attack="vote").fit(X, y)
    np.testing.assert_array_equal(vote.hardening_rows_, np.arange(len(X)))
    assert vote.hardening_history_ == []
    data = vote.hardening_indexes_[-1].data
    assert data.shape == network.hardening_indexes_[-1].data.shape
    assert not np.array_equal(data, network.hardening_indexes_[-1].data)
    again = DAEkNNClassifier(**params, hardening_attack="vote").fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), vote.predict_proba(X))


@pytest.mark.parametrize(
    "value, expected",
    [(None, 50), (10, 10), (500, 50), (0.1, 5), (1.0, 50), (0.001, 1)],
)
def test_max_points(value, expected):
    assert check_max_points(value, 50) == expected
