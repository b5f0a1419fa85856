"""Robustness evaluation: clean accuracy (SA), adversarial accuracy (AA), HM.

The paper's protocol is a transfer attack: PGD differentiates the network
and the kNN vote classifies the adversarial inputs. Besides the report of
one estimator this module offers a scorer for model selection
(``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`), the scores
of each kNN layer alone (the paper's Figure 1), of each vote weighting, and
of a sweep of the hardening strength on one trained network (Figure 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._attack import PGD
from ._progress import progress
from ._vote import WEIGHTINGS, joint_vote

__all__ = [
    "METRICS",
    "compare_weightings",
    "hardening_sweep",
    "harmonic_mean",
    "make_robustness_scorer",
    "per_layer_scores",
    "refit_knn",
    "robustness_report",
    "vote_scores",
]

#: The metrics of a robustness report.
METRICS = ("SA", "AA", "HM")


def harmonic_mean(sa: float, aa: float) -> float:
    """``2 * SA * AA / (SA + AA)``, and 0 when both are 0.

    Examples
    --------
    >>> harmonic_mean(0.98, 0.68)
    0.8028...
    """
    return 0.0 if sa + aa == 0 else 2.0 * sa * aa / (sa + aa)


def _scores(y: np.ndarray, y_clean: np.ndarray, y_adv: np.ndarray) -> dict:
    sa = float(np.mean(y_clean == y))
    aa = float(np.mean(y_adv == y))
    return {"SA": sa, "AA": aa, "HM": harmonic_mean(sa, aa)}


def _attack_settings(attack: Any) -> dict[str, Any]:
    settings = {"name": type(attack).__name__, "norm": "inf", **attack.get_params()}
    settings.pop("verbose", None)
    if settings.get("clip") is not None:
        settings["clip"] = [float(c) for c in settings["clip"]]
    return settings


def robustness_report(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    attack: PGD | None = None,
    source: Any = None,
    X_adv: np.ndarray | None = None,
    predict: str = "predict",
    adaptive_attack: Any = None,
    X_adv_adaptive: np.ndarray | None = None,
) -> dict[str, Any]:
    """Clean and adversarial accuracy of a fitted classifier.

    The adversarial inputs are made by ``attack`` against the network of
    ``source`` (by default the estimator itself, which must then be a fitted
    :class:`DAEkNNClassifier`: its network is attacked and the kNN vote
    classifies the result, the paper's transfer protocol).

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict`` (or the method named by ``predict``).
    X : array-like of shape (n_samples, n_features)
        Clean test inputs.
    y : array-like of shape (n_samples,)
        True labels.
    attack : PGD, default=None
        The attack; ``None`` means ``PGD()`` (eps 0.3, 10 steps).
    source : fitted DAEkNNClassifier or torch module, default=None
        Whose network the attack differentiates; ``None``: ``estimator``.
    X_adv : ndarray, default=None
        Adversarial inputs made beforehand (then ``attack`` only labels the
        report); lets several estimators share one attack run.
    predict : str, default="predict"
        Name of the estimator's prediction method, e.g. ``"predict_network"``
        for a DAEkNNClassifier's network alone.
    adaptive_attack : KNNAdaptiveAttack, default=None
        An attack on the estimator's kNN vote itself (``estimator`` must be a
        fitted DAEkNNClassifier), run beside the transfer attack. Transfer
        PGD overstates the robustness of kNN defences; this gives the honest
        figure.
    X_adv_adaptive : ndarray, default=None
        Its adversarial inputs made beforehand (then ``adaptive_attack``
        only labels the report).

    Returns
    -------
    report : dict
        ``SA``, ``AA``, ``HM`` (fractions), ``attack`` (its settings),
        ``protocol`` (how the adversarial inputs were made) and ``n_samples``.
        With an adaptive attack also ``AA_adaptive``, ``worst_case_AA`` (an
        input counts as robust only if every attack fails on it),
        ``worst_case_HM`` and ``adaptive_attack`` (its settings).

    See Also
    --------
    make_robustness_scorer : The same figures as a scorer for model selection.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, PGD
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), random_state=0, max_epochs=5).fit(X, y)
    >>> report = robustness_report(clf, X, y, attack=PGD(eps=0.05, random_state=0))
    >>> sorted(report)
    ['AA', 'HM', 'SA', 'attack', 'n_samples', 'protocol']
    """
    attack = PGD() if attack is None else attack
    y = np.asarray(y)
    source = estimator if source is None else source
    if X_adv is None:
        X_adv = attack.generate(source, X, y)
    method = getattr(estimator, predict)
    protocol = (
        f"PGD against the network of {type(source).__name__}, "
        f"classified by {type(estimator).__name__}.{predict}"
    )
    y_clean, y_adv = method(X), method(X_adv)
    report = {
        **_scores(y, y_clean, y_adv),
        "attack": _attack_settings(attack),
        "protocol": protocol,
        "n_samples": int(len(y)),
    }
    if adaptive_attack is not None or X_adv_adaptive is not None:
        if X_adv_adaptive is None:
            X_adv_adaptive = adaptive_attack.generate(estimator, X, y)
        y_adaptive = method(X_adv_adaptive)
        report["AA_adaptive"] = float(np.mean(y_adaptive == y))
        robust = (y_adv == y) & (y_adaptive == y)
        report["worst_case_AA"] = float(np.mean(robust))
        report["worst_case_HM"] = harmonic_mean(report["SA"], report["worst_case_AA"])
        report["adaptive_attack"] = (
            None if adaptive_attack is None else _attack_settings(adaptive_attack)
        )
    return report


class _RobustnessScorer:
    """Callable ``scorer(estimator, X, y)`` returned by make_robustness_scorer."""

    def __init__(
        self, attack: PGD | None, metric: str, source: Any, predict: str
    ) -> None:
        self.attack = attack
        self.metric = metric
        self.source = source
        self.predict = predict

    def __repr__(self) -> str:
        return (
            f"make_robustness_scorer(attack={self.attack!r}, "
            f"metric={self.metric!r}, predict={self.predict!r})"
        )

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        report = robustness_report(
            estimator,
            X,
            y,
            attack=self.attack,
            source=self.source,
            predict=self.predict,
        )
        return report[self.metric]


def make_robustness_scorer(
    attack: PGD | None = None,
    *,
    metric: str = "HM",
    source: Any = None,
    predict: str = "predict",
) -> Any:
    """A scorer for ``scoring=`` that attacks the network, then scores the vote.

    Use it to tune a :class:`DAEkNNClassifier` for the harmonic mean of clean
    and adversarial accuracy rather than for clean accuracy alone. At each
    evaluation the attack is run against the network of the fitted estimator
    (the paper's transfer protocol) and the estimator's prediction on the
    clean and the adversarial inputs is scored.

    Parameters
    ----------
    attack : PGD, default=None
        The attack; ``None`` means ``PGD()`` (eps 0.3, 10 steps). Give it a
        ``random_state`` for reproducible scores.
    metric : {'HM', 'SA', 'AA'}, default='HM'
        What the scorer returns: the harmonic mean, the clean or the
        adversarial accuracy (all greater-is-better fractions).
    source : fitted DAEkNNClassifier or torch module, default=None
        A fixed network to attack instead of the evaluated estimator's own,
        e.g. to score estimators without a network (a plain
        ``KNeighborsClassifier``) against one surrogate.
    predict : str, default="predict"
        The estimator's prediction method (``"predict_network"`` scores the
        network alone).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``.

    See Also
    --------
    robustness_report : All three figures and the attack settings at once.

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
    if attack is not None and not hasattr(attack, "generate"):
        raise ValueError(
            f"attack must be a PGD instance (with generate); got {attack!r}."
        )
    return _RobustnessScorer(attack, metric, source, predict)


