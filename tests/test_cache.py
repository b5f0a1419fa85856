"""The ``memory`` parameter: the network and the hardening data are reused when
only kNN-side (or only hardening) parameters change."""

from __future__ import annotations

import copy
import json
from collections import Counter
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import PrintLog

from sklearn_daeknn import MLP, DAEkNNClassifier
from sklearn_daeknn._cache import HARDENING_PARAMS, KNN_PARAMS, stage_key

from .conftest import FAST


@pytest.fixture(scope="module")
def small(digits):
    X, y, X_test, _ = digits
    return X[:240], y[:240], X_test[:60]


@pytest.fixture
def calls():
    """Count the network trainings and hardening runs actually computed."""
    counts = Counter()
    train = DAEkNNClassifier._train_network
    harden = DAEkNNClassifier._make_hardening_data

    def counted_train(self, *args):
        counts["train"] += 1
        return train(self, *args)

    def counted_harden(self, *args):
        counts["harden"] += 1
        return harden(self, *args)

    with (
        mock.patch.object(DAEkNNClassifier, "_train_network", counted_train),
        mock.patch.object(DAEkNNClassifier, "_make_hardening_data", counted_harden),
    ):
        yield counts


def _est(**params):
    return DAEkNNClassifier(**{**FAST, "clip": (0.0, 1.0), **params})


def test_knn_side_change_reuses_network_and_hardening(small, calls, tmp_path):
    X, y, X_test = small
    reference = _est(n_neighbors=7, weighting="uniform").fit(X, y)
    assert calls == {"train": 1, "harden": 1}
    _est(memory=str(tmp_path)).fit(X, y)
    assert calls == {"train": 2, "harden": 2}
    cached = _est(memory=str(tmp_path), n_neighbors=7, weighting="uniform").fit(X, y)
    assert calls == {"train": 2, "harden": 2}  # nothing recomputed
    # The cached network gives exactly the predictions of an uncached fit.
    np.testing.assert_array_equal(
        cached.predict_proba(X_test), reference.predict_proba(X_test)
    )
    np.testing.assert_array_equal(
        cached.predict_proba_network(X_test), reference.predict_proba_network(X_test)
    )


def test_hardening_change_reuses_network_only(small, calls, tmp_path):
    X, y, _ = small
    memory = joblib.Memory(tmp_path, verbose=0)
    _est(memory=memory).fit(X, y)
    _est(memory=memory, hardening_strength=0.05).fit(X, y)
    assert calls == {"train": 1, "harden": 2}
    _est(memory=memory, lr=0.01).fit(X, y)  # a network parameter
    assert calls == {"train": 2, "harden": 3}
    _est(memory=memory, random_state=1).fit(X, y)  # other seeds
    assert calls == {"train": 3, "harden": 4}
    _est(memory=memory).fit(X[:-1], y[:-1])  # other data
    assert calls == {"train": 4, "harden": 5}


def test_random_state_none_never_hits(small, calls, tmp_path):
    X, y, _ = small
    for _ in range(2):
        _est(memory=str(tmp_path), random_state=None).fit(X, y)
    assert calls["train"] == 2


def test_grid_search_trains_once_per_fold(small, calls, tmp_path):
    X, y, _ = small
    grid = {"n_neighbors": [3, 5], "weighting": ["relative", "uniform"]}
    est = _est(memory=str(tmp_path), max_epochs=6)
    search = GridSearchCV(est, grid, cv=3).fit(X, y)
    # 3 folds, then the refit on all of X: 4 trainings for 12 + 1 fits (the
    # counts, not a timing, so that a busy machine cannot fail the test).
    assert calls == {"train": 4, "harden": 4}
    assert search.best_estimator_.memory == str(tmp_path)
    # Without a cache every candidate retrains.
    calls.clear()
    GridSearchCV(clone(est).set_params(memory=None), grid, cv=3).fit(X, y)
    assert calls == {"train": 13, "harden": 13}


def test_a_module_instance_or_a_tensor_parameter_hits_the_cache(small, calls, tmp_path):
    # clone() deep-copies a module instance for every candidate of a grid
    # search: equal weights in new tensors, which torch pickles with a fresh
    # id each time, so a key hashed from their pickle never hit the cache.
    X, y, _ = small
    torch.manual_seed(0)
    module = MLP(input_shape=(64,), n_classes=10, hidden_sizes=(16, 16))
    est = _est(memory=str(tmp_path), module=module, module_params=None)
    GridSearchCV(est, {"n_neighbors": [3, 5]}, cv=2).fit(X, y)
    assert calls == {"train": 3, "harden": 3}  # 2 folds and the refit
    # Other weights are another network: no false hit.
    other = copy.deepcopy(module)
    with torch.no_grad():
        next(other.parameters()).view(-1)[0] += 1.0
    clone(est).set_params(module=other).fit(X, y)
    assert calls == {"train": 4, "harden": 4}
    # A tensor in net_params, made anew for each fit.
    for _ in range(2):
        weight = {"criterion__weight": torch.ones(10)}
        _est(memory=str(tmp_path), net_params=weight).fit(X, y)
    assert calls == {"train": 5, "harden": 5}


def test_memory_validation():
    with pytest.raises(InvalidParameterError, match="'memory' parameter"):
        _est(memory=3).fit(np.zeros((20, 4)), np.arange(20) % 2)


def test_stage_key():
    params = _est().get_params()
    network = stage_key(params, "network")
    hardening = stage_key(params, "hardening")
    assert not (KNN_PARAMS | HARDENING_PARAMS | {"random_state"}) & set(network)
    assert HARDENING_PARAMS <= set(hardening)
    assert {"lr", "max_epochs", "train_eps", "module"} <= set(network)
    with pytest.raises(ValueError, match="stage must be"):
        stage_key(params, "index")


def _cached_stages(folder):
    """The stages whose result the cache folder holds."""
    stages = []
    for metadata in folder.rglob("metadata.json"):
        if (metadata.parent / "output.pkl").exists():
            stages.append(json.loads(metadata.read_text())["input_args"]["stage"])
    return sorted(stages)


def test_interrupted_training_caches_nothing(small, tmp_path):
    # Ctrl-C in epoch 1, raised from a skorch callback: skorch alone would
    # return the 1-epoch network, which would be cached under the full key.
    X, y, _ = small
    est = _est(memory=str(tmp_path))
    with (
        mock.patch.object(PrintLog, "on_epoch_end", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        est.fit(X, y)
    assert _cached_stages(tmp_path) == []
    assert not hasattr(est, "net_")
    # The next fit trains in full, and equals an uncached fit.
    np.testing.assert_array_equal(
        est.fit(X, y).predict_proba(X), _est().fit(X, y).predict_proba(X)
    )
    assert _cached_stages(tmp_path) == ["'hardening'", "'network'"]


@pytest.mark.parametrize("target", ["_make_hardening_data", "_features"])
def test_interrupted_hardening_or_indexing_caches_only_complete_stages(
    small, tmp_path, target
):
    X, y, _ = small
    est = _est(memory=str(tmp_path))
    with (
        mock.patch.object(DAEkNNClassifier, target, side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        est.fit(X, y)
    complete = {
        "_make_hardening_data": ["'network'"],  # stopped in the hardening stage
        "_features": ["'hardening'", "'network'"],  # stopped after both
    }
    assert _cached_stages(tmp_path) == complete[target]
    assert not hasattr(est, "net_")
