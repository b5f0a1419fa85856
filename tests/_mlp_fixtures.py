"""The two-layer MLP DAEkNN that the evaluation tests share."""

from __future__ import annotations

import pytest

from sklearn_daeknn import PGD, DAEkNNClassifier

from .conftest import FAST

ATTACK = PGD(eps=0.15, n_steps=3, random_state=0)


@pytest.fixture(scope="module")
def mlp_data(digits):
    X, y, X_test, y_test = digits
    return X[:300], y[:300], X_test[:100], y_test[:100]


@pytest.fixture(scope="module")
def mlp_daeknn(mlp_data):
    """A two-hidden-layer MLP DAEkNN: two kNN layers, fitted in ~1 s."""
    X, y, _, _ = mlp_data
    return DAEkNNClassifier(
        **FAST, clip=(0.0, 1.0), hardening_strength=0.1, train_eps=0.1
    ).fit(X, y)


@pytest.fixture(scope="module")
def mlp_adv(mlp_daeknn, mlp_data):
    _, _, X_test, y_test = mlp_data
    return ATTACK.generate(mlp_daeknn, X_test, y_test)
