"""Caching of the expensive stages of ``fit``, as :class:`~sklearn.pipeline.Pipeline`
does with its ``memory`` parameter.

``fit`` has three stages whose costs differ by orders of magnitude: training
the network (minutes), making the hardening data (a PGD run over the training
set) and indexing the features (seconds). A grid search over ``n_neighbors``,
``weighting`` or the hardening strength should pay for the first stage once
per training set, not once per candidate. With a ``joblib.Memory`` (or a
folder) the first two stages are memoised on disk:

- the trained network, keyed by the training data, the random seeds drawn
  from ``random_state`` and every parameter except the kNN-side ones
  (:data:`KNN_PARAMS`) and the hardening ones (:data:`HARDENING_PARAMS`);
- the hardening data, keyed by the same, plus the hardening parameters.

Where a kNN-side parameter does shape a stage (the layers a soft-kNN
training loss reads; the vote that adaptive hardening attacks), it stays in
that stage's key (see :func:`stage_key`).

The key is built from the parameters *not* listed as kNN-side, so that a
parameter added later is conservatively part of the network's key. As in
``Pipeline``, a ``random_state=None`` draws new seeds at each fit and so never
hits the cache: pass an int to benefit from it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_memory

__all__ = [
    "HARDENING_PARAMS",
    "KNN_PARAMS",
    "cached_stage",
    "check_memory_location",
    "stage_key",
]

logger = logging.getLogger("sklearn_daeknn")

#: Parameters used only after the network is trained and the hardening data
#: made: changing them reuses both cached stages.
KNN_PARAMS = frozenset(
    {
        "n_neighbors",
        "weighting",
        "temperature",
        "metric",
        "index",
        "layers",
        "max_layer_features",
        "memory",
        "verbose",
        # The held-out calibration split happens before training: the data in
        # the key is the training part.
        "calibration_size",
        "prune_radius",
    }
)

#: Parameters of the hardening attack: changing them reuses the network.
HARDENING_PARAMS = frozenset(
    {
        "hardening_strength",
        "hardening_steps",
        "hardening_step_size",
        "hardening_attack",
        "hardening_rounds",
        "hardening_max_points",
    }
)

#: The kNN-side parameters that do shape a stage in some settings: the
#: layers (and their metric) that a soft-kNN training loss reads, and the
#: vote that adaptive hardening attacks (every kNN-side parameter but these).
_NOT_SHAPING = frozenset({"memory", "verbose", "calibration_size"})
_LOSS_PARAMS = frozenset({"layers", "metric"})


def _attacks_vote(params: dict[str, Any]) -> bool:
    return (
        params.get("hardening_attack", "network") != "network"
        or bool(params.get("hardening_rounds", 0))
    ) and bool(params.get("hardening_strength"))


def stage_key(params: dict[str, Any], stage: str) -> dict[str, Any]:
    """The parameters that determine the output of ``stage``.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params(deep=False)``.
    stage : {'network', 'hardening'}
        Which stage the key is for.

    Returns
    -------
    key : dict
        ``params`` without the kNN-side parameters, and without the hardening
        parameters for the ``'network'`` stage. Two settings make kNN-side
        parameters shape a stage, and keep them in its key: a soft-kNN
        training loss (``knn_loss_weight > 0``) reads ``layers`` under
        ``metric`` (both stages); adaptive hardening
        (``hardening_attack='vote'`` or ``hardening_rounds > 0``) attacks the
        vote, which every kNN-side parameter but ``memory``, ``verbose`` and
        ``calibration_size`` shapes (the ``'hardening'`` stage).

    Examples
    --------
    >>> key = stage_key({"n_neighbors": 5, "lr": 0.1, "hardening_strength": 0.1},
    ...                 "network")
    >>> key
    {'lr': 0.1}
    >>> sorted(stage_key({"n_neighbors": 5, "lr": 0.1, "hardening_strength": 0.1},
    ...                  "hardening"))
    ['hardening_strength', 'lr']
    """
    if stage not in ("network", "hardening"):
        raise ValueError(f"stage must be 'network' or 'hardening'; got {stage!r}.")
    knn = KNN_PARAMS
    if params.get("knn_loss_weight"):
        knn = knn - _LOSS_PARAMS
    if stage == "hardening" and _attacks_vote(params):
        knn = _NOT_SHAPING
    drop = knn | {"random_state"}  # the drawn seeds are in the key
    if stage == "network":
        drop = drop | HARDENING_PARAMS
    return {name: value for name, value in sorted(params.items()) if name not in drop}


class _TensorsAsBytes(pickle.Pickler):
    """Pickles each tensor as its type, dtype, shape and bytes.

    torch's own pickling of a tensor writes a fresh id on every call, so two
    equal tensors (a module and its deep copy, as ``clone`` makes in a grid
    search) pickle, and so hash, differently: the cache would never hit.
    """

    def persistent_id(self, obj: Any) -> Any:
        if not isinstance(obj, torch.Tensor):
            return None
        try:
            t = obj.detach().cpu().contiguous()
            data = t.reshape(-1).view(torch.uint8).numpy().tobytes()
        except (RuntimeError, TypeError, NotImplementedError):
            return None  # sparse, meta, quantized: torch's own pickling
        kind = type(obj).__name__
        return (kind, str(t.dtype), tuple(t.shape), obj.requires_grad, data)


def _fingerprint(value: Any) -> Any:
    """``value`` for the cache key: the same in every process for equal values.

    Scalars, strings and classes stay as they are (readable, and hashed
    stably by joblib); anything else (a module instance, tensors in
    ``net_params``) becomes the digest of its pickle with tensors as bytes.
    """
    if value is None or isinstance(value, (bool, int, float, str, type)):
        return value
    buffer = io.BytesIO()
    try:
        _TensorsAsBytes(buffer, protocol=4).dump(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return value  # what pickle cannot write, joblib hashes its own way
    return "sha256:" + hashlib.sha256(buffer.getvalue()).hexdigest()


def _run_stage(
    compute: Callable[..., Any],
    stage: str,
    key: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    seeds: tuple[int, ...],
) -> Any:
    # ``compute`` is excluded from the hash (it is a bound method of the
    # estimator, whose kNN-side parameters must not matter): ``key``, the data
    # and the seeds identify the result.
    logger.info("computing the %s stage (not cached)", stage)
    return compute()


def cached_stage(
    memory: Any,
    stage: str,
    compute: Callable[[], Any],
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    seeds: tuple[int, ...],
) -> Any:
    """Run ``compute()`` through ``memory``, keyed by the stage's parameters.

    Parameters
    ----------
    memory : None, str or joblib.Memory
        Where to cache; ``None`` computes every time (no caching).
    stage : {'network', 'hardening'}
        The stage, which chooses the parameters of the key.
    compute : callable
        Computes the stage's result with no arguments.
    params : dict
        The estimator's ``get_params(deep=False)``.
    X, y : ndarray
        The training data (part of the key).
    seeds : tuple of int
        The random seeds the stage uses (part of the key).

    Returns
    -------
    result : object
        What ``compute()`` returns, or its cached copy.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> calls = []
    >>> def compute():
    ...     calls.append(1)
    ...     return 42
    >>> X, y = np.zeros((3, 2)), np.zeros(3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for k in (1, 2):
    ...         _ = cached_stage(folder, "network", compute,
    ...                          {"n_neighbors": k, "lr": 0.1}, X, y, (0,))
    >>> len(calls)
    1
    """
    memory = check_memory(memory)
    key = {name: _fingerprint(v) for name, v in stage_key(params, stage).items()}
    run = memory.cache(_run_stage, ignore=["compute"])
    return run(compute, stage, key, X, y, tuple(int(s) for s in seeds))


def check_memory_location(memory: Any) -> None:
    """Reject a ``memory`` folder that cannot be a folder (under a file)."""
    location = memory if isinstance(memory, str) else None
    if location is None and memory is not None:
        location = getattr(memory, "location", None)
    if location is None:
        return
    path = Path(location)
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(
                    f"memory={memory!r} is a folder under {str(folder)!r}, "
                    "which is a file: memory must name a folder that is or "
                    "can be created."
                )
            return
