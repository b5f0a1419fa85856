"""The benchmark's results as text and pictures: progress lines, the printed
tables, Markdown for the results pages, and the PNG figures.

Each function reads a results dict as :func:`~benchmarks._runner.run_paper_benchmark`
returns it (or as its JSON holds it) and leaves out what the run did not
compute.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._protocol import ADAPTIVE_ROWS, CREDIBILITY_ROWS, TABLE_I, TABLE_II

__all__ = [
    "adaptive_figures",
    "fmt_row",
    "markdown_adaptive",
    "markdown_tables",
    "print_adaptive",
    "print_results",
    "save_adaptive_figures",
    "save_figures",
    "say",
]

logger = logging.getLogger("benchmarks")


def say(verbose: int, message: str) -> None:
    """A stage message: logged, and printed when ``verbose``."""
    logger.info(message)
    if verbose:
        print(message, flush=True)


def fmt_row(name: str, scores: dict[str, Any]) -> str:
    """One printed table row: SA, AA and HM in percent.

    Examples
    --------
    >>> fmt_row("DAEkNN", {"SA": 0.9, "AA": 0.5, "HM": 0.6428})
    'DAEkNN        90.00  50.00  64.28'
    """
    return (
        f"{name:<12} {100 * scores['SA']:6.2f} {100 * scores['AA']:6.2f} "
        f"{100 * scores['HM']:6.2f}"
    )


# ------------------------------------------------------------ printed


def print_results(results: dict[str, Any]) -> None:
    """Print the tables of a benchmark's results (as returned or saved)."""
    header = f"{'':<12} {'SA':>6} {'AA':>6} {'HM':>6}   (%)"
    attack = results["attack"]
    print(
        f"\n{results['name']}: PGD L-inf eps={attack['eps']:.4g}, "
        f"{attack['n_steps']} steps, transfer from each model's network "
        "(KNN: from the standard CNN)"
    )
    for title, rows in (("Table I", TABLE_I), ("Table II (ablation)", TABLE_II)):
        print(f"\n{title}\n{header}")
        for row in rows:
            if row in results:
                print(fmt_row(row, results[row]))
    for model, layers in results.get("per_layer", {}).items():
        cells = ", ".join(
            f"{name} {100 * sa:.1f}/{100 * aa:.1f}"
            for name, sa, aa in zip(
                layers["layer"], layers["SA"], layers["AA"], strict=True
            )
        )
        print(f"\nper layer SA/AA, {model}: {cells}")
    for network, sweep in results.get("hardening_sweep", {}).items():
        print(f"\nhardening sweep, {network} network\n{'eps_h':<12} SA     AA     HM")
        for i, strength in enumerate(sweep["hardening_strength"]):
            row = {m: sweep[m][i] for m in ("SA", "AA", "HM")}
            print(fmt_row(f"{strength:g}", row))
    for row, comparison in results.get("weightings", {}).items():
        print(f"\nweightings, {row}\n{header}")
        for weighting, scores in comparison["scores"].items():
            print(fmt_row(weighting, scores))
        print(f"best by HM: {comparison['best']}")
    print_adaptive(results)
    print(f"\nwall time {results['wall_time_s']:.0f} s")


def print_adaptive(results: dict[str, Any]) -> None:
    """Print the adaptive rows and the credibility summary, when present."""
    adaptive = results.get("adaptive")
    if adaptive:
        a = adaptive["attack"]
        print(
            f"\nadaptive attack on the vote (eps={a['eps']:.4g}, {a['n_steps']} "
            f"steps, {a['n_restarts']} restarts)\n"
            f"{'':<12} {'SA':>6} {'AA-tr':>6} {'AA-ad':>6} {'worst':>6} "
            f"{'HM-wc':>6}   (%)"
        )
        for row in ADAPTIVE_ROWS:
            if row in adaptive:
                s = adaptive[row]
                print(
                    f"{row:<12} {100 * s['SA']:6.2f} {100 * s['AA_transfer']:6.2f} "
                    f"{100 * s['AA_adaptive']:6.2f} {100 * s['worst_case_AA']:6.2f} "
                    f"{100 * s['worst_case_HM']:6.2f}"
                )
    credibility = results.get("credibility")
    if credibility:
        print(f"\ncredibility ({credibility['calibration']})")
        for row in CREDIBILITY_ROWS:
            if row not in credibility:
                continue
            for name, s in credibility[row].items():
                extra = ""
                if "auc" in s and s["auc"] is not None:
                    extra = f", detection AUC {s['auc']:.3f}"
                if "coverage" in s:
                    extra = f", coverage at 90%: {s['coverage']['0.1']:.3f}"
                print(
                    f"{row:<12} {name:<13} mean credibility "
                    f"{s['mean_credibility']:.3f}{extra}"
                )


