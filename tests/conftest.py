"""Shared fixtures: small data and fitted estimators, built once per session."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn.datasets import load_digits_images

# Fitting a network is slow for hypothesis' default deadline.
settings.register_profile("daeknn", deadline=None, max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "daeknn"))

#: Settings that keep a fit under a second on small data.
FAST = dict(
    max_epochs=3,
    train_steps=2,
    hardening_steps=3,
    module_params=dict(hidden_sizes=(16, 16)),
    random_state=0,
)


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits_images()
    rng = np.random.RandomState(0)
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    return X[:600], y[:600], X[1500:1700], y[1500:1700]


#: The DAEkNN fitted on the digits by the ``fitted_daeknn`` fixture.
DIGITS_DAEKNN = dict(
    input_shape=(1, 8, 8),
    clip=(0.0, 1.0),
    max_epochs=4,
    train_steps=3,
    hardening_strength=0.1,
    train_eps=0.1,
    random_state=0,
)


@pytest.fixture(scope="session")
def fitted_daeknn(digits):
    X, y, _, _ = digits
    return DAEkNNClassifier(**DIGITS_DAEKNN).fit(X, y)


@pytest.fixture(scope="session")
def fitted_dknn(digits):
    X, y, _, _ = digits
    return DAEkNNClassifier(
        input_shape=(1, 8, 8),
        clip=(0.0, 1.0),
        max_epochs=4,
        hardening_strength=0,
        adversarial_training=False,
        random_state=0,
    ).fit(X, y)
