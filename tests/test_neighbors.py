"""kneighbors and the metric: the neighbours equal scikit-learn's
``NearestNeighbors`` on ``layer_features``, and the vote and the conformal
scores are made of exactly those neighbours."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from sklearn_daeknn import (
    DAEkNNClassifier,
    conformal_pvalues,
    joint_vote,
    nonconformity,
    refit_knn,
)
from sklearn_daeknn._features import layer_outputs

from .conftest import FAST, assert_concurrent_calls_equal_serial

SETS = ("benign", "hardening")


@pytest.fixture(scope="module")
def estimators(fitted_daeknn, digits):
    """The digits DAEkNN under both metrics, on one trained network."""
    X, y, _, _ = digits
    return {
        "euclidean": fitted_daeknn,
        "cosine": refit_knn(fitted_daeknn, X, y, metric="cosine"),
    }


def _indexed_features(clf, X_train, layer):
    """Per set, the features of the indexed points: the benign ones computed
    again from the training rows, the hardening ones as stored."""
    return {
        "benign": clf.layer_features(X_train[clf.benign_rows_])[layer],
        "hardening": clf.hardening_indexes_[layer].data,
    }


def _reference(features, queries, k, metric, leave_out_self):
    """scikit-learn's neighbours (float64) of ``queries`` among ``features``;
    ``leave_out_self``: query ``i`` is indexed point ``i``'s source."""
    nn_ = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute")
    nn_.fit(features.astype(np.float64))
    if not leave_out_self:
        return nn_.kneighbors(queries.astype(np.float64))
    dist, ind = nn_.kneighbors(queries.astype(np.float64), n_neighbors=k + 1)
    own = ind == np.arange(len(queries))[:, None]
    drop = np.where(own.any(1), own.argmax(1), k)
    keep = np.ones_like(own)
    keep[np.arange(len(queries)), drop] = False
    return dist[keep].reshape(-1, k), ind[keep].reshape(-1, k)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("queries", ["test", "none"])
def test_kneighbors_equals_nearest_neighbors(estimators, digits, metric, queries):
    X, _, X_test, _ = digits
    clf = estimators[metric]
    k = 6
    if queries == "test":
        got = clf.kneighbors(X_test, n_neighbors=k)
        query_features = clf.layer_features(X_test)
    else:
        got = clf.kneighbors(n_neighbors=k)
        query_features = clf.layer_features(X[clf.benign_rows_])
    assert list(got) == list(clf.layers_)
    for layer, name in enumerate(clf.layers_):
        assert sorted(got[name]) == sorted(SETS)
        indexed = _indexed_features(clf, X, layer)
        for which in SETS:
            if queries == "none" and which == "benign":
                # scikit-learn's own X=None: each indexed point left out.
                nn_ = NearestNeighbors(n_neighbors=k, metric=metric)
                ref_dist, ref_ind = nn_.fit(
                    indexed["benign"].astype(np.float64)
                ).kneighbors()
            else:
                ref_dist, ref_ind = _reference(
                    indexed[which], query_features[layer], k, metric, queries == "none"
                )
            dist, rows = got[name][which]
            assert dist.shape == rows.shape == (len(query_features[layer]), k)
            source = clf.benign_rows_ if which == "benign" else clf.hardening_rows_
            np.testing.assert_array_equal(rows, source[ref_ind], err_msg=name)
            np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-5)


def test_kneighbors_with_x_none_never_returns_the_point_or_its_copy(estimators, digits):
    clf = estimators["euclidean"]
    got = clf.kneighbors()
    own_copy_found = False
    for by_set in got.values():
        for _, rows in by_set.values():
            assert not (rows == clf.benign_rows_[:, None]).any()
    # Given as X, a training point is its own nearest benign neighbour, and
    # its hardening copy is often among its hardening neighbours.
    rows = clf.benign_rows_[:50]
    given = clf.kneighbors(digits[0][rows])
    for name in clf.layers_:
        np.testing.assert_array_equal(given[name]["benign"][1][:, 0], rows)
        own_copy_found |= (given[name]["hardening"][1] == rows[:, None]).any()
    assert own_copy_found


def test_cosine_features_are_the_normalised_euclidean_ones(estimators, digits):
    X_test = digits[2]
    euclidean = estimators["euclidean"].layer_features(X_test)
    cosine = estimators["cosine"].layer_features(X_test)
    for e, c in zip(euclidean, cosine, strict=True):
        np.testing.assert_allclose(c, normalize(e), rtol=1e-5, atol=1e-6)
    assert all(r.normalize for r in estimators["cosine"].layer_reducers_)
    assert not any(r.normalize for r in estimators["euclidean"].layer_reducers_)