# ------------------------------------------------------------ Markdown


def _md_table(rows: dict[str, dict[str, Any]], first: str) -> str:
    lines = [f"| {first} | SA | AA | HM |", "| --- | ---: | ---: | ---: |"]
    for name, scores in rows.items():
        cells = " | ".join(f"{100 * scores[m]:.2f}" for m in ("SA", "AA", "HM"))
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def markdown_tables(results: dict[str, Any]) -> str:
    """The tables of a benchmark's results as Markdown (for a results page)."""
    parts = [
        "Table I (%)",
        _md_table({r: results[r] for r in TABLE_I if r in results}, "model"),
        "Table II, ablation (%)",
        _md_table({r: results[r] for r in TABLE_II if r in results}, "model"),
    ]
    for model, layers in results.get("per_layer", {}).items():
        rows = {
            name: {"SA": sa, "AA": aa, "HM": hm}
            for name, sa, aa, hm in zip(
                layers["layer"], layers["SA"], layers["AA"], layers["HM"], strict=True
            )
        }
        parts += [f"Each layer's kNN alone, {model} (%)", _md_table(rows, "layer")]
    for network, sweep in results.get("hardening_sweep", {}).items():
        rows = {
            f"{eps:g}": {m: sweep[m][i] for m in ("SA", "AA", "HM")}
            for i, eps in enumerate(sweep["hardening_strength"])
        }
        parts += [f"Hardening sweep, {network} network (%)", _md_table(rows, "eps_h")]
    for row, comparison in results.get("weightings", {}).items():
        parts += [
            f"Vote weightings, {row} (%); best by HM: {comparison['best']}",
            _md_table(comparison["scores"], "weighting"),
        ]
    parts += markdown_adaptive(results)
    return "\n\n".join(parts) + "\n"


