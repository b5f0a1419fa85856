"""Figures of robustness results and of the neighbours behind a prediction,
drawn with matplotlib (the ``plots`` extra).

:class:`NeighborsDisplay` shows, per kNN layer, the training points that
vote on one input (scikit-learn's display style:
``NeighborsDisplay.from_estimator(clf, x, X_train, y_train)``).

Each ``plot_*`` function draws on the given ``ax`` (or a new figure) and
returns the :class:`matplotlib.axes.Axes`; ``ax.figure.savefig("name.png")`` saves it.
Their inputs are the plain dicts returned by
:func:`~sklearn_daeknn.per_layer_scores`,
:func:`~sklearn_daeknn.hardening_sweep` and
:func:`~sklearn_daeknn.robustness_report`, so figures can be redrawn from a
saved JSON file without refitting anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._display import NeighborsDisplay

__all__ = [
    "NeighborsDisplay",
    "plot_hardening_sweep",
    "plot_layer_scores",
    "plot_scores_table",
]

_METRIC_LABELS = {
    "SA": "clean accuracy (SA)",
    "AA": "adversarial accuracy (AA)",
    "HM": "harmonic mean (HM)",
}
_LINESTYLES = {"SA": "-", "AA": "--", "HM": ":"}
_MARKERS = {"SA": "o", "AA": "s", "HM": "^"}


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    metrics = list(metrics)
    bad = [m for m in metrics if m not in _METRIC_LABELS]
    if bad or not metrics:
        raise ValueError(
            f"metrics must be a non-empty list of {list(_METRIC_LABELS)}; got "
            f"{metrics!r}."
        )
    return metrics


def _colors(n: int) -> list[Any]:
    import matplotlib.pyplot as plt

    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return [cycle[i % len(cycle)] for i in range(n)]


def _metric_lines(
    ax: Any,
    x: np.ndarray,
    scores: Mapping[str, Sequence[Any]],
    metrics: list[str],
    color: Any,
    name: str,
) -> None:
    """One line per metric for one model: its colour, the metric's style."""
    for metric in metrics:
        ax.plot(
            x,
            100 * np.asarray(scores[metric], dtype=float),
            color=color,
            linestyle=_LINESTYLES[metric],
            marker=_MARKERS[metric],
            label=f"{name} {metric}",
        )


def _finish_lines(ax: Any, xlabel: str, title: str | None) -> Any:
    """Labels, limits, grid, legend and title of an accuracy line plot."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_layer_scores(
    scores: Mapping[str, Mapping[str, Sequence[Any]]],
    *,
    metrics: Sequence[str] = ("SA", "AA"),
    ax: Any = None,
    title: str | None = "Accuracy of each layer's kNN",
) -> Any:
    """Accuracy of each kNN layer alone, as the layer goes deeper (Figure 1).

    Parameters
    ----------
    scores : dict of str to dict
        ``{model name: per_layer_scores(...)}``, e.g. DkNN and DAEkNN. Each
        value holds ``"layer"`` (names) and one list per metric.
    metrics : list of {'SA', 'AA', 'HM'}, default=('SA', 'AA')
        One line per model and metric: a colour per model, a line style per
        metric.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.
    title : str or None, default="Accuracy of each layer's kNN"
        Axes title.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_daeknn.plotting import plot_layer_scores
    >>> scores = {"DkNN": {"layer": ["b1", "b2"], "SA": [.99, .98], "AA": [.1, 0]},
    ...           "DAEkNN": {"layer": ["b1", "b2"], "SA": [.98, .97], "AA": [.5, .7]}}
    >>> ax = plot_layer_scores(scores)
    >>> len(ax.lines)
    4
    """
    metrics = _check_metrics(metrics)
    ax = _axes(ax, (6.0, 4.0))
    for color, (name, model) in zip(_colors(len(scores)), scores.items(), strict=True):
        layers = list(model["layer"])
        x = np.arange(len(layers))
        _metric_lines(ax, x, model, metrics, color, name)
        ax.set_xticks(x, layers)
    return _finish_lines(ax, "layer (deeper to the right)", title)


def plot_hardening_sweep(
    sweeps: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    metrics: Sequence[str] = ("SA", "AA", "HM"),
    ax: Any = None,
    title: str | None = "Hardening strength",
) -> Any:
    """Accuracy as the hardening strength ``eps_h`` grows (Figure 3).

    Parameters
    ----------
    sweeps : dict of str to dict
        ``{network name: hardening_sweep(...)}``; each value holds
        ``"hardening_strength"`` and one list per metric.
    metrics : list of {'SA', 'AA', 'HM'}, default=('SA', 'AA', 'HM')
        One line per network and metric.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.
    title : str or None, default="Hardening strength"
        Axes title.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_daeknn.plotting import plot_hardening_sweep
    >>> sweep = {"hardening_strength": [0, .1, .2], "SA": [.99, .98, .97],
    ...          "AA": [.6, .7, .75], "HM": [.75, .82, .85]}
    >>> len(plot_hardening_sweep({"AT network": sweep}).lines)
    3
    """
    metrics = _check_metrics(metrics)
    ax = _axes(ax, (6.0, 4.0))
    for color, (name, sweep) in zip(_colors(len(sweeps)), sweeps.items(), strict=True):
        x = np.asarray(sweep["hardening_strength"], dtype=float)
        _metric_lines(ax, x, sweep, metrics, color, name)
    return _finish_lines(ax, "hardening strength eps_h", title)


def plot_scores_table(
    results: Mapping[str, Mapping[str, float]],
    *,
    metrics: Sequence[str] = ("SA", "AA", "HM"),
    ax: Any = None,
    title: str | None = None,
    annotate: bool = True,
) -> Any:
    """Grouped bar chart of SA, AA and HM per model (the paper's Tables I, II).

    Parameters
    ----------
    results : dict of str to dict
        ``{model name: {"SA": float, "AA": float, "HM": float, ...}}`` as
        fractions (e.g. :func:`~sklearn_daeknn.robustness_report` outputs).
        Models are drawn in the dict's order.
    metrics : list of {'SA', 'AA', 'HM'}, default=('SA', 'AA', 'HM')
        One bar per model and metric.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.
    title : str, default=None
        Axes title.
    annotate : bool, default=True
        Write each bar's value (in %) above it.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_daeknn.plotting import plot_scores_table
    >>> ax = plot_scores_table({"CNN": {"SA": .99, "AA": 0.0, "HM": 0.0},
    ...                         "DAEkNN": {"SA": .98, "AA": .8, "HM": .88}})
    >>> len(ax.patches)
    6
    """
    metrics = _check_metrics(metrics)
    names = list(results)
    ax = _axes(ax, (max(5.0, 1.3 * len(names) + 2), 4.0))
    width = 0.8 / len(metrics)
    x = np.arange(len(names))
    for i, (metric, color) in enumerate(
        zip(metrics, _colors(len(metrics)), strict=True)
    ):
        values = 100 * np.array([float(results[n][metric]) for n in names])
        bars = ax.bar(
            x + (i - (len(metrics) - 1) / 2) * width,
            values,
            width,
            label=_METRIC_LABELS[metric],
            color=color,
        )
        if annotate:
            ax.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=1)
    ax.set_xticks(x, names)
    ax.set_ylabel("%")
    ax.set_ylim(0, 112)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper center", ncols=len(metrics))
    if title:
        ax.set_title(title)
    return ax
