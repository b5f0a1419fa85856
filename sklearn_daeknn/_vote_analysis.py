"""The vote of a fitted estimator, analysed without refitting.

The fitted indexes are queried once and only the vote changes: the scores
of a subset of the layers (:func:`vote_scores`), of each layer alone (the
paper's Figure 1, :func:`per_layer_scores`) and of each benign/hardening
weighting (:func:`compare_weightings`), all on given adversarial inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._robustness import METRICS, sa_aa_hm
from ._vote import WEIGHTINGS, joint_vote

__all__ = ["compare_weightings", "per_layer_scores", "vote_scores"]


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
    return sa_aa_hm(y, *preds)


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
        scores = sa_aa_hm(
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
        out[w] = sa_aa_hm(y, y_clean, _vote(estimator, adv, *args))
    return out
