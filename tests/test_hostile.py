"""Hostile and odd use of the estimator, each with its exact outcome.

Inputs (X, y), parameters, networks, the lifecycle (refits, interrupts,
parameters changed after fit, pickles), threads and extreme values: every
case either gives a clear error (its type and a distinctive part of its
message) or a stated result, never a crash deep in torch or a plausible wrong
answer.
"""

from __future__ import annotations

import copy
import pickle
import time
import warnings
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import PrintLog
from torch import nn

from sklearn_daeknn import PGD, DAEkNNClassifier, InconsistentVersionWarning
from sklearn_daeknn import _index as index_module
from sklearn_daeknn._persistence import VERSION_KEY

from .conftest import assert_concurrent_calls_equal_serial

#: A fit of a few tenths of a second on 90 samples.
TINY = dict(
    max_epochs=1,
    train_steps=1,
    hardening_steps=1,
    module_params=dict(hidden_sizes=(8,)),
    random_state=0,
)
#: The same, for a user's network (no module_params).
TINY_NET = {k: v for k, v in TINY.items() if k != "module_params"}


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.uniform(0.2, 0.8, size=(3, 5))
    y = np.repeat(np.arange(3), 30)
    X = np.clip(centers[y] + rng.normal(0, 0.05, size=(90, 5)), 0, 1)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return DAEkNNClassifier(**TINY, clip=(0.0, 1.0)).fit(X, y)


def _fit(X, y, **params):
    return DAEkNNClassifier(**{**TINY, **params}).fit(X, y)


# ------------------------------------------------------------------ fit X, y


def _nan(X, y):
    return np.where(X > 0.5, np.nan, X), y


def _inf(X, y):
    return np.where(X > 0.5, -np.inf, X), y


def _words(X, y):
    return np.full(X.shape, "cat", dtype=object), y


def _complex(X, y):
    return X + 1j, y


BAD_DATA = [
    ("nan", _nan, ValueError, "Input X contains NaN"),
    ("inf", _inf, ValueError, "Input X contains infinity"),
    ("empty", lambda X, y: (X[:0], y[:0]), ValueError, r"0 sample\(s\)"),
    ("one sample", lambda X, y: (X[:1], y[:1]), ValueError, "got 1 class \\(0\\)"),
    ("1-D X", lambda X, y: (X[:, 0], y), ValueError, "Expected 2D array"),
    ("3-D X", lambda X, y: (X[:, :, None], y), ValueError, "dim 3"),
    ("words", _words, ValueError, "could not convert string to float: 'cat'"),
    ("complex", _complex, ValueError, "Complex data not supported"),
    ("no features", lambda X, y: (X[:, :0], y), ValueError, r"0 feature\(s\)"),
    ("y too short", lambda X, y: (X, y[:-1]), ValueError, "inconsistent numbers"),
    ("y continuous", lambda X, y: (X, y + 0.5), ValueError, "Unknown label type"),
    ("y one class", lambda X, y: (X, np.zeros_like(y)), ValueError, "got 1 class"),
    ("y one-hot", lambda X, y: (X, np.eye(3)[y]), ValueError, "1d array"),
    ("y NaN", lambda X, y: (X, np.where(y > 1, np.nan, y)), ValueError, "NaN"),
    ("y None", lambda X, y: (X, None), ValueError, "requires y to be passed"),
]


@pytest.mark.parametrize(
    "make, error, match",
    [case[1:] for case in BAD_DATA],
    ids=[case[0] for case in BAD_DATA],
)
def test_bad_training_data(blobs, make, error, match):
    X, y = make(*blobs)
    with pytest.raises(error, match=match):
        _fit(X, y)


def test_sparse_X_is_a_type_error(blobs):
    X, y = blobs
    with pytest.raises(TypeError, match="dense data is required"):
        _fit(sp.csr_matrix(X), y)


def test_inputs_outside_the_clip_box(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"X has values in \[0.*2.*outside the box"):
        _fit(X * 2, y, clip=(0.0, 1.0))


def test_huge_inputs_without_a_box_are_refused_at_fit(blobs):
    # Finite in float32, but the squared distances of their features are not.
    X, y = blobs
    with pytest.raises(ValueError, match="features of layer 'block1' reach .*overflow"):
        _fit(X * 1e20, y)


