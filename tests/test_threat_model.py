"""Every attack stays in its ball and box, for both norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sklearn_daeknn import PGD, AutoAttack, KNNAdaptiveAttack, SoftKNNVote
from sklearn_daeknn._threat_model import ThreatModel, check_clip_bounds, check_norm


def _net(seed=0, n_features=6, n_classes=4):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, n_classes))


def _distance(X_adv, X, norm):
    delta = (X_adv - X).reshape(len(X), -1).astype(np.float64)
    if norm == "Linf":
        return np.abs(delta).max(1, initial=0)
    return np.linalg.norm(delta, axis=1)


def _in_ball_and_box(X_adv, X, eps, norm, low, high):
    assert X_adv.dtype == np.float32 and X_adv.shape == X.shape
    assert np.all(_distance(X_adv, X, norm) <= eps * (1 + 1e-5) + 1e-6)
    assert np.all(X_adv >= low) and np.all(X_adv <= high)


@pytest.mark.parametrize("norm", ["Linf", "L2"])
@settings(max_examples=10)
@given(
    eps=st.floats(0.0, 0.8),
    seed=st.integers(0, 2**16),
    low=st.floats(-1.0, 0.0),
    attack=st.sampled_from(["pgd", "autoattack"]),
)
def test_network_attacks_stay_in_ball_and_box(norm, eps, seed, low, attack):
    rng = np.random.RandomState(seed)
    high = low + 1.0
    X = rng.uniform(low, high, size=(7, 6)).astype(np.float32)
    y = rng.randint(4, size=7)
    common = dict(eps=eps, norm=norm, clip=(low, high), random_state=seed)
    if attack == "pgd":
        att = PGD(n_steps=3, random_start=bool(seed % 2), **common)
    else:
        att = AutoAttack(n_steps=3, n_target_classes=2, **common)
    X_adv = att.generate(_net(seed), X, y)
    _in_ball_and_box(X_adv, X, eps, norm, np.float32(low), np.float32(high))


@pytest.mark.parametrize("norm", ["inf", "2"])
@settings(max_examples=6)
@given(eps=st.floats(0.01, 1.0), seed=st.integers(0, 2**16))
def test_attacks_on_a_vote_stay_in_ball_and_box(norm, eps, seed):
    rng = np.random.RandomState(seed)
    X_train = rng.rand(40, 5).astype(np.float32)
    y_train = np.arange(40) % 4
    vote = SoftKNNVote.from_arrays(X_train, y_train, n_neighbors=3, clip=(0, 1))
    X = rng.rand(6, 5).astype(np.float32)
    y = rng.randint(4, size=6)
    attack = KNNAdaptiveAttack(
        eps=eps, norm=norm, n_steps=3, n_target_classes=2, random_state=seed
    )
    X_adv = attack.generate(vote, X, y)
    _in_ball_and_box(X_adv, X, eps, check_norm(norm), 0.0, 1.0)


def test_per_feature_box_and_open_sides():
    rng = np.random.RandomState(0)
    X = rng.rand(20, 6).astype(np.float32)
    low = np.array([0, 0, 0, -np.inf, 0.2, 0], dtype=np.float32)
    high = np.array([1, 1, 0.9, np.inf, 1, 1], dtype=np.float32)
    X = np.clip(X, low, np.minimum(high, 1))
    y = np.arange(20) % 4
    for attack in (
        PGD(eps=0.5, n_steps=5, clip=(low, high), random_state=0),
        AutoAttack(eps=0.5, n_steps=5, clip=(low, high), random_state=0),
    ):
        X_adv = attack.generate(_net(), X, y)
        _in_ball_and_box(X_adv, X, 0.5, "Linf", low, high)
        assert np.any(X_adv[:, 3] < 0) or np.any(X_adv[:, 3] > 1)  # open side


@pytest.mark.parametrize("norm", ["Linf", "L2"])
@given(seed=st.integers(0, 2**16))
def test_eps_zero_returns_the_input(norm, seed):
    X = np.random.RandomState(seed).rand(5, 6).astype(np.float32)
    y = np.arange(5) % 4
    for attack in (PGD, AutoAttack):
        out = attack(eps=0.0, norm=norm, clip=(0, 1)).generate(_net(), X, y)
        np.testing.assert_array_equal(out, X)
    vote = SoftKNNVote.from_arrays(X, y, n_neighbors=1)
    out = KNNAdaptiveAttack(eps=0.0, norm=norm).generate(vote, X, y)
    np.testing.assert_array_equal(out, X)


def test_projection_is_exact_in_the_l2_ball():
    threat = ThreatModel(0.5, "L2", torch.tensor(0.0), torch.tensor(1.0))
    x = torch.full((3, 4), 0.5)
    x_adv = threat.project(x + torch.tensor([[1.0, 0, 0, 0]] * 3), x.clone())
    np.testing.assert_allclose(x_adv[:, 0].numpy(), 1.0)
    start = threat.random_start(x, torch.Generator().manual_seed(0))
    assert torch.all(torch.linalg.vector_norm(start - x, dim=1) <= 0.5 + 1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: check_norm("L1"), "norm must be one of"),
        (lambda: check_clip_bounds((1, 0), (3,)), "low < high"),
        (lambda: check_clip_bounds(([0, 2, 0], 1), (3,)), "low <= high"),
        (lambda: check_clip_bounds((np.zeros(4), 1), (3,)), "broadcast"),
        (lambda: check_clip_bounds("box", (3,)), "pair"),
    ],
)
def test_bad_threat_models_are_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
