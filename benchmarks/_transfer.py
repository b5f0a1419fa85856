"""The evaluation steps under the paper's transfer attack: the tables, each
layer alone (Figure 1), the hardening sweep (Figure 3) and the vote weightings.

Each step is a function of the :class:`~benchmarks._protocol.BenchmarkState`
returning a JSON-able dict. The adversarial inputs are PGD against each
model's own network (``state.X_adv[network]``); the kNN votes are scored on
them without refitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sklearn_daeknn import (
    compare_weightings,
    harmonic_mean,
    per_layer_scores,
    vote_scores,
)

from ._protocol import NETWORK_NAMES, ROWS, TABLE_II, BenchmarkState
from ._reports import say

__all__ = [
    "evaluate_hardening_sweep",
    "evaluate_per_layer",
    "evaluate_table",
    "evaluate_weightings",
    "vote_layers",
]


def vote_layers(state: BenchmarkState) -> list[str]:
    """The layers of the tables' vote: the config's, else every indexed one."""
    layers = state.config.vote_layers
    return list(state.models["standard"].layers_ if layers is None else layers)


def _row_scores(state: BenchmarkState, row: str) -> dict[str, Any]:
    key, method, network = ROWS[row]
    model = state.models[key]
    X, y, X_adv = state.X_test, state.y_test, state.X_adv[network]
    if method == "vote":
        scores = vote_scores(model, X, y, X_adv, layers=state.config.vote_layers)
        predictor = f"kNN vote over {vote_layers(state)}"
    else:
        pred = getattr(model, method)
        sa = float(np.mean(pred(X) == y))
        aa = float(np.mean(pred(X_adv) == y))
        scores = {"SA": sa, "AA": aa, "HM": harmonic_mean(sa, aa)}
        predictor = {
            "predict_network": "the network's softmax",
            "predict": "KNeighborsClassifier on raw inputs",
        }[method]
    return {
        **scores,
        "predictor": predictor,
        "attacked_network": NETWORK_NAMES[network],
        "protocol": f"PGD against the {NETWORK_NAMES[network]} network, "
        f"transferred to {predictor}",
    }


def evaluate_table(state: BenchmarkState) -> dict[str, Any]:
    """Tables I and II: SA, AA and HM of every row of ``ROWS``."""
    return {row: _row_scores(state, row) for row in ROWS}


def evaluate_per_layer(state: BenchmarkState) -> dict[str, Any]:
    """Figure 1: each indexed layer's kNN alone, for every kNN model."""
    out = {}
    for row in TABLE_II:
        key, _, network = ROWS[row]
        out[row] = per_layer_scores(
            state.models[key], state.X_test, state.y_test, state.X_adv[network]
        )
    return out


def evaluate_hardening_sweep(state: BenchmarkState) -> dict[str, Any]:
    """Figure 3: SA, AA and HM as the hardening strength varies, per network."""
    config = state.config
    out = {}
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
                state.X_adv[base],
                layers=config.vote_layers,
            )
            sweep["hardening_strength"].append(float(strength))
            for metric, value in scores.items():
                sweep.setdefault(metric, []).append(value)
        out[NETWORK_NAMES[base]] = sweep
    return out


def evaluate_weightings(state: BenchmarkState) -> dict[str, Any]:
    """The vote weightings compared on the hardened models; the winner by HM."""
    out: dict[str, Any] = {}
    for row in ("DAEkNN", "DAEkNN-WAT"):
        key, _, network = ROWS[row]
        scores = compare_weightings(
            state.models[key],
            state.X_test,
            state.y_test,
            state.X_adv[network],
            weightings=state.config.weightings,
            layers=state.config.vote_layers,
        )
        best = max(scores, key=lambda w: (scores[w]["HM"], scores[w]["AA"]))
        out[row] = {"scores": scores, "best": best}
    return out