def test_float64_data_at_its_own_bounds(blobs):
    X, y = blobs
    X64 = X.astype(np.float64) * 0.61 + 0.13  # bounds that float32 rounds up
    box = (X64.min(), X64.max())
    assert np.float32(box[1]) > box[1]  # the case that used to be refused
    clf = _fit(X64, y, clip=box)
    # The attacks keep to the same box, in the same precision.
    X_adv = PGD(eps=0.5, n_steps=2, clip=box, random_state=0).generate(clf, X64, y)
    assert X_adv.min() >= np.float32(box[0]) and X_adv.max() <= np.float32(box[1])
    assert clf.predict(X_adv).shape == (90,)


def test_string_labels_and_labels_unseen_at_fit(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat"])
    clf = _fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    assert clf.score(X, np.full(len(X), "dog")) == 0.0  # no such class: all wrong


def test_too_few_samples_for_n_neighbors(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="n_neighbors=91 is larger than .* 90"):
        _fit(X, y, n_neighbors=91)


def test_calibration_leaving_too_few(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="calibration_size=0.99 holds out 89 of 90"):
        _fit(X, y, calibration_size=0.99)


# ---------------------------------------------------------------- parameters

BAD_PARAMS = [
    ({"n_neighbors": 0}, InvalidParameterError, "'n_neighbors' parameter"),
    ({"temperature": 0.0}, InvalidParameterError, "'temperature' parameter"),
    ({"weighting": "nearest"}, InvalidParameterError, "'weighting' parameter"),
    ({"index": "ball_tree"}, InvalidParameterError, "'index' parameter"),
    ({"hardening_strength": -1.0}, InvalidParameterError, "'hardening_strength'"),
    ({"max_layer_features": 0}, InvalidParameterError, "'max_layer_features'"),
    ({"batch_size": 0}, InvalidParameterError, "'batch_size' parameter"),
    ({"calibration_size": 1.5}, InvalidParameterError, "'calibration_size'"),
    ({"memory": 3}, InvalidParameterError, "'memory' parameter"),
    ({"module": 3}, InvalidParameterError, "'module' parameter"),
    ({"clip": "01"}, InvalidParameterError, "'clip' parameter"),
    ({"clip": (1.0, 0.0)}, ValueError, "low < high"),
    ({"clip": (0.0, np.nan)}, ValueError, "finite numbers"),
    ({"clip": (0.0, 1.0, 2.0)}, ValueError, "pair"),
    ({"input_shape": (2, 2)}, ValueError, "holds 4 values per sample, but X has 5"),
    ({"input_shape": (0, 5)}, ValueError, "positive ints"),
    ({"layers": ["block9"]}, ValueError, "Valid names: .*block1"),
    ({"layers": []}, ValueError, "at least one submodule"),
    ({"layers": ["block1", "block1"]}, ValueError, "duplicates"),
    ({"device": "nonsense"}, ValueError, "not a torch device"),
    ({"device": "meta"}, ValueError, "device='meta' holds no data"),
    ({"module_params": {"widths": 3}}, ValueError, r"Cannot build the network MLP"),
    ({"module": lambda: None}, ValueError, "module must be None, a torch.nn.Module"),
]


@pytest.mark.parametrize(
    "params, error, match", BAD_PARAMS, ids=[str(c[0]) for c in BAD_PARAMS]
)
def test_bad_parameters(blobs, params, error, match):
    X, y = blobs
    with pytest.raises(error, match=match):
        _fit(X, y, **params)


def test_unavailable_accelerators(blobs):
    X, y = blobs
    if torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    with pytest.raises(ValueError, match="device='mps' is not available"):
        _fit(X, y, device="mps")
    if torch.cuda.device_count() <= 7:
        with pytest.raises(ValueError, match="device='cuda:7'"):
            _fit(X, y, device="cuda:7")


def test_memory_under_a_file(blobs, tmp_path):
    X, y = blobs
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match="notes.txt', which is a file"):
        _fit(X, y, memory=str(a_file / "cache"))
    with pytest.raises(ValueError, match="which is a file"):
        _fit(X, y, memory=str(a_file))


