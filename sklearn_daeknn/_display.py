"""The training points behind one prediction, drawn in scikit-learn's display
style (``NeighborsDisplay.from_estimator(...)``, then ``.plot()``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._vote import vote_weights

__all__ = ["NeighborsDisplay"]

#: Colour of each set's frames and headers.
_COLORS = {"benign": "C0", "hardening": "C1"}
#: The symbols of the vote weights (those of the method's formulas).
_WEIGHT_NAMES = {"benign": "w_b", "hardening": "w_a"}
_SET_TITLES = {
    "benign": "benign neighbours",
    "hardening": "hardening neighbours, drawn as their source images",
}


def _distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distances between the rows of ``a`` and ``b`` as the estimator reports
    them (for cosine ``a`` and ``b`` are already normalised)."""
    squared = np.square(a.astype(np.float64) - b.astype(np.float64)).sum(axis=1)
    return squared / 2 if metric == "cosine" else np.sqrt(squared)


def _image_kind(input_shape: Sequence[int]) -> str:
    """``'bars'`` for flat samples, ``'gray'`` or ``'rgb'`` for images."""
    shape = tuple(input_shape)
    if len(shape) == 1:
        return "bars"
    if len(shape) == 2 or (len(shape) == 3 and shape[0] == 1):
        return "gray"
    if len(shape) == 3 and shape[0] == 3:
        return "rgb"
    raise ValueError(
        f"NeighborsDisplay draws flat samples (as bars) and images of 1 or 3 "
        f"channels, channels first; the estimator's input_shape_ is {shape}."
    )


