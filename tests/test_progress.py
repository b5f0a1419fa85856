"""Progress bars only when ``verbose`` asks; logging through ``logging``."""

from __future__ import annotations

import logging

import pytest

from sklearn_daeknn import PGD, DAEkNNClassifier
from sklearn_daeknn._progress import progress
from sklearn_daeknn._training import EpochProgress

TINY = dict(
    input_shape=(1, 8, 8),
    clip=(0.0, 1.0),
    max_epochs=2,
    train_steps=1,
    hardening_steps=1,
    module_params=dict(channels=(4, 8), hidden_size=16),
    random_state=0,
)


@pytest.fixture(scope="module")
def tiny(digits):
    X, y, _, _ = digits
    return X[:120], y[:120]


def _fit_predict_attack(X, y, verbose):
    clf = DAEkNNClassifier(**TINY, verbose=verbose).fit(X, y)
    clf.predict(X[:10])
    PGD(eps=0.1, n_steps=1, random_state=0, verbose=verbose).generate(
        clf, X[:10], y[:10]
    )
    return clf


def test_verbose_0_is_silent(tiny, capfd, caplog):
    X, y = tiny
    caplog.set_level(logging.WARNING, logger="sklearn_daeknn")
    _fit_predict_attack(X, y, verbose=0)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
    assert caplog.records == []


def test_verbose_1_shows_progress(tiny, capfd):
    X, y = tiny
    clf = _fit_predict_attack(X, y, verbose=1)
    out, err = capfd.readouterr()
    assert out == ""  # progress goes to stderr, never to stdout
    for desc in ("training", "PGD eps=0.1", "layer features"):
        assert desc in err, f"no {desc!r} progress bar in {err[-500:]!r}"
    # The progress callback exists only when verbose; it pickles without its bar.
    assert isinstance(dict(clf.net_.callbacks)["progress"], EpochProgress)
    assert "bar_" not in dict(clf.net_.callbacks)["progress"].__getstate__()


def test_fit_stages_and_epochs_are_logged(tiny, caplog, capfd):
    X, y = tiny
    caplog.set_level(logging.INFO, logger="sklearn_daeknn")
    DAEkNNClassifier(**TINY, index="exact").fit(X, y)
    messages = [r.getMessage() for r in caplog.records]
    assert all(r.name.startswith("sklearn_daeknn") for r in caplog.records)
    text = "\n".join(messages)
    assert "training the network on 120 samples" in text
    assert "hardening data" in text
    assert "building exact indexes over 120 points" in text
    # skorch's per-epoch table goes to the logger, not to stdout.
    assert "train_loss" in text
    assert capfd.readouterr() == ("", "")


def test_progress_helper():
    assert list(progress(range(3), desc="x", verbose=0)) == [0, 1, 2]
    assert list(progress(iter(range(3)), total=3, desc="x", verbose=1)) == [0, 1, 2]


def test_progress_helper_output(capsys):
    list(progress(range(3), desc="quiet", verbose=0))
    assert capsys.readouterr().err == ""
    list(progress(range(3), desc="loud", verbose=2))
    assert "loud" in capsys.readouterr().err


def test_verbose_is_validated(tiny):
    X, y = tiny
    with pytest.raises(ValueError, match="verbose"):
        DAEkNNClassifier(**TINY, verbose="yes").fit(X, y)