# ------------------------------------------------------------ kNN votes


def _check_daeknn(estimator: Any) -> None:
    check_is_fitted(estimator, ["benign_indexes_", "layers_"])


def _layer_positions(estimator: Any, layers: Any) -> list[int]:
    fitted = list(estimator.layers_)
    if layers is None:
        return list(range(len(fitted)))
    layers = [layers] if isinstance(layers, str) else list(layers)
    unknown = [name for name in layers if name not in fitted]
    if unknown or not layers:
        raise ValueError(
            f"layers must be a non-empty subset of the fitted layers {fitted}; "
            f"got {layers!r}."
        )
    return [fitted.index(name) for name in layers]


def _layer_neighbors(estimator: Any, X: Any) -> list[tuple[Any, Any]]:
    """Per fitted layer: (benign (dist, labels), hardening (dist, labels) or None)."""
    features = estimator.layer_features(X)
    k = estimator.n_neighbors
    device = estimator.net_.device
    out = []
    for pos, feats in enumerate(features):
        dist, ind = estimator.benign_indexes_[pos].query(feats, k, device=device)
        hardening = None
        if estimator.hardening_indexes_ is not None:
            d_a, i_a = estimator.hardening_indexes_[pos].query(feats, k, device=device)
            hardening = (d_a, estimator.hardening_labels_[i_a])
        out.append(((dist, estimator.benign_labels_[ind]), hardening))
    return out


