"""Adversarial pruning of an indexed set in feature space (Yang et al., 2020).

A kNN vote is fragile where training points of different classes lie close
together: a small move of the query swaps one for the other among its
neighbours. Yang, Rashtchian, Wang and Chaudhuri ("Robustness for
non-parametric classification: a generic attack and defense", AISTATS 2020)
make the training set *well separated* before fitting: they remove as few
points as possible so that differently labelled points are at least ``2r``
apart, which makes a nearest-neighbour classifier provably robust at radius
``r`` around the kept points. Removing the fewest points is a minimum vertex
cover of the *conflict graph* (an edge between two differently labelled
points closer than the separation); they solve it exactly for two classes
(by bipartite matching). Here it is approximated greedily, for any number
of classes: the point with the most conflicts left is removed, until no
conflict is left (the classic greedy vertex cover, within a factor
``ln(max degree) + 1`` of the minimum).

The separation is required in every vote layer at once, in the distance the
vote uses, and is relative to each layer's scale: ``radius * s_l``, where
``s_l`` is the median distance from an indexed point to its nearest other
point of the same set in layer ``l``. A point removed from a set is removed
from that set's index in every layer, so that each set keeps one list of
points (its rows and labels).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["MAX_CONFLICTS", "PruningResult", "adversarial_pruning", "layer_scale"]

#: Most conflicting pairs (over all layers) a pruning may hold: 16 bytes each.
MAX_CONFLICTS = 20_000_000
#: Bytes of the (rows x points) distance block computed at once.
_BLOCK_BYTES = 64 * 2**20
#: Points whose nearest-neighbour distance sets a layer's scale.
_SCALE_SAMPLE = 1000


@dataclass(frozen=True)
class PruningResult:
    """What :func:`adversarial_pruning` removed.

    Attributes
    ----------
    keep : ndarray of bool of shape (n_points,)
        The points kept.
    thresholds : list of float
        Per layer, the separation required (``radius * scale``).
    removed_per_layer : list of int
        Per layer, how many removed points had a conflict in that layer (a
        point may count in several layers).
    n_conflicts : list of int
        Per layer, the conflicting pairs before pruning.
    """

    keep: np.ndarray
    thresholds: list[float]
    removed_per_layer: list[int]
    n_conflicts: list[int]


def _reported(d2: torch.Tensor, metric: str) -> torch.Tensor:
    """The distance the vote uses, from squared Euclidean distances."""
    return d2 / 2 if metric == "cosine" else d2.sqrt()


def _blocks(features: torch.Tensor, rows: torch.Tensor | None = None):
    """``(start, squared distances)`` of blocks of query rows to every point."""
    queries = features if rows is None else features[rows]
    sq = (features * features).sum(1)
    step = max(1, _BLOCK_BYTES // (4 * max(len(features), 1)))
    for start in range(0, len(queries), step):
        q = queries[start : start + step]
        d2 = torch.addmm(sq, q, features.T, beta=1, alpha=-2)
        yield start, d2.add_((q * q).sum(1, keepdim=True)).clamp_(min=0)


def layer_scale(features: np.ndarray, metric: str = "euclidean") -> float:
    """Median distance from a point to its nearest other point (the layer's scale).

    Computed over an evenly spaced sample of at most 1,000 points, in the
    distance the vote uses (``1 - cos`` for ``metric='cosine'``, whose
    features are L2-normalised). ``0`` when every sampled point has a
    duplicate.

    Examples
    --------
    >>> import numpy as np
    >>> layer_scale(np.array([[0.0], [1.0], [3.0]], dtype=np.float32))
    1.0
    """
    f = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    n = len(f)
    if n < 2:
        return 0.0
    rows = torch.as_tensor(
        np.unique(np.linspace(0, n - 1, min(n, _SCALE_SAMPLE)).astype(np.int64))
    )
    nearest = []
    with torch.no_grad():
        for start, d2 in _blocks(f, rows):
            own = rows[start : start + len(d2)]
            d2[torch.arange(len(d2)), own] = torch.inf
            nearest.append(d2.min(1).values)
    return float(_reported(torch.cat(nearest), metric).median())


def _conflicts(
    features: np.ndarray, labels: np.ndarray, threshold: float, metric: str
) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of differently labelled points closer than
    ``threshold``, as an ``(n_pairs, 2)`` int64 array."""
    f = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    cols = torch.arange(len(f))
    pairs, total = [], 0
    with torch.no_grad():
        for start, d2 in _blocks(f):
            r = torch.arange(start, start + len(d2))
            close = _reported(d2, metric) < threshold
            close &= y[r][:, None] != y[None, :]
            close &= cols[None, :] > r[:, None]
            i, j = close.nonzero(as_tuple=True)
            total += len(i)
            if total > MAX_CONFLICTS:
                raise ValueError(_too_many(total))
            pairs.append(torch.stack([i + start, j], 1).numpy())
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)


