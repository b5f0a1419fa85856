"""DAEkNNClassifier: the vote, the special cases, the sklearn ecosystem, errors."""

import copy
import pickle
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn import _classifier as classifier_module

from .conftest import FAST


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.uniform(0.2, 0.8, size=(3, 5))
    y = np.repeat(np.arange(3), 30)
    X = np.clip(centers[y] + rng.normal(0, 0.05, size=(90, 5)), 0, 1)
    return X.astype(np.float32), y


def _exact_fractions(train, query, labels, k, n_classes):
    nn_ = NearestNeighbors(n_neighbors=k).fit(train)
    dist, ind = nn_.kneighbors(query)
    frac = np.zeros((len(query), n_classes))
    for c in range(n_classes):
        frac[:, c] = (labels[ind] == c).mean(1)
    return dist, frac


@given(idx=st.lists(st.integers(0, 199), min_size=1, max_size=20))
def test_proba_is_a_distribution_and_predict_is_its_argmax(fitted_daeknn, digits, idx):
    X_test = digits[2][idx]
    proba = fitted_daeknn.predict_proba(X_test)
    assert proba.shape == (len(idx), 10)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(
        fitted_daeknn.predict(X_test), fitted_daeknn.classes_[proba.argmax(1)]
    )


def test_no_hardening_data_is_dknn(fitted_dknn, digits):
    X, y, X_test, _ = digits
    assert fitted_dknn.hardening_indexes_ is None
    k = fitted_dknn.n_neighbors
    train_feats = fitted_dknn.layer_features(X)
    test_feats = fitted_dknn.layer_features(X_test)
    total = sum(
        _exact_fractions(tr, te, y, k, 10)[1]
        for tr, te in zip(train_feats, test_feats, strict=True)
    )
    np.testing.assert_allclose(
        fitted_dknn.predict_proba(X_test), total / len(train_feats)
    )
    np.testing.assert_array_equal(fitted_dknn.predict(X_test), total.argmax(1))


@pytest.mark.parametrize("weighting", ["relative", "softmax", "uniform", "released"])
def test_joint_vote_matches_an_independent_computation(
    fitted_daeknn, digits, weighting
):
    X, y, X_test, _ = digits
    clf = fitted_daeknn
    k = clf.n_neighbors
    test_feats = clf.layer_features(X_test)
    expected = 0
    for layer, te in enumerate(test_feats):
        d_b, p_b = _exact_fractions(clf.layer_features(X)[layer], te, y, k, 10)
        hardening = clf.hardening_indexes_[layer].data
        d_a, p_a = _exact_fractions(hardening, te, y, k, 10)
        d_b, d_a = d_b.mean(1), d_a.mean(1)
        if weighting == "uniform":
            w_b = np.full(len(te), 0.5)
        elif weighting == "relative":
            r_b, r_a = d_b / (d_b + d_a), d_a / (d_b + d_a)
            w_b = np.exp(-r_b) / (np.exp(-r_b) + np.exp(-r_a))
        elif weighting == "softmax":
            w_b = np.exp(-d_b) / (np.exp(-d_b) + np.exp(-d_a))
        else:
            w_b = 1 / (1 + np.exp(d_a - d_b))
        expected = expected + w_b[:, None] * p_b + (1 - w_b)[:, None] * p_a
    expected /= len(test_feats)
    reweighted = copy.deepcopy(clf).set_params(weighting=weighting)
    np.testing.assert_allclose(reweighted.predict_proba(X_test), expected, atol=1e-5)


def test_hardening_features_differ_from_benign(fitted_daeknn):
    clf = fitted_daeknn
    benign = clf.benign_indexes_[-1].data
    hardening = clf.hardening_indexes_[-1].data
    assert benign.shape == hardening.shape
    assert not np.allclose(benign, hardening)


def test_layer_features_are_float32_per_layer(fitted_daeknn, digits):
    feats = fitted_daeknn.layer_features(digits[2][:7])
    assert len(feats) == len(fitted_daeknn.layers_) == 3
    assert all(f.dtype == np.float32 and f.shape[0] == 7 for f in feats)
    assert fitted_daeknn.layers_ == ("block1", "block2", "block3")


def test_network_alone_is_reachable(fitted_daeknn, digits):
    _, _, X_test, y_test = digits
    proba = fitted_daeknn.predict_proba_network(X_test)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert np.mean(fitted_daeknn.predict_network(X_test) == y_test) > 0.7
    assert fitted_daeknn.score(X_test, y_test) > 0.8


