"""The paper's protocol as data: the rows of its tables, the run's config, the
test attacks built from it, and the state the evaluation steps read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

from sklearn_daeknn import (
    PGD,
    WEIGHTINGS,
    DAEkNNClassifier,
    KNNAdaptiveAttack,
    default_step_size,
)

__all__ = [
    "ADAPTIVE_PROTOCOL",
    "ADAPTIVE_ROWS",
    "CREDIBILITY_ROWS",
    "NETWORK_NAMES",
    "ROWS",
    "TABLE_I",
    "TABLE_II",
    "TRANSFER_PROTOCOL",
    "BenchmarkState",
    "PaperConfig",
    "attack_settings",
]

#: The paper's tables: row name -> (model key, prediction, attacked network).
#: ``"vote"`` is the kNN vote over ``PaperConfig.vote_layers``. The raw-pixel
#: KNN has no gradient: it gets the standard network's adversarial inputs.
ROWS: dict[str, tuple[str, str, str]] = {
    "KNN": ("knn", "predict", "standard"),
    "CNN": ("standard", "predict_network", "standard"),
    "AT-CNN": ("adversarial", "predict_network", "adversarial"),
    "DkNN": ("standard", "vote", "standard"),
    "DAEkNN-WAT": ("standard+hardening", "vote", "standard"),
    "DAEkNN-WAD": ("adversarial", "vote", "adversarial"),
    "DAEkNN": ("adversarial+hardening", "vote", "adversarial"),
}
TABLE_I = ("KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN")
TABLE_II = ("DkNN", "DAEkNN-WAT", "DAEkNN-WAD", "DAEkNN")
#: The rows attacked adaptively, and those whose credibility is calibrated.
ADAPTIVE_ROWS = ("DkNN", "DAEkNN-WAD", "DAEkNN")
CREDIBILITY_ROWS = ("DkNN", "DAEkNN")
NETWORK_NAMES = {"standard": "standard CNN", "adversarial": "adversarially trained"}

TRANSFER_PROTOCOL = (
    "transfer: PGD against each model's own network, the adversarial inputs "
    "then classified by the model; the KNN row (no network) gets the standard "
    "CNN's adversarial inputs"
)
ADAPTIVE_PROTOCOL = (
    "adaptive: PGD on a soft-kNN surrogate of the vote, pushing the vote "
    "layers' representations toward the nearest wrong class's training points "
    "(benign and hardening sets); restarts only for inputs still classified "
    "correctly"
)

#: Config fields named differently from the estimator's parameters.
_ESTIMATOR_NAMES = {"epochs": "max_epochs", "seed": "random_state"}


@dataclass(frozen=True)
class PaperConfig:
    """Everything that defines one run of the paper's experiment.

    A config is data: an experiment defines one base config and makes its
    variants with :func:`dataclasses.replace`.

    Parameters
    ----------
    name : str
        Short name; the output files are ``<name>.json`` and ``<name>_*.png``.
    loader : callable
        ``loader(config) -> (X_train, y_train, X_test, y_test)``, flattened
        inputs inside ``clip``; it reads ``data``, ``n_per_class``,
        ``n_test`` and ``seed``.
    input_shape : tuple of int
        Shape of one sample for the network, e.g. ``(1, 28, 28)``.
    module : torch.nn.Module class
        The network; ``module_params`` are its keyword arguments.
    layers : tuple of str or None
        Layers indexed by the kNN models (the per-layer figure shows each);
        ``None``: the network's ``knn_layers``.
    vote_layers : tuple of str or None
        The layers whose votes make the tables' kNN rows; ``None``: all of
        ``layers``.
    attack_eps, attack_steps, attack_step_size, attack_random_start
        The test attack (PGD, L-infinity); step size ``None``:
        ``2.5 * eps / steps``.
    train_eps, train_steps, train_step_size
        The adversarial training attack.
    hardening_strength, hardening_strength_wat
        ``eps_h`` of DAEkNN (adversarially trained network) and of
        DAEkNN-WAT (standard network).
    hardening_steps, hardening_step_size
        PGD steps and step size of the hardening data.
    epochs, at_epochs
        Training epochs of the standard and of the adversarially trained
        network (``None``: ``epochs``).
    at_init : {'scratch', 'standard'}
        Start adversarial training from random weights, or from the trained
        standard network's weights (a cheap warm start).
    train_eps_schedule : tuple of float, default=()
        When given, adversarial training runs one stage per entry, each of
        ``at_epochs`` epochs at that ``eps`` and starting from the previous
        stage's weights (an eps ramp such as ``(0.1, 0.2, 0.3)`` avoids the
        plateau of training at a large eps from the start); ``train_eps`` is
        then unused.
    sweep_strengths, sweep_strengths_wat
        Hardening strengths of the sweep (Figure 3) on the adversarially
        trained and on the standard network.
    weightings : tuple of str
        Vote weightings compared on the hardened models.
    notes : dict of str to str
        Free-form notes copied to the JSON (e.g. what was scaled down).
    data : str or None
        The data folder the loader reads.
    n_per_class, n_test : int or None
        Training images per class and test images; ``None``: all.
    adaptive_steps : int or None
        Steps of the adaptive attack; ``None``: twice ``attack_steps``.
    adaptive_restarts, adaptive_target_classes : int
        Restarts and wrong classes tried by the adaptive attack.
    adaptive_weighting : str or None
        Vote weighting of the models in the adaptive and credibility steps;
        ``None``: ``weighting``.
    adaptive_rows : tuple of str or None
        The rows those steps evaluate; ``None``: all of theirs.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from sklearn_daeknn import MLP
    >>> base = PaperConfig("demo", None, (1, 8, 8), MLP, epochs=2, seed=1)
    >>> params = replace(base, n_neighbors=3).estimator_params(verbose=0)
    >>> params["max_epochs"], params["random_state"], params["n_neighbors"]
    (2, 1, 3)
    >>> base.attack().n_steps, base.attack("adaptive").n_steps
    (10, 20)
    """

    name: str
    loader: Callable[[PaperConfig], tuple[np.ndarray, ...]] | None
    input_shape: tuple[int, ...]
    module: Any
    module_params: dict[str, Any] = field(default_factory=dict)
    layers: tuple[str, ...] | None = None
    vote_layers: tuple[str, ...] | None = None
    n_neighbors: int = 5
    clip: tuple[float, float] = (0.0, 1.0)
    attack_eps: float = 0.3
    attack_steps: int = 10
    attack_step_size: float | None = None
    attack_random_start: bool = True
    train_eps: float = 0.3
    train_steps: int = 7
    train_step_size: float | None = None
    hardening_strength: float = 0.3
    hardening_strength_wat: float = 0.05
    hardening_steps: int = 10
    hardening_step_size: float | None = None
    weighting: str = "softmax"
    temperature: float = 1.0
    weightings: tuple[str, ...] = WEIGHTINGS
    epochs: int = 10
    at_epochs: int | None = None
    at_init: str = "scratch"
    train_eps_schedule: tuple[float, ...] = ()
    lr: float = 1e-3
    batch_size: int = 128
    index: str = "exact"
    max_layer_features: int | None = 4096
    device: str = "cpu"
    seed: int = 0
    sweep_strengths: tuple[float, ...] = ()
    sweep_strengths_wat: tuple[float, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)
    # Appended after the fields above, whose order the fit cache's keys keep.
    data: str | None = None
    n_per_class: int | None = None
    n_test: int | None = None
    adaptive_steps: int | None = None
    adaptive_restarts: int = 2
    adaptive_target_classes: int = 2
    adaptive_weighting: str | None = None
    adaptive_rows: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.at_init not in ("scratch", "standard"):
            raise ValueError(
                f"at_init must be 'scratch' or 'standard'; got {self.at_init!r}."
            )
        for name in ("weighting", "adaptive_weighting"):
            value = getattr(self, name)
            if value is not None and value not in WEIGHTINGS:
                raise ValueError(f"{name} must be one of {WEIGHTINGS}; got {value!r}.")
        if self.layers is not None and self.vote_layers is not None:
            unknown = [v for v in self.vote_layers if v not in self.layers]
            if unknown or not self.vote_layers:
                raise ValueError(
                    f"vote_layers must be a non-empty subset of the indexed layers "
                    f"{list(self.layers)}; got {list(self.vote_layers)}."
                )
        rows = (*ADAPTIVE_ROWS, *CREDIBILITY_ROWS)
        if self.adaptive_rows is not None and (
            not self.adaptive_rows or set(self.adaptive_rows) - set(rows)
        ):
            raise ValueError(
                f"adaptive_rows must be some of {sorted(set(rows))}; got "
                f"{list(self.adaptive_rows)}."
            )

    def settings(self) -> dict[str, Any]:
        """The config as JSON-able values (the loader and module by name)."""
        out = asdict(self)
        out["loader"] = getattr(self.loader, "__name__", repr(self.loader))
        out["module"] = getattr(self.module, "__name__", repr(self.module))
        return json.loads(json.dumps(out, default=repr))

    def estimator_params(self, **overrides: Any) -> dict[str, Any]:
        """The :class:`~sklearn_daeknn.DAEkNNClassifier` parameters of this config.

        Every field named as a parameter of the estimator (``epochs`` and
        ``seed`` as ``max_epochs`` and ``random_state``), then ``overrides``.
        """
        names = DAEkNNClassifier().get_params(deep=False)
        params = {
            _ESTIMATOR_NAMES.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if _ESTIMATOR_NAMES.get(f.name, f.name) in names
        }
        params.update(
            module_params=dict(self.module_params) or None,
            input_shape=tuple(self.input_shape),
            layers=None if self.layers is None else list(self.layers),
            clip=tuple(self.clip),
        )
        params.update(overrides)
        return params

    def attack(
        self, kind: Literal["transfer", "adaptive"] = "transfer", *, verbose: int = 0
    ) -> PGD | KNNAdaptiveAttack:
        """The test attack: PGD on the networks, or the adaptive attack on the vote.

        Both have the test eps, the data box and the seed; the adaptive one
        has ``adaptive_steps`` steps (default: twice the PGD's).
        """
        common = dict(
            eps=self.attack_eps,
            clip=tuple(self.clip),
            random_state=self.seed,
            verbose=verbose,
        )
        if kind == "transfer":
            return PGD(
                step_size=self.attack_step_size,
                n_steps=self.attack_steps,
                random_start=self.attack_random_start,
                **common,
            )
        if kind == "adaptive":
            return KNNAdaptiveAttack(
                n_steps=self.adaptive_steps or 2 * self.attack_steps,
                n_restarts=self.adaptive_restarts,
                n_target_classes=self.adaptive_target_classes,
                **common,
            )
        raise ValueError(f"kind must be 'transfer' or 'adaptive'; got {kind!r}.")


def attack_settings(attack: Any, protocol: str) -> dict[str, Any]:
    """An attack's settings for the JSON: its ``get_params()``, the step resolved.

    Examples
    --------
    >>> from sklearn_daeknn import PGD
    >>> s = attack_settings(PGD(eps=0.3, n_steps=10), "transfer")
    >>> s["name"], s["step_size"], s["clip"]
    ('PGD', 0.075, [0.0, 1.0])
    """
    params = attack.get_params()
    params.pop("verbose", None)
    if params.get("step_size") is None:  # both attacks' documented default
        params["step_size"] = default_step_size(
            params["eps"], max(1, params["n_steps"])
        )
    params["clip"] = [float(c) for c in params["clip"]]
    return {
        "name": type(attack).__name__,
        "norm": "inf",
        **params,
        "protocol": protocol,
    }


@dataclass
class BenchmarkState:
    """What the evaluation steps read: the data, the fitted models, the attacks."""

    config: PaperConfig
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    models: dict[str, Any]
    attack: PGD
    X_adv: dict[str, np.ndarray]
    fit: Callable[..., Any]
    results: dict[str, Any] = field(default_factory=dict)
    verbose: int = 1
