"""DkNN's conformal credibility of the DkNN and DAEkNN votes, clean and attacked.

The test images are split in two seeded halves: the first calibrates (it
is held out of every fit, as calibration data must be), the second is
scored. Reported, for the clean inputs and those of every attack of the
suite on the row (transfer PGD and AutoAttack from its network, the
adaptive attack on its vote): the credibility histograms, the ROC AUC of
``1 - credibility`` as a detector of adversarial inputs, and the coverage
of the conformal prediction sets on clean inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sklearn_daeknn import conformal_prediction_set, nonconformity

from ._protocol import CREDIBILITY_ROWS, ROWS, BenchmarkState
from ._suite import vote_view

__all__ = ["ALPHAS", "BINS", "evaluate_credibility"]

#: Histogram bins of the credibility.
BINS = np.linspace(0.0, 1.0, 21)
#: Error levels whose conformal coverage is reported.
ALPHAS = (0.05, 0.1, 0.2)


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
    for row in CREDIBILITY_ROWS:
        view = vote_view(state.models[ROWS[row].model], state.config.vote_layers)
        network = ROWS[row].network
        y_cal = np.searchsorted(view.classes_, state.y_test[cal])
        scores = nonconformity(
            view.predict_proba(state.X_test[cal]), view.n_neighbors, len(view.layers_)
        )
        # The view is a copy: calibrating it leaves the fitted model alone.
        view.calibration_scores_ = scores[np.arange(len(cal)), y_cal]
        inputs = {
            "clean": state.X_test[ev],
            "transfer PGD": state.inputs.get(network, "PGD")[ev],
            "transfer AutoAttack": state.inputs.get(network, "AutoAttack")[ev],
            "adaptive": state.inputs.get(row, "adaptive")[ev],
        }
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
