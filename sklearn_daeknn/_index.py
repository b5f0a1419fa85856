"""Nearest-neighbour indexes over one layer's features.

Both backends answer ``query(X, k) -> (distances, indices)`` in
scikit-learn's order, with Euclidean distances sorted ascending.

- :class:`ExactIndex`: blocked ``torch`` matmul and top-k, then the
  candidates' distances recomputed from differences so that they are as
  precise as a direct computation (the matmul form loses digits for near
  points).
- :class:`NNDescentIndex`: pynndescent's approximate graph search, imported
  lazily because importing it compiles code with numba.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

__all__ = ["ExactIndex", "NNDescentIndex", "build_index", "AUTO_NNDESCENT_MIN_SAMPLES"]

logger = logging.getLogger(__name__)

#: ``index='auto'`` uses pynndescent from this many indexed points on.
AUTO_NNDESCENT_MIN_SAMPLES = 50_000

# Extra candidates taken from the matmul top-k before exact re-ranking.
_RERANK_MARGIN = 8
# Bytes of the (queries x points) distance block computed at once.
_BLOCK_BYTES = 64 * 2**20


class ExactIndex:
    """Exact Euclidean k-nearest-neighbour search.

    Parameters
    ----------
    data : ndarray of shape (n_points, n_features)
        Indexed points (kept as float32).

    Examples
    --------
    >>> import numpy as np
    >>> index = ExactIndex(np.array([[0.0], [1.0], [3.0]]))
    >>> index.query(np.array([[0.9]]), k=2)
    (array([[0.1, 0.9]], dtype=float32), array([[1, 0]]))
    """

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)

    @property
    def n_points(self) -> int:
        return len(self.data)

    def query(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the distances and indices of the ``k`` nearest points."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        data = torch.from_numpy(self.data)
        sq_data = (data * data).sum(1)
        n_cand = min(k + _RERANK_MARGIN, self.n_points)
        block = max(1, _BLOCK_BYTES // (4 * max(1, self.n_points)))
        dist = np.empty((len(X), k), dtype=np.float32)
        ind = np.empty((len(X), k), dtype=np.int64)
        with torch.inference_mode():
            for start in range(0, len(X), block):
                q = torch.from_numpy(X[start : start + block])
                d2 = torch.addmm(sq_data, q, data.T, beta=1, alpha=-2)
                cand = torch.topk(
                    d2, n_cand, dim=1, largest=False, sorted=False
                ).indices
                cand, _ = torch.sort(cand, dim=1)  # ties resolve to the lower index
                exact = ((data[cand] - q[:, None, :]) ** 2).sum(-1)
                order = torch.argsort(exact, dim=1, stable=True)[:, :k]
                stop = start + len(q)
                dist[start:stop] = exact.gather(1, order).sqrt().numpy()
                ind[start:stop] = cand.gather(1, order).numpy()
        return dist, ind


class NNDescentIndex:
    """Approximate k-nearest-neighbour search with pynndescent.

    The graph is built on construction. When pickled, only the float32 data
    is kept (pynndescent's own pickles are fragile across numba versions):
    the graph is rebuilt, with the same seed, on the first query after
    unpickling.

    Parameters
    ----------
    data : ndarray of shape (n_points, n_features)
        Indexed points (kept as float32).
    n_neighbors : int, default=30
        Degree of the search graph (pynndescent's ``n_neighbors``).
    random_state : int, default=0
        Seeds the graph construction.
    n_jobs : int, default=None
        Threads used by pynndescent.
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        n_neighbors: int = 30,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.data = np.array(data, dtype=np.float32, order="C")  # writable copy
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.n_jobs = n_jobs
        self._build()

    @property
    def n_points(self) -> int:
        return len(self.data)

    def _build(self) -> None:
        from pynndescent import NNDescent

        logger.info("building pynndescent index over %d points", self.n_points)
        self._nnd = NNDescent(
            self.data,
            metric="euclidean",
            n_neighbors=min(self.n_neighbors, self.n_points - 1),
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            compressed=False,
        )
        self._nnd.prepare()

    def query(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the distances and indices of (approximately) the ``k`` nearest."""
        if self._nnd is None:
            self._build()
        X = np.array(X, dtype=np.float32, order="C")
        ind, dist = self._nnd.query(X, k=k)
        return dist.astype(np.float32), ind.astype(np.int64)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_nnd"] = None
        return state


def build_index(
    data: np.ndarray, kind: str, *, random_state: int = 0, n_jobs: int | None = None
) -> ExactIndex | NNDescentIndex:
    """Build the index named by ``kind`` (``'auto'``, ``'exact'``, ``'nndescent'``).

    ``'auto'`` picks exact search below ``AUTO_NNDESCENT_MIN_SAMPLES`` points
    and pynndescent from there on.
    """
    if kind == "auto":
        kind = "nndescent" if len(data) >= AUTO_NNDESCENT_MIN_SAMPLES else "exact"
    if kind == "exact":
        return ExactIndex(data)
    if kind == "nndescent":
        if len(data) <= 10:
            raise ValueError(
                f"index='nndescent' needs more than 10 points per index; got "
                f"{len(data)}. Use index='exact' or 'auto'."
            )
        return NNDescentIndex(data, random_state=random_state, n_jobs=n_jobs)
    raise ValueError(f"index must be 'auto', 'exact' or 'nndescent'; got {kind!r}.")
