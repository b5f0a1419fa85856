"""Fixtures of the benchmarks' tests: fake MNIST files, small fitted models."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn.datasets import load_digits_images


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """An uncompressed IDX file of a uint8 array (MNIST's format)."""
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(
        f">{arr.ndim}I", *arr.shape
    )
    path.write_bytes(header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())
    return path


@pytest.fixture(scope="session")
def fake_mnist(tmp_path_factory):
    """A folder with the four IDX files: 24 train images per class, 60 test."""
    folder = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 240), ("t10k", 60)):
        labels = np.arange(n, dtype=np.uint8) % 10
        # Class-dependent blobs so that the networks can learn something.
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 8, 4:24] = 250
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


@pytest.fixture(scope="session")
def digits_split():
    """A shuffled digits split: 600 training and 200 test images."""
    X, y = load_digits_images()
    order = np.random.RandomState(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:600], y[:600], X[1500:1700], y[1500:1700]


@pytest.fixture(scope="session")
def fitted_digits(digits_split):
    """A DAEkNN (SmallCNN, hardening data) fitted on the digits."""
    X, y, _, _ = digits_split
    return DAEkNNClassifier(
        input_shape=(1, 8, 8),
        clip=(0.0, 1.0),
        max_epochs=2,
        train_steps=1,
        hardening_steps=2,
        hardening_strength=0.1,
        train_eps=0.1,
        random_state=0,
    ).fit(X, y)