def test_module_params_with_an_instance(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="module_params applies only when module is"):
        _fit(X, y, module=nn.Linear(5, 3))


def test_nndescent_on_too_few_points(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="more than 10 points per index; got 9"):
        _fit(X[::10], y[::10], index="nndescent", n_neighbors=1)


# ------------------------------------------------------------------ networks


class Unused(nn.Module):
    """A submodule that forward never calls."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 8)
        self.unused = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


class Recurrent(nn.Module):
    """An LSTM layer returns a tuple (output, (h, c))."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        seq, _ = self.lstm(x[:, None, :])
        return self.out(seq[:, 0])


class BatchMean(nn.Module):
    """Averages over the batch: with one sample its output looks right."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x))).mean(0, keepdim=True)


class Transpose(nn.Module):
    def forward(self, x):
        return x.t()


class LayerOffBatch(nn.Module):
    """A kNN layer whose output has the batch on its second axis."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 8)
        self.flip = Transpose()
        self.back = Transpose()
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.back(self.flip(self.hidden(x))))


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.hidden(x)), x


class Fixed(nn.Module):
    """No parameters at all: a fixed feature map."""

    def __init__(self):
        super().__init__()
        self.square = nn.Identity()
        self.out = nn.Identity()

    def forward(self, x):
        return self.out(self.square(x)[:, :3])


class Broken(nn.Module):
    def __init__(self, input_shape, n_classes):
        raise RuntimeError("no weights file here")


def _batch_norm_net():
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


BAD_NETWORKS = [
    (Unused, {"layers": ["unused"]}, "never calls the layer\\(s\\) \\['unused'\\]"),
    (Recurrent, {"layers": ["lstm"]}, "The layer 'lstm' returns a tuple, not a"),
    (BatchMean, {}, "shape \\(1, 3\\) for 2 samples"),
    (LayerOffBatch, {"layers": ["flip"]}, "'flip' returns shape \\(8, 2\\) for a"),
    (TupleOut, {}, "The network returns a tuple"),
    (Fixed, {}, "no trainable parameters, so max_epochs=1 cannot"),
    (Broken, {}, "Cannot build the network Broken.*no weights file here"),
    (lambda: nn.Linear(7, 3), {}, "network fails on inputs of shape"),
    (
        lambda: nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 7)),
        {},
        "y has 3 classes",
    ),
    (_batch_norm_net, {"batch_size": 1}, "batch_size=1 cannot train this network"),
]


@pytest.mark.parametrize(
    "make, params, match",
    BAD_NETWORKS,
    ids=[
        "never called",
        "tuple layer",
        "batch mean",
        "layer off batch",
        "tuple output",
        "no parameters",
        "constructor fails",
        "wrong input",
        "wrong classes",
        "batch norm, batch_size=1",
    ],
)
def test_bad_networks(blobs, make, params, match):
    X, y = blobs
    module = make if isinstance(make, type) else make()  # a class or an instance
    with pytest.raises(ValueError, match=match):
        DAEkNNClassifier(module, **TINY_NET, **params).fit(X, y)


def test_a_fixed_network_with_max_epochs_0(blobs):
    X, y = blobs
    clf = DAEkNNClassifier(Fixed, **{**TINY_NET, "max_epochs": 0}).fit(X, y)
    # The features are the identity of the input: exactly X's columns.
    np.testing.assert_array_equal(clf.layer_features(X)[0], X)
    assert clf.score(X, y) > 0.9


def test_batch_norm_with_a_last_batch_of_one_sample(blobs):
    X, y = blobs
    # 61 samples in batches of 60: the last batch holds one sample.
    clf = DAEkNNClassifier(_batch_norm_net(), **TINY_NET, batch_size=60)
    clf.fit(X[:61], y[:61])
    assert clf.net_.get_params()["iterator_train__drop_last"] is True
    # Without batch norm nothing is dropped.
    plain = _fit(X[:61], y[:61], batch_size=60)
    assert "iterator_train__drop_last" not in plain.net_.get_params()


# ----------------------------------------------------------------- lifecycle


def _interrupt_training():
    """Ctrl-C in the first epoch: raised from a skorch callback."""
    return mock.patch.object(PrintLog, "on_epoch_end", side_effect=KeyboardInterrupt)


