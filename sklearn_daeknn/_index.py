"""Nearest-neighbour indexes over one layer's features.

Both backends answer ``query(X, k) -> (distances, indices)`` in
scikit-learn's order, with distances sorted ascending, under one of two
metrics (:data:`METRICS`):

- ``'euclidean'``: the Euclidean distance;
- ``'cosine'``: the rows (indexed points and queries) must be L2-normalised
  (a zero row is allowed, see :class:`~sklearn_daeknn.LayerReducer`); the
  search is Euclidean, and the distance reported is
  ``||a - b||^2 / 2``, which is the cosine distance ``1 - cos(a, b)`` of unit
  vectors. A zero row lies at 1/2 from every unit vector (and at 0 from
  another zero row): the cosine of a vector without direction is taken as 0
  towards everything but another zero vector.

- :class:`ExactIndex`: blocked ``torch`` matmul and top-k, then the
  candidates' distances recomputed from differences so that they are as
  precise as a direct computation (the matmul form loses digits for near
  points).
- :class:`NNDescentIndex`: pynndescent's approximate graph search, imported
  lazily because importing it compiles code with numba.

numba compiles pynndescent's kernels on first use in each process (tens of
seconds, minutes with an empty cache). Most of them are declared
``cache=True``: numba then stores the machine code on disk and a later
process only loads it. Where numba keeps that cache is ``NUMBA_CACHE_DIR``;
when the user has not set it, :func:`numba_cache_dir` points it, before
pynndescent is first imported, at a per-user folder
(``$XDG_CACHE_HOME/sklearn-daeknn-numba``, by default
``~/.cache/sklearn-daeknn-numba``), so the compilation is paid once per
machine rather than once per process or per (possibly read-only) install.
The graph-construction kernels that pynndescent does not cache are still
compiled once per process, at the first build.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._pruning import adversarial_pruning

__all__ = [
    "AUTO_NNDESCENT_MIN_SAMPLES",
    "METRICS",
    "ExactIndex",
    "NNDescentIndex",
    "build_index",
    "index_set",
    "leave_out",
    "numba_cache_dir",
    "resolve_index_kind",
]

logger = logging.getLogger(__name__)

#: ``index='auto'`` uses pynndescent from this many indexed points on.
#: Measured (docs/results/scale.md; 2 shared cores, 1024-wide clustered
#: data, k=75): pynndescent answers queries 7-14x faster than exact search
#: from 10k to 120k points at recall >= 0.99, but its build (plus a per-process
#: compilation) pays off only after ~5,000-7,000 queries; exact search costs
#: grow linearly with the points, so the break-even favours pynndescent on
#: large indexes, which a DAEkNN fit queries at every ``predict``.
AUTO_NNDESCENT_MIN_SAMPLES = 50_000

#: The metrics of the indexes (and of the estimator's ``metric``).
METRICS = ("euclidean", "cosine")

# How far from 1 the norm of a row may be for ``metric='cosine'``: float32
# normalisation leaves errors of a few 1e-7 at 4096 features.
_UNIT_TOLERANCE = 1e-3

# Extra candidates taken from the matmul top-k before exact re-ranking.
_RERANK_MARGIN = 8
# Bytes of the (queries x points) distance block computed at once. Measured at
# 120k x 1024, k=75, 2,000 queries, idle 2 cores: 16 MiB blocks ran at 0.6x
# the speed of a plain 64 MiB-blocked matmul + top-k, 64 MiB at 1.0x, 256 MiB
# at 1.17x (the larger matmul amortises the top-k and the re-ranking).
_BLOCK_BYTES = 256 * 2**20


def numba_cache_dir() -> str:
    """Make sure numba caches compiled code on disk, and say where.

    If the environment variable ``NUMBA_CACHE_DIR`` is unset, it is set to a
    per-user folder, ``$XDG_CACHE_HOME/sklearn-daeknn-numba`` (by default
    ``~/.cache/sklearn-daeknn-numba``); if numba is already imported its
    configuration is updated too. A value set by the user is left alone.
    Called before pynndescent is imported.

    Returns
    -------
    path : str
        The folder numba caches into.

    Examples
    --------
    >>> import os
    >>> numba_cache_dir() == os.environ["NUMBA_CACHE_DIR"]
    True
    """
    path = os.environ.get("NUMBA_CACHE_DIR")
    if path:
        return path
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    path = os.path.join(base, "sklearn-daeknn-numba")
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a read-only home: keep numba's default
        logger.warning("cannot create numba cache folder %s: %s", path, exc)
        return ""
    os.environ["NUMBA_CACHE_DIR"] = path
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = path
    logger.info("numba caches compiled code in %s", path)
    return path


def check_metric(metric: str) -> str:
    """``metric`` if it is one of :data:`METRICS`, else a ``ValueError``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}; got {metric!r}.")
    return metric


