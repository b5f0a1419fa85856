"""The weighted benign/adversarial vote."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_daeknn import class_fractions, joint_vote, vote_weights
from sklearn_daeknn._vote import WEIGHTINGS

distances = arrays(np.float64, 8, elements=st.floats(0, 1e3))


@given(
    d_b=distances,
    d_a=distances,
    weighting=st.sampled_from(WEIGHTINGS),
    temperature=st.floats(1e-3, 1e3),
)
def test_weights_are_in_unit_interval_and_sum_to_one(d_b, d_a, weighting, temperature):
    w_b, w_a = vote_weights(d_b, d_a, weighting=weighting, temperature=temperature)
    assert np.all((w_b >= 0) & (w_b <= 1) & (w_a >= 0) & (w_a <= 1))
    np.testing.assert_allclose(w_b + w_a, 1.0)


@given(
    d_b=st.floats(0.01, 100),
    d_a=st.floats(0.01, 100),
    scale=st.floats(0.01, 100),
)
def test_relative_weighting_is_scale_free(d_b, d_a, scale):
    a = vote_weights(np.array([d_b]), np.array([d_a]), weighting="relative")
    b = vote_weights(
        np.array([d_b * scale]), np.array([d_a * scale]), weighting="relative"
    )
    np.testing.assert_allclose(a, b, rtol=1e-9)


@pytest.mark.parametrize(
    "weighting, benign_nearer_gets_more",
    [("relative", True), ("softmax", True), ("released", False)],
)
def test_weight_direction(weighting, benign_nearer_gets_more):
    w_b, w_a = vote_weights(np.array([1.0]), np.array([2.0]), weighting=weighting)
    assert (w_b[0] > w_a[0]) == benign_nearer_gets_more


def test_uniform_and_equal_distances_give_half():
    w_b, _ = vote_weights(
        np.array([1.0, 5.0]), np.array([3.0, 5.0]), weighting="uniform"
    )
    np.testing.assert_array_equal(w_b, 0.5)
    for weighting in WEIGHTINGS:
        w_b, _ = vote_weights(
            np.array([0.0, 2.0]), np.array([0.0, 2.0]), weighting=weighting
        )
        np.testing.assert_allclose(w_b, 0.5)


def test_relative_matches_the_formula():
    d_b, d_a, tau = 1.0, 3.0, 0.5
    r_b, r_a = d_b / (d_b + d_a), d_a / (d_b + d_a)
    expected = np.exp(-r_b / tau) / (np.exp(-r_b / tau) + np.exp(-r_a / tau))
    w_b, _ = vote_weights(np.array([d_b]), np.array([d_a]), temperature=tau)
    np.testing.assert_allclose(w_b, expected)


def test_unknown_weighting():
    with pytest.raises(ValueError, match="weighting must be one of"):
        vote_weights(np.ones(1), np.ones(1), weighting="nearest")


@given(
    labels=arrays(np.int64, (6, 4), elements=st.integers(0, 2)),
    labels_adv=arrays(np.int64, (6, 4), elements=st.integers(0, 2)),
    d=arrays(np.float64, (6, 4), elements=st.floats(0, 10)),
    weighting=st.sampled_from(WEIGHTINGS),
)
def test_joint_vote_is_a_distribution(labels, labels_adv, d, weighting):
    proba = joint_vote(
        [(d, labels), (d, labels)],
        [(d[::-1], labels_adv), (d, labels_adv)],
        3,
        weighting=weighting,
    )
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(1), 1.0)


def test_joint_vote_without_hardening_is_dknn():
    labels = [np.array([[0, 0, 1]]), np.array([[1, 1, 1]])]
    d = np.zeros((1, 3))
    proba = joint_vote([(d, labels[0]), (d, labels[1])], None, 2)
    np.testing.assert_allclose(proba, [[1 / 3, 2 / 3]])
    np.testing.assert_allclose(class_fractions(labels[0], 2), [[2 / 3, 1 / 3]])


@pytest.mark.parametrize("weighting", ["relative", "softmax", "uniform", "released"])
def test_non_finite_distances_raise_instead_of_nan(weighting):
    # inf - inf is NaN: the vote would be NaN and argmax its first class.
    d = np.array([np.inf, 1.0])
    with pytest.raises(ValueError, match="distances are not all finite"):
        vote_weights(d, d, weighting=weighting)
    with pytest.raises(ValueError, match="distances are not all finite"):
        vote_weights(np.array([1.0, np.nan]), np.ones(2), weighting=weighting)


@pytest.mark.parametrize("temperature", [0.0, -1.0, np.nan])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        vote_weights(np.ones(2), np.ones(2), temperature=temperature)