def markdown_adaptive(results: dict[str, Any]) -> list[str]:
    """Markdown paragraphs of the adaptive and credibility steps (may be empty)."""
    parts: list[str] = []
    adaptive = results.get("adaptive")
    if adaptive:
        a = adaptive["attack"]
        metrics = (
            "SA",
            "AA_transfer",
            "AA_adaptive",
            "worst_case_AA",
            "HM_transfer",
            "worst_case_HM",
        )
        lines = [
            "| model | SA | AA transfer PGD | AA adaptive | worst-case AA "
            "| HM transfer | HM worst case |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in ADAPTIVE_ROWS:
            if row in adaptive:
                cells = " | ".join(f"{100 * adaptive[row][m]:.2f}" for m in metrics)
                lines.append(f"| {row} | {cells} |")
        parts += [
            f"Adaptive attack on the kNN vote (%): KNNAdaptiveAttack eps="
            f"{a['eps']:.4g}, {a['n_steps']} steps, {a['n_restarts']} restarts, "
            f"{a['n_guides']} guides, temperature {a['temperature']:g}; worst "
            "case: robust only if both attacks fail",
            "\n".join(lines),
        ]
    credibility = results.get("credibility")
    if credibility:
        lines = [
            "| model | inputs | accuracy | mean credibility | detection AUC "
            "| AUC (successful only) |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for row in CREDIBILITY_ROWS:
            for name, s in credibility.get(row, {}).items():
                auc = "" if s.get("auc") is None else f"{s['auc']:.3f}"
                auc_ok = s.get("auc_successful")
                auc_ok = "" if auc_ok is None else f"{auc_ok:.3f}"
                lines.append(
                    f"| {row} | {name} | {100 * s['accuracy']:.1f} "
                    f"| {s['mean_credibility']:.3f} | {auc} | {auc_ok} |"
                )
        coverage = ", ".join(
            f"{row} {credibility[row]['clean']['coverage']['0.1']:.3f}"
            for row in CREDIBILITY_ROWS
            if row in credibility
        )
        parts += [
            f"DkNN credibility (calibration: {credibility['calibration']}); "
            "detection AUC is the ROC AUC of 1 - credibility separating the "
            f"attacked from the clean inputs. Coverage of the 90% conformal "
            f"prediction sets on clean inputs: {coverage}",
            "\n".join(lines),
        ]
    return parts


# ------------------------------------------------------------ figures


def _subtitle(results: dict[str, Any]) -> str:
    attack = results["attack"]
    return f"{results['name']}, PGD eps={attack['eps']:.3g}, {attack['n_steps']} steps"


def save_figures(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw the PNGs of a benchmark's results; returns their paths."""
    _agg()
    from sklearn_daeknn.plotting import (
        plot_hardening_sweep,
        plot_layer_scores,
        plot_scores_table,
    )

    subtitle = _subtitle(results)
    figures = []
    for suffix, rows, title in (
        ("table1", TABLE_I, f"Table I ({subtitle})"),
        ("table2", TABLE_II, f"Table II, ablation ({subtitle})"),
    ):
        present = {row: results[row] for row in rows if row in results}
        figures.append((suffix, plot_scores_table(present, title=title)))
    if results.get("per_layer"):
        layers = {
            row: results["per_layer"][row]
            for row in ("DkNN", "DAEkNN")
            if row in results["per_layer"]
        }
        title = f"Each layer's kNN alone ({subtitle})"
        figures.append(("layers", plot_layer_scores(layers, title=title)))
    if results.get("hardening_sweep"):
        title = f"Hardening strength ({subtitle})"
        figures.append(
            ("hardening", plot_hardening_sweep(results["hardening_sweep"], title=title))
        )
    if results.get("weightings", {}).get("DAEkNN"):
        scores = results["weightings"]["DAEkNN"]["scores"]
        title = f"Vote weightings, DAEkNN ({subtitle})"
        figures.append(("weightings", plot_scores_table(scores, title=title)))
    figures.extend(adaptive_figures(results, subtitle))
    return _save(figures, out_dir, results["name"])


def adaptive_figures(results: dict[str, Any], subtitle: str) -> list[tuple[str, Any]]:
    """The credibility histograms, as ``[(suffix, axes)]`` for the PNGs."""
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
        ax.set_title(f"{row}")
        ax.set_xlabel("credibility (largest conformal p-value)")
        ax.set_ylabel("fraction of inputs")
        ax.legend(fontsize=8)
    fig.suptitle(f"DkNN credibility, clean vs adversarial ({subtitle})", fontsize=9)
    fig.tight_layout()
    return [("credibility", axes[0][0])]


def save_adaptive_figures(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write the credibility PNG of ``results`` to ``out_dir``."""
    _agg()
    attack = results.get("attack", {})
    subtitle = f"{results.get('name', '')}, eps={attack.get('eps', float('nan')):.3g}"
    figures = adaptive_figures(results, subtitle)
    return _save(figures, out_dir, results.get("name", "results"))


def _agg() -> None:
    """Draw off-screen: the figures go to files."""
    import matplotlib

    matplotlib.use("Agg")


def _save(figures: list[tuple[str, Any]], out_dir: str | Path, name: str) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = []
    for suffix, ax in figures:
        path = Path(out_dir) / f"{name}_{suffix}.png"
        ax.figure.savefig(path, dpi=110)
        plt.close(ax.figure)
        paths.append(path)
    return paths
