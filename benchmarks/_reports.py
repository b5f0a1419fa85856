"""The benchmark's results as tables and pictures: progress lines, the tables
(as rows of cells, printed or rendered as Markdown by :mod:`benchmarks._pages`)
and the PNG figures.

Each function reads a results dict as :func:`~benchmarks._runner.run_paper_benchmark`
returns it (or as its JSON holds it) and leaves out what the run did not
compute. Percentages have one decimal: on 1,000 test images one image is
0.1%.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._protocol import CREDIBILITY_ROWS, TABLE_I, TABLE_II

__all__ = [
    "ATTACK_HEADERS",
    "FIGURES",
    "Table",
    "attack_runs_table",
    "credibility_table",
    "paper_tables",
    "per_layer_tables",
    "print_results",
    "print_table",
    "save_figures",
    "say",
    "suite_table",
    "sweep_tables",
    "weighting_tables",
    "wins_table",
]

logger = logging.getLogger("benchmarks")

#: Column headers of the attacks of the suite.
ATTACK_HEADERS = {
    "PGD": "PGD (transfer, the paper's protocol)",
    "AutoAttack": "AutoAttack",
    "adaptive": "adaptive",
}


#: The figures a run may draw, by file suffix.
FIGURES = ("table1", "table2", "layers", "hardening", "weightings", "credibility")


def say(verbose: int, message: str) -> None:
    """A stage message: logged, and printed when ``verbose``."""
    logger.info(message)
    if verbose:
        print(message, flush=True)


def p(value: float | None) -> str:
    """A fraction in percent, one decimal; ``'-'`` for a missing value.

    Examples
    --------
    >>> p(0.8671), p(None)
    ('86.7', '-')
    """
    return "-" if value is None else f"{100 * value:.1f}"


class Table:
    """A titled table: a header and rows of cells (strings).

    Examples
    --------
    >>> t = Table("scores (%)", ["model", "SA"], [["CNN", "99.0"]])
    >>> print(t.markdown())
    | model | SA |
    | --- | ---: |
    | CNN | 99.0 |
    """

    def __init__(
        self, title: str, header: list[str], rows: list[list[str]], note: str = ""
    ) -> None:
        self.title = title
        self.header = header
        self.rows = rows
        self.note = note

    def markdown(self) -> str:
        align = ["---"] + ["---:"] * (len(self.header) - 1)
        lines = [
            "| " + " | ".join(self.header) + " |",
            "| " + " | ".join(align) + " |",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def text(self) -> str:
        widths = [
            max(len(str(cell)) for cell in column)
            for column in zip(self.header, *self.rows, strict=True)
        ]
        lines = [self.title]
        for cells in (self.header, *self.rows):
            lines.append(
                "  ".join(
                    str(c).ljust(w) if i == 0 else str(c).rjust(w)
                    for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                )
            )
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def print_table(table: Table) -> None:
    print(f"\n{table.text()}", flush=True)


# ------------------------------------------------------------ tables


def suite_table(results: dict[str, Any]) -> Table:
    """Every row under the suite, most robust (worst case) first."""
    table = results["table"]
    ranking = results["verdict"]["ranking"]
    attacks = [
        a for a in ATTACK_HEADERS if any(a in table[r]["attacks"] for r in table)
    ]
    header = ["model", "SA", *(f"AA {ATTACK_HEADERS[a]}" for a in attacks)]
    header += ["worst-case AA", "worst-case HM", "HM (transfer)"]
    rows = []
    for name in ranking:
        row = table[name]
        cells = [name, p(row["SA"])]
        cells += [p(row["attacks"].get(a, {}).get("AA")) for a in attacks]
        cells += [
            p(row["worst_case_AA"]),
            p(row["worst_case_HM"]),
            p(row["HM_transfer"]),
        ]
        rows.append(cells)
    note = (
        "Ranked by the worst case: an input counts as robust only if every "
        "attack of its row fails on it. PGD is the paper's test attack, "
        "transferred from the network to the kNN rows (white-box for CNN and "
        "AT-CNN); AutoAttack against the same network; adaptive: on the kNN "
        "vote itself ('-': a network has none)."
    )
    return Table("Ranked by the worst case (%)", header, rows, note)


def wins_table(results: dict[str, Any]) -> Table:
    """Per row, the inputs that each attack alone broke."""
    table = results["table"]
    attacks = [
        a for a in ATTACK_HEADERS if any(a in table[r]["attacks"] for r in table)
    ]
    rows = [
        [name, *(str(table[name]["wins"].get(a, "-")) for a in attacks)]
        for name in table
    ]
    return Table(
        "Inputs broken by one attack alone (the others failed on them)",
        ["model", *attacks],
        rows,
    )


def paper_tables(results: dict[str, Any]) -> list[Table]:
    """Tables I and II under the paper's protocol, beside the paper's figures."""
    table = results["table"]
    paper = results.get("config", {}).get("paper") or {}
    out = []
    for title, names in (("Table I", TABLE_I), ("Table II, ablation", TABLE_II)):
        header = ["model", "SA", "AA", "HM"]
        if paper:
            header += ["paper SA", "paper AA", "paper HM"]
        rows = []
        for name in names:
            if name not in table:
                continue
            row = table[name]
            cells = [name, p(row["SA"]), p(row["AA_transfer"]), p(row["HM_transfer"])]
            if paper:
                cells += [f"{v:.2f}" for v in paper.get(name, [])] or ["-"] * 3
            rows.append(cells)
        out.append(Table(f"{title}: transfer, the paper's protocol (%)", header, rows))
    return out


def attack_runs_table(results: dict[str, Any]) -> Table:
    """Each attack run: its images, time, images per second, cost."""
    rows = [
        [
            label,
            str(run["n_images"]),
            f"{run['time_s']:.1f}",
            "-" if run["images_per_s"] is None else f"{run['images_per_s']:.2f}",
            "-"
            if run["network_passes_per_image"] is None
            else f"{run['network_passes_per_image']:.1f}",
            "yes" if run["from_cache"] else "no",
        ]
        for label, run in results["attack_runs"].items()
    ]
    measured = any(
        run["network_passes_per_image"] is not None
        for run in results["attack_runs"].values()
    )
    return Table(
        "Attack runs",
        [
            "run",
            "images",
            "time (s)",
            "images/s",
            "network passes per image",
            "from the cache",
        ],
        rows,
        "Network passes per image: the run's time per image over that of one "
        "forward and input-gradient pass of the standard network, measured "
        "just before the run."
        if measured
        else "",
    )


def per_layer_tables(results: dict[str, Any]) -> list[Table]:
    out = []
    for model, layers in results.get("per_layer", {}).get("models", {}).items():
        rows = [
            [name, p(sa), p(aa), p(hm)]
            for name, sa, aa, hm in zip(
                layers["layer"], layers["SA"], layers["AA"], layers["HM"], strict=True
            )
        ]
        out.append(
            Table(
                f"Each layer's kNN alone, {model}, transfer PGD only (%)",
                ["layer", "SA", "AA", "HM"],
                rows,
            )
        )
    return out


def sweep_tables(results: dict[str, Any]) -> list[Table]:
    out = []
    for network, sweep in (
        results.get("hardening_sweep", {}).get("networks", {}).items()
    ):
        rows = [
            [f"{eps:g}", *(p(sweep[m][i]) for m in ("SA", "AA", "HM"))]
            for i, eps in enumerate(sweep["hardening_strength"])
        ]
        out.append(
            Table(
                f"Hardening sweep, {network}, transfer PGD only (%)",
                ["eps_h", "SA", "AA", "HM"],
                rows,
            )
        )
    return out


def weighting_tables(results: dict[str, Any]) -> list[Table]:
    out = []
    for row, comparison in results.get("weightings", {}).get("models", {}).items():
        rows = [
            [weighting, *(p(scores[m]) for m in ("SA", "AA", "HM"))]
            for weighting, scores in comparison["scores"].items()
        ]
        out.append(
            Table(
                f"Vote weightings, {row}, transfer PGD only (%); best by HM: "
                f"{comparison['best']}",
                ["weighting", "SA", "AA", "HM"],
                rows,
            )
        )
    return out


def credibility_table(results: dict[str, Any]) -> Table | None:
    credibility = results.get("credibility")
    if not credibility:
        return None
    rows = []
    for row in CREDIBILITY_ROWS:
        for name, s in credibility.get(row, {}).items():
            auc = "" if s.get("auc") is None else f"{s['auc']:.3f}"
            auc_ok = s.get("auc_successful")
            rows.append(
                [
                    row,
                    name,
                    p(s["accuracy"]),
                    f"{s['mean_credibility']:.3f}",
                    auc,
                    "" if auc_ok is None else f"{auc_ok:.3f}",
                ]
            )
    return Table(
        f"DkNN credibility (calibration: {credibility['calibration']})",
        [
            "model",
            "inputs",
            "accuracy (%)",
            "mean credibility",
            "detection AUC",
            "AUC (successful only)",
        ],
        rows,
        "Detection AUC: the ROC AUC of 1 - credibility separating the attacked "
        "from the clean inputs.",
    )


# ------------------------------------------------------------ printed


def print_results(results: dict[str, Any]) -> None:
    """Print the tables and the verdict of a benchmark's results."""
    print(f"\n{results['name']}: {results['threat']}")
    print_table(suite_table(results))
    print()
    for sentence in results["verdict"]["sentences"]:
        print(sentence)
    print_table(wins_table(results))
    for table in paper_tables(results):
        print_table(table)
    print_table(attack_runs_table(results))
    for table in (
        *per_layer_tables(results),
        *sweep_tables(results),
        *weighting_tables(results),
    ):
        print_table(table)
    credibility = credibility_table(results)
    if credibility is not None:
        print_table(credibility)
    print(f"\nwall time {results['wall_time_s']:.0f} s")


