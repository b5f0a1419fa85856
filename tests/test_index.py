"""Neighbour indexes: exact search against scikit-learn, pynndescent's recall,
pickling without rebuilding, the backend choice and numba's cache folder.

pynndescent compiles with numba in every fresh process, so this file builds
one NNDescentIndex (a module fixture) and reuses it.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from sklearn_daeknn import DAEkNNClassifier, ExactIndex, NNDescentIndex, build_index
from sklearn_daeknn import _index as index_module
from sklearn_daeknn._index import numba_cache_dir, resolve_index_kind

from .conftest import assert_concurrent_calls_equal_serial


def _clustered(n, dim, seed):
    # Clusters on a 2-dimensional manifold, like network features (recall
    # collapses on unstructured iid data); the same clusters for every seed.
    basis = np.random.RandomState(0).randn(20 + 2, dim)
    rng = np.random.RandomState(seed)
    latent = 4 * np.eye(20)[rng.randint(20, size=n)]
    noise = rng.randn(n, 2)
    return (np.hstack([latent, noise]) @ basis).astype(np.float32)


@pytest.fixture(scope="module")
def points():
    return _clustered(2000, 16, seed=0), _clustered(200, 16, seed=1)


@pytest.fixture(scope="module")
def nndescent(points):
    data, _ = points
    return NNDescentIndex(data, random_state=0)


@pytest.mark.parametrize("k", [1, 7, 40])
def test_exact_index_matches_sklearn(points, k):
    data, queries = points
    dist, ind = ExactIndex(data).query(queries, k)
    ref_dist, ref_ind = (
        NearestNeighbors(n_neighbors=k, algorithm="brute")
        .fit(data.astype(np.float64))
        .kneighbors(queries.astype(np.float64))
    )
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-5, atol=1e-5)


def test_query_device_argument(points, nndescent):
    data, queries = points
    index = ExactIndex(data)
    for a, b in zip(
        index.query(queries, 5), index.query(queries, 5, device="cpu"), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        nndescent.query(queries, 5),
        nndescent.query(queries, 5, device="cpu"),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_exact_index_on_cuda_matches_cpu(points, monkeypatch):  # pragma: no cover
    data, queries = points
    expected = ExactIndex(data).query(queries, 7)
    monkeypatch.setattr(index_module, "_BLOCK_BYTES", 4 * len(data) * 50)
    dist, ind = ExactIndex(data).query(queries, 7, device="cuda")
    assert isinstance(ind, np.ndarray) and ind.dtype == np.int64
    np.testing.assert_array_equal(ind, expected[1])
    np.testing.assert_allclose(dist, expected[0], rtol=1e-5, atol=1e-5)


def test_exact_index_large_block_count(points, monkeypatch):
    # Several query blocks give the same answer as one.
    data, queries = points
    expected = ExactIndex(data).query(queries, 5)
    monkeypatch.setattr(index_module, "_BLOCK_BYTES", 4 * len(data) * 7)
    got = ExactIndex(data).query(queries, 5)
    np.testing.assert_array_equal(got[1], expected[1])


def test_nndescent_recall(points, nndescent):
    data, queries = points
    k = 10
    _, found = nndescent.query(queries, k)
    _, exact = ExactIndex(data).query(queries, k)
    recall = np.mean(
        [len(np.intersect1d(a, b)) / k for a, b in zip(found, exact, strict=True)]
    )
    assert recall >= 0.95
    assert nndescent.n_points == len(data)
    np.testing.assert_array_equal(nndescent.data, data)


def test_nndescent_small_k_searches_more_candidates(points, nndescent):
    data, queries = points
    dist, ind = nndescent.query(queries, 3)
    wide_dist, wide_ind = nndescent.query(queries, nndescent.n_candidates)
    np.testing.assert_array_equal(ind, wide_ind[:, :3])
    np.testing.assert_array_equal(dist, wide_dist[:, :3])
    assert np.all(np.diff(dist, axis=1) >= 0)
    _, exact = ExactIndex(data).query(queries, 1)
    assert np.mean(ind[:, 0] == exact[:, 0]) >= 0.99
    small = NNDescentIndex(data[:15], random_state=0)  # fewer points than 20
    assert small.query(queries[:2], 2)[1].shape == (2, 2)


def test_nndescent_pickle_keeps_graph(points, nndescent, monkeypatch):
    _, queries = points
    expected = nndescent.query(queries, 5)

    def no_rebuild(self, data):
        raise AssertionError("the graph was rebuilt")

    blob = pickle.dumps(nndescent)
    monkeypatch.setattr(NNDescentIndex, "_build", no_rebuild)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = pickle.loads(blob)
    got = restored.query(queries, 5)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[0], expected[0])


def test_nndescent_pickle_falls_back_to_rebuild(points, nndescent, monkeypatch):
    data, queries = points
    blob = pickle.dumps(nndescent)
    monkeypatch.setattr(index_module, "_versions", lambda: ("0.0", "0.0"))
    with pytest.warns(RuntimeWarning, match="Rebuilding the pynndescent graph"):
        restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.data, data)
    _, found = restored.query(queries, 5)
    _, exact = ExactIndex(data).query(queries, 5)
    hits = [len(np.intersect1d(a, b)) for a, b in zip(found, exact, strict=True)]
    assert np.mean(hits) / 5 >= 0.95


def test_nndescent_concurrent_queries_equal_serial(points, nndescent):
    # pynndescent's query reuses buffers stored on its index: without a lock,
    # a thread reads another's results.
    _, queries = points
    assert_concurrent_calls_equal_serial(
        lambda q: list(nndescent.query(q, 5)), np.tile(queries, (3, 1))
    )


def test_nndescent_pickle_has_a_fresh_lock(nndescent):
    restored = pickle.loads(pickle.dumps(nndescent))
    assert "_lock" not in nndescent.__getstate__()
    assert restored._lock is not nndescent._lock
    assert not restored._lock.locked()


def test_estimator_with_nndescent_predicts_concurrently_as_serially(digits):
    # The estimator-level check of tests/test_hostile.py with pynndescent
    # indexes (this module pays numba's compilation anyway).
    X, y, X_test, _ = digits
    clf = DAEkNNClassifier(
        index="nndescent",
        max_epochs=1,
        train_steps=1,
        hardening_steps=1,
        module_params=dict(hidden_sizes=(32, 32), dropout=0.5),
        random_state=0,
    ).fit(X[:200], y[:200])
    assert isinstance(clf.benign_indexes_[0], NNDescentIndex)
    for method in (clf.predict_proba, clf.predict):
        assert_concurrent_calls_equal_serial(method, X_test)


def test_resolve_index_kind(monkeypatch):
    monkeypatch.setattr(index_module, "AUTO_NNDESCENT_MIN_SAMPLES", 50)
    assert resolve_index_kind("auto", 49) == "exact"
    assert resolve_index_kind("auto", 50) == "nndescent"
    assert resolve_index_kind("exact", 10**6) == "exact"


def test_read_only_arrays_are_searched_without_warnings(points):
    data, queries = (a.copy() for a in points)
    data.setflags(write=False)
    queries.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = ExactIndex(data)
        _, ind = index.query(queries, 3)
    assert index.data.flags.writeable
    np.testing.assert_array_equal(ind, ExactIndex(data.copy()).query(queries, 3)[1])


def test_build_index_auto_threshold(monkeypatch):
    small = _clustered(50, 4, seed=2)
    assert isinstance(build_index(small, "auto"), ExactIndex)
    assert isinstance(build_index(small, "exact"), ExactIndex)
    built = []
    monkeypatch.setattr(index_module, "AUTO_NNDESCENT_MIN_SAMPLES", 50)
    monkeypatch.setattr(
        index_module, "NNDescentIndex", lambda data, **kw: built.append(len(data))
    )
    build_index(small, "auto")
    assert built == [50]


def test_build_index_errors():
    with pytest.raises(ValueError, match="more than 10 points"):
        build_index(np.zeros((10, 2), np.float32), "nndescent")
    with pytest.raises(ValueError, match="'auto', 'exact' or 'nndescent'.*'ball'"):
        build_index(np.zeros((10, 2), np.float32), "ball")


def test_numba_cache_dir_respects_user_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert numba_cache_dir() == str(tmp_path / "mine")


def test_numba_cache_dir_default_is_per_user(monkeypatch, tmp_path):
    numba = sys.modules.get("numba")
    if numba is not None:
        monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = numba_cache_dir()
    assert path == str(tmp_path / "sklearn-daeknn-numba")
    assert (tmp_path / "sklearn-daeknn-numba").is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == path
    if numba is not None:
        assert numba.config.CACHE_DIR == path


# ------------------------------------------------------------------ metrics


def _unit(points):
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.mark.parametrize("k", [1, 7, 40])
def test_exact_cosine_index_matches_sklearn(points, k):
    data, queries = (_unit(p) for p in points)
    dist, ind = ExactIndex(data, metric="cosine").query(queries, k)
    ref_dist, ref_ind = (
        NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute")
        .fit(data.astype(np.float64))
        .kneighbors(queries.astype(np.float64))
    )
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-6)


def test_cosine_index_refuses_rows_that_are_not_unit(points):
    data, queries = points
    with pytest.raises(ValueError, match="metric='cosine' needs L2-normalised rows"):
        ExactIndex(data, metric="cosine")
    index = ExactIndex(_unit(data), metric="cosine")
    with pytest.raises(ValueError, match="row 0 of the queries has norm"):
        index.query(queries, 3)
    with pytest.raises(ValueError, match="metric must be one of"):
        ExactIndex(data, metric="manhattan")
    with pytest.raises(ValueError, match="needs L2-normalised rows"):
        build_index(data, "nndescent", metric="cosine")


def test_cosine_zero_rows_are_half_away_from_unit_rows():
    data = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], np.float32)
    index = ExactIndex(data, metric="cosine")
    dist, ind = index.query(np.array([[0.0, 0.0], [1.0, 0.0]], np.float32), 3)
    np.testing.assert_array_equal(ind, [[1, 0, 2], [0, 1, 2]])
    np.testing.assert_allclose(dist, [[0.0, 0.5, 0.5], [0.0, 0.5, 1.0]])


def test_indexes_pickled_before_the_metric_are_euclidean(points, nndescent):
    data, queries = points
    index = ExactIndex(data)
    del index.__dict__["metric"]
    assert pickle.loads(pickle.dumps(index)).metric == "euclidean"
    state = nndescent.__getstate__()
    del state["metric"], state["_n_points"]
    restored = NNDescentIndex.__new__(NNDescentIndex)
    restored.__setstate__(state)
    assert restored.metric == "euclidean" and restored.n_points == len(data)
    np.testing.assert_array_equal(
        restored.query(queries, 5)[1], nndescent.query(queries, 5)[1]
    )


def test_nndescent_cosine_recall(points):
    data, queries = (_unit(p) for p in points)
    index = NNDescentIndex(data, random_state=0, metric="cosine")
    dist, found = index.query(queries, 10)
    exact_dist, exact = ExactIndex(data, metric="cosine").query(queries, 10)
    recall = np.mean(
        [len(np.intersect1d(a, b)) / 10 for a, b in zip(found, exact, strict=True)]
    )
    assert recall >= 0.95
    # Exact distances of the points found: 1 - cos.
    cos = np.einsum("ij,ikj->ik", queries, data[found])
    np.testing.assert_allclose(dist, 1 - cos, atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_estimator_kneighbors_recall_with_nndescent(digits, metric, capsys):
    # The approximate neighbours of kneighbors (and of the vote) against an
    # exact search over the same indexed features.
    X, y, X_test, _ = digits
    clf = DAEkNNClassifier(
        index="nndescent",
        metric=metric,
        input_shape=(1, 8, 8),
        clip=(0.0, 1.0),
        max_epochs=2,
        train_steps=1,
        hardening_steps=2,
        random_state=0,
    ).fit(X, y)
    k = clf.n_neighbors
    recalls = {}
    for queries in ("test", "none"):
        got = clf.kneighbors(X_test if queries == "test" else None)
        features = (
            clf.layer_features(X_test)
            if queries == "test"
            else [index.data for index in clf.benign_indexes_]
        )
        for layer, name in enumerate(clf.layers_):
            for which, indexes, rows in [
                ("benign", clf.benign_indexes_, clf.benign_rows_),
                ("hardening", clf.hardening_indexes_, clf.hardening_rows_),
            ]:
                assert isinstance(indexes[layer], NNDescentIndex)
                exact = ExactIndex(indexes[layer].data, metric=metric)
                if queries == "test":
                    true = rows[exact.query(features[layer], k)[1]]
                else:
                    _, pos = exact.query(features[layer], k + 1)
                    true = rows[
                        index_module.leave_out(
                            pos, pos, pos == np.arange(len(pos))[:, None]
                        )[1]
                    ]
                found = got[name][which][1]
                recalls[queries, name, which] = np.mean(
                    [
                        len(np.intersect1d(a, b)) / k
                        for a, b in zip(found, true, strict=True)
                    ]
                )
    with capsys.disabled():
        print(f"\nnndescent recall@{k} ({metric}):", min(recalls.values()))
    assert min(recalls.values()) >= 0.9, recalls