def _vote(
    estimator: Any,
    neighbors: list[tuple[Any, Any]],
    positions: Sequence[int],
    weighting: str,
    temperature: float,
) -> np.ndarray:
    benign = [neighbors[p][0] for p in positions]
    hardening = None
    if estimator.hardening_indexes_ is not None:
        hardening = [neighbors[p][1] for p in positions]
    proba = joint_vote(
        benign,
        hardening,
        len(estimator.classes_),
        weighting=weighting,
        temperature=temperature,
    )
    return estimator.classes_.take(np.argmax(proba, axis=1))


def vote_scores(
    estimator: Any,
    X: Any,
    y: Any,
    X_adv: Any,
    *,
    layers: str | Sequence[str] | None = None,
    weighting: str | None = None,
    temperature: float | None = None,
) -> dict[str, float]:
    """SA, AA and HM of a fitted DAEkNNClassifier's vote over some of its layers.

    Equals :func:`robustness_report` of the estimator refitted with
    ``layers`` (and ``weighting``), without refitting: the fitted indexes
    are queried and only the vote changes.

    Parameters
    ----------
    estimator : fitted DAEkNNClassifier
        The estimator whose indexes vote.
    X : array-like of shape (n_samples, n_features)
        Clean inputs.
    y : array-like of shape (n_samples,)
        True labels.
    X_adv : array-like of shape (n_samples, n_features)
        Adversarial versions of ``X`` (e.g. PGD against the estimator's
        network, the paper's transfer protocol).
    layers : str or list of str, default=None
        A subset of ``estimator.layers_``; ``None``: all of them.
    weighting : {'relative', 'softmax', 'uniform', 'released'}, default=None
        The vote weighting; ``None``: the estimator's.
    temperature : float, default=None
        The weighting temperature; ``None``: the estimator's.

    Returns
    -------
    scores : dict
        ``{"SA": float, "AA": float, "HM": float}``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, PGD, vote_scores
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=2, random_state=0).fit(X, y)
    >>> X_adv = PGD(eps=0.05, random_state=0).generate(clf, X, y)
    >>> sorted(vote_scores(clf, X, y, X_adv, weighting="uniform"))
    ['AA', 'HM', 'SA']
    """
    _check_daeknn(estimator)
    if weighting is not None and weighting not in WEIGHTINGS:
        raise ValueError(
            f"weighting must be one of {list(WEIGHTINGS)}; got {weighting!r}."
        )
    positions = _layer_positions(estimator, layers)
    weighting = estimator.weighting if weighting is None else weighting
    temperature = estimator.temperature if temperature is None else temperature
    y = np.asarray(y)
    preds = [
        _vote(
            estimator,
            _layer_neighbors(estimator, data),
            positions,
            weighting,
            temperature,
        )
        for data in (X, X_adv)
    ]
    return _scores(y, *preds)


