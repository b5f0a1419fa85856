"""The adaptive attack on the kNN vote (KNNAdaptiveAttack)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sklearn_daeknn import PGD, KNNAdaptiveAttack, robustness_report

EPS = 0.1


@pytest.fixture(scope="module")
def test_set(digits):
    _, _, X_test, y_test = digits
    return X_test[:100], y_test[:100]


@pytest.fixture(params=["fitted_dknn", "fitted_daeknn"])
def estimator(request):
    return request.getfixturevalue(request.param)


def test_adaptive_attack_beats_transfer_pgd(estimator, test_set):
    # Seeded case: at the same eps the attack on the vote hurts the kNN at
    # least as much as PGD against the network (the paper's transfer attack).
    X, y = test_set
    X_pgd = PGD(eps=EPS, n_steps=10, random_state=0).generate(estimator, X, y)
    X_ada = KNNAdaptiveAttack(eps=EPS, n_steps=10, random_state=0).generate(
        estimator, X, y
    )
    clean = np.mean(estimator.predict(X) == y)
    transfer = np.mean(estimator.predict(X_pgd) == y)
    adaptive = np.mean(estimator.predict(X_ada) == y)
    assert adaptive <= transfer
    assert adaptive < clean - 0.05


def test_restarts_never_hurt(fitted_dknn, test_set):
    X, y = test_set
    X, y = X[:30], y[:30]
    one = KNNAdaptiveAttack(eps=EPS, n_steps=6, random_state=0)
    three = KNNAdaptiveAttack(
        eps=EPS, n_steps=6, n_restarts=3, n_target_classes=2, random_state=0
    )
    acc_one = np.mean(fitted_dknn.predict(one.generate(fitted_dknn, X, y)) == y)
    acc_three = np.mean(fitted_dknn.predict(three.generate(fitted_dknn, X, y)) == y)
    # Restart 0 is the single run; later restarts only replace it when better.
    assert acc_three <= acc_one


@settings(max_examples=4)
@given(
    eps=st.floats(0.01, 0.4),
    n_steps=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    start=st.integers(0, 90),
)
def test_stays_in_ball_and_box(fitted_daeknn, digits, eps, n_steps, seed, start):
    _, _, X_test, y_test = digits
    X, y = X_test[start : start + 6], y_test[start : start + 6]
    X_adv = KNNAdaptiveAttack(
        eps=eps, n_steps=n_steps, random_state=seed, batch_size=4
    ).generate(fitted_daeknn, X, y)
    assert X_adv.shape == X.shape and X_adv.dtype == np.float32
    assert np.abs(X_adv - X).max() <= eps + 1e-6
    assert X_adv.min() >= 0.0 and X_adv.max() <= 1.0


def test_deterministic_under_seed(fitted_daeknn, test_set):
    X, y = test_set
    X, y = X[:20], y[:20]
    attack = KNNAdaptiveAttack(eps=EPS, n_steps=5, n_restarts=2, random_state=3)
    first = attack.generate(fitted_daeknn, X, y)
    np.testing.assert_array_equal(first, attack.generate(fitted_daeknn, X, y))
    other = KNNAdaptiveAttack(eps=EPS, n_steps=5, n_restarts=2, random_state=4)
    assert not np.array_equal(first, other.generate(fitted_daeknn, X, y))


def test_eps_zero_and_default_labels(fitted_dknn, test_set):
    X, _ = test_set
    X = X[:10]
    out = KNNAdaptiveAttack(eps=0).generate(fitted_dknn, X)
    np.testing.assert_array_equal(out, X)
    # y=None attacks the estimator's own predictions.
    X_adv = KNNAdaptiveAttack(eps=0.3, n_steps=10, random_state=0).generate(
        fitted_dknn, X
    )
    assert np.mean(fitted_dknn.predict(X_adv) == fitted_dknn.predict(X)) < 1


def test_errors(fitted_dknn, test_set):
    X, y = test_set
    with pytest.raises(TypeError, match="DAEkNNClassifier"):
        KNNAdaptiveAttack().generate(nn.Linear(64, 10), X, y)
    with pytest.raises(ValueError, match="n_guides"):
        KNNAdaptiveAttack(n_guides=0).generate(fitted_dknn, X, y)
    with pytest.raises(ValueError, match="outside the box"):
        KNNAdaptiveAttack().generate(fitted_dknn, X + 2, y)
    with pytest.raises(ValueError, match="unseen"):
        KNNAdaptiveAttack().generate(fitted_dknn, X[:2], np.array([0, 99]))
    with pytest.raises(ValueError, match="shape"):
        KNNAdaptiveAttack().generate(fitted_dknn, X[:, :10], y)


def test_robustness_report_worst_case(fitted_daeknn, test_set):
    X, y = test_set
    X, y = X[:50], y[:50]
    report = robustness_report(
        fitted_daeknn,
        X,
        y,
        attack=PGD(eps=EPS, n_steps=10, random_state=0),
        adaptive_attack=KNNAdaptiveAttack(eps=EPS, n_steps=10, random_state=0),
    )
    assert report["adaptive_attack"]["name"] == "KNNAdaptiveAttack"
    assert report["worst_case_AA"] <= min(report["AA"], report["AA_adaptive"])
    assert report["worst_case_AA"] >= report["AA"] + report["AA_adaptive"] - 1
    assert report["worst_case_HM"] <= report["HM"]
    # Without an adaptive attack the report is unchanged.
    plain = robustness_report(fitted_daeknn, X, y, attack=PGD(eps=EPS, n_steps=10))
    assert "worst_case_AA" not in plain
