"""Conformal calibration of the kNN vote (DkNN's credibility and confidence).

Deep kNN (Papernot & McDaniel, 2018) measures how unusual a candidate label
``j`` is for an input ``x`` by its *nonconformity*: the number of
neighbours, summed over the layers, whose label differs from ``j``. Held-out
calibration data gives the distribution of the nonconformity of true labels;
the p-value of ``(x, j)`` is the fraction of calibration scores at least as
large. DAEkNN's joint vote weights the benign and hardening neighbours, and
the nonconformity is weighted the same way::

    alpha(x, j) = k * sum_l [ w_b^l(x) (1 - p_l(j | x; D))
                              + w_a^l(x) (1 - p_l(j | x; D_adv)) ]
                = k * |L| * (1 - predict_proba(x)_j)

which is DkNN's count when there is no hardening data.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = [
    "conformal_pvalues",
    "conformal_prediction_set",
    "credibility_confidence",
    "hold_out_calibration",
    "nonconformity",
]


def nonconformity(proba: np.ndarray, n_neighbors: int, n_layers: int) -> np.ndarray:
    """Weighted number of disagreeing neighbours, from the vote's probabilities.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        The joint vote (``predict_proba``), the mean over layers of the
        weighted class fractions.
    n_neighbors : int
        Neighbours per layer and per set (``k``).
    n_layers : int
        Number of kNN layers.

    Returns
    -------
    alpha : ndarray of shape (n_samples, n_classes)
        ``n_neighbors * n_layers * (1 - proba)``: for DkNN, the number of
        neighbours over all layers whose label is not the column's class.

    Examples
    --------
    >>> nonconformity(np.array([[0.8, 0.2]]), n_neighbors=5, n_layers=2)
    array([[2., 8.]])
    """
    proba = np.asarray(proba, dtype=np.float64)
    # Rounded so that equal counts compare equal despite float noise.
    return np.round(n_neighbors * n_layers * (1.0 - proba), 9)


def conformal_pvalues(calibration_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Conformal p-values of candidate labels.

    ``p(x, j) = (1 + |{i : a_i >= alpha(x, j)}|) / (1 + n)`` where ``a_i`` are
    the ``n`` calibration nonconformity scores (of the calibration inputs'
    true labels). With exchangeable data ``P(p(x, y) <= a) <= a`` for the
    true label ``y``; DkNN's definition omits the two ``1 +`` terms.

    Parameters
    ----------
    calibration_scores : ndarray of shape (n_calibration,)
        Nonconformity of each calibration input with its true label.
    scores : ndarray of shape (n_samples, n_classes)
        Nonconformity of each test input with each candidate label.

    Returns
    -------
    pvalues : ndarray of shape (n_samples, n_classes)
        In ``(0, 1]``.

    Examples
    --------
    >>> conformal_pvalues(np.array([0.0, 1.0, 2.0, 3.0]), np.array([[0.0, 2.5]]))
    array([[1. , 0.4]])
    """
    cal = np.sort(np.asarray(calibration_scores, dtype=np.float64).ravel())
    scores = np.asarray(scores, dtype=np.float64)
    n_at_least = len(cal) - np.searchsorted(cal, scores, side="left")
    return (1.0 + n_at_least) / (1.0 + len(cal))


def credibility_confidence(pvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DkNN's credibility (largest p-value) and confidence (1 - second largest).

    Parameters
    ----------
    pvalues : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    credibility, confidence : ndarray of shape (n_samples,)

    Examples
    --------
    >>> credibility_confidence(np.array([[0.9, 0.1, 0.3]]))
    (array([0.9]), array([0.7]))
    """
    pvalues = np.asarray(pvalues, dtype=np.float64)
    top2 = -np.partition(-pvalues, 1, axis=1)[:, :2]
    return top2[:, 0], 1.0 - top2[:, 1]


def conformal_prediction_set(pvalues: np.ndarray, alpha: float) -> np.ndarray:
    """The labels whose p-value exceeds ``alpha`` (a ``1 - alpha`` set).

    Parameters
    ----------
    pvalues : ndarray of shape (n_samples, n_classes)
    alpha : float
        Error level in ``(0, 1)``.

    Returns
    -------
    in_set : ndarray of bool of shape (n_samples, n_classes)
        On exchangeable data the true label is in the set with probability
        at least ``1 - alpha``.

    Examples
    --------
    >>> conformal_prediction_set(np.array([[0.9, 0.04, 0.3]]), alpha=0.05)
    array([[ True, False,  True]])
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in the open interval (0, 1); got {alpha!r}.")
    return np.asarray(pvalues) > alpha


def hold_out_calibration(
    X: np.ndarray,
    y: np.ndarray,
    classes: np.ndarray,
    *,
    size: Any,
    n_neighbors: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Split off the conformal calibration set (stratified when possible).

    Returns the rows of ``X`` kept for training, and the calibration inputs
    and labels (``None`` without calibration).
    """
    if not size:
        return np.arange(len(X)), None, None
    n = len(X)
    n_cal = int(size) if isinstance(size, Integral) else int(round(size * n))
    n_classes = len(classes)
    if n_cal < 1 or n - n_cal < max(n_neighbors, n_classes):
        raise ValueError(
            f"calibration_size={size!r} holds out {n_cal} of {n} samples; "
            f"at least 1 must be held out and at least "
            f"{max(n_neighbors, n_classes)} (n_neighbors and one per "
            "class) must remain for training. Use a smaller calibration_size, "
            "or 0 to disable calibration."
        )

    counts = np.bincount(y, minlength=n_classes)
    stratify = y if counts.min() >= 2 and min(n_cal, n - n_cal) >= n_classes else None
    train, cal = train_test_split(
        np.arange(n), test_size=n_cal, random_state=seed, stratify=stratify
    )
    train.sort()
    cal.sort()
    missing = np.setdiff1d(np.arange(n_classes), y[train])
    if len(missing):
        raise ValueError(
            f"calibration_size={size!r} left no training sample of class "
            f"{classes[missing[0]]!r}; use a smaller calibration_size."
        )
    return train, X[cal], y[cal]
