"""Robustness evaluation: clean accuracy (SA), adversarial accuracy (AA), HM."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._attack import PGD

__all__ = ["harmonic_mean", "robustness_report"]


def harmonic_mean(sa: float, aa: float) -> float:
    """``2 * SA * AA / (SA + AA)``, and 0 when both are 0.

    Examples
    --------
    >>> harmonic_mean(0.98, 0.68)
    0.8028...
    """
    return 0.0 if sa + aa == 0 else 2.0 * sa * aa / (sa + aa)


def robustness_report(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    attack: PGD | None = None,
    source: Any = None,
    X_adv: np.ndarray | None = None,
    predict: str = "predict",
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

    Returns
    -------
    report : dict
        ``SA``, ``AA``, ``HM`` (fractions), ``attack`` (its settings),
        ``protocol`` (how the adversarial inputs were made) and ``n_samples``.

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
    sa = float(np.mean(method(X) == y))
    aa = float(np.mean(method(X_adv) == y))
    protocol = (
        f"PGD against the network of {type(source).__name__}, "
        f"classified by {type(estimator).__name__}.{predict}"
    )
    return {
        "SA": sa,
        "AA": aa,
        "HM": harmonic_mean(sa, aa),
        "attack": {"name": "PGD", "norm": "inf", **attack.get_params()},
        "protocol": protocol,
        "n_samples": int(len(y)),
    }
