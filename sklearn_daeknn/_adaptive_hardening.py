"""Hardening data made by attacking the vote itself, optionally in rounds.

The hardening set ``D_adv`` of the paper is PGD against the *network*: it
covers the regions that a transfer attack reaches, not those that an attack
on the vote reaches (``KNNAdaptiveAttack`` takes several more points of
accuracy off the vote). The two levers here make hardening data against the
vote, through its soft-kNN surrogate:

- ``hardening_attack='vote'``: ``D_adv`` is :class:`KNNAdaptiveAttack` (at
  ``eps = hardening_strength``) against the vote over the benign set alone,
  one point per training sample, as PGD makes it against the network;
- ``hardening_rounds=R``: then, ``R`` times, the current vote (benign and
  hardening sets, pruned as the final one is) is attacked on a seeded sample
  of the training points, and the adversarial points that fool it are added
  to ``D_adv`` with their true labels; the indexes are rebuilt. This is
  adversarial training of the kNN's data: its "parameters" are the indexed
  points (as in the data-augmentation view of adversarial training, Madry et
  al. 2018, applied to the index rather than the weights; the attack is
  Sitawarin & Wagner's and ASK's loss through APGD, see
  :class:`~sklearn_daeknn.KNNAdaptiveAttack`).

The attack made with: :func:`hardening_attack` (two runs per input, the
soft vote's cross-entropy and the class-wise loss toward the nearest wrong
class, ``hardening_steps`` APGD iterations each).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np

from ._adaptive_attack import KNNAdaptiveAttack
from ._progress import progress

__all__ = [
    "HARDENING_LOSSES",
    "adaptive_hardening",
    "check_max_points",
    "hardening_attack",
]

#: The runs of the attack that makes adaptive hardening data.
HARDENING_LOSSES = ("vote-ce", "classwise-t")
#: Inputs attacked at once: the whole training set goes through the attack,
#: and each batch pays a search of the indexes.
HARDENING_BATCH = 128


def hardening_attack(
    eps: float, n_steps: int, *, random_state: int, verbose: int = 0
) -> KNNAdaptiveAttack:
    """The attack on the vote that adaptive hardening data are made with.

    :class:`~sklearn_daeknn.KNNAdaptiveAttack` with the losses of
    :data:`HARDENING_LOSSES`, one target class, ``n_steps`` APGD iterations
    per run, batches of :data:`HARDENING_BATCH` inputs and the estimator's
    own box (``clip='auto'``).

    Examples
    --------
    >>> hardening_attack(0.1, 10, random_state=0).losses
    ('vote-ce', 'classwise-t')
    """
    return KNNAdaptiveAttack(
        eps=eps,
        losses=HARDENING_LOSSES,
        n_steps=n_steps,
        n_target_classes=1,
        batch_size=HARDENING_BATCH,
        random_state=random_state,
        verbose=verbose,
    )


def check_max_points(value: Any, n: int) -> int:
    """The number of training points each round attacks.

    ``None``: all ``n``; an int: that many (at most ``n``); a float in
    ``(0, 1]``: that fraction of ``n``, at least 1.

    Examples
    --------
    >>> check_max_points(None, 50), check_max_points(0.1, 50), check_max_points(80, 50)
    (50, 5, 50)
    """
    if value is None:
        return n
    if isinstance(value, Integral) and not isinstance(value, bool):
        return min(int(value), n)
    return max(1, int(round(float(value) * n)))


def adaptive_hardening(
    X: np.ndarray,
    y: np.ndarray,
    classes: np.ndarray,
    initial: np.ndarray | None,
    fit_vote: Callable[[np.ndarray | None, np.ndarray | None], Any],
    *,
    eps: float,
    n_steps: int,
    rounds: int,
    max_points: int,
    seed: int,
    verbose: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, int]]]:
    """The hardening inputs made against the vote, and where each comes from.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training inputs (flat rows, the estimator's layout).
    y : ndarray of int of shape (n_samples,)
        Their labels, as indices into ``classes``.
    classes : ndarray
        The estimator's classes.
    initial : ndarray of shape (n_samples, n_features) or None
        The network's hardening data (PGD); ``None``: make the first
        hardening set against the benign vote.
    fit_vote : callable
        ``fit_vote(X_hard, positions)``: a fitted estimator whose hardening
        set is ``X_hard`` (rows ``positions`` of ``X``); ``(None, None)``:
        the benign vote alone.
    eps, n_steps : float, int
        The attack's radius and APGD iterations per run.
    rounds : int
        Rounds of attacking the current vote and adding the points that
        fool it.
    max_points : int
        Training points attacked per round (a seeded sample without
        replacement): at most that many points are added per round.
    seed : int
        Seeds the attacks and the samples.
    verbose : int, default=0
        Progress bar over the rounds.

    Returns
    -------
    X_hard : ndarray of shape (n_hardening, n_features)
        The hardening inputs.
    positions : ndarray of int of shape (n_hardening,)
        The row of ``X`` each one was made from (its label is that row's).
    history : list of dict
        Per round, ``attacked`` (points attacked) and ``added`` (points that
        fooled the vote, added); the attack's success rate on the training
        points is ``added / attacked``.
    """
    n = len(X)
    if initial is None:
        vote = fit_vote(None, None)
        attack = hardening_attack(eps, n_steps, random_state=seed, verbose=verbose)
        X_hard = attack.generate(vote, X, classes[y]).astype(np.float32)
    else:
        X_hard = np.asarray(initial, dtype=np.float32).reshape(n, -1)
    positions = np.arange(n)
    history = []
    for r in progress(
        range(rounds), total=rounds, desc="adaptive hardening", verbose=verbose
    ):
        vote = fit_vote(X_hard, positions)
        rng = np.random.RandomState(seed + 1 + r)
        sample = np.sort(rng.choice(n, size=max_points, replace=False))
        attack = hardening_attack(eps, n_steps, random_state=seed + 1 + r)
        X_adv = attack.generate(vote, X[sample], classes[y[sample]])
        fooled = vote.predict(X_adv) != classes[y[sample]]
        X_hard = np.concatenate([X_hard, X_adv[fooled].astype(np.float32)])
        positions = np.concatenate([positions, sample[fooled]])
        history.append({"attacked": int(len(sample)), "added": int(fooled.sum())})
    return X_hard, positions, history
