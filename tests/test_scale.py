"""Beyond one process: a grid search on a Dask cluster, ``device='cuda'``.

The scale benchmark's own tests are in ``benchmarks/tests/test_scale.py``."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from sklearn_daeknn import DAEkNNClassifier

from .conftest import FAST


@pytest.fixture(scope="module")
def tiny(digits):
    X, y, X_test, _ = digits
    return X[:150], y[:150], X_test[:40]


def _search(X, y):
    est = DAEkNNClassifier(**{**FAST, "clip": (0.0, 1.0), "max_epochs": 1})
    grid = {"n_neighbors": [3, 5], "weighting": ["relative", "uniform"]}
    return GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, y)


def test_grid_search_on_dask_cluster(tiny):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (test extra)"
    )
    X, y, _ = tiny
    try:
        # Two single-threaded worker processes: with a single core in the
        # cluster joblib would run the tasks locally, in sequence, and worker
        # threads sharing one process would share torch's global RNG, so
        # concurrent fits would not be reproducible.
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        )
    except Exception as exc:  # no loopback networking, sandboxing, ...
        pytest.skip(f"cannot start a dask LocalCluster on loopback: {exc}")
    with cluster, distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            on_dask = _search(X, y)
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    # The 2 folds x 4 candidates ran as tasks on the workers.
    assert sum(executed.values()) >= 1
    local = _search(X, y)
    # The same seeds give the same scores wherever the fits run.
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert on_dask.best_params_ == local.best_params_


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_device_cuda_is_passed_through(tiny):  # pragma: no cover - needs a GPU
    X, y, X_test = tiny
    est = DAEkNNClassifier(**FAST, clip=(0.0, 1.0), device="cuda").fit(X, y)
    assert est.net_.device == "cuda"
    assert next(est.net_.module_.parameters()).is_cuda
    assert est.predict(X_test).shape == (len(X_test),)
    cpu = DAEkNNClassifier(**FAST, clip=(0.0, 1.0)).fit(X, y)
    agreement = np.mean(est.predict(X_test) == cpu.predict(X_test))
    assert agreement > 0.5


def test_device_cuda_without_gpu_is_a_clear_error(tiny, monkeypatch):
    X, y, _ = tiny
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda'.*is_available"):
        DAEkNNClassifier(**FAST, device="cuda").fit(X, y)
