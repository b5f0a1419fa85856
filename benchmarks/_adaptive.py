"""Honest robustness: the adaptive attack on the kNN vote, and DkNN credibility.

Two evaluation steps of :func:`~sklearn_daeknn.benchmarks.paper.run_paper_benchmark`:

- ``adaptive``: :class:`~sklearn_daeknn.KNNAdaptiveAttack` against the kNN
  vote itself of the DkNN, DAEkNN-WAD and DAEkNN rows (over the tables' vote
  layers, benign and hardening sets), beside the transfer PGD of the tables;
  ``worst_case_AA`` counts an input as robust only if both attacks fail.
- ``credibility``: DkNN's conformal calibration of the DkNN and DAEkNN votes.
  The test images are split in two seeded halves: the first calibrates (it
  is held out of every fit, as calibration data must be), the second is
  scored. Reported: the credibility histograms of clean, transfer-PGD and
  adaptive inputs, the ROC AUC of ``1 - credibility`` as a detector of
  adversarial inputs, and the coverage of the conformal prediction sets.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._adaptive_attack import KNNAdaptiveAttack
from .._conformal import conformal_prediction_set, nonconformity
from .._evaluation import harmonic_mean, robustness_report

__all__ = [
    "ADAPTIVE_ROWS",
    "CREDIBILITY_ROWS",
    "adaptive_attack",
    "adaptive_figures",
    "evaluate_adaptive",
    "evaluate_credibility",
    "markdown_adaptive",
    "print_adaptive",
    "vote_view",
]

#: The rows attacked adaptively, and those whose credibility is calibrated.
ADAPTIVE_ROWS = ("DkNN", "DAEkNN-WAD", "DAEkNN")
CREDIBILITY_ROWS = ("DkNN", "DAEkNN")
#: Histogram bins of the credibility.
BINS = np.linspace(0.0, 1.0, 21)
#: Error levels whose conformal coverage is reported.
ALPHAS = (0.05, 0.1, 0.2)


def vote_view(model: Any, layers: Any) -> Any:
    """A view of a fitted DAEkNNClassifier voting over ``layers``, bars off."""
    view = copy.copy(model) if layers is None else model.select_layers(layers)
    view.verbose = 0
    return view


def _views(state: Any, rows: tuple[str, ...]) -> dict[str, Any]:
    """Vote views of ``rows``; the config may narrow the rows (``adaptive_rows``)
    and override the models' weighting (``adaptive_weighting``)."""
    from .paper import ROWS

    wanted = getattr(state.config, "adaptive_rows", None) or rows
    weighting = getattr(state.config, "adaptive_weighting", None)
    views = {}
    for row in rows:
        if row in wanted:
            views[row] = vote_view(state.models[ROWS[row][0]], state.config.vote_layers)
            if weighting:
                views[row].weighting = weighting
    return views


def adaptive_attack(config: Any) -> KNNAdaptiveAttack:
    """The adaptive attack of a config: the test eps, twice the PGD steps."""
    steps = getattr(config, "adaptive_steps", None) or 2 * config.attack_steps
    return KNNAdaptiveAttack(
        eps=config.attack_eps,
        n_steps=steps,
        n_restarts=2,
        n_target_classes=2,
        clip=tuple(config.clip),
        random_state=config.seed,
    )


def _settings(attack: KNNAdaptiveAttack) -> dict[str, Any]:
    settings = {"name": "KNNAdaptiveAttack", "norm": "inf", **attack.get_params()}
    settings.pop("verbose")
    settings["clip"] = [float(c) for c in settings["clip"]]
    settings["protocol"] = (
        "adaptive: PGD on a soft-kNN surrogate of the vote, pushing the vote "
        "layers' representations toward the nearest wrong class's training "
        "points (benign and hardening sets); restarts only for inputs still "
        "classified correctly"
    )
    return settings


def evaluate_adaptive(state: Any) -> dict[str, Any]:
    """The adaptive attack on the vote of :data:`ADAPTIVE_ROWS`; worst case AA."""
    from .paper import ROWS, _say

    attack = adaptive_attack(state.config)
    attack.verbose = state.verbose
    out: dict[str, Any] = {"attack": _settings(attack)}
    for row, view in _views(state, ADAPTIVE_ROWS).items():
        network = ROWS[row][2]
        _say(state.verbose, f"adaptive attack on the {row} vote")
        start = time.perf_counter()
        X_ada = attack.generate(view, state.X_test, state.y_test)
        seconds = time.perf_counter() - start
        state.X_adv[f"adaptive {row}"] = X_ada
        report = robustness_report(
            view,
            state.X_test,
            state.y_test,
            attack=state.attack,
            X_adv=state.X_adv[network],
            X_adv_adaptive=X_ada,
        )
        out[row] = {
            "SA": report["SA"],
            "AA_transfer": report["AA"],
            "AA_adaptive": report["AA_adaptive"],
            "worst_case_AA": report["worst_case_AA"],
            "HM_transfer": report["HM"],
            "HM_adaptive": harmonic_mean(report["SA"], report["AA_adaptive"]),
            "worst_case_HM": report["worst_case_HM"],
            "max_perturbation": float(np.abs(X_ada - state.X_test).max()),
            "attack_time_s": round(seconds, 1),
            "weighting": view.weighting,
        }
    return out