def test_in_pipeline_and_grid_search(blobs):
    X, y = blobs
    pipe = make_pipeline(
        MinMaxScaler(clip=True), DAEkNNClassifier(**FAST, clip=(0.0, 1.0))
    )
    search = GridSearchCV(
        pipe,
        {
            "daeknnclassifier__n_neighbors": [1, 3],
            "daeknnclassifier__hardening_strength": [0.0, 0.05],
        },
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.8
    assert search.score(X, y) > 0.8


def test_clone_pickle_and_determinism(blobs):
    X, y = blobs
    clf = DAEkNNClassifier(**FAST)
    a = clf.fit(X, y)
    b = clone(clf).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    other = clone(clf).set_params(random_state=1).fit(X, y)
    weights = [p.detach() for p in a.net_.module_.parameters()]
    assert any(
        not torch.equal(p, q)
        for p, q in zip(weights, other.net_.module_.parameters(), strict=True)
    )


def test_fits_in_parallel_threads_are_reproducible(blobs):
    # joblib's threading and Dask backends fit clones in threads of one
    # process, which share torch's global RNG.
    X, y = blobs
    params = [dict(FAST, random_state=seed, max_epochs=8) for seed in range(6)]
    expected = [DAEkNNClassifier(**p).fit(X, y).predict_proba(X) for p in params]
    n_threads = torch.get_num_threads()
    barrier = threading.Barrier(len(params))

    def fit(p):
        # Bitwise equality also needs the same intra-op thread count, which a
        # new thread does not inherit.
        torch.set_num_threads(n_threads)
        barrier.wait()
        est = DAEkNNClassifier(**p).fit(X, y)
        est.predict_network(X)  # a skorch data loader, in the other fits' way
        return est.predict_proba(X)

    for _ in range(3):
        with ThreadPoolExecutor(len(params)) as pool:
            got = list(pool.map(fit, params))
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_fit_leaves_the_global_torch_rng_alone(blobs):
    X, y = blobs
    torch.manual_seed(123)
    before = torch.get_rng_state()
    DAEkNNClassifier(**FAST).fit(X, y).predict_network(X)
    assert torch.equal(torch.get_rng_state(), before)


def test_convolutional_networks_run_channels_last(digits):
    X, y, _, _ = digits
    clf = DAEkNNClassifier(**dict(FAST, module_params=None, max_epochs=1))
    clf.set_params(input_shape=(1, 8, 8), hardening_strength=0).fit(X[:100], y[:100])
    convs = [m for m in clf.net_.module_.modules() if isinstance(m, nn.Conv2d)]
    assert convs
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)


@pytest.mark.parametrize(
    "labels", [np.array(["cat", "dog", "eel"]), np.array([3, 10, -7])]
)
def test_string_and_non_contiguous_labels(blobs, labels):
    X, y = blobs
    clf = DAEkNNClassifier(**FAST).fit(X, labels[y])
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, labels[y]) > 0.8


class TinyNet(nn.Module):
    def __init__(self, input_shape, n_classes, width=8):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(input_shape[0], width), nn.ReLU())
        self.out = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.out(self.hidden(x))


def test_user_networks(blobs):
    X, y = blobs
    fast = {k: v for k, v in FAST.items() if k != "module_params"}
    clf = DAEkNNClassifier(TinyNet, module_params={"width": 4}, **fast).fit(X, y)
    assert clf.layers_ == ("hidden",)
    assert clf.layer_features(X)[0].shape == (90, 4)
    instance = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
    before = [p.detach().clone() for p in instance.parameters()]
    clf = DAEkNNClassifier(instance, layers=["1"], **fast).fit(X, y)
    assert clf.layers_ == ("1",)
    for p, q in zip(before, instance.parameters(), strict=True):
        assert torch.equal(p, q)  # the user's module is not trained in place


def _fit(X, y, **params):
    return DAEkNNClassifier(**{**FAST, **params}).fit(X, y)


