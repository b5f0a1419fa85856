"""The paper's protocol as data: the rows of its tables, the run's config, the
attack suite built from it, and the state the evaluation steps read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from sklearn_daeknn import (
    PGD,
    WEIGHTINGS,
    AutoAttack,
    DAEkNNClassifier,
    KNNAdaptiveAttack,
    default_step_size,
)

__all__ = [
    "ADAPTIVE_LOSSES",
    "ATTACKS",
    "CREDIBILITY_ROWS",
    "NETWORK_ATTACKS",
    "NETWORK_NAMES",
    "ROWS",
    "TABLE_I",
    "TABLE_II",
    "BenchmarkState",
    "PaperConfig",
    "Row",
    "attack_settings",
]


@dataclass(frozen=True)
class Row:
    """One row of the paper's tables and the attacks it is judged under.

    Parameters
    ----------
    model : str
        Key of the fitted model (see :mod:`benchmarks._fitting`).
    predict : {'predict', 'predict_network', 'vote'}
        How the row classifies: the model's ``predict`` (the raw-pixel
        KNN), the network alone, or the kNN vote over the config's vote
        layers.
    network : {'standard', 'adversarial'}
        The network that PGD and AutoAttack differentiate for this row: its
        own network (white-box for CNN and AT-CNN, a transfer attack for the
        votes), the standard CNN for the KNN (which has none).
    built_on : str or None
        The network row of a vote (the verdict compares them).
    """

    model: str
    predict: str
    network: str
    built_on: str | None = None

    @property
    def adaptive(self) -> bool:
        """Whether the row is a kNN, attacked on its vote (adaptive attack)."""
        return self.predict != "predict_network"


#: The paper's tables. The raw-pixel KNN has no network: PGD and AutoAttack
#: come from the standard CNN, the adaptive attack runs on its pixels.
ROWS: dict[str, Row] = {
    "KNN": Row("knn", "predict", "standard"),
    "CNN": Row("standard", "predict_network", "standard"),
    "AT-CNN": Row("adversarial", "predict_network", "adversarial"),
    "DkNN": Row("standard", "vote", "standard", "CNN"),
    "DAEkNN-WAT": Row("standard+hardening", "vote", "standard", "CNN"),
    "DAEkNN-WAD": Row("adversarial", "vote", "adversarial", "AT-CNN"),
    "DAEkNN": Row("adversarial+hardening", "vote", "adversarial", "AT-CNN"),
}
TABLE_I = ("KNN", "CNN", "AT-CNN", "DkNN", "DAEkNN")
TABLE_II = ("DkNN", "DAEkNN-WAT", "DAEkNN-WAD", "DAEkNN")
#: The rows whose DkNN credibility is calibrated.
CREDIBILITY_ROWS = ("DkNN", "DAEkNN")
NETWORK_NAMES = {"standard": "standard CNN", "adversarial": "AT-CNN"}
#: The attacks of the suite: two against a network, one on a kNN vote.
NETWORK_ATTACKS = ("PGD", "AutoAttack")
ATTACKS = (*NETWORK_ATTACKS, "adaptive")
#: The adaptive attack's losses, in the library's default order.
ADAPTIVE_LOSSES: tuple[str, ...] = tuple(KNNAdaptiveAttack().get_params()["losses"])

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
        Short name; the output files are ``<name>.json``, ``<name>.md`` and
        ``<name>_*.png``.
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
        The paper's test attack (PGD, L-infinity); step size ``None``:
        ``2.5 * eps / steps``. Every attack of the suite has this ``eps``.
    autoattack_steps, autoattack_target_classes
        AutoAttack's fast list (APGD-CE, then APGD-T on that many wrong
        classes), iterations per run.
    adaptive_steps, adaptive_restarts, adaptive_target_classes, adaptive_losses
        The adaptive attack on the votes (:class:`~sklearn_daeknn.KNNAdaptiveAttack`):
        APGD iterations per run, runs of each untargeted loss, target
        classes of the targeted losses, and the losses.
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
        stage's weights; ``train_eps`` is then unused.
    sweep_strengths, sweep_strengths_wat
        Hardening strengths of the sweep (Figure 3) on the adversarially
        trained and on the standard network; empty: no sweep.
    weightings : tuple of str
        Vote weightings compared on the hardened models.
    notes : dict of str to str
        Free-form notes copied to the JSON (e.g. what was scaled down).
    paper : dict of str to list of float
        The paper's own SA, AA, HM (%) per row, quoted on the page.
    data : str or None
        The data folder the loader reads.
    n_per_class, n_test : int or None
        Training images per class and test images; ``None``: all.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from sklearn_daeknn import MLP
    >>> base = PaperConfig("demo", None, (1, 8, 8), MLP, epochs=2, seed=1)
    >>> params = replace(base, n_neighbors=3).estimator_params(verbose=0)
    >>> params["max_epochs"], params["random_state"], params["n_neighbors"]
    (2, 1, 3)
    >>> sorted(base.attacks())
    ['AutoAttack', 'PGD', 'adaptive']
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
    autoattack_steps: int = 100
    autoattack_target_classes: int = 3
    adaptive_steps: int = 30
    adaptive_restarts: int = 1
    adaptive_target_classes: int = 3
    adaptive_losses: tuple[str, ...] = ADAPTIVE_LOSSES
    paper: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at_init not in ("scratch", "standard"):
            raise ValueError(
                f"at_init must be 'scratch' or 'standard'; got {self.at_init!r}."
            )
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"weighting must be one of {WEIGHTINGS}; got {self.weighting!r}."
            )
        if self.layers is not None and self.vote_layers is not None:
            unknown = [v for v in self.vote_layers if v not in self.layers]
            if unknown or not self.vote_layers:
                raise ValueError(
                    f"vote_layers must be a non-empty subset of the indexed layers "
                    f"{list(self.layers)}; got {list(self.vote_layers)}."
                )
        bad = [loss for loss in self.adaptive_losses if loss not in ADAPTIVE_LOSSES]
        if bad or not self.adaptive_losses:
            raise ValueError(
                f"adaptive_losses must be a non-empty list of {list(ADAPTIVE_LOSSES)};"
                f" got {list(self.adaptive_losses)}."
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

    def attacks(self, *, verbose: int = 0) -> dict[str, Any]:
        """The attack suite, by name: ``'PGD'``, ``'AutoAttack'``, ``'adaptive'``.

        All three have the test eps (L-infinity), the data box and the seed.
        PGD is the paper's test attack; PGD and AutoAttack differentiate a
        network, the adaptive attack a soft-kNN surrogate of a vote.
        """
        common = dict(
            eps=self.attack_eps,
            clip=tuple(self.clip),
            random_state=self.seed,
            verbose=verbose,
        )
        return {
            "PGD": PGD(
                step_size=self.attack_step_size,
                n_steps=self.attack_steps,
                random_start=self.attack_random_start,
                **common,
            ),
            "AutoAttack": AutoAttack(
                version="fast",
                n_steps=self.autoattack_steps,
                n_target_classes=self.autoattack_target_classes,
                **common,
            ),
            "adaptive": KNNAdaptiveAttack(
                n_steps=self.adaptive_steps,
                n_restarts=self.adaptive_restarts,
                n_target_classes=self.adaptive_target_classes,
                losses=tuple(self.adaptive_losses),
                **common,
            ),
        }


def attack_settings(attack: Any) -> dict[str, Any]:
    """An attack's settings for the JSON: its ``get_params()``, PGD's step resolved.

    Examples
    --------
    >>> from sklearn_daeknn import PGD, AutoAttack
    >>> s = attack_settings(PGD(eps=0.3, n_steps=10, clip=(0, 1)))
    >>> s["name"], s["step_size"], s["clip"]
    ('PGD', 0.075, [0.0, 1.0])
    >>> "step_size" in attack_settings(AutoAttack(eps=0.3))
    False
    """
    params = attack.get_params()
    params.pop("verbose", None)
    if "step_size" in params and params["step_size"] is None:
        params["step_size"] = default_step_size(
            params["eps"], max(1, params["n_steps"])
        )
    if isinstance(params.get("clip"), tuple | list):
        params["clip"] = [float(c) for c in params["clip"]]
    if "losses" in params:
        params["losses"] = list(params["losses"])
    return {"name": type(attack).__name__, **params}


@dataclass
class BenchmarkState:
    """What the evaluation steps read: the data, the fitted models, the attacks.

    ``inputs`` makes (or loads) each attack's adversarial inputs on demand:
    ``state.inputs.get("adversarial", "PGD")`` is PGD against the
    adversarially trained network, ``state.inputs.get("DAEkNN", "adaptive")``
    the adaptive attack on DAEkNN's vote.
    """

    config: PaperConfig
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    models: dict[str, Any]
    inputs: Any
    fit: Callable[..., Any]
    results: dict[str, Any] = field(default_factory=dict)
    verbose: int = 1