def _too_many(total: int) -> str:
    return (
        f"prune_radius makes more than {MAX_CONFLICTS:,} pairs of differently "
        f"labelled points too close (at least {total:,} so far): the pruning "
        "would remove most of the set. Use a smaller prune_radius (1 is the "
        "layer's median nearest-neighbour distance)."
    )


def _greedy_cover(n: int, pairs: np.ndarray) -> np.ndarray:
    """A vertex cover of the conflict graph, greedily: the removed points."""
    removed = np.zeros(n, dtype=bool)
    if not len(pairs):
        return removed
    both = np.concatenate([pairs, pairs[:, ::-1]])
    order = np.argsort(both[:, 0], kind="stable")
    neighbours = both[order, 1]
    starts = np.searchsorted(both[order, 0], np.arange(n + 1))
    degree = np.diff(starts)
    # Most conflicts first; ties to the lowest index (deterministic).
    heap = [(-int(d), int(v)) for v, d in enumerate(degree) if d]
    heapq.heapify(heap)
    while heap:
        neg, v = heapq.heappop(heap)
        if removed[v] or -neg != degree[v]:
            continue  # removed already, or a stale entry
        if degree[v] == 0:
            break
        removed[v] = True
        degree[v] = 0
        around = neighbours[starts[v] : starts[v + 1]]
        around = around[~removed[around]]
        np.subtract.at(degree, around, 1)
        for u in np.unique(around):
            if degree[u]:
                heapq.heappush(heap, (-int(degree[u]), int(u)))
    return removed


def adversarial_pruning(
    features: Sequence[np.ndarray],
    labels: np.ndarray,
    radius: float,
    *,
    metric: str = "euclidean",
) -> PruningResult:
    """Remove points until differently labelled ones are ``radius`` scales apart.

    In every layer ``l`` of ``features``, no two kept points of different
    labels are closer than ``radius * layer_scale(features[l])``. The points
    removed are a greedy approximation of the fewest that achieve it (see
    the module's docstring).

    Parameters
    ----------
    features : list of ndarray of shape (n_points, n_features_l)
        One set's points, layer by layer (float32).
    labels : ndarray of int of shape (n_points,)
        Their labels.
    radius : float
        The separation, in units of each layer's median nearest-neighbour
        distance; ``0`` removes nothing.
    metric : {'euclidean', 'cosine'}, default='euclidean'
        The vote's distance (``'cosine'``: the features are L2-normalised
        and the distance is ``1 - cos``).

    Returns
    -------
    result : PruningResult

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [0.2], [2.0], [3.0]], dtype=np.float32)
    >>> result = adversarial_pruning([X], np.array([0, 1, 0, 1, 1]), 1.5)
    >>> result.keep.tolist(), result.n_conflicts
    ([True, False, True, True, True], [2])
    """
    labels = np.asarray(labels)
    n = len(labels)
    if radius < 0:
        raise ValueError(f"radius must be >= 0; got {radius!r}.")
    if radius == 0 or n < 2:
        return PruningResult(
            np.ones(n, dtype=bool),
            [0.0] * len(features),
            [0] * len(features),
            [0] * len(features),
        )
    thresholds, per_layer = [], []
    total = 0
    for f in features:
        threshold = radius * layer_scale(f, metric)
        pairs = _conflicts(f, labels, threshold, metric)
        total += len(pairs)
        if total > MAX_CONFLICTS:
            raise ValueError(_too_many(total))
        thresholds.append(threshold)
        per_layer.append(pairs)
    union = np.unique(np.concatenate(per_layer), axis=0) if total else per_layer[0]
    removed = _greedy_cover(n, union)
    removed_per_layer = [
        int(np.count_nonzero(removed & _touched(n, pairs))) for pairs in per_layer
    ]
    return PruningResult(
        ~removed, thresholds, removed_per_layer, [len(p) for p in per_layer]
    )


def _touched(n: int, pairs: np.ndarray) -> np.ndarray:
    touched = np.zeros(n, dtype=bool)
    touched[pairs.ravel()] = True
    return touched
