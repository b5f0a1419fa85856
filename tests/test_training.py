"""Training as skorch users expect: the optimizer, callbacks, a validation
split and skorch's routed parameters reach the net, survive ``clone`` and a
grid search, and key the cache; a pretrained network is indexed as it is;
``sample_weight`` is refused with a reason."""

from __future__ import annotations

import copy
import logging
from collections import Counter
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from skorch.callbacks import Callback, EarlyStopping, LRScheduler, PrintLog
from skorch.dataset import ValidSplit

from sklearn_daeknn import MLP, DAEkNNClassifier
from sklearn_daeknn._training import EpochProgress

from .conftest import FAST


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.uniform(0.2, 0.8, size=(3, 5))
    y = np.repeat(np.arange(3), 40)
    X = np.clip(centers[y] + rng.normal(0, 0.05, size=(120, 5)), 0, 1)
    return X.astype(np.float32), y


def _est(**params):
    return DAEkNNClassifier(**{**FAST, "clip": (0.0, 1.0), **params})


def _never_improves(patience=2):
    # Every epoch after the first misses by 10: a stop after 1 + patience.
    return EarlyStopping(patience=patience, threshold=10.0, threshold_mode="abs")


# ------------------------------------------------------------ the options


def test_early_stopping_with_a_validation_split_stops_training(blobs):
    X, y = blobs
    early = _never_improves()
    pristine = joblib.hash(early)
    clf = _est(
        max_epochs=30,
        callbacks=[("early", early)],
        train_split=ValidSplit(0.25, stratified=True, random_state=0),
    ).fit(X, y)
    history = clf.net_.history
    assert len(history) == 3  # not 30
    assert "valid_loss" in history[-1]
    assert sum(history[-1, "batches", :, "valid_batch_size"]) == 30
    # The instance given is not the one trained with, and stays untouched.
    assert dict(clf.net_.callbacks_)["early"] is not early
    assert joblib.hash(early) == pristine
    assert dict(clf.net_.callbacks_)["early"].misses_ == 2
    # All samples are indexed, the validation ones included.
    assert len(clf.benign_rows_) == len(X)


def test_sgd_and_its_routed_parameters_are_used(blobs):
    X, y = blobs
    clf = _est(
        optimizer=torch.optim.SGD,
        lr=0.05,
        net_params={"optimizer__momentum": 0.9, "optimizer__nesterov": True},
    ).fit(X, y)
    optimizer = clf.net_.optimizer_
    assert type(optimizer) is torch.optim.SGD
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"]) == (0.05, 0.9, True)
    assert type(_est().fit(X, y).net_.optimizer_) is torch.optim.Adam


def test_criterion_weight_weights_the_loss_by_class(blobs):
    X, y = blobs
    weight = torch.tensor([1.0, 2.0, 3.0])
    clf = _est(net_params={"criterion__weight": weight}).fit(X, y)
    torch.testing.assert_close(clf.net_.criterion_.weight, weight)


def test_lr_scheduler_and_iterator_options_reach_skorch(blobs):
    X, y = blobs
    clf = _est(
        lr=0.1,
        max_epochs=3,
        batch_size=50,
        callbacks=[("sched", LRScheduler(policy="StepLR", step_size=1, gamma=0.5))],
        net_params={"iterator_train__drop_last": True},
    ).fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    assert clf.net_.iterator_train__drop_last is True
    assert clf.net_.history[-1, "batches", -1, "train_batch_size"] == 50


# ------------------------------------------------- set_params, clone, search


def test_set_params_routes_skorch_keys_to_net_params():
    given = {"optimizer__momentum": 0.5}
    clf = DAEkNNClassifier(net_params=given)
    clf.set_params(optimizer__momentum=0.9, callbacks__early__patience=3, n_neighbors=3)
    assert clf.net_params == {
        "optimizer__momentum": 0.9,
        "callbacks__early__patience": 3,
    }
    assert given == {"optimizer__momentum": 0.5}  # a new dict, the user's kept
    assert clf.n_neighbors == 3
    pipe = make_pipeline(MinMaxScaler(), DAEkNNClassifier())
    pipe.set_params(daeknnclassifier__iterator_train__num_workers=0)
    assert pipe[-1].net_params == {"iterator_train__num_workers": 0}
    with pytest.raises(ValueError, match="Invalid parameter 'optimizr'"):
        DAEkNNClassifier().set_params(optimizr__momentum=0.9)


