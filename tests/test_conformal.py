"""DkNN's conformal calibration: nonconformity, p-values, credibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_daeknn import (
    PGD,
    DAEkNNClassifier,
    class_fractions,
    conformal_prediction_set,
    conformal_pvalues,
    credibility_confidence,
    nonconformity,
)
from sklearn_daeknn._conformal import hold_out_calibration

from .conftest import DIGITS_DAEKNN

N_CAL = 150


@pytest.fixture(scope="module")
def calibrated(digits):
    """A DAEkNN (joint benign/hardening vote) with a calibration set."""
    X, y, _, _ = digits
    return DAEkNNClassifier(**DIGITS_DAEKNN, calibration_size=N_CAL).fit(X, y)


scores = arrays(np.float64, st.integers(1, 40), elements=st.integers(0, 30))


@given(cal=scores, test=scores)
def test_pvalues_in_unit_interval_and_monotone(cal, test):
    p = conformal_pvalues(cal, test[:, None])
    assert np.all((p > 0) & (p <= 1))
    order = np.argsort(test)
    # A larger nonconformity never has a larger p-value.
    assert np.all(np.diff(p[order, 0]) <= 0)
    # Exact definition.
    expected = (1 + (cal[None, :] >= test[:, None]).sum(1)) / (1 + len(cal))
    np.testing.assert_allclose(p[:, 0], expected)


@given(seed=st.integers(0, 2**16), n=st.integers(20, 200))
def test_pvalue_of_an_exchangeable_sample_is_uniform_enough(seed, n):
    # With exchangeable scores P(p <= a) <= a (the conformal guarantee).
    rng = np.random.RandomState(seed)
    draws = rng.randint(0, 10, size=(300, n + 1)).astype(float)
    p = np.array([conformal_pvalues(d[:-1], d[-1:][None])[0, 0] for d in draws])
    for a in (0.1, 0.2, 0.5):
        assert np.mean(p <= a) <= a + 0.08


def test_nonconformity_is_dknn_count_without_hardening():
    labels = np.array([[0, 0, 1, 2, 0], [1, 1, 1, 1, 1]])
    other = np.array([[0, 1, 1, 1, 1], [2, 2, 1, 1, 1]])
    proba = (class_fractions(labels, 3) + class_fractions(other, 3)) / 2
    alpha = nonconformity(proba, n_neighbors=5, n_layers=2)
    expected = [
        [(labels[i] != j).sum() + (other[i] != j).sum() for j in range(3)]
        for i in range(2)
    ]
    np.testing.assert_array_equal(alpha, expected)


def test_credibility_confidence_and_set():
    p = np.array([[0.2, 0.9, 0.5], [0.05, 0.01, 0.02]])
    credibility, confidence = credibility_confidence(p)
    np.testing.assert_allclose(credibility, [0.9, 0.05])
    np.testing.assert_allclose(confidence, [0.5, 0.98])
    np.testing.assert_array_equal(
        conformal_prediction_set(p, 0.1), [[True, True, True], [False] * 3]
    )
    with pytest.raises(ValueError, match="alpha"):
        conformal_prediction_set(p, 1.5)


def test_calibration_set_is_held_out(calibrated, digits):
    X, y, _, _ = digits
    assert calibrated.calibration_scores_.shape == (N_CAL,)
    for indexes in (calibrated.benign_indexes_, calibrated.hardening_indexes_):
        assert all(index.n_points == len(X) - N_CAL for index in indexes)
    # The scores are weighted neighbour counts: between 0 and k * |L|.
    k_layers = calibrated.n_neighbors * len(calibrated.layers_)
    assert calibrated.calibration_scores_.min() >= 0
    assert calibrated.calibration_scores_.max() <= k_layers


def test_split_is_stratified_and_seeded():
    rng = np.random.RandomState(0)
    X = rng.rand(100, 3).astype(np.float32)
    y = np.repeat([0, 1, 2, 3], 25)
    classes = np.arange(4)

    def split(seed):
        return hold_out_calibration(X, y, classes, size=0.2, n_neighbors=5, seed=seed)

    rows, X_cal, y_cal = split(1)
    np.testing.assert_array_equal(np.bincount(y_cal), [5, 5, 5, 5])
    assert len(rows) == 80
    assert not np.isin(X_cal, X[rows]).all(axis=1).any()  # disjoint
    np.testing.assert_array_equal(X_cal, split(1)[1])
    assert not np.array_equal(X_cal, split(2)[1])


def test_pvalues_and_coverage_on_clean_held_out_data(calibrated, digits):
    _, _, X_test, y_test = digits
    pvalues = calibrated.predict_pvalues(X_test)
    assert pvalues.shape == (len(X_test), len(calibrated.classes_))
    assert np.all((pvalues >= 0) & (pvalues <= 1))
    true = np.searchsorted(calibrated.classes_, y_test)
    for alpha in (0.05, 0.1, 0.2):
        in_set = conformal_prediction_set(pvalues, alpha)
        coverage = in_set[np.arange(len(y_test)), true].mean()
        assert coverage >= 1 - alpha - 0.05, (alpha, coverage)
    labels, credibility, confidence = calibrated.predict_credibility(X_test)
    np.testing.assert_array_equal(labels, calibrated.predict(X_test))
    np.testing.assert_allclose(credibility, pvalues.max(1))
    assert np.all((confidence >= 0) & (confidence <= 1))


def test_credibility_is_lower_on_adversarial_inputs(calibrated, digits):
    _, _, X_test, y_test = digits
    X_adv = PGD(eps=0.2, n_steps=10, random_state=0).generate(
        calibrated, X_test, y_test
    )
    _, clean, _ = calibrated.predict_credibility(X_test)
    _, adv, _ = calibrated.predict_credibility(X_adv)
    assert adv.mean() < clean.mean() - 0.1


def test_disabled_and_invalid_calibration(fitted_dknn, digits):
    X, y, X_test, _ = digits
    assert fitted_dknn.calibration_scores_ is None
    with pytest.raises(ValueError, match="calibration_size=0"):
        fitted_dknn.predict_credibility(X_test)
    too_big = DAEkNNClassifier(calibration_size=len(X) - 2, max_epochs=0)
    with pytest.raises(ValueError, match="calibration_size="):
        too_big.fit(X, y)
    with pytest.raises(ValueError, match="calibration_size"):
        DAEkNNClassifier(calibration_size=-1).fit(X, y)
