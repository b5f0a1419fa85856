"""Smoke tests for :mod:`sklearn_daeknn.plotting` (Agg backend, PNG output)."""

from __future__ import annotations

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_daeknn.plotting import (  # noqa: E402
    plot_hardening_sweep,
    plot_layer_scores,
    plot_scores_table,
)

NAMES = ["b1", "b2", "b3"]
LAYERS = {
    "DkNN": {"layer": NAMES, "SA": [0.99, 0.99, 0.98], "AA": [0.3, 0.1, 0]},
    "DAEkNN": {"layer": NAMES, "SA": [0.98, 0.98, 0.97], "AA": [0.5, 0.7, 0.8]},
}
SWEEP = {
    "hardening_strength": [0.0, 0.1, 0.2, 0.3],
    "SA": [0.99, 0.98, 0.98, 0.97],
    "AA": [0.6, 0.7, 0.75, 0.8],
    "HM": [0.75, 0.81, 0.85, 0.88],
}
TABLE = {
    "CNN": {"SA": 0.99, "AA": 0.0, "HM": 0.0},
    "AT-CNN": {"SA": 0.98, "AA": 0.62, "HM": 0.76},
    "DkNN": {"SA": 0.99, "AA": 0.01, "HM": 0.02},
    "DAEkNN": {"SA": 0.98, "AA": 0.68, "HM": 0.80},
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _save(ax, tmp_path, name):
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def test_plot_layer_scores(tmp_path):
    ax = plot_layer_scores(LAYERS)
    assert len(ax.lines) == 4  # 2 models x (SA, AA)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b1", "b2", "b3"]
    # AA of DAEkNN at the last layer, in percent.
    assert ax.lines[3].get_ydata()[-1] == pytest.approx(80)
    _save(ax, tmp_path, "layers")


def test_plot_hardening_sweep(tmp_path):
    ax = plot_hardening_sweep({"AT": SWEEP, "standard": SWEEP}, metrics=("AA", "HM"))
    assert len(ax.lines) == 4
    assert list(ax.lines[0].get_xdata()) == SWEEP["hardening_strength"]
    _save(ax, tmp_path, "sweep")


def test_plot_scores_table(tmp_path):
    ax = plot_scores_table(TABLE, title="Table I")
    assert len(ax.patches) == 4 * 3
    assert [t.get_text() for t in ax.get_xticklabels()] == list(TABLE)
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights[-1] == pytest.approx(99)
    assert ax.get_title() == "Table I"
    _save(ax, tmp_path, "table")


def test_plot_on_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot_scores_table(TABLE, ax=axes[1], metrics=["HM"]) is axes[1]
    assert len(axes[1].patches) == 4
    assert len(axes[0].patches) == 0


@pytest.mark.parametrize(
    "plot, data",
    [
        (plot_layer_scores, LAYERS),
        (plot_hardening_sweep, {"AT": SWEEP}),
        (plot_scores_table, TABLE),
    ],
)
def test_bad_metric(plot, data):
    with pytest.raises(ValueError, match="metrics must be"):
        plot(data, metrics=["accuracy"])