def per_layer_scores(
    estimator: Any, X: Any, y: Any, X_adv: Any
) -> dict[str, list[Any]]:
    """SA, AA and HM of the kNN vote of each fitted layer alone.

    The data of the paper's Figure 1 (accuracy as the layer goes deeper).

    Parameters
    ----------
    estimator : fitted DAEkNNClassifier
        Its ``layers_`` are scored one by one, with its weighting.
    X : array-like of shape (n_samples, n_features)
        Clean inputs.
    y : array-like of shape (n_samples,)
        True labels.
    X_adv : array-like of shape (n_samples, n_features)
        Adversarial versions of ``X``.

    Returns
    -------
    scores : dict
        ``"layer"``: the layer names in the order of ``layers_``; ``"SA"``,
        ``"AA"``, ``"HM"``: lists of floats, one per layer.

    Examples
    --------
    >>> from sklearn_daeknn import DAEkNNClassifier, PGD, per_layer_scores
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=2, random_state=0).fit(X, y)
    >>> X_adv = PGD(eps=0.05, random_state=0).generate(clf, X, y)
    >>> scores = per_layer_scores(clf, X, y, X_adv)
    >>> scores["layer"] == list(clf.layers_), len(scores["SA"])
    (True, 2)
    """
    _check_daeknn(estimator)
    y = np.asarray(y)
    clean = _layer_neighbors(estimator, X)
    adv = _layer_neighbors(estimator, X_adv)
    out: dict[str, list[Any]] = {"layer": list(estimator.layers_)}
    for metric in METRICS:
        out[metric] = []
    for pos in range(len(estimator.layers_)):
        args = ([pos], estimator.weighting, estimator.temperature)
        scores = _scores(
            y, _vote(estimator, clean, *args), _vote(estimator, adv, *args)
        )
        for metric in METRICS:
            out[metric].append(scores[metric])
    return out


