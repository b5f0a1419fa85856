"""The evaluation functions' former home, for the benchmarks until they move.

The functions now live in :mod:`._robustness` (figures and the scorer),
:mod:`._vote_analysis` (the vote without refitting) and :mod:`._refit`
(refit experiments). The benchmarks still import this module and call the
single-attack ``robustness_report`` of release 0.1; this module gives them
that call, built on the new one. Remove it once the benchmarks use the
public API.
"""

from __future__ import annotations

from typing import Any

from ._attack import attack_settings
from ._refit import hardening_sweep, refit_knn
from ._robustness import harmonic_mean, make_robustness_scorer
from ._robustness import robustness_report as _report
from ._vote_analysis import compare_weightings, per_layer_scores, vote_scores

__all__ = [
    "compare_weightings",
    "hardening_sweep",
    "harmonic_mean",
    "make_robustness_scorer",
    "per_layer_scores",
    "refit_knn",
    "robustness_report",
    "vote_scores",
]


def robustness_report(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    attack: Any = None,
    source: Any = None,
    X_adv: Any = None,
    predict: str = "predict",
    adaptive_attack: Any = None,
    X_adv_adaptive: Any = None,
) -> dict[str, Any]:
    """Release 0.1's report: one transfer attack, optionally one adaptive."""
    from ._attack import PGD

    attack = PGD() if attack is None else attack
    suite: dict[str, Any] = {"transfer": (attack, source)}
    given = {} if X_adv is None else {"transfer": X_adv}
    if adaptive_attack is not None or X_adv_adaptive is not None:
        suite["adaptive"] = adaptive_attack
        if X_adv_adaptive is not None:
            given["adaptive"] = X_adv_adaptive
    new = _report(estimator, X, y, suite, X_adv=given or None, predict=predict)
    transfer = new["attacks"]["transfer"]
    report = {
        "SA": new["SA"],
        "AA": transfer["AA"],
        "HM": transfer["HM"],
        "attack": {**attack_settings(attack)},
        "protocol": transfer["protocol"],
        "n_samples": new["n_samples"],
    }
    if "adaptive" in suite:
        report["AA_adaptive"] = new["attacks"]["adaptive"]["AA"]
        report["worst_case_AA"] = new["worst_case_AA"]
        report["worst_case_HM"] = new["worst_case_HM"]
        report["adaptive_attack"] = attack_settings(adaptive_attack)
    return report
