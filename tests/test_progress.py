"""Progress bars only when ``verbose`` asks; logging through ``logging``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_log_records_are_plain_text(tiny, caplog):
    # skorch colours each column's best value for a terminal.
    X, y = tiny
    caplog.set_level(logging.INFO, logger="sklearn_daeknn")
    DAEkNNClassifier(**{**TINY, "max_epochs": 3}).fit(X, y)
    table = [r.getMessage() for r in caplog.records if "train_loss" in r.getMessage()]
    assert table, "no epoch table logged"
    assert not any("\x1b[" in r.getMessage() for r in caplog.records)


def test_index_log_line_names_the_backend_chosen(tiny, caplog):
    X, y = tiny
    caplog.set_level(logging.INFO, logger="sklearn_daeknn")
    DAEkNNClassifier(**TINY).fit(X, y)  # index='auto'
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "building exact indexes over 120 points" in text
    assert "auto" not in text


#: Run in a fresh process: tqdm picks its front end, and torch warns about a
#: read-only array, once per process.
_QUIET_SCRIPT = """
import json, sys, warnings
import ipykernel.zmqshell  # what a Jupyter kernel has imported
sys.modules["ipywidgets"] = None  # a kernel without ipywidgets
caught = {}
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import numpy as np
    from sklearn_daeknn import DAEkNNClassifier
    from sklearn_daeknn.datasets import load_digits_images
    caught["import"] = [f"{x.category.__name__}: {x.message}" for x in w]
    del w[:]
    X, y = load_digits_images()
    X, y = X[:120], y[:120]
    try:
        import pandas
        X = pandas.DataFrame(X)  # pandas 3: its array is a read-only view
    except ImportError:
        X = X.copy()
        X.setflags(write=False)
    clf = DAEkNNClassifier(max_epochs=1, train_steps=1, hardening_steps=1,
                           clip=(0, 1), random_state=0).fit(X, y)
    clf.predict_proba(X)
    clf.predict_proba_network(X)
    clf.layer_features(X)
    caught["fit"] = [f"{x.category.__name__}: {x.message}" for x in w]
print(json.dumps(caught))
"""


@pytest.fixture(scope="module")
def quiet_run():
    pytest.importorskip("ipykernel")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_QUIET_SCRIPT)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_in_a_notebook_without_ipywidgets_is_silent(quiet_run):
    # tqdm.auto warns "IProgress not found" when it is imported there.
    assert quiet_run["import"] == []


def test_fit_and_predict_on_read_only_data_are_silent(quiet_run):
    # torch: "The given NumPy array is not writable ..."
    assert quiet_run["fit"] == []