def compare_weightings(
    estimator: Any,
    X: Any,
    y: Any,
    X_adv: Any,
    *,
    weightings: Iterable[str] = WEIGHTINGS,
    layers: str | Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """SA, AA and HM of a fitted estimator's vote under each weighting.

    The neighbours are found once; only the benign/hardening weights change.
    Without hardening data all weightings give DkNN's vote.

    Parameters
    ----------
    estimator : fitted DAEkNNClassifier
        The estimator whose indexes vote.
    X, y, X_adv
        Clean inputs, labels and adversarial inputs, as in :func:`vote_scores`.
    weightings : iterable of str, default=WEIGHTINGS
        Weightings to compare (see :func:`~sklearn_daeknn.vote_weights`).
    layers : str or list of str, default=None
        A subset of ``estimator.layers_``; ``None``: all of them.

    Returns
    -------
    scores : dict
        ``{weighting: {"SA": float, "AA": float, "HM": float}}``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, PGD, compare_weightings
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=2, random_state=0).fit(X, y)
    >>> X_adv = PGD(eps=0.05, random_state=0).generate(clf, X, y)
    >>> list(compare_weightings(clf, X, y, X_adv))
    ['relative', 'softmax', 'uniform', 'released']
    """
    _check_daeknn(estimator)
    weightings = list(weightings)
    bad = [w for w in weightings if w not in WEIGHTINGS]
    if bad or not weightings:
        raise ValueError(
            f"weightings must be a non-empty list of {list(WEIGHTINGS)}; got "
            f"{weightings!r}."
        )
    positions = _layer_positions(estimator, layers)
    y = np.asarray(y)
    clean = _layer_neighbors(estimator, X)
    adv = _layer_neighbors(estimator, X_adv)
    out = {}
    for w in weightings:
        args = (positions, w, estimator.temperature)
        y_clean = _vote(estimator, clean, *args)
        out[w] = _scores(y, y_clean, _vote(estimator, adv, *args))
    return out


def refit_knn(estimator: Any, X: Any, y: Any, **params: Any) -> Any:
    """Refit everything but the network of a fitted estimator, on ``X, y``.

    The trained network of ``estimator`` is copied, not retrained
    (``max_epochs=0``): the hardening data, the indexes (and the calibration
    set) are rebuilt from ``X, y`` with the estimator's parameters updated by
    ``params`` (for instance another ``hardening_strength`` or
    ``n_neighbors``). ``adversarial_training`` is left as it was, so that the
    returned estimator's parameters still say how its network was trained.
    ``estimator`` itself is not modified.

    Parameters
    ----------
    estimator : fitted DAEkNNClassifier
        Provides the network and every parameter not in ``params``.
    X : array-like of shape (n_samples, n_features)
        Training inputs of the new kNN side.
    y : array-like of shape (n_samples,)
        Their labels.
    **params
        Parameters of the new estimator.

    Returns
    -------
    refit : DAEkNNClassifier
        A new fitted estimator on the same network.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, refit_knn
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=2, random_state=0).fit(X, y)
    >>> dknn = refit_knn(clf, X, y, hardening_strength=0)
    >>> dknn.hardening_indexes_ is None
    True
    """
    _check_daeknn(estimator)
    new = clone(estimator).set_params(
        **{**params, "module": estimator.net_.module_, "max_epochs": 0}
    )
    if getattr(new, "module_params", None):
        new.set_params(module_params=None)
    return new.fit(X, y)


def hardening_sweep(
    estimator: Any,
    X_train: Any,
    y_train: Any,
    X: Any,
    y: Any,
    X_adv: Any,
    strengths: Iterable[float],
    *,
    layers: str | Sequence[str] | None = None,
    verbose: int = 0,
) -> dict[str, list[float]]:
    """SA, AA and HM as the hardening strength varies, on one trained network.

    For each strength the estimator's network is reused (not retrained), the
    hardening data are made from ``X_train`` with that ``eps_h`` and the kNN
    indexes rebuilt; the transfer attack ``X_adv`` against the (unchanged)
    network is then classified. The data of the paper's Figure 3.

    Parameters
    ----------
    estimator : fitted DAEkNNClassifier
        Provides the network and all other settings.
    X_train, y_train : array-like
        The training data the estimator was fitted on (the benign set and
        the source of the hardening data).
    X, y, X_adv : array-like
        Clean test inputs, labels, and their adversarial versions.
    strengths : iterable of float
        Hardening strengths ``eps_h``; ``0`` gives the vote without
        hardening data.
    layers : str or list of str, default=None
        A subset of the layers to vote with; ``None``: all fitted layers.
    verbose : int, default=0
        Progress bar over the strengths when positive.

    Returns
    -------
    sweep : dict
        ``"hardening_strength"``: the strengths; ``"SA"``, ``"AA"``,
        ``"HM"``: one float per strength.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, PGD, hardening_sweep
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X)
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=2, random_state=0).fit(X, y)
    >>> X_adv = PGD(eps=0.1, random_state=0).generate(clf, X, y)
    >>> sweep = hardening_sweep(clf, X, y, X, y, X_adv, [0.0, 0.1])
    >>> sweep["hardening_strength"], len(sweep["HM"])
    ([0.0, 0.1], 2)
    """
    _check_daeknn(estimator)
    strengths = [float(s) for s in strengths]
    if not strengths or any(s < 0 for s in strengths):
        raise ValueError(
            f"strengths must be a non-empty list of floats >= 0; got {strengths!r}."
        )
    out: dict[str, list[float]] = {"hardening_strength": strengths}
    for metric in METRICS:
        out[metric] = []
    for strength in progress(
        strengths, total=len(strengths), desc="hardening sweep", verbose=verbose
    ):
        refit = refit_knn(estimator, X_train, y_train, hardening_strength=strength)
        scores = vote_scores(refit, X, y, X_adv, layers=layers)
        for metric in METRICS:
            out[metric].append(scores[metric])
    return out