def test_routed_parameters_survive_clone(blobs):
    early = _never_improves()
    clf = _est(
        optimizer=torch.optim.SGD,
        callbacks=[("early", early)],
        train_split=ValidSplit(0.25, random_state=0),
    ).set_params(optimizer__momentum=0.9, callbacks__early__patience=1)
    twin = clone(clf)
    assert twin.optimizer is torch.optim.SGD
    assert twin.net_params == {
        "optimizer__momentum": 0.9,
        "callbacks__early__patience": 1,
    }
    assert twin.net_params is not clf.net_params
    ((name, cloned),) = twin.callbacks
    assert name == "early" and cloned is not early
    assert cloned.get_params() == early.get_params()
    X, y = blobs
    fitted = twin.fit(X, y)
    assert len(fitted.net_.history) == 2  # patience 1 (the routed value)
    assert fitted.net_.optimizer_.param_groups[0]["momentum"] == 0.9


def test_grid_search_over_routed_parameters(blobs):
    X, y = blobs
    search = GridSearchCV(
        _est(optimizer=torch.optim.SGD, lr=0.05),
        {"optimizer__momentum": [0.0, 0.9], "callbacks__early__patience": [1, 2]},
        cv=2,
    )
    search.set_params(estimator__callbacks=[("early", _never_improves())])
    search.set_params(estimator__train_split=ValidSplit(0.25, random_state=0))
    search.fit(X, y)
    assert sorted(
        (p["optimizer__momentum"], p["callbacks__early__patience"])
        for p in search.cv_results_["params"]
    ) == [(0.0, 1), (0.0, 2), (0.9, 1), (0.9, 2)]
    best = search.best_estimator_
    momentum = search.best_params_["optimizer__momentum"]
    assert best.net_.optimizer_.param_groups[0]["momentum"] == momentum
    assert (
        len(best.net_.history) == 1 + search.best_params_["callbacks__early__patience"]
    )


# ----------------------------------------------- the estimator's own callbacks


class StopAfter(Callback):
    """Stops training the skorch way, by raising KeyboardInterrupt."""

    def __init__(self, epochs=2):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) >= self.epochs:
            raise KeyboardInterrupt


def _ctrl_c():
    raise KeyboardInterrupt  # as the signal handler would, deeper down


class CtrlCInside(Callback):
    """A user callback during whose helper call the user presses Ctrl-C."""

    def on_epoch_end(self, net, **kwargs):
        _ctrl_c()


def test_own_callbacks_work_alongside_user_ones(blobs, caplog):
    X, y = blobs
    with caplog.at_level(logging.INFO, logger="sklearn_daeknn"):
        clf = _est(max_epochs=10, verbose=1, callbacks=[StopAfter(2)]).fit(X, y)
    assert len(clf.net_.history) == 2
    callbacks = dict(clf.net_.callbacks_)
    assert isinstance(callbacks["progress"], EpochProgress)
    assert isinstance(callbacks["StopAfter"], StopAfter)
    lines = "\n".join(r.getMessage() for r in caplog.records).splitlines()
    assert any("train_loss" in line for line in lines)  # the log sink's table
    rows = [line.split()[0] for line in lines if line.strip()[:1].isdigit()]
    assert rows == ["1", "2"]


def test_ctrl_c_still_interrupts_fit_with_user_callbacks(blobs):
    X, y = blobs
    early = EarlyStopping(monitor="train_loss", patience=5)
    clf = _est(callbacks=[StopAfter(5), ("early", early)])
    fresh = vars(clone(clf))
    with (
        mock.patch.object(PrintLog, "on_epoch_end", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        clf.fit(X, y)
    assert set(vars(clf)) == set(fresh)  # still unfitted
    with pytest.raises(KeyboardInterrupt):
        _est(callbacks=[CtrlCInside()]).fit(X, y)


# ------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    "params, match",
    [
        ({"net_params": {"lr": 0.1}}, "use the estimator's lr parameter"),
        ({"net_params": {"max_epochs": 3}}, "max_epochs parameter"),
        ({"net_params": {"module__width": 3}}, "go in module_params"),
        ({"net_params": {"criterion": torch.nn.NLLLoss}}, "CrossEntropyLoss"),
        ({"net_params": {1: 2}}, "must be skorch argument names"),
        (
            {"net_params": {"optimizer__momentum": 0.9}},
            "skorch cannot build the network from optimizer=Adam.*momentum",
        ),
        (
            {"net_params": {"iterator_train_shuffle": True}},
            "did you mean iterator_train__shuffle",
        ),
        (
            {"callbacks": [("progress", StopAfter())], "verbose": 1},
            "skorch cannot build.*progress",
        ),
    ],
)
def test_bad_training_settings_get_a_value_error(blobs, params, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        _est(**params).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"optimizer": "adam"}, "'optimizer' parameter"),
        ({"callbacks": StopAfter()}, "'callbacks' parameter"),
        ({"train_split": 0.2}, "'train_split' parameter"),
        ({"net_params": [("lr", 1)]}, "'net_params' parameter"),
        ({"metric": "manhattan"}, "'metric' parameter"),
    ],
)
def test_bad_training_parameter_types(blobs, params, match):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=match):
        _est(**params).fit(*blobs)


