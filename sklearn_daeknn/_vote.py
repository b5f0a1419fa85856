"""The benign/adversarial kNN vote of DAEkNN (and DkNN as its special case).

For each layer ``l`` and class ``j``::

    score_l(j | x) = w_b^l(x) p_l(j | x; D) + w_a^l(x) p_l(j | x; D_adv)

where ``p_l`` is the fraction of the ``k`` nearest neighbours with label
``j``; the probabilities are the mean of ``score_l`` over the layers. With no
hardening data ``w_b = 1`` and this is DkNN.
"""

from __future__ import annotations

import numpy as np

__all__ = ["WEIGHTINGS", "class_fractions", "joint_vote", "vote_weights"]

#: The weightings of the benign and hardening votes.
WEIGHTINGS = ("relative", "softmax", "uniform", "released")


def class_fractions(neighbor_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of each class among each row's neighbours.

    Parameters
    ----------
    neighbor_labels : ndarray of int of shape (n_samples, k)
        Encoded labels (``0 .. n_classes - 1``) of the neighbours.
    n_classes : int
        Number of classes.

    Returns
    -------
    fractions : ndarray of shape (n_samples, n_classes), float64
        Rows sum to 1.

    Examples
    --------
    >>> class_fractions(np.array([[0, 0, 1], [2, 2, 2]]), 3)
    array([[0.66666667, 0.33333333, 0.        ],
           [0.        , 0.        , 1.        ]])
    """
    n, k = neighbor_labels.shape
    counts = np.zeros((n, n_classes))
    np.add.at(counts, (np.repeat(np.arange(n), k), neighbor_labels.ravel()), 1.0)
    return counts / k


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def vote_weights(
    d_benign: np.ndarray,
    d_adversarial: np.ndarray,
    *,
    weighting: str = "relative",
    temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the benign and hardening votes from mean neighbour distances.

    Parameters
    ----------
    d_benign, d_adversarial : ndarray of shape (n_samples,)
        Mean distance from each sample to its ``k`` neighbours in the benign
        and in the hardening set.
    weighting : {'relative', 'softmax', 'uniform', 'released'}, default='relative'
        - ``'relative'``: softmax of the negative relative distances
          ``r = d / (d_b + d_a)`` divided by ``temperature``; scale-free.
        - ``'softmax'``: softmax of the negative raw distances over
          ``temperature``.
        - ``'uniform'``: 0.5 each.
        - ``'released'``: the sign of the authors' released code,
          ``w_b = 1 / (1 + exp((d_a - d_b) / temperature))``, which gives the
          benign vote *more* weight when the hardening neighbours are nearer.
    temperature : float, default=1.0
        Softmax temperature (ignored by ``'uniform'``).

    Returns
    -------
    w_benign, w_adversarial : ndarray of shape (n_samples,)
        Non-negative and summing to 1 row by row.

    Examples
    --------
    >>> w_b, w_a = vote_weights(np.array([1.0]), np.array([3.0]))
    >>> bool(w_b[0] > w_a[0]), float(w_b[0] + w_a[0])
    (True, 1.0)
    """
    d_b = np.asarray(d_benign, dtype=np.float64)
    d_a = np.asarray(d_adversarial, dtype=np.float64)
    # inf - inf is NaN, and a NaN weight a NaN probability: refuse rather than
    # let argmax turn it into the first class.
    if not (np.isfinite(d_b).all() and np.isfinite(d_a).all()):
        raise ValueError(
            "The neighbour distances are not all finite (NaN or infinity): the "
            "features overflow. Scale the inputs (for example with "
            "StandardScaler)."
        )
    if weighting != "uniform" and not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature!r}.")
    if weighting == "uniform":
        w_b = np.full_like(d_b, 0.5)
    elif weighting == "relative":
        total = d_b + d_a
        safe = np.where(total > 0, total, 1.0)
        # exp(-r_b/t) / (exp(-r_b/t) + exp(-r_a/t)) = sigmoid((r_a - r_b) / t)
        w_b = np.where(total > 0, _sigmoid((d_a - d_b) / safe / temperature), 0.5)
    elif weighting == "softmax":
        w_b = _sigmoid((d_a - d_b) / temperature)
    elif weighting == "released":
        w_b = _sigmoid((d_b - d_a) / temperature)
    else:
        raise ValueError(
            f"weighting must be one of {list(WEIGHTINGS)}; got {weighting!r}."
        )
    return w_b, 1.0 - w_b


def joint_vote(
    benign: list[tuple[np.ndarray, np.ndarray]],
    adversarial: list[tuple[np.ndarray, np.ndarray]] | None,
    n_classes: int,
    *,
    weighting: str = "relative",
    temperature: float = 1.0,
) -> np.ndarray:
    """Class probabilities of the joint vote, averaged over layers.

    Parameters
    ----------
    benign : list of (distances, labels)
        Per layer, the distances ``(n_samples, k)`` to the neighbours in the
        benign set and their encoded labels.
    adversarial : list of (distances, labels) or None
        The same for the hardening set; ``None`` gives DkNN.
    n_classes : int
        Number of classes.
    weighting, temperature
        See :func:`vote_weights`.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Rows sum to 1.

    Examples
    --------
    One sample, one layer, ``k = 2``: both benign neighbours say class 1,
    both (nearer) hardening neighbours say class 0.

    >>> benign = [(np.array([[3.0, 3.0]]), np.array([[1, 1]]))]
    >>> hardening = [(np.array([[1.0, 1.0]]), np.array([[0, 0]]))]
    >>> joint_vote(benign, None, 2)
    array([[0., 1.]])
    >>> joint_vote(benign, hardening, 2).round(3)
    array([[0.622, 0.378]])
    """
    total = 0.0
    for layer, (d_b, y_b) in enumerate(benign):
        p_b = class_fractions(y_b, n_classes)
        if adversarial is None:
            total = total + p_b
            continue
        d_a, y_a = adversarial[layer]
        w_b, w_a = vote_weights(
            d_b.mean(1), d_a.mean(1), weighting=weighting, temperature=temperature
        )
        p_a = class_fractions(y_a, n_classes)
        total = total + w_b[:, None] * p_b + w_a[:, None] * p_a
    return total / len(benign)
