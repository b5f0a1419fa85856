"""Experiments that refit the kNN side of a fitted estimator on its network.

:func:`refit_knn` rebuilds the hardening data and the indexes with other
parameters, reusing the trained network; :func:`hardening_sweep` does it for
a range of hardening strengths (the paper's Figure 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._progress import progress
from ._robustness import METRICS
from ._vote_analysis import vote_scores

__all__ = ["hardening_sweep", "refit_knn"]


def _check_daeknn(estimator: Any) -> None:
    check_is_fitted(estimator, ["benign_indexes_", "layers_"])


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
