"""The analyses kept under the paper's transfer attack only: each layer alone
(Figure 1), the hardening sweep (Figure 3) and the vote weightings.

They are labelled so wherever they are shown: their adversarial inputs are
PGD against each model's own network (``state.inputs.get(network, "PGD")``),
classified by the kNN votes without refitting, as in the paper. The rows'
robustness is the worst case of :mod:`benchmarks._suite`, not these.
"""

from __future__ import annotations

from typing import Any

from sklearn_daeknn import compare_weightings, per_layer_scores, vote_scores

from ._protocol import NETWORK_NAMES, ROWS, TABLE_II, BenchmarkState
from ._reports import say

__all__ = [
    "TRANSFER_ONLY",
    "evaluate_hardening_sweep",
    "evaluate_per_layer",
    "evaluate_weightings",
]

#: The label of these analyses.
TRANSFER_ONLY = (
    "transfer PGD only (the paper's protocol): PGD against the model's own "
    "network, classified by the kNN vote; no worst case"
)


def _pgd(state: BenchmarkState, row: str) -> Any:
    return state.inputs.get(ROWS[row].network, "PGD")


def evaluate_per_layer(state: BenchmarkState) -> dict[str, Any]:
    """Figure 1: each indexed layer's kNN alone, for every kNN model."""
    models = {
        row: per_layer_scores(
            state.models[ROWS[row].model], state.X_test, state.y_test, _pgd(state, row)
        )
        for row in TABLE_II
    }
    return {"protocol": TRANSFER_ONLY, "models": models}


def evaluate_hardening_sweep(state: BenchmarkState) -> dict[str, Any]:
    """Figure 3: SA, AA and HM as the hardening strength varies, per network."""
    config = state.config
    networks: dict[str, Any] = {}
    for base, strengths in (
        ("adversarial", config.sweep_strengths),
        ("standard", config.sweep_strengths_wat),
    ):
        if not strengths:
            continue
        sweep: dict[str, list[float]] = {"hardening_strength": []}
        for strength in strengths:
            say(state.verbose, f"sweep: {base} network, eps_h={strength:g}")
            model = state.fit(base, float(strength))
            scores = vote_scores(
                model,
                state.X_test,
                state.y_test,
                state.inputs.get(base, "PGD"),
                layers=config.vote_layers,
            )
            sweep["hardening_strength"].append(float(strength))
            for metric, value in scores.items():
                sweep.setdefault(metric, []).append(value)
        networks[NETWORK_NAMES[base]] = sweep
    return {"protocol": TRANSFER_ONLY, "networks": networks} if networks else {}


def evaluate_weightings(state: BenchmarkState) -> dict[str, Any]:
    """The vote weightings compared on the hardened models; the winner by HM."""
    models: dict[str, Any] = {}
    for row in ("DAEkNN", "DAEkNN-WAT"):
        scores = compare_weightings(
            state.models[ROWS[row].model],
            state.X_test,
            state.y_test,
            _pgd(state, row),
            weightings=state.config.weightings,
            layers=state.config.vote_layers,
        )
        best = max(scores, key=lambda w: (scores[w]["HM"], scores[w]["AA"]))
        models[row] = {"scores": scores, "best": best}
    return {"protocol": TRANSFER_ONLY, "models": models}
