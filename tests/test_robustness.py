"""robustness_report, the default suites, the scorer, pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    PolynomialFeatures,
    StandardScaler,
)

from sklearn_daeknn import (
    PGD,
    AutoAttack,
    DAEkNNClassifier,
    KNNAdaptiveAttack,
    default_attacks,
    harmonic_mean,
    make_robustness_scorer,
    robustness_report,
)

from . import _mlp_fixtures
from ._mlp_fixtures import ATTACK
from .conftest import FAST

mlp_data = _mlp_fixtures.mlp_data
mlp_daeknn = _mlp_fixtures.mlp_daeknn
mlp_adv = _mlp_fixtures.mlp_adv

#: A cheap suite: every kind of attack, few steps.
SUITE = {
    "transfer PGD": ATTACK,
    "transfer AutoAttack": AutoAttack(
        eps=0.15, n_steps=5, n_target_classes=1, random_state=0
    ),
    "adaptive": KNNAdaptiveAttack(
        eps=0.15, n_steps=3, n_target_classes=1, random_state=0
    ),
}


@given(
    st.floats(0, 1, allow_nan=False, allow_subnormal=False),
    st.floats(0, 1, allow_nan=False, allow_subnormal=False),
)
def test_harmonic_mean_properties(sa, aa):
    hm = harmonic_mean(sa, aa)
    assert hm == pytest.approx(harmonic_mean(aa, sa))
    assert min(sa, aa) - 1e-12 <= hm <= max(sa, aa) + 1e-12
    if sa > 0 and aa > 0:
        assert hm == pytest.approx(2 / (1 / sa + 1 / aa))
    else:
        assert hm == 0.0


def test_worst_case_is_never_above_any_attack(mlp_daeknn, mlp_data):
    _, _, X, y = mlp_data
    report = robustness_report(mlp_daeknn, X, y, SUITE)
    attacks = report["attacks"]
    assert list(attacks) == list(SUITE)
    assert report["worst_case_AA"] <= min(a["AA"] for a in attacks.values())
    assert report["worst_case_AA"] <= report["SA"]
    assert report["worst_case_HM"] == pytest.approx(
        harmonic_mean(report["SA"], report["worst_case_AA"])
    )
    # An input broken by one attack alone is a win of that attack.
    assert sum(report["wins"].values()) <= report["n_samples"]
    for entry in attacks.values():
        assert entry["time_s"] > 0 and entry["images_per_s"] > 0
        assert entry["settings"]["norm"] == "Linf"
    assert attacks["adaptive"]["protocol"].startswith("KNNAdaptiveAttack on a soft")
    assert attacks["transfer PGD"]["protocol"].startswith("transfer: PGD")
    # Precomputed inputs give the same figures without running the attacks.
    given_adv = {name: SUITE[name].generate(mlp_daeknn, X, y) for name in SUITE}
    again = robustness_report(mlp_daeknn, X, y, SUITE, X_adv=given_adv)
    assert again["worst_case_AA"] == report["worst_case_AA"]
    assert again["attacks"]["adaptive"]["time_s"] is None
    # The robust inputs, one by one: correct clean and under every attack.
    robust = mlp_daeknn.predict(X) == y
    for adv in given_adv.values():
        robust &= mlp_daeknn.predict(adv) == y
    np.testing.assert_array_equal(report["robust"], robust)
    assert report["robust"].mean() == report["worst_case_AA"]


def test_report_on_a_network_equals_autoattacks_own_accuracy(fitted_daeknn, digits):
    _, _, X, y = digits
    X, y = X[:80], y[:80]
    attack = AutoAttack(eps=0.1, n_steps=10, n_target_classes=2, random_state=0)
    report = robustness_report(
        fitted_daeknn, X, y, {"AutoAttack": attack}, predict="predict_network"
    )
    own = np.mean(
        fitted_daeknn.predict_network(attack.generate(fitted_daeknn, X, y)) == y
    )
    assert report["attacks"]["AutoAttack"]["AA"] == pytest.approx(own)
    assert report["worst_case_AA"] == pytest.approx(own)  # clean errors stay errors


def test_default_suites(mlp_daeknn):
    suite = default_attacks(mlp_daeknn, eps=0.2, random_state=0)
    assert list(suite) == ["transfer PGD", "transfer AutoAttack", "adaptive"]
    assert all(a.eps == 0.2 and a.random_state == 0 for a in suite.values())
    net = default_attacks(mlp_daeknn, predict="predict_network")
    assert list(net) == ["AutoAttack"]
    assert list(default_attacks(mlp_daeknn.net_)) == ["AutoAttack"]
    with pytest.raises(ValueError, match="no default attack suite"):
        default_attacks(MinMaxScaler())


def test_scorer_scores_the_worst_case(mlp_daeknn, mlp_data):
    _, _, X, y = mlp_data
    report = robustness_report(mlp_daeknn, X, y, SUITE)
    for metric, key in (("SA", "SA"), ("AA", "worst_case_AA"), ("HM", "worst_case_HM")):
        scorer = make_robustness_scorer(SUITE, metric=metric)
        assert scorer(mlp_daeknn, X, y) == pytest.approx(report[key])


def test_default_scorer_works_on_standardised_data(digits):
    # No box: the default suite must not assume (0, 1).
    X, y, X_test, y_test = digits
    pipe = make_pipeline(
        StandardScaler(),
        DAEkNNClassifier(**FAST, hardening_strength=0.1, train_eps=0.1),
    ).fit(X[:200], y[:200])
    scorer = make_robustness_scorer(eps=0.1, random_state=0)
    score = scorer(pipe, X_test[:30], y_test[:30])
    assert 0 <= score <= 1


def test_scorer_in_grid_search_and_cross_validate(mlp_data):
    X, y, _, _ = mlp_data
    X, y = X[:200], y[:200]
    params = {**FAST, "max_epochs": 2, "clip": (0.0, 1.0), "hardening_strength": 0.1}
    search = GridSearchCV(
        DAEkNNClassifier(**params),
        {"n_neighbors": [1, 7]},
        scoring={
            "HM": make_robustness_scorer(ATTACK, metric="HM"),
            "SA": make_robustness_scorer(ATTACK, metric="SA"),
            "AA": make_robustness_scorer(ATTACK, metric="AA"),
        },
        refit="HM",
        cv=2,
    ).fit(X, y)
    results = search.cv_results_
    for split in ("split0", "split1"):
        expected = [
            harmonic_mean(sa, aa)
            for sa, aa in zip(
                results[f"{split}_test_SA"], results[f"{split}_test_AA"], strict=True
            )
        ]
        assert_allclose(results[f"{split}_test_HM"], expected)
    cv = cross_validate(
        DAEkNNClassifier(**params),
        X,
        y,
        cv=2,
        scoring=make_robustness_scorer(ATTACK),
    )
    assert np.all((cv["test_score"] >= 0) & (cv["test_score"] <= 1))


def test_pipeline_attacks_stay_in_the_raw_box(digits):
    X, y, X_test, y_test = digits
    X_raw, X_test_raw = X[:300] * 16, X_test[:20] * 16  # pixel values 0..16
    pipe = make_pipeline(
        MinMaxScaler(),
        DAEkNNClassifier(**FAST, clip=(0.0, 1.0), hardening_strength=0.1),
    ).fit(X_raw, y[:300])
    # The estimator's box (0, 1) mapped back: the training range of each
    # pixel, or [min, min + 1] for a constant one (MinMaxScaler's scale 1).
    scaler = pipe[0]
    low, high = -scaler.min_ / scaler.scale_, (1 - scaler.min_) / scaler.scale_
    X_test_raw = np.clip(X_test_raw, low, high).astype(np.float32)
    for attack in (
        PGD(eps=4.0, n_steps=5, random_state=0),
        AutoAttack(eps=4.0, n_steps=5, n_target_classes=1, random_state=0),
        KNNAdaptiveAttack(eps=4.0, n_steps=3, n_target_classes=1, random_state=0),
    ):
        X_adv = attack.generate(pipe, X_test_raw, y_test[:20])
        assert np.abs(X_adv - X_test_raw).max() <= 4.0 + 1e-4  # eps in raw units
        assert np.all(X_adv >= low - 1e-5) and np.all(X_adv <= high + 1e-5)
    report = robustness_report(pipe, X_test_raw, y_test[:20], eps=4.0, random_state=0)
    assert report["worst_case_AA"] < report["SA"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda e, X, y: robustness_report(e, X, y, {"pgd": "PGD"}), "generate"),
        (lambda e, X, y: robustness_report(e, X, y, {}), "empty"),
        (lambda e, X, y: robustness_report(e, X, y, ATTACK, predict="nope"), "predict"),
        (lambda e, X, y: make_robustness_scorer(metric="accuracy"), "metric must"),
        (lambda e, X, y: make_robustness_scorer(predict=3), "predict must"),
        (lambda e, X, y: make_robustness_scorer("pgd"), "attacks must"),
    ],
)
def test_bad_arguments(mlp_daeknn, mlp_data, call, match):
    _, _, X, y = mlp_data
    with pytest.raises(ValueError, match=match):
        call(mlp_daeknn, X, y)


def test_pipeline_step_without_torch_equivalent(digits):
    X, y, _, _ = digits
    for step in (PolynomialFeatures(1), FunctionTransformer(np.log1p)):
        pipe = make_pipeline(step, DAEkNNClassifier(**FAST)).fit(X[:100], y[:100])
        name = pipe.steps[0][0]
        with pytest.raises(ValueError, match=f"step '{name}'"):
            PGD(eps=0.1).generate(pipe, X[:5], y[:5])
