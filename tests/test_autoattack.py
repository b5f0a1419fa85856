"""AutoAttack through pyautoattack: strength, seeding, boxes, small class counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_daeknn import PGD, AutoAttack


def _net(n_classes, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, n_classes))


def test_autoattack_is_at_least_as_strong_as_pgd10(fitted_daeknn, digits):
    # A small adversarially trained digits network (eps 0.1, 4 epochs).
    _, _, X, y = digits
    X, y = X[:120], y[:120]
    net = fitted_daeknn
    pgd = PGD(eps=0.1, n_steps=10, random_state=0).generate(net, X, y)
    auto = AutoAttack(eps=0.1, n_steps=20, n_target_classes=3, random_state=0)
    X_auto = auto.generate(net, X, y)
    acc_pgd = np.mean(net.predict_network(pgd) == y)
    acc_auto = np.mean(net.predict_network(X_auto) == y)
    assert acc_auto <= acc_pgd
    assert np.abs(X_auto - X).max() <= 0.1 + 1e-6


def test_seeded_and_global_rng_given_back():
    X = np.random.RandomState(0).rand(30, 6).astype(np.float32)
    y = np.arange(30) % 4
    attack = AutoAttack(eps=0.3, n_steps=5, clip=(0, 1), random_state=1)
    net = _net(4)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = attack.generate(net, X, y)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(a, attack.generate(net, X, y))
    other = AutoAttack(eps=0.3, n_steps=5, clip=(0, 1), random_state=2)
    assert not np.array_equal(a, other.generate(net, X, y))


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_small_class_counts(n_classes):
    # The DLR losses need 4 classes: APGD-T falls back to the targeted CE.
    X = np.random.RandomState(0).rand(20, 6).astype(np.float32)
    y = np.arange(20) % n_classes
    attack = AutoAttack(eps=0.5, n_steps=10, clip=None, random_state=0)
    net = _net(n_classes)
    X_adv = attack.generate(net, X, y)
    with torch.no_grad():
        clean = (net(torch.from_numpy(X)).argmax(1).numpy() == y).mean()
        adv = (net(torch.from_numpy(X_adv)).argmax(1).numpy() == y).mean()
    assert adv <= clean


def test_standard_version_runs_fab_and_square(fitted_daeknn, digits):
    _, _, X, y = digits
    attack = AutoAttack(
        eps=0.1,
        version="standard",
        n_steps=3,
        n_queries=20,
        n_target_classes=1,
        random_state=0,
    )
    X_adv = attack.generate(fitted_daeknn, X[:16], y[:16])
    assert np.abs(X_adv - X[:16]).max() <= 0.1 + 1e-6
    with pytest.raises(ValueError, match="image inputs"):
        attack.set_params(clip=(0, 1)).generate(
            _net(4), np.zeros((2, 6), np.float32), [0, 1]
        )


def test_errors(fitted_daeknn, digits):
    _, _, X, y = digits
    with pytest.raises(ValueError, match="'version' parameter"):
        AutoAttack(version="plus").generate(fitted_daeknn, X, y)
    with pytest.raises(ValueError, match="'norm' parameter"):
        AutoAttack(norm="L1").generate(fitted_daeknn, X, y)
    with pytest.raises(ValueError, match="'eps' parameter"):
        AutoAttack(eps=-1).generate(fitted_daeknn, X, y)
    with pytest.raises(ValueError, match="differentiate"):
        AutoAttack().generate("net", X, y)