@pytest.mark.parametrize(
    "make, params, match",
    [
        (lambda X, y: (np.where(X > 0.5, np.nan, X), y), {}, "NaN"),
        (lambda X, y: (np.where(X > 0.5, np.inf, X), y), {}, "infinity"),
        (lambda X, y: (X, y), {"input_shape": (2, 2)}, "input_shape"),
        (lambda X, y: (X, y), {"n_neighbors": 91}, "n_neighbors=91"),
        (lambda X, y: (X, np.zeros_like(y)), {}, "1 class"),
        (lambda X, y: (X + 1, y), {"clip": (0.0, 1.0)}, "outside the box"),
        (lambda X, y: (X, y), {"layers": ["block9"]}, "Valid names: .*block1"),
        (lambda X, y: (X, y), {"hardening_strength": -0.1}, "hardening_strength"),
        (lambda X, y: (X, y), {"train_eps": -1.0}, "train_eps"),
        (lambda X, y: (X, y), {"weighting": "nearest"}, "weighting"),
        (lambda X, y: (X, y), {"clip": (1.0, 0.0)}, "low < high"),
        (lambda X, y: (X, y), {"device": "cuda:7"}, "device"),
        (lambda X, y: (X, y), {"module": nn.Linear(7, 3)}, "network fails"),
    ],
)
def test_bad_input_gets_a_clear_value_error(blobs, make, params, match):
    X, y = make(*blobs)
    if "module" in params:
        params = {**params, "module_params": None}
    if params.get("device") == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a device cuda:7")
    with pytest.raises(ValueError, match=match):
        _fit(X, y, **params)


def test_bad_input_at_predict(fitted_daeknn, digits):
    X_test = digits[2]
    with pytest.raises(ValueError, match="expecting 64 features"):
        fitted_daeknn.predict(X_test[:, :10])
    with pytest.raises(ValueError, match="outside the box"):
        fitted_daeknn.predict(X_test - 1)
    with pytest.raises(ValueError, match="NaN"):
        fitted_daeknn.predict_proba(np.full_like(X_test[:2], np.nan))
    too_many = copy.deepcopy(fitted_daeknn).set_params(n_neighbors=10_000)
    with pytest.raises(ValueError, match="n_neighbors=10000"):
        too_many.predict(X_test[:2])


def test_network_output_must_match_classes(blobs):
    X, y = blobs
    wrong = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 7))
    fast = {k: v for k, v in FAST.items() if k != "module_params"}
    with pytest.raises(ValueError, match="3 classes"):
        DAEkNNClassifier(wrong, **fast).fit(X, y)


def _chunk_calls(monkeypatch):
    """Record the rows of every feature extraction the vote asks for."""
    rows = []
    extract = classifier_module.extract_layer_features

    def spy(module, X, *args, **kwargs):
        rows.append(len(X))
        return extract(module, X, *args, **kwargs)

    monkeypatch.setattr(classifier_module, "extract_layer_features", spy)
    return rows


def test_predict_proba_in_chunks_equals_one_pass(fitted_daeknn, digits, monkeypatch):
    X = np.concatenate([digits[0], digits[2]])  # 800 rows
    rows = _chunk_calls(monkeypatch)
    one_pass = fitted_daeknn.predict_proba(X)
    assert rows == [800]  # 800 rows of 12.5 KiB fit in PREDICT_CHUNK_BYTES
    rows.clear()
    # The smallest chunk: one feature batch (256 rows) at a time.
    monkeypatch.setattr(classifier_module, "PREDICT_CHUNK_BYTES", 1)
    chunked = fitted_daeknn.predict_proba(X)
    assert rows == [256, 256, 256, 32]
    np.testing.assert_array_equal(chunked, one_pass)
    np.testing.assert_array_equal(
        fitted_daeknn.predict(X), fitted_daeknn.classes_[one_pass.argmax(1)]
    )


def test_predict_memory_does_not_grow_with_the_samples(fitted_daeknn, digits):
    # The features of a chunk are numpy arrays, which tracemalloc sees; the
    # network's activations are torch's, per batch whatever the chunk.
    clf = fitted_daeknn
    per_row = 4 * sum(r.n_features for r in clf.layer_reducers_)
    budget = 256 * per_row  # chunks of one feature batch, 256 rows

    def extra_peak(n):
        X = np.tile(digits[2], (n // len(digits[2]) + 1, 1))[:n]
        tracemalloc.start()
        try:
            clf.predict_proba(X)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak - n * len(clf.classes_) * 8  # less the returned probabilities

    with mock.patch.object(classifier_module, "PREDICT_CHUNK_BYTES", budget):
        small, large = extra_peak(512), extra_peak(4096)
    assert small > 0.5 * budget  # a chunk's features are what it holds
    assert large < 1.25 * small  # 8x the rows, not 8x the memory