# ----------------------------------------------------------------- the cache


def test_callback_instances_hash_stably_and_key_the_cache(blobs, tmp_path):
    X, y = blobs
    assert joblib.hash(_never_improves()) == joblib.hash(_never_improves())
    assert joblib.hash(_never_improves(1)) != joblib.hash(_never_improves(2))
    calls = Counter()
    train = DAEkNNClassifier._train_network

    def counted(self, *args):
        calls["train"] += 1
        return train(self, *args)

    split = ValidSplit(0.25, random_state=0)
    with mock.patch.object(DAEkNNClassifier, "_train_network", counted):
        for patience, momentum, n_neighbors in [
            (1, 0.9, 5),
            (1, 0.9, 3),  # a kNN-side change: cached
            (2, 0.9, 5),  # another callback: trained
            (2, 0.5, 5),  # another optimizer argument: trained
        ]:
            est = _est(
                memory=str(tmp_path),
                optimizer=torch.optim.SGD,
                callbacks=[("early", _never_improves(patience))],
                train_split=split,
                n_neighbors=n_neighbors,
            ).set_params(optimizer__momentum=momentum)
            before = joblib.hash(est.get_params())
            est.fit(X, y)
            assert joblib.hash(est.get_params()) == before
    assert calls["train"] == 3


def test_a_float_valid_split_without_seed_is_seeded(blobs):
    X, y = blobs
    split = ValidSplit(0.25)
    a = _est(train_split=split).fit(X, y)
    b = _est(train_split=split).fit(X, y)
    assert split.random_state is None
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(
        a.net_.history[-1, "valid_loss"], b.net_.history[-1, "valid_loss"]
    )


# --------------------------------------------------------- pretrained network


def test_a_pretrained_network_is_indexed_as_it_is(blobs):
    X, y = blobs
    trained = _est(max_epochs=5).fit(X, y)
    network = trained.net_.module_
    before = copy.deepcopy(network.state_dict())
    fitted = {
        adversarial: DAEkNNClassifier(
            network,
            max_epochs=0,
            adversarial_training=adversarial,
            clip=(0.0, 1.0),
            random_state=0,
        ).fit(X, y)
        for adversarial in (True, False)
    }
    for clf in fitted.values():
        state = clf.net_.module_.state_dict()
        assert state.keys() == before.keys()
        for name, value in before.items():
            assert torch.equal(state[name], value), name
        assert len(clf.net_.history) == 0
        np.testing.assert_array_equal(
            clf.predict_proba_network(X), trained.predict_proba_network(X)
        )
    for name, value in before.items():  # the instance given is not touched
        assert torch.equal(network.state_dict()[name], value)
    # adversarial_training has no effect without epochs.
    np.testing.assert_array_equal(
        fitted[True].predict_proba(X), fitted[False].predict_proba(X)
    )


def test_an_untrained_instance_with_max_epochs_0_keeps_its_weights(blobs):
    X, y = blobs
    torch.manual_seed(0)
    net = MLP(input_shape=(5,), n_classes=3, hidden_sizes=(8,))
    clf = DAEkNNClassifier(net, max_epochs=0, random_state=0).fit(X, y)
    for p, q in zip(net.parameters(), clf.net_.module_.parameters(), strict=True):
        assert torch.equal(p, q)


# -------------------------------------------------------------- sample weight


@pytest.mark.parametrize(
    "fit_params, match",
    [
        ({"sample_weight": np.ones(120)}, "does not support sample_weight"),
        ({"class_weight": "balanced"}, "has no class_weight.*criterion__weight"),
        ({"epochs": 3}, r"takes X and y only; got \['epochs'\]"),
    ],
)
def test_fit_refuses_fit_params_with_a_reason(blobs, fit_params, match):
    X, y = blobs
    clf = _est()
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y, **fit_params)
    assert not hasattr(clf, "net_")


def test_an_estimator_pickled_before_the_new_parameters_loads(blobs):
    import pickle

    X, y = blobs
    clf = _est().fit(X, y)
    state = clf.__getstate__()
    for name in ("metric", "optimizer", "callbacks", "train_split", "net_params"):
        del state[name]
    old = DAEkNNClassifier.__new__(DAEkNNClassifier)
    old.__setstate__(state)
    assert old.get_params()["metric"] == "euclidean"
    assert old.get_params()["optimizer"] is torch.optim.Adam
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(old)).kneighbors(X[:3])["block1"]["benign"][1],
        clf.kneighbors(X[:3])["block1"]["benign"][1],
    )