class NeighborsDisplay:
    """The nearest benign and hardening training points of one input, per layer.

    One row per kNN layer: the input, then its nearest benign training images
    and its nearest hardening points, each titled with its training row, its
    label and its distance, and the weights that the vote gives each set at
    that layer. Hardening points are PGD copies of training images, which the
    estimator does not store: each is drawn as the training image it was made
    from (the row ``X_train[row]``) and titled as that row's hardening copy.
    Flat (tabular) samples are drawn as bar plots of their features.

    Build it with :meth:`from_estimator`; the constructor takes data already
    computed.

    Parameters
    ----------
    sample : ndarray of shape (n_features,)
        The input.
    layers : tuple of str
        The kNN layers, one row each.
    distances, rows : dict
        ``distances[layer][set]`` and ``rows[layer][set]``, arrays of shape
        ``(n_neighbors,)``: one row of
        :meth:`~sklearn_daeknn.DAEkNNClassifier.kneighbors`, for the sets
        ``'benign'`` and (with hardening data) ``'hardening'``.
    labels : dict
        ``labels[layer][set]``: the class label of each neighbour.
    images : dict
        ``images[layer][set]``: ``(n_neighbors, n_features)``, the training
        image of each neighbour (for a hardening neighbour, its source).
    weights : dict
        ``weights[layer][set]``: the weight of each set's vote at the layer.
    input_shape : tuple of int
        One sample's shape: 1-D (bars), ``(H, W)``, ``(1, H, W)`` or
        ``(3, H, W)``.
    predicted : object, default=None
        The estimator's prediction for ``sample``, shown above it.
    clip : (float, float), default=None
        The range of the pixel values; ``None``: that of the images shown.

    Attributes
    ----------
    figure_ : matplotlib Figure
        The figure, after :meth:`plot`.
    axes_ : ndarray of matplotlib Axes of shape (n_layers, 1 + n_columns)
        The input's axes, then one per neighbour, per layer.

    See Also
    --------
    sklearn_daeknn.DAEkNNClassifier.kneighbors : The neighbours drawn here.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_daeknn import DAEkNNClassifier
    >>> from sklearn_daeknn.datasets import load_digits_images
    >>> from sklearn_daeknn.plotting import NeighborsDisplay
    >>> X, y = load_digits_images()
    >>> clf = DAEkNNClassifier(input_shape=(1, 8, 8), clip=(0.0, 1.0),
    ...                        max_epochs=2, train_steps=1, hardening_steps=2,
    ...                        n_neighbors=3, random_state=0).fit(X[:300], y[:300])
    >>> display = NeighborsDisplay.from_estimator(clf, X[500], X[:300], y[:300])
    >>> display.axes_.shape  # 3 layers; the input, 3 benign, 3 hardening
    (3, 7)
    >>> display.rows["block3"]["benign"].shape
    (3,)
    """

    def __init__(
        self,
        sample: np.ndarray,
        *,
        layers: Sequence[str],
        distances: dict[str, dict[str, np.ndarray]],
        rows: dict[str, dict[str, np.ndarray]],
        labels: dict[str, dict[str, np.ndarray]],
        images: dict[str, dict[str, np.ndarray]],
        weights: dict[str, dict[str, float]],
        input_shape: Sequence[int],
        predicted: Any = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        self.sample = sample
        self.layers = tuple(layers)
        self.distances = distances
        self.rows = rows
        self.labels = labels
        self.images = images
        self.weights = weights
        self.input_shape = tuple(input_shape)
        self.predicted = predicted
        self.clip = clip

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        x: Any,
        X_train: Any,
        y_train: Any = None,
        *,
        n_neighbors: int | None = None,
        layers: str | Sequence[str] | None = None,
        ax: Any = None,
    ) -> NeighborsDisplay:
        """Find the neighbours of ``x`` with ``estimator`` and draw them.

        Parameters
        ----------
        estimator : fitted DAEkNNClassifier
            Its :meth:`~sklearn_daeknn.DAEkNNClassifier.kneighbors` gives the
            neighbours, its labels and vote weighting the titles.
        x : array-like of shape (n_features,) or (1, n_features)
            One input.
        X_train : array-like of shape (n_samples, n_features)
            The ``X`` the estimator was fitted on: the images of the
            neighbours (the estimator stores features, not images). Checked:
            the features of the benign neighbours' rows must be at the
            distances that the search reports.
        y_train : array-like of shape (n_samples,), default=None
            The ``y`` it was fitted on, checked against the labels the
            estimator indexed; ``None``: those labels are shown unchecked.
        n_neighbors : int, default=None
            Neighbours per layer and set; ``None``: the estimator's.
        layers : str or list of str, default=None
            A subset of ``layers_`` to draw; ``None``: all of them.
        ax : ndarray of matplotlib Axes, default=None
            Axes of shape ``(n_layers, 1 + n_sets * n_neighbors)`` to draw
            on; ``None``: a new figure.

        Returns
        -------
        display : NeighborsDisplay
            Drawn; its data are those of ``kneighbors``.
        """
        check_is_fitted(estimator, ["benign_indexes_", "layers_"])
        if layers is not None:
            estimator = estimator.select_layers(layers)
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or len(x) != 1:
            raise ValueError(
                f"x must be one sample, of shape (n_features,) or (1, n_features); "
                f"got shape {x.shape}. Draw one display per sample."
            )
        _image_kind(estimator.input_shape_)  # before any search: can it draw?
        found = estimator.kneighbors(x, n_neighbors=n_neighbors)
        X_train = _check_train(estimator, X_train, found)
        label_of_row = _labels_by_row(estimator, len(X_train))
        if y_train is not None:
            _check_labels(estimator, y_train, len(X_train), label_of_row)
        metric = getattr(estimator, "metric", "euclidean")
        x_features = estimator.layer_features(x)
        data: dict[str, dict[str, dict]] = {
            key: {} for key in ("distances", "rows", "labels", "images", "weights")
        }
        for position, layer in enumerate(estimator.layers_):
            by_set = found[layer]
            for key in data:
                data[key][layer] = {}
            for name, (dist, row) in by_set.items():
                data["distances"][layer][name] = dist[0]
                data["rows"][layer][name] = row[0]
                data["labels"][layer][name] = estimator.classes_[label_of_row[row[0]]]
                data["images"][layer][name] = X_train[row[0]]
            benign = by_set["benign"][0][0]
            _check_distances(
                estimator, X_train, layer, position, x_features, found, metric
            )
            if "hardening" in by_set:
                w_b, w_a = vote_weights(
                    benign.mean(keepdims=True),
                    by_set["hardening"][0][0].mean(keepdims=True),
                    weighting=estimator.weighting,
                    temperature=estimator.temperature,
                )
                data["weights"][layer] = {
                    "benign": float(w_b[0]),
                    "hardening": float(w_a[0]),
                }
            else:
                data["weights"][layer] = {"benign": 1.0}
        display = cls(
            x[0],
            layers=estimator.layers_,
            input_shape=estimator.input_shape_,
            predicted=estimator.predict(x)[0],
            clip=estimator.clip,
            **data,
        )
        return display.plot(ax=ax)

    def plot(self, ax: Any = None, *, cmap: str = "gray_r") -> NeighborsDisplay:
        """Draw the input and its neighbours, one row per layer.

        Parameters
        ----------
        ax : ndarray of matplotlib Axes, default=None
            Axes of shape ``(n_layers, 1 + n_sets * n_neighbors)``;
            ``None``: a new figure.
        cmap : str, default="gray_r"
            Colour map of one-channel images.

        Returns
        -------
        display : NeighborsDisplay
            With ``figure_`` and ``axes_``.
        """
        import matplotlib.pyplot as plt

        kind = _image_kind(self.input_shape)
        first = self.layers[0]
        sets = list(self.rows[first])
        widths = [len(self.rows[first][name]) for name in sets]
        shape = (len(self.layers), 1 + sum(widths))
        if ax is None:
            fig, ax = plt.subplots(
                *shape,
                figsize=(1.15 * shape[1] + 0.6, 1.45 * shape[0] + 0.5),
                squeeze=False,
                layout="constrained",
            )
        ax = np.asarray(ax, dtype=object)
        if ax.shape != shape:
            raise ValueError(
                f"ax must be an array of matplotlib Axes of shape {shape} (a row "
                f"per layer; the input, then {' + '.join(map(str, widths))} "
                f"neighbours); got shape {ax.shape}."
            )
        low, high = self._value_range()
        for i, layer in enumerate(self.layers):
            cell = ax[i, 0]
            self._draw(cell, self.sample, kind, cmap, low, high)
            weights = ", ".join(
                f"{_WEIGHT_NAMES[name]}={value:.2f}"
                for name, value in self.weights[layer].items()
            )
            cell.set_ylabel(f"{layer}\n{weights}", fontsize=8)
            if i == 0:
                title = "input"
                if self.predicted is not None:
                    title += f"\npredicted {self.predicted}"
                cell.set_title(title, fontsize=8)
            column = 1
            for name in sets:
                for j in range(len(self.rows[layer][name])):
                    cell = ax[i, column]
                    self._draw(cell, self.images[layer][name][j], kind, cmap, low, high)
                    copy = " copy" if name == "hardening" else ""
                    cell.set_title(
                        f"row {self.rows[layer][name][j]}{copy}\n"
                        f"label {self.labels[layer][name][j]}, "
                        f"d={self.distances[layer][name][j]:.3g}",
                        fontsize=7,
                        color=_COLORS[name],
                    )
                    for spine in cell.spines.values():
                        spine.set_edgecolor(_COLORS[name])
                        spine.set_linewidth(2)
                    column += 1
        figure = ax[0, 0].figure
        heading = (
            "; ".join(f"{_SET_TITLES[name]} ({_COLORS[name]} frames)" for name in sets)
            .replace("C0", "blue")
            .replace("C1", "orange")
        )
        figure.suptitle(heading, fontsize=9)
        self.figure_ = figure
        self.axes_ = ax
        return self

    def _value_range(self) -> tuple[float, float]:
        if self.clip is not None:
            return float(self.clip[0]), float(self.clip[1])
        values = [self.sample.ravel()] + [
            images.ravel()
            for by_set in self.images.values()
            for images in by_set.values()
        ]
        values = np.concatenate(values)
        return float(values.min()), float(values.max())

    def _draw(
        self, ax: Any, values: np.ndarray, kind: str, cmap: str, low: float, high: float
    ) -> None:
        values = np.asarray(values, dtype=np.float64)
        if kind == "bars":
            ax.bar(np.arange(len(values)), values, color="0.4", width=0.8)
            ax.set_ylim(min(low, 0.0), max(high, 0.0))
            ax.set_xticks([])
            ax.set_yticks([])
            return
        image = values.reshape(self.input_shape)
        if kind == "rgb":
            span = high - low if high > low else 1.0
            image = np.clip((image.transpose(1, 2, 0) - low) / span, 0, 1)
            ax.imshow(image)
        else:
            ax.imshow(image.reshape(image.shape[-2:]), cmap=cmap, vmin=low, vmax=high)
        ax.set_xticks([])
        ax.set_yticks([])