def _auc(clean: np.ndarray, adversarial: np.ndarray) -> float | None:
    """ROC AUC of ``1 - credibility`` separating adversarial from clean."""
    from sklearn.metrics import roc_auc_score

    if len(clean) == 0 or len(adversarial) == 0:
        return None
    labels = np.r_[np.zeros(len(clean)), np.ones(len(adversarial))]
    return float(roc_auc_score(labels, -np.r_[clean, adversarial]))


def evaluate_credibility(state: Any) -> dict[str, Any]:
    """Conformal credibility of :data:`CREDIBILITY_ROWS` on clean and attacked data."""
    from .paper import ROWS

    n = len(state.X_test)
    order = np.random.RandomState(state.config.seed).permutation(n)
    cal, ev = np.sort(order[: n // 2]), np.sort(order[n // 2 :])
    y_ev = state.y_test[ev]
    out: dict[str, Any] = {
        "calibration": f"{len(cal)} test images (a seeded half), held out of "
        f"every fit; scored on the other {len(ev)}",
        "bins": BINS.tolist(),
    }
    for row, view in _views(state, CREDIBILITY_ROWS).items():
        network = ROWS[row][2]
        y_cal = np.searchsorted(view.classes_, state.y_test[cal])
        scores = nonconformity(
            view.predict_proba(state.X_test[cal]), view.n_neighbors, len(view.layers_)
        )
        view.calibration_scores_ = scores[np.arange(len(cal)), y_cal]
        inputs = {
            "clean": state.X_test[ev],
            "transfer PGD": state.X_adv[network][ev],
        }
        if f"adaptive {row}" in state.X_adv:
            inputs["adaptive"] = state.X_adv[f"adaptive {row}"][ev]
        result: dict[str, Any] = {}
        credibility = {}
        for name, X in inputs.items():
            labels, cred, conf = view.predict_credibility(X)
            wrong = labels != y_ev
            credibility[name] = (cred, wrong)
            result[name] = {
                "mean_credibility": float(cred.mean()),
                "mean_confidence": float(conf.mean()),
                "accuracy": float(1 - wrong.mean()),
                "histogram": np.histogram(cred, BINS)[0].tolist(),
            }
        clean = credibility["clean"][0]
        for name, (cred, wrong) in credibility.items():
            if name == "clean":
                continue
            result[name]["auc"] = _auc(clean, cred)
            result[name]["auc_successful"] = _auc(clean, cred[wrong])
        pvalues = view.predict_pvalues(inputs["clean"])
        true = np.searchsorted(view.classes_, y_ev)
        result["clean"]["coverage"] = {
            str(a): float(
                conformal_prediction_set(pvalues, a)[np.arange(len(ev)), true].mean()
            )
            for a in ALPHAS
        }
        out[row] = result
    return out


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    attack = results.get("attack", {})
    subtitle = f"{results.get('name', '')}, eps={attack.get('eps', float('nan')):.3g}"
    for suffix, ax in adaptive_figures(results, subtitle):
        path = Path(out_dir) / f"{results.get('name', 'results')}_{suffix}.png"
        ax.figure.savefig(path, dpi=110)
        plt.close(ax.figure)
        paths.append(path)
    return paths


def markdown_adaptive(results: dict[str, Any]) -> list[str]:
    """Markdown paragraphs of the adaptive and credibility steps (may be empty)."""
    parts: list[str] = []
    adaptive = results.get("adaptive")
    if adaptive:
        a = adaptive["attack"]
        lines = [
            "| model | SA | AA transfer PGD | AA adaptive | worst-case AA "
            "| HM transfer | HM worst case |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in ADAPTIVE_ROWS:
            if row in adaptive:
                s = adaptive[row]
                cells = " | ".join(
                    f"{100 * s[m]:.2f}"
                    for m in (
                        "SA",
                        "AA_transfer",
                        "AA_adaptive",
                        "worst_case_AA",
                        "HM_transfer",
                        "worst_case_HM",
                    )
                )
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