# ------------------------------------------------------------ figures


def _subtitle(results: dict[str, Any]) -> str:
    attack = results["attacks"]["PGD"]
    return f"{results['name']}, eps={attack['eps']:.3g}"


def _suite_bars(results: dict[str, Any], names: tuple[str, ...], title: str) -> Any:
    """Bars per model: SA, AA under transfer PGD, worst-case AA and HM."""
    import matplotlib.pyplot as plt

    table = results["table"]
    names = tuple(n for n in names if n in table)
    metrics = (
        ("SA", "clean accuracy (SA)"),
        ("AA_transfer", "AA, transfer PGD (the paper's protocol)"),
        ("worst_case_AA", "AA, worst case of the suite"),
        ("worst_case_HM", "HM, worst case"),
    )
    _, ax = plt.subplots(
        figsize=(max(5.0, 1.5 * len(names) + 2), 4.2), layout="constrained"
    )
    width = 0.8 / len(metrics)
    x = np.arange(len(names))
    for i, (key, label) in enumerate(metrics):
        values = 100 * np.array([table[n][key] for n in names], dtype=float)
        bars = ax.bar(
            x + (i - (len(metrics) - 1) / 2) * width, values, width, label=label
        )
        ax.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=1)
    ax.set_xticks(x, names)
    ax.set_ylabel("%")
    ax.set_ylim(0, 118)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper center", ncols=2)
    ax.set_title(title, fontsize=9)
    return ax