def _check_train(estimator: Any, X_train: Any, found: dict) -> np.ndarray:
    """``X_train`` as float32 rows, if it can be the ``X`` of ``fit``."""
    X_train = np.asarray(X_train, dtype=np.float32)
    n_features = estimator.n_features_in_
    if X_train.ndim != 2 or X_train.shape[1] != n_features:
        raise ValueError(
            f"X_train must be the X the estimator was fitted on, of shape "
            f"(n_samples, {n_features}); got shape {X_train.shape}."
        )
    top = max(
        int(estimator.benign_rows_.max()),
        -1
        if estimator.hardening_rows_ is None
        else int(estimator.hardening_rows_.max()),
    )
    if top >= len(X_train):
        raise ValueError(
            f"X_train has {len(X_train)} rows, but the estimator indexed row "
            f"{top} of the X it was fitted on: pass that X."
        )
    return X_train


def _labels_by_row(estimator: Any, n_rows: int) -> np.ndarray:
    """The encoded label of each row of fit's ``X`` that the indexes hold."""
    labels = np.full(n_rows, -1, dtype=np.int64)
    labels[estimator.benign_rows_] = estimator.benign_labels_
    if estimator.hardening_rows_ is not None:
        labels[estimator.hardening_rows_] = estimator.hardening_labels_
    return labels


