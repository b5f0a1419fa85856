"""Honest robustness: the adaptive attack on the kNN vote, and DkNN credibility.

Two evaluation steps of :func:`~benchmarks._runner.run_paper_benchmark`:

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

The config's ``adaptive_rows`` narrows the rows, ``adaptive_weighting``
overrides the models' vote weighting and ``adaptive_steps`` the attack's steps.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sklearn_daeknn import (
    conformal_prediction_set,
    harmonic_mean,
    nonconformity,
    robustness_report,
)

from ._protocol import (
    ADAPTIVE_PROTOCOL,
    ADAPTIVE_ROWS,
    CREDIBILITY_ROWS,
    ROWS,
    BenchmarkState,
    attack_settings,
)
from ._reports import say

__all__ = ["ALPHAS", "BINS", "evaluate_adaptive", "evaluate_credibility", "vote_view"]

#: Histogram bins of the credibility.
BINS = np.linspace(0.0, 1.0, 21)
#: Error levels whose conformal coverage is reported.
ALPHAS = (0.05, 0.1, 0.2)


def vote_view(model: Any, layers: Any) -> Any:
    """A view of a fitted DAEkNNClassifier voting over ``layers``, bars off.

    ``None``: every fitted layer. Nothing is refitted; the model is unchanged.
    """
    view = model.select_layers(list(model.layers_) if layers is None else layers)
    return view.set_params(verbose=0)


def _views(state: BenchmarkState, rows: tuple[str, ...]) -> dict[str, Any]:
    """Vote views of those of ``rows`` that the config evaluates."""
    config = state.config
    wanted = config.adaptive_rows or rows
    views = {}
    for row in rows:
        if row in wanted:
            views[row] = vote_view(state.models[ROWS[row][0]], config.vote_layers)
            if config.adaptive_weighting:
                views[row].set_params(weighting=config.adaptive_weighting)
    return views


def evaluate_adaptive(state: BenchmarkState) -> dict[str, Any]:
    """The adaptive attack on the vote of ``ADAPTIVE_ROWS``; worst case AA."""
    attack = state.config.attack("adaptive", verbose=state.verbose)
    out: dict[str, Any] = {"attack": attack_settings(attack, ADAPTIVE_PROTOCOL)}
    for row, view in _views(state, ADAPTIVE_ROWS).items():
        network = ROWS[row][2]
        say(state.verbose, f"adaptive attack on the {row} vote")
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


def evaluate_credibility(state: BenchmarkState) -> dict[str, Any]:
    """Conformal credibility of ``CREDIBILITY_ROWS`` on clean and attacked data."""
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
        # The view is a copy: calibrating it leaves the fitted model alone.
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
