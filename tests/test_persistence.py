"""Saving and loading fitted estimators: pickle, joblib, GPU -> CPU."""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Iterator

import joblib
import numpy as np
import pytest
import torch
from skorch.exceptions import DeviceWarning

from sklearn_daeknn import PGD


def _predictions(est, X):
    return (
        est.predict(X),
        est.predict_proba(X),
        est.predict_network(X),
        [f.copy() for f in est.layer_features(X)],
    )


def _assert_same(before, after):
    for a, b in zip(before[:3], after[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before[3], after[3], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_round_trip_gives_identical_predictions(fitted_daeknn, digits, tmp_path, how):
    _, _, X_test, y_test = digits
    X = X_test[:80]
    before = _predictions(fitted_daeknn, X)
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(fitted_daeknn))
    else:
        path = tmp_path / "model.joblib"
        joblib.dump(fitted_daeknn, path)
        loaded = joblib.load(path)
    assert loaded is not fitted_daeknn
    assert loaded.get_params().keys() == fitted_daeknn.get_params().keys()
    assert loaded.hardening_indexes_ is not None
    _assert_same(before, _predictions(loaded, X))
    # The loaded network is usable as an attack target, with the same result.
    attack = PGD(eps=0.1, n_steps=3, random_state=0)
    np.testing.assert_array_equal(
        attack.generate(loaded, X, y_test[:80]),
        attack.generate(fitted_daeknn, X, y_test[:80]),
    )


def test_round_trip_does_not_need_the_training_data(fitted_daeknn, digits):
    # The pickle holds what predict needs; it works without refitting.
    _, _, X_test, _ = digits
    loaded = pickle.loads(pickle.dumps(fitted_daeknn))
    loaded.set_params(max_epochs=10_000)  # would take ages if fit ran again
    assert loaded.predict(X_test[:5]).shape == (5,)


@contextlib.contextmanager
def _tagged_as_cuda(tensors: list[torch.Tensor]) -> Iterator[None]:
    """Make torch's serializer record these CPU tensors as living on ``cuda:0``.

    ``torch.save`` (and pickling a tensor, which uses it) writes each storage
    with a location tag found by the taggers of
    ``torch.serialization._package_registry``. A tagger that answers
    ``'cuda:0'`` for the given storages makes the bytes exactly those a GPU
    run would write, which is what a CPU-only machine then has to load.
    """
    pointers = {t.untyped_storage().data_ptr() for t in tensors}

    def tagger(storage):
        storage = getattr(storage, "_untyped_storage", storage)
        if storage.device.type == "cpu" and storage.data_ptr() in pointers:
            return "cuda:0"
        return None

    registry = torch.serialization._package_registry
    saved = list(registry)
    registry.insert(0, (0, tagger, lambda obj, location: None))
    try:
        yield
    finally:
        registry[:] = saved


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_network_saved_on_cuda_loads_on_cpu(fitted_daeknn, digits):
    _, _, X_test, _ = digits
    X = X_test[:60]
    before = _predictions(fitted_daeknn, X)
    gpu_model = pickle.loads(pickle.dumps(fitted_daeknn))
    # What a fit with device='cuda' leaves behind: the parameter, skorch's
    # device, and the module's tensors on the GPU.
    gpu_model.device = "cuda"
    gpu_model.net_.device = "cuda"
    module = gpu_model.net_.module_
    tensors = [*module.parameters(), *module.buffers()]
    with _tagged_as_cuda(tensors):
        blob = pickle.dumps(gpu_model)
        lone_weight = pickle.dumps(tensors[0])

    # The simulation is real: without a device mapping, these bytes need CUDA.
    with pytest.raises(RuntimeError, match="CUDA"):
        pickle.loads(lone_weight)

    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        loaded = pickle.loads(blob)
    assert torch.device(loaded.net_.device).type == "cpu"
    assert {p.device.type for p in loaded.net_.module_.parameters()} == {"cpu"}
    _assert_same(before, _predictions(loaded, X))
    # The parameter is the user's and stays as it was; a refit needs it changed.
    assert loaded.device == "cuda"
    with pytest.raises(ValueError, match="cuda"):
        loaded.fit(X, np.arange(len(X)) % 2)


def test_joblib_file_of_cuda_model_loads_on_cpu(fitted_daeknn, digits, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("simulates a CPU-only machine")
    gpu_model = pickle.loads(pickle.dumps(fitted_daeknn))
    gpu_model.net_.device = "cuda"
    module = gpu_model.net_.module_
    path = tmp_path / "gpu.joblib"
    with _tagged_as_cuda([*module.parameters(), *module.buffers()]):
        joblib.dump(gpu_model, path)
    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        loaded = joblib.load(path)
    _, _, X_test, _ = digits
    np.testing.assert_array_equal(
        loaded.predict(X_test[:40]), fitted_daeknn.predict(X_test[:40])
    )


def test_state_dict_can_be_shared_without_pickle(fitted_daeknn, digits):
    # The documented pickle-free way to share the network's weights.
    buffer = io.BytesIO()
    torch.save(fitted_daeknn.net_.module_.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    other = pickle.loads(pickle.dumps(fitted_daeknn))
    for p in other.net_.module_.parameters():
        p.data.zero_()
    other.net_.module_.load_state_dict(state)
    _, _, X_test, _ = digits
    np.testing.assert_array_equal(
        other.predict_network(X_test[:30]), fitted_daeknn.predict_network(X_test[:30])
    )