def test_layer_reducers_give_what_the_indexes_hold(estimators, digits):
    X = digits[0]
    clf = estimators["cosine"]
    rows = clf.benign_rows_[:50]
    x = torch.from_numpy(X[rows].reshape(-1, *clf.input_shape_))
    with torch.no_grad():
        outs = layer_outputs(clf.net_.module_, clf.layers_, x)
    for index, reducer, out in zip(
        clf.benign_indexes_, clf.layer_reducers_, outs, strict=True
    ):
        np.testing.assert_allclose(
            reducer(out.float()).numpy(), index.data[:50], rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_the_vote_is_made_of_the_kneighbors(estimators, digits, metric):
    X, y, X_test, _ = digits
    clf = estimators[metric]
    got = clf.kneighbors(X_test)
    label = np.searchsorted(clf.classes_, y)
    benign = [(got[n]["benign"][0], label[got[n]["benign"][1]]) for n in clf.layers_]
    hardening = [
        (got[n]["hardening"][0], label[got[n]["hardening"][1]]) for n in clf.layers_
    ]
    expected = joint_vote(
        benign, hardening, 10, weighting=clf.weighting, temperature=clf.temperature
    )
    np.testing.assert_array_equal(clf.predict_proba(X_test), expected)


def _independent_proba(clf, X_train, y_train, X, metric):
    """The softmax-weighted joint vote from scikit-learn's neighbours."""
    label = np.searchsorted(clf.classes_, y_train)
    total = 0.0
    for layer, queries in enumerate(clf.layer_features(X)):
        indexed = _indexed_features(clf, X_train, layer)
        parts = {}
        for which, rows in [
            ("benign", clf.benign_rows_),
            ("hardening", clf.hardening_rows_),
        ]:
            dist, ind = _reference(
                indexed[which], queries, clf.n_neighbors, metric, False
            )
            frac = np.stack(
                [(label[rows[ind]] == c).mean(1) for c in range(10)], axis=1
            )
            parts[which] = (dist.mean(1), frac)
        (d_b, p_b), (d_a, p_a) = parts["benign"], parts["hardening"]
        w_b = np.exp(-d_b) / (np.exp(-d_b) + np.exp(-d_a))
        total = total + w_b[:, None] * p_b + (1 - w_b)[:, None] * p_a
    return total / len(clf.layers_)


def test_cosine_reaches_the_vote_and_the_conformal_scores(estimators, digits):
    X, y, X_test, _ = digits
    clf = refit_knn(
        estimators["euclidean"],
        X,
        y,
        metric="cosine",
        calibration_size=60,
        hardening_steps=3,
    )
    assert clf.weighting == "softmax"
    proba = _independent_proba(clf, X, y, X_test, "cosine")
    np.testing.assert_allclose(clf.predict_proba(X_test), proba, atol=1e-5)
    # Calibration: the held-out rows, voted on with the same neighbours.
    held_out = np.setdiff1d(np.arange(len(X)), clf.benign_rows_)
    assert len(held_out) == 60
    cal = nonconformity(
        _independent_proba(clf, X, y, X[held_out], "cosine"), clf.n_neighbors, 3
    )
    cal = cal[np.arange(60), np.searchsorted(clf.classes_, y[held_out])]
    np.testing.assert_allclose(clf.calibration_scores_, cal, atol=1e-6)
    expected = conformal_pvalues(cal, nonconformity(proba, clf.n_neighbors, 3))
    np.testing.assert_allclose(clf.predict_pvalues(X_test), expected)
    # The distance matters: voting with the Euclidean distances of the same
    # normalised points gives other weights.
    other = _independent_proba(clf, X, y, X_test, "euclidean")
    assert not np.allclose(other, proba, atol=1e-5)


def test_kneighbors_options_and_structure(estimators, fitted_dknn, digits):
    X_test = digits[2][:7]
    clf = estimators["euclidean"]
    with_distance = clf.kneighbors(X_test, n_neighbors=4)
    indices = clf.kneighbors(X_test, n_neighbors=4, return_distance=False)
    for name in clf.layers_:
        for which in SETS:
            np.testing.assert_array_equal(
                indices[name][which], with_distance[name][which][1]
            )
            assert np.all(np.diff(with_distance[name][which][0], axis=1) >= 0)
    default = clf.kneighbors(X_test)
    assert default["block3"]["benign"][1].shape == (7, clf.n_neighbors)
    # DkNN has one set; a layer view has its layers.
    assert list(fitted_dknn.kneighbors(X_test)["block1"]) == ["benign"]
    view = clf.select_layers(["block3", "block1"])
    got = view.kneighbors(X_test)
    assert list(got) == ["block3", "block1"]
    np.testing.assert_array_equal(
        got["block1"]["hardening"][1], default["block1"]["hardening"][1]
    )


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5"])
def test_kneighbors_bad_n_neighbors(fitted_daeknn, digits, bad):
    with pytest.raises(ValueError, match="n_neighbors must be an int >= 1"):
        fitted_daeknn.kneighbors(digits[2][:2], n_neighbors=bad)


def test_kneighbors_too_many_neighbors(fitted_daeknn, digits):
    n = len(fitted_daeknn.benign_rows_)
    with pytest.raises(ValueError, match=f"n_neighbors={n + 1} is larger than the {n}"):
        fitted_daeknn.kneighbors(digits[2][:2], n_neighbors=n + 1)
    with pytest.raises(ValueError, match=f"{n - 1} other indexed training samples"):
        fitted_daeknn.kneighbors(n_neighbors=n)
    assert fitted_daeknn.kneighbors(digits[2][:1], n_neighbors=n)["block1"]["benign"][
        1
    ].shape == (1, n)


def test_kneighbors_needs_a_fit_and_valid_inputs(fitted_daeknn, digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DAEkNNClassifier().kneighbors()
    with pytest.raises(ValueError, match="expecting 64 features"):
        fitted_daeknn.kneighbors(digits[2][:2, :10])
    with pytest.raises(ValueError, match="outside the box"):
        fitted_daeknn.kneighbors(digits[2][:2] + 2)


def test_metric_changed_after_fit_is_refused(fitted_daeknn, digits):
    changed = copy.copy(fitted_daeknn).set_params(metric="cosine")
    for call in (
        lambda: changed.predict(digits[2][:2]),
        lambda: changed.kneighbors(),
        lambda: changed.kneighbors(digits[2][:2]),
    ):
        with pytest.raises(ValueError, match="fitted with metric='euclidean'"):
            call()


def test_kneighbors_in_chunks_equals_one_pass(fitted_daeknn, digits, monkeypatch):
    from sklearn_daeknn import _classifier

    X_test = np.concatenate([digits[2]] * 3)
    one_pass = fitted_daeknn.kneighbors(X_test)
    full = fitted_daeknn.kneighbors()
    monkeypatch.setattr(_classifier, "PREDICT_CHUNK_BYTES", 1)
    for a, b in [(fitted_daeknn.kneighbors(X_test), one_pass)] + [
        (fitted_daeknn.kneighbors(), full)
    ]:
        for name in fitted_daeknn.layers_:
            for which in SETS:
                np.testing.assert_array_equal(a[name][which][1], b[name][which][1])
                np.testing.assert_array_equal(a[name][which][0], b[name][which][0])


def test_predict_log_proba(fitted_daeknn, digits):
    X_test = digits[2]
    proba = fitted_daeknn.predict_proba(X_test)
    log_proba = fitted_daeknn.predict_log_proba(X_test)
    assert np.isneginf(log_proba[proba == 0]).all()
    np.testing.assert_allclose(log_proba[proba > 0], np.log(proba[proba > 0]))


def test_cosine_fit_from_scratch(digits):
    X, y, X_test, y_test = digits
    clf = DAEkNNClassifier(**FAST, metric="cosine", clip=(0.0, 1.0)).fit(X, y)
    assert clf.score(X_test, y_test) > 0.6
    for index in clf.benign_indexes_ + clf.hardening_indexes_:
        assert index.metric == "cosine"
        norms = np.linalg.norm(index.data, axis=1)
        assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))
    dist = clf.kneighbors(X_test)["block2"]["benign"][0]
    assert dist.min() >= 0 and dist.max() <= 2


def test_kneighbors_from_threads_equals_serial_and_writes_nothing(
    fitted_daeknn, digits
):
    clf = fitted_daeknn
    before = {name: id(value) for name, value in vars(clf).items()}

    def flat(X):
        found = clf.kneighbors(X)
        return [
            a for by_set in found.values() for pair in by_set.values() for a in pair
        ]

    assert_concurrent_calls_equal_serial(flat, digits[2][:50], rounds=2)
    assert {name: id(value) for name, value in vars(clf).items()} == before
