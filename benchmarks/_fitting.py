"""Fitting the paper's models, each once: a joblib cache keyed by what fits them.

The same :class:`Cache` keeps each attack's adversarial inputs (see
:mod:`benchmarks._suite`), so that an interrupted run resumes where it
stopped.

The models are the standard network with its DkNN (``"standard"``), the same
network with hardening data (``"standard+hardening"``, DAEkNN-WAT), the
adversarially trained network with its DkNN vote (``"adversarial"``,
DAEkNN-WAD), the same network with hardening data
(``"adversarial+hardening"``, DAEkNN) and a ``KNeighborsClassifier`` on the
raw inputs (``"knn"``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from sklearn_daeknn import DAEkNNClassifier, refit_knn

from ._protocol import PaperConfig
from ._reports import say

__all__ = ["Cache", "FittedModels", "fit_models", "fit_settings"]

logger = logging.getLogger("benchmarks")

#: Config fields that change no fitted model: the data are keyed by their
#: hash, the vote is chosen at prediction time, the attacks come after.
_NOT_FITTING = frozenset(
    {
        "name",
        "notes",
        "loader",
        "data",
        "n_per_class",
        "n_test",
        "sweep_strengths",
        "sweep_strengths_wat",
        "vote_layers",
        "weighting",
        "weightings",
        "temperature",
        "paper",
    }
)
#: Prefixes of the config fields of the test attacks (they come after the fit).
_ATTACK_PREFIXES = ("attack", "autoattack", "adaptive")


class Cache:
    """Objects in ``cache_dir`` as joblib files, keyed by a hash.

    The folder is created at the first ``get``; ``None`` caches nothing. A
    file is written under a temporary name and then renamed, so a run
    interrupted while writing leaves no truncated entry behind.
    """

    def __init__(self, cache_dir: str | Path | None) -> None:
        self.dir = None if cache_dir is None else Path(cache_dir)

    def get(self, label: str, key: Any, make: Callable[[], Any]) -> tuple[Any, str]:
        """``make()``'s value, loaded from the cache when ``key`` was seen."""
        value, digest, _ = self.fetch(label, key, make)
        return value, digest

    def fetch(
        self, label: str, key: Any, make: Callable[[], Any]
    ) -> tuple[Any, str, bool]:
        """``(value, digest of key, whether it came from the cache)``."""
        digest = joblib.hash(key)
        if self.dir is None:
            return make(), digest, False
        path = self.dir / f"{label}-{digest}.joblib"
        if path.exists():
            logger.info("loading %s from %s", label, path)
            return joblib.load(path), digest, True
        value = make()
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        joblib.dump(value, partial)
        os.replace(partial, path)
        return value, digest, False


def fit_settings(config: PaperConfig) -> dict[str, Any]:
    """The config's settings that change a fitted model (the cache key).

    Examples
    --------
    >>> from sklearn_daeknn import MLP
    >>> settings = fit_settings(PaperConfig("demo", None, (1, 8, 8), MLP))
    >>> "epochs" in settings, "weighting" in settings, "attack_eps" in settings
    (True, False, False)
    """
    return {
        k: v
        for k, v in config.settings().items()
        if k not in _NOT_FITTING and not k.startswith(_ATTACK_PREFIXES)
    }


def _estimator(config: PaperConfig, verbose: int, **params: Any) -> DAEkNNClassifier:
    return DAEkNNClassifier(**config.estimator_params(verbose=verbose, **params))


def _adversarial_training(
    config: PaperConfig,
    standard: DAEkNNClassifier,
    X: np.ndarray,
    y: np.ndarray,
    verbose: int,
) -> DAEkNNClassifier:
    """The adversarially trained network, in stages when eps is ramped."""
    epochs = config.epochs if config.at_epochs is None else config.at_epochs
    warm = config.at_init == "standard"
    module = standard.net_.module_ if warm else config.module
    params = None if warm else dict(config.module_params) or None
    model = None
    for i, eps in enumerate(config.train_eps_schedule or (config.train_eps,)):
        if i:
            module, params = model.net_.module_, None
            say(verbose, f"adversarial training, stage {i + 1}: eps={eps:g}")
        model = _estimator(
            config,
            verbose,
            module=module,
            module_params=params,
            adversarial_training=True,
            train_eps=eps,
            hardening_strength=0,
            max_epochs=epochs,
        ).fit(X, y)
    return model


