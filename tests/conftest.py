"""Shared fixtures: small data and fitted estimators, built once per session."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
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


def assert_concurrent_calls_equal_serial(method, X, *, n_threads=4, rounds=4):
    """``method(X)`` called from ``n_threads`` threads at once, ``rounds``
    times, returns exactly what one call alone returns."""

    def flat(result):
        return np.concatenate(result, 1) if isinstance(result, list) else result

    expected = flat(method(X))
    n_torch_threads = torch.get_num_threads()
    barrier = threading.Barrier(n_threads)

    def call(_):
        # Bitwise equality needs the same intra-op thread count, which a new
        # thread does not inherit.
        torch.set_num_threads(n_torch_threads)
        barrier.wait()
        return flat(method(X))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: races show at once
    try:
        for _ in range(rounds):
            with ThreadPoolExecutor(n_threads) as pool:
                results = list(pool.map(call, range(n_threads)))
            for result in results:
                np.testing.assert_array_equal(result, expected)
    finally:
        sys.setswitchinterval(switch)
