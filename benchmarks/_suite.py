"""The attack suite of every row of the tables, and the worst case over it.

Every row is judged under the strongest attacks we have, all of the test
eps (an input counts as robust only if every attack fails on it):

- ``PGD``, the paper's test attack, and ``AutoAttack`` (its fast list,
  APGD-CE then APGD-T), both against the row's network: white-box for CNN
  and AT-CNN, a transfer attack for the kNN votes built on them (PGD so is
  the paper's protocol), and for the raw-pixel KNN, which has no network,
  the standard CNN's;
- ``adaptive``, :class:`~sklearn_daeknn.KNNAdaptiveAttack` on the kNN vote
  itself: through its soft-kNN surrogate for DkNN, DAEkNN-WAT, DAEkNN-WAD
  and DAEkNN (over the tables' vote layers, benign and hardening sets), and
  through :meth:`~sklearn_daeknn.SoftKNNVote.from_arrays` (the pixels as
  features) for the KNN.

Each attack run is made once (the rows on one network share its PGD and
AutoAttack inputs), timed, and cached by the model it attacks and the
attack's settings (:class:`AdversarialInputs`): a rerun after an
interruption loads the finished runs and makes only the others.
"""

from __future__ import annotations

import time
from typing import Any

import joblib
import numpy as np
import torch
from torch.nn import functional as F

from sklearn_daeknn import SoftKNNVote, robustness_report

from ._fitting import Cache, FittedModels
from ._protocol import (
    ATTACKS,
    NETWORK_ATTACKS,
    NETWORK_NAMES,
    ROWS,
    BenchmarkState,
    PaperConfig,
)
from ._reports import say

__all__ = [
    "TRANSFER_LABEL",
    "AdversarialInputs",
    "evaluate_table",
    "network_pass_seconds",
    "row_suite",
    "vote_layers",
    "vote_view",
]

#: The version of a cached attack run's contents (part of its key).
CACHE_FORMAT = 2
#: How the paper's columns are labelled wherever they are shown.
TRANSFER_LABEL = "transfer, the paper's protocol"


def vote_layers(config: PaperConfig, model: Any) -> list[str]:
    """The layers of the tables' vote: the config's, else every indexed one."""
    return list(model.layers_ if config.vote_layers is None else config.vote_layers)


def vote_view(model: Any, layers: Any) -> Any:
    """A view of a fitted DAEkNNClassifier voting over ``layers``, bars off.

    ``None``: every fitted layer. Nothing is refitted; the model is unchanged.
    """
    view = model.select_layers(list(model.layers_) if layers is None else layers)
    return view.set_params(verbose=0)


def network_pass_seconds(
    model: Any, X: np.ndarray, batch: int = 64, repeats: int = 10
) -> float:
    """Seconds per image of one forward and input-gradient pass of ``model``'s
    network (the unit of an attack's cost), the best of ``repeats`` batches.

    The best of several is taken because a pass of a small network lasts
    milliseconds: one interruption by another process would otherwise count
    as the network's cost.
    """
    module = model.net_.module_
    device = torch.device(model.net_.device)
    x = torch.from_numpy(np.ascontiguousarray(X[:batch], dtype=np.float32))
    x = x.reshape(-1, *model.input_shape_).to(device)
    y = torch.zeros(len(x), dtype=torch.long, device=device)
    training = module.training
    module.eval()
    best = float("inf")
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            x_ = x.clone().requires_grad_(True)
            loss = F.cross_entropy(module(x_), y)
            torch.autograd.grad(loss, x_)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = min(best, time.perf_counter() - start)
    finally:
        module.train(training)
    return best / len(x)