def _state(clf):
    return {name: id(value) for name, value in vars(clf).items()}


def test_predict_before_fit(blobs):
    with pytest.raises(NotFittedError):
        DAEkNNClassifier().predict(blobs[0])


def test_interrupted_first_fit_leaves_it_unfitted(blobs):
    X, y = blobs
    clf = DAEkNNClassifier(**TINY)
    with _interrupt_training(), pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert vars(clf) == vars(DAEkNNClassifier(**TINY))
    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.parametrize(
    "stage",
    ["training", "hardening", "indexing", "calibration"],
)
def test_interrupted_refit_leaves_the_old_fit(fitted, blobs, stage):
    X, y = blobs
    clf = copy.deepcopy(fitted)
    before, proba = _state(clf), clf.predict_proba(X)
    targets = {
        "training": _interrupt_training(),
        "hardening": mock.patch.object(
            DAEkNNClassifier, "_make_hardening_data", side_effect=KeyboardInterrupt
        ),
        "indexing": mock.patch.object(
            index_module, "build_index", side_effect=KeyboardInterrupt
        ),
        "calibration": mock.patch.object(
            DAEkNNClassifier, "_proba", side_effect=KeyboardInterrupt
        ),
    }
    clf.set_params(n_neighbors=3, random_state=1, calibration_size=0.2)
    with targets[stage], pytest.raises(KeyboardInterrupt):
        clf.fit(X[:, :4], y)  # other features: n_features_in_ would change
    clf.set_params(n_neighbors=fitted.n_neighbors, random_state=0, calibration_size=0)
    assert _state(clf) == before
    assert clf.n_features_in_ == 5
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_failed_refit_leaves_the_old_fit(fitted, blobs):
    X, y = blobs
    clf = copy.deepcopy(fitted)
    before, proba = _state(clf), clf.predict_proba(X)
    with pytest.raises(ValueError, match="outside the box"):
        clf.fit(X + 5, y)
    assert _state(clf) == before
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


MUTATIONS = [
    ({"temperature": -1.0}, InvalidParameterError, "'temperature' parameter"),
    ({"n_neighbors": 0}, InvalidParameterError, "'n_neighbors' parameter"),
    ({"weighting": "bad"}, InvalidParameterError, "'weighting' parameter"),
    ({"batch_size": 0}, InvalidParameterError, "'batch_size' parameter"),
    ({"clip": (1.0, 0.0)}, ValueError, "low < high"),
    ({"clip": (2.0, 3.0)}, ValueError, "outside the box"),
    ({"n_neighbors": 10_000}, ValueError, "n_neighbors=10000 is larger than the 90"),
]


@pytest.mark.parametrize(
    "params, error, match", MUTATIONS, ids=[str(m[0]) for m in MUTATIONS]
)
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_parameters_set_after_fit_are_validated(
    fitted, blobs, params, error, match, method
):
    clf = copy.copy(fitted).set_params(**params)
    with pytest.raises(error, match=match):
        getattr(clf, method)(blobs[0][:3])


def test_pickle_stores_the_version_and_checks_it(fitted, blobs, monkeypatch):
    from sklearn_daeknn import __version__, _persistence

    blob = pickle.dumps(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same version: no warning
        same = pickle.loads(blob)
    assert fitted.__getstate__()[VERSION_KEY] == __version__
    assert VERSION_KEY not in vars(same)
    monkeypatch.setattr(_persistence, "__version__", "99.0")
    with pytest.warns(
        InconsistentVersionWarning,
        match=f"pickled with sklearn-daeknn {__version__} and is loaded with "
        "sklearn-daeknn 99.0",
    ):
        other = pickle.loads(blob)
    np.testing.assert_array_equal(other.predict(blobs[0]), fitted.predict(blobs[0]))


def test_pickle_without_a_version_warns(fitted):
    state = fitted.__getstate__()
    del state[VERSION_KEY]
    loaded = DAEkNNClassifier.__new__(DAEkNNClassifier)
    with pytest.warns(InconsistentVersionWarning, match="an unknown version"):
        loaded.__setstate__(state)


def test_prediction_writes_nothing_to_the_estimator(fitted, blobs, monkeypatch):
    writes = []

    def spy(self, name, value):
        writes.append(name)
        object.__setattr__(self, name, value)

    monkeypatch.setattr(DAEkNNClassifier, "__setattr__", spy)
    modes = []
    monkeypatch.setattr(
        nn.Module, "train", lambda self, mode=True: modes.append(mode) or self
    )
    X = blobs[0]
    rng = torch.get_rng_state()
    fitted.predict_proba(X)
    fitted.predict(X)
    fitted.layer_features(X)
    assert writes == []
    assert modes == []  # nor switches its shared network's mode
    assert not fitted.net_.module_.training
    assert torch.equal(torch.get_rng_state(), rng)  # nor draws from torch's RNG


# ------------------------------------------------------------------- threads


class SlowDropout(nn.Module):
    """Dropout, and a forward slow enough that concurrent calls overlap."""

    def __init__(self, input_shape, n_classes):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(input_shape[0], 32), nn.Dropout(0.5))
        self.out = nn.Linear(32, n_classes)

    def forward(self, x):
        time.sleep(0.002)  # releases the GIL, as a large network's kernels do
        return self.out(torch.relu(self.hidden(x)))


