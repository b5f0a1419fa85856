"""The robustness figures: SA, each attack's AA, and the per-input worst case.

A robustness claim is only as strong as the strongest attack tried, and an
input is robust only if *every* attack fails on it. :func:`robustness_report`
runs a suite of named attacks against one fitted classifier and reports each
attack's adversarial accuracy, the worst case over the suite and which
attack broke which inputs; :func:`make_robustness_scorer` turns the worst
case into a scorer for model selection; :func:`default_attacks` is the
suite used when none is given.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._adaptive_attack import KNNAdaptiveAttack
from ._attack import PGD, attack_settings
from ._autoattack import AutoAttack
from ._targets import is_daeknn, pipeline_parts

__all__ = [
    "METRICS",
    "default_attacks",
    "harmonic_mean",
    "make_robustness_scorer",
    "robustness_report",
    "sa_aa_hm",
]

#: What a scorer can return: clean accuracy, worst-case AA and HM.
METRICS = ("SA", "AA", "HM")


def harmonic_mean(sa: float, aa: float) -> float:
    """``2 * SA * AA / (SA + AA)``, and 0 when both are 0.

    Examples
    --------
    >>> harmonic_mean(0.98, 0.68)
    0.8028...
    """
    return 0.0 if sa + aa == 0 else 2.0 * sa * aa / (sa + aa)


def sa_aa_hm(y: np.ndarray, y_clean: np.ndarray, y_adv: np.ndarray) -> dict:
    """SA, AA and HM from the true, clean-predicted and attacked-predicted labels."""
    sa = float(np.mean(y_clean == y))
    aa = float(np.mean(y_adv == y))
    return {"SA": sa, "AA": aa, "HM": harmonic_mean(sa, aa)}


def _final(estimator: Any) -> Any:
    parts = pipeline_parts(estimator)
    return parts[1] if parts is not None else estimator


def default_attacks(
    estimator: Any,
    *,
    eps: float = 0.3,
    norm: str = "Linf",
    predict: str = "predict",
    random_state: Any = None,
) -> dict[str, Any]:
    """The attack suite :func:`robustness_report` runs when given none.

    - A DAEkNNClassifier (or a Pipeline ending in one) scored by its vote:
      ``'transfer PGD'`` (40 steps against the network), ``'transfer
      AutoAttack'`` (AutoAttack's fast list against the network) and
      ``'adaptive'`` (:class:`KNNAdaptiveAttack` on the vote itself).
    - A network (a DAEkNNClassifier scored by ``predict='predict_network'``,
      or a fitted skorch net): ``'AutoAttack'``.

    AutoAttack runs its fast list (APGD-CE, then APGD-T on the 3 highest
    wrong classes): on an adversarially trained digits network the standard
    list (FAB-T and Square added) took 8 times the CPU time and broke no
    further input (see the user guide's evaluation page).

    Parameters
    ----------
    estimator : fitted classifier
        The model to be attacked.
    eps : float, default=0.3
        Radius of every attack, in the units of ``X``.
    norm : {'Linf', 'L2'}, default='Linf'
        The threat model.
    predict : str, default='predict'
        The prediction method that will be scored.
    random_state : int, RandomState instance or None, default=None
        Seeds every attack.

    Returns
    -------
    attacks : dict
        Name to attack.

    Examples
    --------
    >>> from sklearn_daeknn import DAEkNNClassifier, default_attacks
    >>> sorted(default_attacks(DAEkNNClassifier(), eps=0.1))
    ['adaptive', 'transfer AutoAttack', 'transfer PGD']
    >>> list(default_attacks(DAEkNNClassifier(), predict="predict_network"))
    ['AutoAttack']
    """
    from ._classifier import DAEkNNClassifier

    final = _final(estimator)
    common = dict(eps=eps, norm=norm, random_state=random_state)
    autoattack = AutoAttack(**common, n_target_classes=3)
    knn = isinstance(final, DAEkNNClassifier) or is_daeknn(final)
    if knn and predict == "predict":
        return {
            "transfer PGD": PGD(**common, n_steps=40),
            "transfer AutoAttack": autoattack,
            "adaptive": KNNAdaptiveAttack(**common),
        }
    if knn or hasattr(final, "module_"):
        return {"AutoAttack": autoattack}
    raise ValueError(
        f"There is no default attack suite for a {type(final).__name__}: pass "
        "attacks={name: attack}, or {name: (attack, source)} to attack another "
        "model (e.g. a network whose adversarial inputs transfer, or a "
        "SoftKNNVote.from_arrays surrogate of a kNN)."
    )


def _protocol(attack: Any, source: Any, estimator: Any, predict: str) -> str:
    judged = f"classified by {type(estimator).__name__}.{predict}"
    what = type(source).__name__
    if attack is None:
        return f"adversarial inputs given, {judged}"
    name = type(attack).__name__
    if isinstance(attack, KNNAdaptiveAttack):
        return f"{name} on a soft-kNN surrogate of the vote of {what}, {judged}"
    if isinstance(attack, PGD | AutoAttack):
        on_vote = is_daeknn(_final(estimator)) and predict == "predict"
        kind = "transfer: " if on_vote or source is not estimator else ""
        return f"{kind}{name} against the network of {what}, {judged}"
    return f"{name} against {what}, {judged}"


def _normalise(attacks: Any, X_adv: Any) -> dict[str, tuple[Any, Any]]:
    """``{name: (attack or None, source or None)}`` from the accepted forms."""
    if attacks is not None and not isinstance(attacks, Mapping):
        if not hasattr(attacks, "generate"):
            raise ValueError(
                "attacks must be a dict {name: attack}, {name: (attack, source)} "
                f"or one attack with a generate method; got {attacks!r}."
            )
        attacks = {type(attacks).__name__: attacks}
    attacks = dict(attacks or {})
    if X_adv is not None and not isinstance(X_adv, Mapping):
        if len(attacks) > 1:
            raise ValueError(
                "X_adv must be a dict {name: array} when several attacks are given."
            )
        X_adv = {next(iter(attacks), "given"): X_adv}
    for name in X_adv or {}:
        attacks.setdefault(name, None)
    out = {}
    for name, entry in attacks.items():
        attack, source = entry if isinstance(entry, tuple) else (entry, None)
        if attack is not None and not hasattr(attack, "generate"):
            raise ValueError(
                f"attacks[{name!r}] must be an attack with a generate method (or "
                f"a pair (attack, source)); got {entry!r}."
            )
        if attack is None and name not in (X_adv or {}):
            raise ValueError(f"attacks[{name!r}] is None and X_adv has no {name!r}.")
        out[str(name)] = (attack, source)
    if not out:
        raise ValueError("attacks is empty: give at least one attack or X_adv.")
    return out


def robustness_report(
    estimator: Any,
    X: Any,
    y: Any,
    attacks: Any = None,
    *,
    X_adv: Any = None,
    predict: str = "predict",
    eps: float = 0.3,
    norm: str = "Linf",
    random_state: Any = None,
) -> dict[str, Any]:
    """Clean accuracy, each attack's adversarial accuracy and the worst case.

    Each attack makes adversarial versions of ``X`` (against ``estimator``,
    or against its own ``source``) and ``estimator.<predict>`` classifies
    them. An input counts as robust only if it is classified correctly
    clean and under *every* attack: ``worst_case_AA`` is the fraction of
    such inputs, the figure to claim.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with the method named by ``predict``.
    X : array-like of shape (n_samples, n_features)
        Clean test inputs.
    y : array-like of shape (n_samples,)
        True labels.
    attacks : dict, attack or None, default=None
        ``{name: attack}``; an entry may also be ``(attack, source)`` to
        attack ``source`` (another fitted model, a torch module, a
        :class:`SoftKNNVote`) and classify the result with ``estimator``,
        or ``None`` when ``X_adv`` holds its inputs. One attack alone is
        named by its class. ``None``: :func:`default_attacks`.
    X_adv : dict or ndarray, default=None
        Adversarial inputs made beforehand, ``{name: array}`` (or one array
        for a single attack): those attacks are not run again, so several
        estimators can share one attack run.
    predict : str, default='predict'
        The estimator's prediction method, e.g. ``'predict_network'`` for a
        DAEkNNClassifier's network alone.
    eps, norm, random_state
        Settings of the default suite (ignored when ``attacks`` is given).

    Returns
    -------
    report : dict
        - ``SA``: clean accuracy;
        - ``worst_case_AA``, ``worst_case_HM``: the worst case over the suite;
        - ``attacks``: per attack, ``AA``, ``HM``, ``time_s`` and
          ``images_per_s`` (``None`` for inputs given), ``settings`` (from its
          ``get_params()``) and ``protocol`` (what was attacked and how the
          result was classified);
        - ``wins``: per attack, the inputs that it alone broke (every other
          attack failed on them);
        - ``robust``: boolean array of shape ``(n_samples,)``, the inputs
          counted in ``worst_case_AA`` (for paired comparisons of two models
          on the same inputs);
        - ``n_samples`` and ``predict``.

    See Also
    --------
    make_robustness_scorer : The worst case as a scorer for model selection.
    default_attacks : The suite used when ``attacks`` is None.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import (AutoAttack, DAEkNNClassifier, PGD,
    ...                             robustness_report)
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), random_state=0, max_epochs=5).fit(X, y)
    >>> report = robustness_report(clf, X, y, {
    ...     "transfer PGD": PGD(eps=0.05, random_state=0),
    ...     "transfer AutoAttack": AutoAttack(eps=0.05, n_steps=10, random_state=0),
    ... })
    >>> sorted(report["attacks"])
    ['transfer AutoAttack', 'transfer PGD']
    >>> report["worst_case_AA"] <= min(a["AA"] for a in report["attacks"].values())
    True
    """
    if not isinstance(predict, str) or not hasattr(estimator, predict):
        raise ValueError(
            f"predict must name a prediction method of {type(estimator).__name__}; "
            f"got {predict!r}."
        )
    if attacks is None and X_adv is None:
        attacks = default_attacks(
            estimator, eps=eps, norm=norm, predict=predict, random_state=random_state
        )
    suite = _normalise(attacks, X_adv)
    given = dict(X_adv) if isinstance(X_adv, Mapping) else {}
    if X_adv is not None and not isinstance(X_adv, Mapping):
        given = {next(iter(suite)): X_adv}
    y = np.asarray(y)
    method = getattr(estimator, predict)
    correct_clean = method(X) == y
    correct: dict[str, np.ndarray] = {}
    entries: dict[str, dict[str, Any]] = {}
    for name, (attack, source) in suite.items():
        seconds = None
        if name in given:
            adv = given[name]
        else:
            start = time.perf_counter()
            adv = attack.generate(estimator if source is None else source, X, y)
            seconds = time.perf_counter() - start
        correct[name] = method(adv) == y
        aa = float(np.mean(correct[name]))
        entries[name] = {
            "AA": aa,
            "HM": harmonic_mean(float(np.mean(correct_clean)), aa),
            "time_s": None if seconds is None else round(seconds, 3),
            "images_per_s": None if not seconds else round(len(y) / seconds, 2),
            "settings": attack_settings(attack),
            "protocol": _protocol(
                attack, estimator if source is None else source, estimator, predict
            ),
        }
    robust = correct_clean & np.logical_and.reduce(list(correct.values()))
    wins = {}
    for name in suite:
        others = [correct[o] for o in suite if o != name]
        alone = correct_clean & ~correct[name]
        if others:
            alone &= np.logical_and.reduce(others)
        wins[name] = int(alone.sum())
    sa = float(np.mean(correct_clean))
    worst = float(np.mean(robust))
    return {
        "SA": sa,
        "worst_case_AA": worst,
        "worst_case_HM": harmonic_mean(sa, worst),
        "attacks": entries,
        "wins": wins,
        "robust": robust,
        "n_samples": int(len(y)),
        "predict": predict,
    }


class _RobustnessScorer:
    """Callable ``scorer(estimator, X, y)`` returned by make_robustness_scorer."""

    def __init__(self, attacks, metric, predict, eps, norm, random_state) -> None:
        self.attacks = attacks
        self.metric = metric
        self.predict = predict
        self.eps = eps
        self.norm = norm
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"make_robustness_scorer(attacks={self.attacks!r}, "
            f"metric={self.metric!r}, predict={self.predict!r})"
        )

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        report = robustness_report(
            estimator,
            X,
            y,
            self.attacks,
            predict=self.predict,
            eps=self.eps,
            norm=self.norm,
            random_state=self.random_state,
        )
        key = "SA" if self.metric == "SA" else f"worst_case_{self.metric}"
        return report[key]


def make_robustness_scorer(
    attacks: Any = None,
    *,
    metric: str = "HM",
    predict: str = "predict",
    eps: float = 0.3,
    norm: str = "Linf",
    random_state: Any = None,
) -> Any:
    """A scorer for ``scoring=`` that scores the worst case of an attack suite.

    At each evaluation the suite is run against the fitted estimator (as
    :func:`robustness_report` does) and the worst case over it is scored:
    tune on this, not on a transfer attack alone, which overstates the
    robustness of kNN defences and so rewards the settings that fool it.

    Parameters
    ----------
    attacks : dict, attack or None, default=None
        The suite, as in :func:`robustness_report`; ``None``:
        :func:`default_attacks` of each evaluated estimator.
    metric : {'HM', 'SA', 'AA'}, default='HM'
        The worst-case harmonic mean, the clean accuracy or the worst-case
        adversarial accuracy (all greater-is-better fractions).
    predict : str, default='predict'
        The estimator's prediction method (``'predict_network'`` scores the
        network alone).
    eps, norm, random_state
        Settings of the default suite. Give a ``random_state`` for
        reproducible scores.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``.

    See Also
    --------
    robustness_report : All the figures at once.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, PGD, make_robustness_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> scorer = make_robustness_scorer(PGD(eps=0.05, random_state=0), metric="HM")
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=2, random_state=0)
    >>> scores = cross_val_score(clf, X, y, cv=2, scoring=scorer)
    >>> scores.shape
    (2,)
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}; got {metric!r}.")
    if not isinstance(predict, str):
        raise ValueError(
            f"predict must be the name of a prediction method; got {predict!r}."
        )
    if attacks is not None:
        _normalise(attacks, None)  # fail now rather than inside a search
    return _RobustnessScorer(attacks, metric, predict, eps, norm, random_state)
