"""The robust-vote levers as estimator parameters: validation, the off values
equal today's estimator, pickling, and the cache stages they belong to."""

from __future__ import annotations

import pickle
from collections import Counter
from unittest import mock

import numpy as np
import pytest

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn._cache import stage_key

from .conftest import DIGITS_DAEKNN, FAST

#: Every lever at its off value, with the settings it would use changed.
LEVERS_OFF = dict(
    prune_radius=0.0,
    hardening_attack="network",
    hardening_rounds=0,
    hardening_max_points=0.5,  # unused without rounds
    knn_loss_weight=0.0,
    knn_loss_temperature=5.0,  # unused without the loss
)


@pytest.fixture(scope="module")
def small(digits):
    X, y, X_test, y_test = digits
    return X[:300], y[:300], X_test[:80], y_test[:80]


def _digits(**params):
    return DAEkNNClassifier(**{**DIGITS_DAEKNN, "max_epochs": 2, **params})


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(prune_radius=-0.5), "'prune_radius' parameter"),
        (dict(prune_radius="1"), "'prune_radius' parameter"),
        (dict(hardening_rounds=-1), "'hardening_rounds' parameter"),
        (dict(hardening_rounds=1.5), "'hardening_rounds' parameter"),
        (dict(hardening_attack="knn"), "'hardening_attack' parameter"),
        (dict(hardening_max_points=0), "'hardening_max_points' parameter"),
        (dict(hardening_max_points=1.5), "'hardening_max_points' parameter"),
        (dict(knn_loss_weight=-1.0), "'knn_loss_weight' parameter"),
        (dict(knn_loss_temperature=0.0), "'knn_loss_temperature' parameter"),
        (dict(n_neighbors=0), "'n_neighbors' parameter"),
        (
            dict(hardening_rounds=2, hardening_strength=0),
            r"hardening_rounds=2 makes hardening data, but hardening_strength=0",
        ),
        (
            dict(hardening_attack="vote", hardening_strength=None),
            r"hardening_attack='vote' makes hardening data",
        ),
    ],
)
def test_bad_lever_values_are_value_errors_before_training(small, params, match):
    X, y, _, _ = small
    with (
        mock.patch.object(DAEkNNClassifier, "_train_network") as train,
        pytest.raises(ValueError, match=match),
    ):
        _digits(**params).fit(X, y)
    train.assert_not_called()


def test_levers_off_equal_the_default_estimator_exactly(small):
    X, y, X_test, _ = small
    default = _digits().fit(X, y)
    off = _digits(**LEVERS_OFF).fit(X, y)
    np.testing.assert_array_equal(
        off.predict_proba(X_test), default.predict_proba(X_test)
    )
    features = zip(
        off.layer_features(X_test), default.layer_features(X_test), strict=True
    )
    for a, b in features:
        np.testing.assert_array_equal(a, b)
    for name in ("benign_indexes_", "hardening_indexes_"):
        for a, b in zip(getattr(off, name), getattr(default, name), strict=True):
            np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(off.hardening_rows_, default.hardening_rows_)
    assert type(off.net_) is type(default.net_)
    assert off.net_.history[:, "train_loss"] == default.net_.history[:, "train_loss"]
    assert off.hardening_history_ == []
    assert {k: len(v) for k, v in off.pruned_rows_.items()} == {
        "benign": 0,
        "hardening": 0,
    }


@pytest.mark.parametrize(
    "levers",
    [
        dict(prune_radius=0.5),
        dict(hardening_rounds=1, hardening_max_points=40),
        dict(hardening_attack="vote", hardening_steps=2),
        dict(knn_loss_weight=1.0),
    ],
    ids=["pruning", "rounds", "vote", "knn-loss"],
)
def test_each_lever_is_reachable_by_parameters_and_pickles(small, levers):
    X, y, X_test, _ = small
    est = _digits(**levers).fit(X, y)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(
        clone.predict_proba(X_test), est.predict_proba(X_test)
    )
    assert clone.get_params() == est.get_params()


def test_stage_keys_hold_the_knn_side_parameters_that_shape_a_stage():
    params = DAEkNNClassifier(**FAST).get_params()
    plain = (stage_key(params, "network"), stage_key(params, "hardening"))
    for key in plain:
        assert not {"layers", "metric", "n_neighbors", "prune_radius"} & set(key)
    assert {"hardening_rounds", "hardening_attack", "hardening_max_points"} <= set(
        plain[1]
    )
    assert not {"hardening_rounds", "hardening_attack"} & set(plain[0])
    assert {"knn_loss_weight", "knn_loss_temperature"} <= set(plain[0])
    loss = stage_key({**params, "knn_loss_weight": 1.0}, "network")
    assert {"layers", "metric"} <= set(loss)
    assert "n_neighbors" not in loss
    for adaptive in (dict(hardening_rounds=1), dict(hardening_attack="vote")):
        key = stage_key({**params, **adaptive}, "hardening")
        assert {"n_neighbors", "prune_radius", "weighting", "layers"} <= set(key)
        assert not {"memory", "verbose", "calibration_size"} & set(key)
        # Without hardening data the levers make nothing: no key change.
        off = stage_key({**params, **adaptive, "hardening_strength": 0}, "hardening")
        assert "n_neighbors" not in off


@pytest.fixture
def counts():
    calls = Counter()
    train = DAEkNNClassifier._train_network
    harden = DAEkNNClassifier._make_hardening

    def counted_train(self, *args):
        calls["train"] += 1
        return train(self, *args)

    def counted_harden(self, *args):
        calls["harden"] += 1
        return harden(self, *args)

    with (
        mock.patch.object(DAEkNNClassifier, "_train_network", counted_train),
        mock.patch.object(DAEkNNClassifier, "_make_hardening", counted_harden),
    ):
        yield calls


def test_memory_reuses_the_stages_each_lever_does_not_shape(small, counts, tmp_path):
    X, y, _, _ = small
    X, y = X[:200], y[:200]
    memory = str(tmp_path)
    _digits(memory=memory).fit(X, y)
    _digits(memory=memory, prune_radius=0.5, n_neighbors=7).fit(X, y)
    assert counts == {"train": 1, "harden": 1}  # network hardening: kNN side
    rounds = dict(hardening_rounds=1, hardening_max_points=20, hardening_steps=2)
    _digits(memory=memory, **rounds).fit(X, y)
    assert counts == {"train": 1, "harden": 2}
    _digits(memory=memory, **rounds, prune_radius=0.5).fit(X, y)  # another vote
    assert counts == {"train": 1, "harden": 3}
    _digits(memory=memory, **rounds, prune_radius=0.5, verbose=0).fit(X, y)
    assert counts == {"train": 1, "harden": 3}
    _digits(memory=memory, knn_loss_weight=1.0).fit(X, y)
    _digits(memory=memory, knn_loss_weight=1.0, layers=["block3"]).fit(X, y)
    assert counts["train"] == 3  # the loss reads the layers