class AdversarialInputs:
    """Each attack's adversarial inputs of the test set, made once and cached.

    Parameters
    ----------
    config : PaperConfig
        Gives the attacks (:meth:`PaperConfig.attacks`) and the vote layers.
    fitted : FittedModels
        The models, and the digests of their fits (the cache keys).
    X_train, y_train : ndarray
        The raw-pixel KNN's training data (its surrogate's points).
    X_test, y_test : ndarray
        The inputs attacked.
    cache : Cache
        Where finished runs are kept.
    verbose : int
        Progress bars and stage messages when positive.

    Attributes
    ----------
    attacks : dict
        The suite, by name.
    runs : dict of str to dict
        Per run made or loaded, in order: the attack, what it was made
        against, the images, ``time_s``, ``images_per_s``,
        ``network_passes_per_image`` (its time over that of one pass of the
        standard network, measured just before the run) and ``from_cache``
        (a loaded run reports the figures of the run that made it).
    """

    def __init__(
        self,
        config: PaperConfig,
        fitted: FittedModels,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_test: np.ndarray,
        y_test: np.ndarray,
        cache: Cache,
        verbose: int = 0,
    ) -> None:
        self.config = config
        self.fitted = fitted
        self.X_train, self.y_train = X_train, y_train
        self.X_test, self.y_test = X_test, y_test
        self.cache = cache
        self.verbose = verbose
        self.attacks = config.attacks(verbose=verbose)
        self.runs: dict[str, dict[str, Any]] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._targets: dict[tuple[str, str], Any] = {}
        self._test_key = (joblib.hash(X_test), joblib.hash(y_test))

    @staticmethod
    def label(source: str, attack: str) -> str:
        """The run's name: ``'PGD against the AT-CNN'``, ``'adaptive on DAEkNN'``."""
        if attack in NETWORK_ATTACKS:
            return f"{attack} against the {NETWORK_NAMES[source]}"
        return f"{attack} on {source}"

    def target(self, source: str, attack: str) -> Any:
        """What the run differentiates: a network's model, a vote, a surrogate."""
        key = (source, "network" if attack in NETWORK_ATTACKS else attack)
        if key not in self._targets:
            models = self.fitted.models
            if attack in NETWORK_ATTACKS:
                target = models[source]
            elif ROWS[source].predict == "vote":
                target = vote_view(models[ROWS[source].model], self.config.vote_layers)
            else:  # the raw-pixel KNN: its training images are the points
                target = SoftKNNVote.from_arrays(
                    self.X_train,
                    self.y_train,
                    n_neighbors=self.config.n_neighbors,
                    clip=tuple(self.config.clip),
                )
            self._targets[key] = target
        return self._targets[key]

    def _key(self, source: str, attack: str) -> tuple[Any, ...]:
        params = self.attacks[attack].get_params()
        params.pop("verbose", None)
        if attack in NETWORK_ATTACKS:
            return (
                CACHE_FORMAT,
                self.fitted.digests[source],
                attack,
                params,
                self._test_key,
            )
        row = ROWS[source]
        vote: Any = ("pixels", tuple(self.config.clip))
        if row.predict == "vote":
            view = self.target(source, attack)
            vote = [list(view.layers_)]
            if view.hardening_indexes_ is not None:  # else the weighting is unused
                vote += [view.weighting, float(view.temperature)]
        return (
            CACHE_FORMAT,
            self.fitted.digests[row.model],
            attack,
            vote,
            params,
            self._test_key,
        )

    def get(self, source: str, attack: str) -> np.ndarray:
        """The adversarial inputs of ``attack`` against ``source``.

        ``source`` is a network (``'standard'``, ``'adversarial'``) for PGD
        and AutoAttack, a row of the tables for the adaptive attack.
        """
        label = self.label(source, attack)
        if label in self._arrays:
            return self._arrays[label]
        target = self.target(source, attack)
        say(self.verbose, f"attack: {label}")

        def make() -> dict[str, Any]:
            unit = network_pass_seconds(self.fitted.models["standard"], self.X_test)
            start = time.perf_counter()
            X_adv = self.attacks[attack].generate(target, self.X_test, self.y_test)
            return {
                "X_adv": np.asarray(X_adv, dtype=np.float32),
                "time_s": time.perf_counter() - start,
                "network_pass_s": unit,
            }

        made, _, hit = self.cache.fetch(
            f"{self.config.name}-xadv-{attack}-{source.replace('+', '-')}",
            self._key(source, attack),
            make,
        )
        n = len(self.X_test)
        seconds = float(made["time_s"])
        unit = made["network_pass_s"]
        self.runs[label] = {
            "attack": attack,
            "against": source,
            "n_images": n,
            "time_s": round(seconds, 1),
            "images_per_s": round(n / seconds, 2) if seconds > 0 else None,
            "network_pass_s_per_image": unit,
            "network_passes_per_image": (
                round(seconds / n / unit, 1) if n and unit else None
            ),
            "from_cache": hit,
        }
        self._arrays[label] = made["X_adv"]
        return made["X_adv"]


def _predictor(state: BenchmarkState, name: str) -> tuple[Any, str, str]:
    """``(estimator, prediction method, description)`` of a row."""
    row = ROWS[name]
    model = state.models[row.model]
    if row.predict == "vote":
        layers = vote_layers(state.config, model)
        return (
            vote_view(model, state.config.vote_layers),
            "predict",
            f"kNN vote over {', '.join(layers)}",
        )
    if row.predict == "predict_network":
        return model, "predict_network", "the network's softmax"
    return model, "predict", "KNeighborsClassifier on raw inputs"


def _made_against(name: str, attack: str) -> str:
    row = ROWS[name]
    network = NETWORK_NAMES[row.network]
    if attack in NETWORK_ATTACKS:
        if row.predict == "predict_network":
            return f"the {network} itself (white-box)"
        return f"the {network} (transfer)"
    if row.predict == "vote":
        return "its vote, through a soft-kNN surrogate"
    return "its training pixels, through a soft-kNN surrogate"


def row_suite(state: BenchmarkState, name: str) -> dict[str, Any]:
    """The suite on one row: SA, each attack's AA, the worst case, the wins."""
    row = ROWS[name]
    inputs = state.inputs
    predictor, method, description = _predictor(state, name)
    suite, given, labels = {}, {}, {}
    for attack in ATTACKS if row.adaptive else NETWORK_ATTACKS:
        source = row.network if attack in NETWORK_ATTACKS else name
        given[attack] = inputs.get(source, attack)
        suite[attack] = (inputs.attacks[attack], inputs.target(source, attack))
        labels[attack] = inputs.label(source, attack)
    report = robustness_report(
        predictor, state.X_test, state.y_test, suite, X_adv=given, predict=method
    )
    attacks = {}
    for attack, entry in report["attacks"].items():
        run = inputs.runs[labels[attack]]
        attacks[attack] = {
            "AA": entry["AA"],
            "HM": entry["HM"],
            "run": labels[attack],
            "made_against": _made_against(name, attack),
            "time_s": run["time_s"],
            "images_per_s": run["images_per_s"],
            "protocol": entry["protocol"],
        }
    return {
        "SA": report["SA"],
        "AA_transfer": attacks["PGD"]["AA"],
        "HM_transfer": attacks["PGD"]["HM"],
        "worst_case_AA": report["worst_case_AA"],
        "worst_case_HM": report["worst_case_HM"],
        "wins": report["wins"],
        "attacks": attacks,
        "predictor": description,
        "network": NETWORK_NAMES[row.network],
        "built_on": row.built_on,
        "n_samples": report["n_samples"],
    }


def evaluate_table(state: BenchmarkState) -> dict[str, Any]:
    """Tables I and II under the suite: :func:`row_suite` of every row."""
    out = {}
    for name in ROWS:
        say(state.verbose, f"scoring {name} under the suite")
        out[name] = row_suite(state, name)
    return out