@dataclass
class FittedModels:
    """The fitted models of the tables, and what identifies each fit.

    Attributes
    ----------
    models : dict of str to estimator
        Keyed as the ``model`` fields of :data:`~benchmarks._protocol.ROWS`.
    digests : dict of str to str
        Per model, the hash of what fitted it (config, data, parent model):
        the attack cache keys its adversarial inputs by it.
    fit_hardened : callable
        ``fit_hardened(base, strength)``: the model ``base`` with hardening
        data of that strength (cached too), for the sweep.
    """

    models: dict[str, Any]
    digests: dict[str, str]
    fit_hardened: Callable[[str, float], Any]


def fit_models(
    config: PaperConfig,
    X: np.ndarray,
    y: np.ndarray,
    cache: Cache,
    verbose: int,
    timings: dict[str, float],
) -> FittedModels:
    """Fit (or load) the models of the tables."""
    from sklearn.neighbors import KNeighborsClassifier

    data_key = (joblib.hash(X), joblib.hash(y))
    fit_fields = fit_settings(config)
    digests: dict[str, str] = {}
    models: dict[str, Any] = {}
    fitted: dict[str, Any] = {}

    def fit(label: str, base: str | None, make: Callable[[], Any], **key: Any) -> Any:
        if label in fitted:  # e.g. a sweep point that is a table's model
            return fitted[label]
        start = time.perf_counter()
        parent = None if base is None else digests[base]
        model, digests[label], hit = cache.fetch(
            f"{config.name}-{label.replace('+', '-')}",
            (fit_fields, data_key, parent, key),
            make,
        )
        if not hit:  # a reload is not a fit
            timings[f"fit {label}"] = round(time.perf_counter() - start, 1)
        if isinstance(model, DAEkNNClassifier):  # the config's vote, even if cached
            model.set_params(weighting=config.weighting, temperature=config.temperature)
        fitted[label] = model
        return model

    def fit_hardened(base: str, strength: float) -> Any:
        if not strength:
            return models[base]
        return fit(
            _label(base, strength),
            base,
            lambda: refit_knn(models[base], X, y, hardening_strength=strength),
            hardening_strength=strength,
        )

    say(verbose, "fitting the standard network (CNN, DkNN)")
    models["standard"] = fit(
        "standard",
        None,
        lambda: _estimator(
            config, verbose, adversarial_training=False, hardening_strength=0
        ).fit(X, y),
    )
    say(verbose, "fitting the adversarially trained network (AT-CNN, DAEkNN-WAD)")
    models["adversarial"] = fit(
        "adversarial",
        "standard" if config.at_init == "standard" else None,
        lambda: _adversarial_training(config, models["standard"], X, y, verbose),
        adversarial=True,
    )
    say(verbose, f"hardening data, eps_h={config.hardening_strength_wat:g} (WAT)")
    models["standard+hardening"] = fit_hardened(
        "standard", config.hardening_strength_wat
    )
    digests["standard+hardening"] = digests[
        _label("standard", config.hardening_strength_wat)
    ]
    say(verbose, f"hardening data, eps_h={config.hardening_strength:g} (DAEkNN)")
    models["adversarial+hardening"] = fit_hardened(
        "adversarial", config.hardening_strength
    )
    digests["adversarial+hardening"] = digests[
        _label("adversarial", config.hardening_strength)
    ]
    say(verbose, "fitting KNeighborsClassifier on raw inputs")
    models["knn"] = KNeighborsClassifier(n_neighbors=config.n_neighbors).fit(X, y)
    digests["knn"] = joblib.hash(("knn", config.n_neighbors, data_key))
    return FittedModels(models, digests, fit_hardened)


def _label(base: str, strength: float) -> str:
    return f"{base}+hardening-{strength:g}" if strength else base
