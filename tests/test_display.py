"""NeighborsDisplay: it draws (Agg), and its data are those of kneighbors."""

from __future__ import annotations

import copy

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_daeknn import DAEkNNClassifier, vote_weights  # noqa: E402
from sklearn_daeknn.plotting import NeighborsDisplay  # noqa: E402

from .conftest import FAST  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_display_data_equal_kneighbors_and_it_draws(fitted_daeknn, digits, tmp_path):
    X, y, X_test, _ = digits
    clf = fitted_daeknn
    x = X_test[3]
    display = NeighborsDisplay.from_estimator(clf, x, X, y, n_neighbors=4)
    found = clf.kneighbors(x[None, :], n_neighbors=4)
    assert display.layers == clf.layers_
    for layer in clf.layers_:
        for which in ("benign", "hardening"):
            dist, rows = found[layer][which]
            np.testing.assert_array_equal(display.distances[layer][which], dist[0])
            np.testing.assert_array_equal(display.rows[layer][which], rows[0])
            np.testing.assert_array_equal(display.labels[layer][which], y[rows[0]])
            np.testing.assert_array_equal(display.images[layer][which], X[rows[0]])
        w_b, w_a = vote_weights(
            found[layer]["benign"][0].mean(1),
            found[layer]["hardening"][0].mean(1),
            weighting=clf.weighting,
            temperature=clf.temperature,
        )
        assert display.weights[layer] == pytest.approx(
            {"benign": w_b[0], "hardening": w_a[0]}
        )
    assert display.predicted == clf.predict(x[None, :])[0]
    np.testing.assert_array_equal(display.sample, x)
    # The figure: a row per layer; the input, 4 benign, 4 hardening.
    assert display.axes_.shape == (3, 9)
    assert display.axes_[0, 0].get_title().startswith("input\npredicted")
    hardening_title = display.axes_[1, 5].get_title()
    row = display.rows["block2"]["hardening"][0]
    assert hardening_title.startswith(f"row {row} copy\nlabel {y[row]}")
    assert "w_b=" in display.axes_[2, 0].get_ylabel()
    assert "w_a=" in display.axes_[2, 0].get_ylabel()
    assert len(display.axes_[0, 1].images) == 1
    path = tmp_path / "neighbors.png"
    display.figure_.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dknn_layers_subset_and_given_axes(fitted_dknn, digits):
    X, y, X_test, _ = digits
    fig, axes = plt.subplots(1, 3, squeeze=False)
    display = NeighborsDisplay.from_estimator(
        fitted_dknn, X_test[0], X, layers="block3", n_neighbors=2, ax=axes
    )
    assert list(display.rows) == ["block3"]
    assert list(display.rows["block3"]) == ["benign"]
    assert display.weights == {"block3": {"benign": 1.0}}
    assert display.figure_ is fig
    np.testing.assert_array_equal(
        display.rows["block3"]["benign"],
        fitted_dknn.kneighbors(X_test[:1], n_neighbors=2)["block3"]["benign"][1][0],
    )
    with pytest.raises(ValueError, match=r"ax must be an array .* shape \(1, 3\)"):
        display.plot(ax=axes[:, :2])


def test_wrong_training_data_is_detected(fitted_daeknn, digits):
    X, y, X_test, _ = digits
    with pytest.raises(ValueError, match="X_train is not the X the estimator"):
        NeighborsDisplay.from_estimator(fitted_daeknn, X_test[0], X[::-1].copy())
    with pytest.raises(ValueError, match="X_train has 200 rows"):
        NeighborsDisplay.from_estimator(fitted_daeknn, X_test[0], X_test)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 64\)"):
        NeighborsDisplay.from_estimator(fitted_daeknn, X_test[0], X[:, :10])
    with pytest.raises(ValueError, match="y_train is not the y"):
        NeighborsDisplay.from_estimator(fitted_daeknn, X_test[0], X, (y + 1) % 10)
    with pytest.raises(ValueError, match="one label per row"):
        NeighborsDisplay.from_estimator(fitted_daeknn, X_test[0], X, y[:10])
    with pytest.raises(ValueError, match="x must be one sample"):
        NeighborsDisplay.from_estimator(fitted_daeknn, X_test[:2], X)


def test_flat_samples_are_bars(digits):
    X, y, X_test, _ = digits
    clf = DAEkNNClassifier(**FAST, n_neighbors=2).fit(X[:200], y[:200])
    display = NeighborsDisplay.from_estimator(clf, X_test[0], X[:200], y[:200])
    assert display.axes_.shape == (2, 5)
    assert len(display.axes_[0, 0].patches) == 64  # one bar per feature
    assert not display.axes_[0, 1].images


def test_rgb_images_and_unsupported_shapes(digits):
    X, y, X_test, _ = digits
    rgb = np.repeat(X[:120].reshape(-1, 1, 64), 3, axis=1).reshape(-1, 192)
    clf = DAEkNNClassifier(
        **dict(FAST, module_params=None, max_epochs=1),
        input_shape=(3, 8, 8),
        n_neighbors=1,
        hardening_strength=0,
        clip=(0.0, 1.0),
    ).fit(rgb, y[:120])
    display = NeighborsDisplay.from_estimator(clf, rgb[0], rgb)
    image = display.axes_[0, 1].images[0].get_array()
    assert image.shape == (8, 8, 3)
    two_channels = copy.copy(clf)
    two_channels.input_shape_ = (2, 8, 12)
    with pytest.raises(ValueError, match="images of 1 or 3 channels"):
        NeighborsDisplay.from_estimator(two_channels, rgb[0], rgb)