def save_figures(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw the PNGs of a benchmark's results; returns their paths."""
    _agg()
    from sklearn_daeknn.plotting import (
        plot_hardening_sweep,
        plot_layer_scores,
        plot_scores_table,
    )

    subtitle = _subtitle(results)
    figures = [
        ("table1", _suite_bars(results, TABLE_I, f"Table I ({subtitle})")),
        ("table2", _suite_bars(results, TABLE_II, f"Table II, ablation ({subtitle})")),
    ]
    per_layer = results.get("per_layer", {}).get("models", {})
    if per_layer:
        layers = {row: per_layer[row] for row in ("DkNN", "DAEkNN") if row in per_layer}
        title = f"Each layer's kNN alone, transfer PGD only ({subtitle})"
        figures.append(("layers", plot_layer_scores(layers, title=title)))
    sweep = results.get("hardening_sweep", {}).get("networks", {})
    if sweep:
        title = f"Hardening strength, transfer PGD only ({subtitle})"
        figures.append(("hardening", plot_hardening_sweep(sweep, title=title)))
    weightings = results.get("weightings", {}).get("models", {})
    if "DAEkNN" in weightings:
        title = f"Vote weightings, DAEkNN, transfer PGD only ({subtitle})"
        figures.append(
            (
                "weightings",
                plot_scores_table(weightings["DAEkNN"]["scores"], title=title),
            )
        )
    figures.extend(_credibility_figure(results, subtitle))
    return _save(figures, out_dir, results["name"])


def _credibility_figure(
    results: dict[str, Any], subtitle: str
) -> list[tuple[str, Any]]:
    credibility = results.get("credibility")
    if not credibility:
        return []
    import matplotlib.pyplot as plt

    rows = [row for row in CREDIBILITY_ROWS if row in credibility]
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 3.6), squeeze=False)
    bins = np.asarray(credibility["bins"])
    for ax, row in zip(axes[0], rows, strict=True):
        for name, s in credibility[row].items():
            label = name
            if s.get("auc") is not None:
                label += f" (AUC {s['auc']:.2f})"
            counts = np.asarray(s["histogram"], dtype=float)
            ax.stairs(counts / max(counts.sum(), 1), bins, label=label)
        ax.set_title(row)
        ax.set_xlabel("credibility (largest conformal p-value)")
        ax.set_ylabel("fraction of inputs")
        ax.legend(fontsize=8)
    fig.suptitle(f"DkNN credibility, clean vs adversarial ({subtitle})", fontsize=9)
    fig.tight_layout()
    return [("credibility", axes[0][0])]


def _agg() -> None:
    """Draw off-screen: the figures go to files."""
    import matplotlib

    matplotlib.use("Agg")


def _save(figures: list[tuple[str, Any]], out_dir: str | Path, name: str) -> list[Path]:
    """Save the figures; remove this run's name's figures it did not draw.

    An earlier run into the same folder (with the sweep, say) may have left
    a figure that this run's page does not show and whose numbers are not
    this run's.
    """
    import matplotlib.pyplot as plt

    paths = []
    for suffix, ax in figures:
        path = Path(out_dir) / f"{name}_{suffix}.png"
        ax.figure.savefig(path, dpi=110)
        plt.close(ax.figure)
        paths.append(path)
    drawn = {suffix for suffix, _ in figures}
    for suffix in FIGURES:
        stale = Path(out_dir) / f"{name}_{suffix}.png"
        if suffix not in drawn and stale.exists():
            stale.unlink()
            logger.info("removed %s, a figure of an earlier run", stale)
    return paths