@pytest.fixture(scope="module")
def dropout_model(blobs):
    # With dropout, a network switched to training mode by another thread's
    # call predicts differently: the race shows in the results. (The same
    # with pynndescent indexes: tests/test_index.py, which pays for numba's
    # compilation anyway.)
    X, y = blobs
    return DAEkNNClassifier(SlowDropout, **TINY_NET, index="exact").fit(X, y)


@pytest.mark.parametrize("method", ["predict_proba", "predict", "layer_features"])
def test_concurrent_predictions_equal_serial_ones(dropout_model, blobs, method):
    clf = copy.deepcopy(dropout_model)  # as fit left it, whatever ran before
    X = np.tile(blobs[0], (12, 1))  # 5 batches: long enough calls to overlap
    assert_concurrent_calls_equal_serial(getattr(clf, method), X)


# ------------------------------------------------------------ extreme values

BAD_QUERIES = [
    ("nan", lambda X: np.where(X > 0.5, np.nan, X), "Input X contains NaN"),
    ("inf", lambda X: np.where(X > 0.5, np.inf, X), "Input X contains infinity"),
    ("empty", lambda X: X[:0], r"0 sample\(s\)"),
    ("features", lambda X: X[:, :4], "X has 4 features, but DAEkNNClassifier is"),
    ("1-D", lambda X: X[0], "Expected 2D array"),
    ("box", lambda X: X + 1.5, "outside the box clip=\\(0.0, 1.0\\)"),
    ("words", lambda X: np.full(X.shape, "x", dtype=object), "could not convert"),
]


@pytest.mark.parametrize(
    "make, match", [q[1:] for q in BAD_QUERIES], ids=[q[0] for q in BAD_QUERIES]
)
@pytest.mark.parametrize("method", ["predict", "predict_proba_network"])
def test_bad_queries(fitted, blobs, make, match, method):
    with pytest.raises(ValueError, match=match):
        getattr(fitted, method)(make(blobs[0]))


def test_huge_queries_raise_instead_of_nan(blobs):
    # clip=None admits them; float32 holds them; their distances overflow.
    X, y = blobs
    clf = _fit(X, y)
    with pytest.raises(ValueError, match="features of layer 'block1' reach"):
        clf.predict_proba(X[:3] * 1e20)
    with pytest.raises(ValueError, match="features of layer 'block1' reach"):
        clf.predict(X[:3] * 1e20)


def test_non_finite_features_name_the_layer(fitted, blobs):
    clf = copy.deepcopy(fitted)
    with torch.no_grad():
        next(clf.net_.module_.parameters()).fill_(np.inf)
    with pytest.raises(ValueError, match="features of layer 'block1' are not finite"):
        clf.predict_proba(blobs[0][:3])
    with pytest.raises(ValueError, match="network's outputs are not finite"):
        clf.predict_proba_network(blobs[0][:3])


def test_one_sample_and_the_box_edges(fitted, blobs):
    edges = np.array([[0.0] * 5, [1.0] * 5], dtype=np.float32)
    proba = fitted.predict_proba(edges)
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(
        fitted.predict_proba(edges[:1]), proba[:1]
    )  # one row alone: the same answer
