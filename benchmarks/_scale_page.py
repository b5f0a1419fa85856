"""The page of the scale benchmark, written from its results (``scale.json``).

Each part the run measured gets a section: its figures as a table of the
JSON's keys and values, with what each key measures. Nothing on the page is
not in the results.
"""

from __future__ import annotations

from typing import Any

from ._pages import machine_sentence
from ._reports import Table

__all__ = ["scale_page"]

#: The headline figures: key -> what it measures.
HEADLINE = {
    "recall": "pynndescent's recall@k against exact search, largest synthetic size",
    "speedup_vs_exact": "pynndescent's query throughput over exact search's",
    "exact_vs_torch_matmul": "a plain torch matmul + top-k's time over the exact "
    "index's",
    "exact_vs_sklearn_brute": "scikit-learn's brute force time over the exact index's",
    "grid_cost_ratio": "a grid search with a memory cache over one candidate",
    "peak_rss_gib": "peak resident memory of the full-MNIST fit and predict (GiB)",
    "predict_images_per_s": "predict throughput after the full-MNIST fit",
    "predict_extra_peak_rss_gib": "extra peak memory of predict_proba, by rows (GiB)",
}
#: The parts, in the page's order: key -> title.
PARTS = {
    "mnist": "Full MNIST: memory and time of the fit",
    "predict": "Memory of predict_proba on many rows",
    "index": "Nearest neighbours on synthetic data of growing size",
    "pgd": "PGD and adversarial training",
    "grid": "Grid search without retraining",
    "compile": "pynndescent's compilation in fresh processes",
}
#: Keys not shown (local paths).
HIDDEN = {"numba_cache_dir"}


def _fmt(value: Any) -> str:
    """A JSON value as a table cell.

    Examples
    --------
    >>> _fmt(0.123456), _fmt(3), _fmt([1, 2.5]), _fmt({"a": 1}), _fmt(None)
    ('0.1235', '3', '1, 2.5', 'a: 1', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _md(table: Table) -> str:
    return f"**{table.title}**\n\n{table.markdown()}"


def _rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    keys = list(dict.fromkeys(k for row in rows for k in row if k not in HIDDEN))
    cells = [[_fmt(row.get(k)) for k in keys] for row in rows]
    return Table(title, keys, cells)


def _part(name: str, part: dict[str, Any]) -> list[str]:
    scalars = [
        [f"`{k}`", _fmt(v)]
        for k, v in part.items()
        if k not in HIDDEN
        and not (isinstance(v, list) and v and isinstance(v[0], dict))
    ]
    out = [f"## {PARTS[name]}"]
    if scalars:
        out.append(_md(Table(f"{name} (scale.json)", ["key", "value"], scalars)))
    for k, v in part.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            out.append(_md(_rows_table(f"{name}: {k}", v)))
    return out


def scale_page(results: dict[str, Any]) -> str:
    """The Markdown page of a run of the scale benchmark."""
    hardware = dict(results["hardware"])
    hardware.setdefault("gpu", None)
    parts = [
        "# Scale and speed: memory, index backends, attacks, grid search",
        machine_sentence({**results, "hardware": hardware}),
        "Speed ratios (pynndescent against exact search, channels_last against "
        "the default layout, the grid search against one candidate) are "
        "measured within one run, back to back; absolute times depend on the "
        "machine's load.",
    ]
    if results.get("quick"):
        parts.append("A `--quick` run: small data, a check of the code, not a result.")
    headline = [
        [f"`{k}`", _fmt(results[k]), what]
        for k, what in HEADLINE.items()
        if results.get(k) is not None
    ]
    if headline:
        parts += [
            "## Headline figures",
            _md(Table("Headline figures", ["key", "value", "what"], headline)),
        ]
    for name in PARTS:
        if results.get(name):
            parts += _part(name, results[name])
    return "\n\n".join(parts) + "\n"