def _check_labels(
    estimator: Any, y_train: Any, n_rows: int, label_of_row: np.ndarray
) -> None:
    y_train = np.asarray(y_train)
    if y_train.shape != (n_rows,):
        raise ValueError(
            f"y_train must hold one label per row of X_train ({n_rows}); got "
            f"shape {y_train.shape}."
        )
    indexed = label_of_row >= 0
    expected = estimator.classes_[label_of_row[indexed]]
    wrong = np.flatnonzero(y_train[indexed] != expected)
    if len(wrong):
        row = int(np.flatnonzero(indexed)[wrong[0]])
        raise ValueError(
            f"y_train is not the y the estimator was fitted on: row {row} is "
            f"{y_train[row]!r}, indexed with label {expected[wrong[0]]!r} "
            f"({len(wrong)} such rows)."
        )


def _check_distances(
    estimator: Any,
    X_train: np.ndarray,
    layer: str,
    position: int,
    x_features: list[np.ndarray],
    found: dict,
    metric: str,
) -> None:
    """The benign neighbours' rows of ``X_train`` must have the features the
    search found at the reported distances."""
    distances, rows = found[layer]["benign"]
    features = estimator.layer_features(X_train[rows[0]])[position]
    recomputed = _distances(features, x_features[position], metric)
    if not np.allclose(recomputed, distances[0], rtol=1e-3, atol=1e-4):
        raise ValueError(
            f"X_train is not the X the estimator was fitted on: at layer "
            f"{layer!r} its rows {rows[0].tolist()} are at distances "
            f"{np.round(recomputed, 4).tolist()} from x, but the indexed points "
            f"of those rows at {np.round(distances[0], 4).tolist()}."
        )