def check_unit_rows(X: np.ndarray, name: str) -> None:
    """Raise a ``ValueError`` unless every row of ``X`` has norm 1 (or is 0),
    as ``metric='cosine'`` needs."""
    if not len(X):
        return
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    bad = (norms > 0) & (np.abs(norms - 1.0) > _UNIT_TOLERANCE)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"metric='cosine' needs L2-normalised rows, but row {first} of {name} "
            f"has norm {norms[first]:.6g} ({int(bad.sum())} such rows). Normalise "
            "them first (sklearn.preprocessing.normalize, or a LayerReducer with "
            "normalize=True)."
        )


def reported_distances(euclidean: np.ndarray, metric: str) -> np.ndarray:
    """Distances as the indexes report them, from Euclidean distances of the
    (for ``'cosine'``, normalised) rows."""
    if metric == "cosine":
        return np.square(euclidean) / np.float32(2)
    return euclidean


def _nndescent_class() -> type:
    numba_cache_dir()
    from pynndescent import NNDescent

    return NNDescent


class ExactIndex:
    """Exact k-nearest-neighbour search.

    Parameters
    ----------
    data : ndarray of shape (n_points, n_features)
        Indexed points (kept as float32).
    metric : {'euclidean', 'cosine'}, default='euclidean'
        ``'cosine'``: the rows of ``data`` and of the queries must be
        L2-normalised (or zero); distances are ``||a - b||^2 / 2``, the
        cosine distance ``1 - cos`` of unit vectors (see the module notes).

    Examples
    --------
    >>> import numpy as np
    >>> index = ExactIndex(np.array([[0.0], [1.0], [3.0]]))
    >>> distances, indices = index.query(np.array([[0.9]]), k=2)
    >>> indices, distances.round(3)
    (array([[1, 0]]), array([[0.1, 0.9]], dtype=float32))
    """

    #: Indexes pickled before the metric existed are Euclidean.
    metric = "euclidean"

    def __init__(self, data: np.ndarray, *, metric: str = "euclidean") -> None:
        self.metric = check_metric(metric)
        data = np.ascontiguousarray(data, dtype=np.float32)
        if metric == "cosine":
            check_unit_rows(data, "the indexed points")
        # torch warns on (and must not write through) read-only arrays.
        self.data = data if data.flags.writeable else data.copy()

    @property
    def n_points(self) -> int:
        return len(self.data)

    def query(
        self, X: np.ndarray, k: int, *, device: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the distances and indices of the ``k`` nearest points.

        ``device`` (e.g. ``'cuda'``) runs the search there: the indexed
        points are copied to it for the call and freed afterwards. ``None``:
        the CPU.
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not X.flags.writeable:
            X = X.copy()
        if self.metric == "cosine":
            check_unit_rows(X, "the queries")
        device = torch.device("cpu" if device is None else device)
        data = torch.from_numpy(self.data).to(device)
        sq_data = (data * data).sum(1)
        n_cand = min(k + _RERANK_MARGIN, self.n_points)
        # Bound both the distance block and the re-ranking gather in memory.
        width = max(self.n_points, n_cand * self.data.shape[1], 1)
        block = max(1, _BLOCK_BYTES // (4 * width))
        dist = np.empty((len(X), k), dtype=np.float32)
        ind = np.empty((len(X), k), dtype=np.int64)
        with torch.inference_mode():
            # One distance buffer for all blocks: a fresh 64 MB tensor per block
            # is returned to the OS and page-faulted back each time (glibc).
            buffer = torch.empty(min(block, len(X)), self.n_points, device=device)
            for start in range(0, len(X), block):
                q = torch.from_numpy(X[start : start + block]).to(device)
                d2 = torch.addmm(
                    sq_data, q, data.T, beta=1, alpha=-2, out=buffer[: len(q)]
                )
                cand = torch.topk(
                    d2, n_cand, dim=1, largest=False, sorted=False
                ).indices
                cand, _ = torch.sort(cand, dim=1)  # ties resolve to the lower index
                # In place on the gathered copy: one pass, no extra buffers.
                exact = torch.linalg.vector_norm(data[cand].sub_(q[:, None, :]), dim=-1)
                order = torch.argsort(exact, dim=1, stable=True)[:, :k]
                stop = start + len(q)
                dist[start:stop] = exact.gather(1, order).cpu().numpy()
                ind[start:stop] = cand.gather(1, order).cpu().numpy()
        return reported_distances(dist, self.metric), ind


class NNDescentIndex:
    """Approximate k-nearest-neighbour search with pynndescent.

    The graph is built on construction (the first build in a process also
    compiles pynndescent's kernels: see the module notes).

    Pickling keeps the search graph, not just the data: an unpickled index
    answers queries without rebuilding. Unpickling imports pynndescent, so
    *loading* an estimator with such an index pays numba's loading (a few
    seconds from the on-disk cache) rather than its first ``predict``. If the
    stored graph cannot be restored (for instance under another pynndescent
    or numba version) the graph is rebuilt from the data, with the same seed,
    and a warning says so.

    Queries from several threads are answered one at a time: pynndescent's
    search reuses buffers stored on its index (the visited set, the result
    heap), so concurrent queries would overwrite each other's results.

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
    epsilon : float, default=0.1
        Search breadth at query time (pynndescent's ``epsilon``): larger is
        slower and more accurate.
    n_candidates : int, default=20
        Each query searches for ``max(k, n_candidates)`` neighbours and keeps
        the ``k`` nearest. pynndescent's search for a small ``k`` stops early:
        on MNIST features (30,000 points, 128 to 4,096 dimensions, k = 5)
        recall went from 0.93 to 0.995-0.998 for 1.9x the query time.
    metric : {'euclidean', 'cosine'}, default='euclidean'
        As in :class:`ExactIndex`: for ``'cosine'`` the rows must be
        L2-normalised; the graph is built and searched in Euclidean distance
        and the distances reported are ``||a - b||^2 / 2``.
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        n_neighbors: int = 30,
        random_state: int = 0,
        n_jobs: int | None = None,
        epsilon: float = 0.1,
        n_candidates: int = 20,
        metric: str = "euclidean",
    ) -> None:
        self.metric = check_metric(metric)
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.epsilon = epsilon
        self.n_candidates = n_candidates
        self._lock = threading.Lock()
        # pynndescent wants writable float32 (read-only input recompiles);
        # copy only when the input is not already that.
        data = np.asarray(data, dtype=np.float32, order="C")
        if metric == "cosine":
            check_unit_rows(data, "the indexed points")
        self._build(data if data.flags.writeable else data.copy())

    @property
    def n_points(self) -> int:
        return self._n_points

    @property
    def data(self) -> np.ndarray:
        """The indexed points, in their original order (a copy)."""
        return _original_order(self._nnd.__dict__)

    def _build(self, data: np.ndarray) -> None:
        NNDescent = _nndescent_class()
        logger.info("building pynndescent index over %d points", len(data))
        self._n_points = len(data)
        # After prepare() the graph holds its own copy of the data, permuted
        # to its vertex order; no other copy is kept.
        self._nnd = NNDescent(
            data,
            metric="euclidean",
            n_neighbors=min(self.n_neighbors, len(data) - 1),
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            compressed=False,
        )
        self._nnd.prepare()

    def query(
        self, X: np.ndarray, k: int, *, device: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the distances and indices of (approximately) the ``k`` nearest.

        The graph search runs on the CPU whatever ``device`` is (accepted for
        the same interface as :meth:`ExactIndex.query`).
        """
        X = np.array(X, dtype=np.float32, order="C")
        if self.metric == "cosine":
            check_unit_rows(X, "the queries")
        n_search = min(max(k, self.n_candidates), self.n_points)
        with self._lock:
            ind, dist = self._nnd.query(X, k=n_search, epsilon=self.epsilon)
            # pynndescent returns each row sorted by distance, in buffers that
            # its next query reuses: copy them before letting another in.
            dist = dist[:, :k].astype(np.float32, copy=True)
            ind = ind[:, :k].astype(np.int64, copy=True)
        return reported_distances(dist, self.metric), ind

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state["_nnd"] = self._nnd.__getstate__()
        state["_versions"] = _versions()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        nnd_state = state.pop("_nnd")
        versions = state.pop("_versions", None)
        self.__dict__.update(state)
        self.__dict__.setdefault("epsilon", 0.1)
        self.__dict__.setdefault("n_candidates", 20)
        self.__dict__.setdefault("metric", "euclidean")
        self.__dict__.setdefault("_n_points", len(nnd_state["_raw_data"]))
        self._lock = threading.Lock()
        NNDescent = _nndescent_class()
        try:
            if versions != _versions():
                raise ValueError(f"pickled with {versions}, running {_versions()}")
            nnd = NNDescent.__new__(NNDescent)
            nnd.__setstate__(nnd_state)
            self._nnd = nnd
        except Exception as exc:
            data = _original_order(nnd_state)
            warnings.warn(
                f"Rebuilding the pynndescent graph over {len(data)} points: the "
                f"pickled graph could not be restored ({exc}).",
                RuntimeWarning,
                stacklevel=2,
            )
            self._build(data)


def _original_order(nnd_state: dict[str, Any]) -> np.ndarray:
    """The data of a pynndescent index (its ``__dict__``), in input order."""
    raw = nnd_state["_raw_data"]
    order = nnd_state.get("_vertex_order")
    if order is None:
        return np.array(raw, dtype=np.float32, order="C")
    data = np.empty_like(raw)
    data[order] = raw
    return data


def _versions() -> tuple[str, str]:
    import numba
    import pynndescent

    return (str(pynndescent.__version__), str(numba.__version__))


def leave_out(
    distances: np.ndarray, indices: np.ndarray, own: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Drop one neighbour from each row: the first one marked in ``own``, or
    the last (the farthest) when none is.

    A query for ``k + 1`` neighbours of points that may be among them gives
    ``k`` neighbours that are not: scikit-learn's ``kneighbors(X=None)``.

    Parameters
    ----------
    distances, indices : ndarray of shape (n_queries, k + 1)
        Sorted neighbours, as ``query`` returns them.
    own : ndarray of bool of shape (n_queries, k + 1)
        The neighbours to leave out (at most one per row).

    Returns
    -------
    distances, indices : ndarray of shape (n_queries, k)

    Examples
    --------
    >>> d = np.array([[0.0, 1.0, 2.0], [0.5, 1.0, 2.0]])
    >>> i = np.array([[7, 3, 4], [1, 2, 3]])
    >>> leave_out(d, i, i == np.array([[7], [9]]))
    (array([[1. , 2. ],
           [0.5, 1. ]]), array([[3, 4],
           [1, 2]]))
    """
    n, m = indices.shape
    drop = np.where(own.any(axis=1), own.argmax(axis=1), m - 1)
    keep = np.ones((n, m), dtype=bool)
    keep[np.arange(n), drop] = False
    return distances[keep].reshape(n, m - 1), indices[keep].reshape(n, m - 1)


def resolve_index_kind(kind: str, n_points: int) -> str:
    """The backend ``build_index(data, kind)`` uses for ``n_points`` points.

    Examples
    --------
    >>> resolve_index_kind("auto", 100), resolve_index_kind("auto", 10**6)
    ('exact', 'nndescent')
    """
    if kind == "auto":
        return "nndescent" if n_points >= AUTO_NNDESCENT_MIN_SAMPLES else "exact"
    return kind


def build_index(
    data: np.ndarray,
    kind: str,
    *,
    metric: str = "euclidean",
    random_state: int = 0,
    n_jobs: int | None = None,
) -> ExactIndex | NNDescentIndex:
    """Build the index named by ``kind`` (``'auto'``, ``'exact'``, ``'nndescent'``).

    ``'auto'`` picks exact search below ``AUTO_NNDESCENT_MIN_SAMPLES`` points
    and pynndescent from there on. ``metric`` is passed to the index (for
    ``'cosine'`` the rows of ``data`` must be L2-normalised).

    Examples
    --------
    >>> import numpy as np
    >>> index = build_index(np.eye(3), "auto")
    >>> type(index).__name__, index.n_points
    ('ExactIndex', 3)
    """
    kind = resolve_index_kind(kind, len(data))
    if kind == "exact":
        return ExactIndex(data, metric=metric)
    if kind == "nndescent":
        if len(data) <= 10:
            raise ValueError(
                f"index='nndescent' needs more than 10 points per index; got "
                f"{len(data)}. Use index='exact' or 'auto'."
            )
        return NNDescentIndex(
            data, random_state=random_state, n_jobs=n_jobs, metric=metric
        )
    raise ValueError(f"index must be 'auto', 'exact' or 'nndescent'; got {kind!r}.")


def index_set(
    features: list[np.ndarray],
    labels: np.ndarray,
    rows: np.ndarray,
    *,
    kind: str,
    metric: str,
    n_neighbors: int,
    prune_radius: float,
    seed: int,
    layers: tuple[str, ...],
) -> tuple[list, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """One set's indexes, after adversarial pruning: ``(indexes, rows,
    labels, removed rows, removed per layer)``.

    ``features`` holds one array per layer, rows aligned with ``labels`` and
    ``rows``; each layer's array is released as it is indexed.
    """
    removed = np.zeros(0, dtype=rows.dtype)
    per_layer = dict.fromkeys(layers, 0)
    if prune_radius:
        result = adversarial_pruning(
            features, labels, float(prune_radius), metric=metric
        )
        per_layer = dict(zip(layers, result.removed_per_layer, strict=True))
        keep = result.keep
        if not keep.all():
            features = [f[keep] for f in features]
            removed = np.sort(rows[~keep])
            rows, labels = rows[keep], labels[keep]
        if len(rows) < n_neighbors:
            raise ValueError(
                f"prune_radius={prune_radius!r} left {len(rows)} of "
                f"{len(keep)} points in an indexed set, fewer than "
                f"n_neighbors={n_neighbors}: use a smaller prune_radius."
            )
    logger.info("building %s indexes over %d points", kind, len(rows))
    # Pop each layer's features as it is indexed: pynndescent keeps its
    # own copy, so peak memory holds one layer twice, not every layer.
    indexes = [
        build_index(features.pop(0), kind, metric=metric, random_state=seed)
        for _ in range(len(features))
    ]
    return indexes, rows, labels, removed, per_layer
