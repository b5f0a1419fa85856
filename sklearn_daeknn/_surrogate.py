"""The kNN vote as a differentiable torch module (a soft-kNN surrogate).

The hard vote counts the ``k`` nearest indexed points of each class: a step
function of the input, with no useful gradient. :class:`SoftKNNVote`
replaces the count by a soft top-``k`` membership (Sitawarin & Wagner,
2019): for each layer ``l`` and indexed set ``S`` (benign, hardening), over
the ``n_candidates`` nearest points ``i`` of ``f_l(x)``::

    m_i   = sigmoid((tau - d_i) / (T * s_l))
    p_S   = sum_i m_i [y_i = c] / sum_i m_i            (soft class fractions)
    d_S   = sum_i m_i d_i / sum_i m_i                  (soft mean distance)

with ``tau`` halfway between the ``k``-th and ``(k+1)``-th candidate
distance (held constant for the gradient), ``s_l`` a fixed per-layer scale
(the median distance of an indexed point to its ``k``-th neighbour) and
``T`` the temperature. The soft fractions and mean distances feed the
estimator's own vote, weighting included (the same formulas as
:func:`~sklearn_daeknn.vote_weights`, in torch): as ``T -> 0`` the module
computes ``log(predict_proba)``.

Searching every indexed point at every forward costs far more than the
network on MNIST-sized indexes; :meth:`SoftKNNVote.restricted_to` gives a
view that searches only the union of the candidates of the clean batch under
attack (per clean input and class, its nearest points), re-selecting the
neighbours inside that union at every forward. The view is still a pure
function of its input, so an attack library that attacks a subset of the
batch at a time (AutoAttack does) still sees the same function.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._features import layer_outputs
from ._targets import (
    eval_mode,
    is_daeknn,
    pipeline_parts,
    preimage_box,
    torch_preprocessing,
)

__all__ = ["ClasswiseKNNScores", "SoftKNNVote", "vote_weights_torch"]

#: Bytes of the largest (queries x points) distance block computed at once.
MAX_BLOCK_BYTES = 64 * 2**20
# Added under square roots and to probabilities before their logarithm.
_TINY = 1e-12
# Points sampled per layer to set its distance scale.
_SCALE_SAMPLE = 256


def vote_weights_torch(
    d_benign: torch.Tensor,
    d_adversarial: torch.Tensor,
    *,
    weighting: str,
    temperature: float,
) -> torch.Tensor:
    """The benign weight ``w_b`` of :func:`~sklearn_daeknn.vote_weights`, in torch.

    Differentiable in both distances; ``w_a = 1 - w_b``.

    Examples
    --------
    >>> import torch
    >>> w_b = vote_weights_torch(torch.tensor([1.0]), torch.tensor([3.0]),
    ...                          weighting="softmax", temperature=1.0)
    >>> round(float(w_b), 4)
    0.8808
    """
    if weighting == "uniform":
        return torch.full_like(d_benign, 0.5)
    if weighting == "relative":
        total = d_benign + d_adversarial
        safe = torch.where(total > 0, total, torch.ones_like(total))
        w_b = torch.sigmoid((d_adversarial - d_benign) / safe / temperature)
        return torch.where(total > 0, w_b, torch.full_like(w_b, 0.5))
    if weighting == "softmax":
        return torch.sigmoid((d_adversarial - d_benign) / temperature)
    if weighting == "released":
        return torch.sigmoid((d_benign - d_adversarial) / temperature)
    raise ValueError(f"unknown weighting {weighting!r}")


class _Bank:
    """One layer's indexed points of one set, on one device.

    ``order`` sorts the points by class (``None``: they already are), and
    ``offsets`` delimits each class in that order: the nearest points of
    every class are then found on contiguous slices of a distance block.
    """

    def __init__(self, points: torch.Tensor, labels: torch.Tensor, n_classes: int):
        self.points = points
        self.labels = labels
        self.sq = (points * points).sum(1)
        self.n_classes = n_classes
        counts = torch.bincount(labels.cpu(), minlength=n_classes)
        self.offsets = [0, *torch.cumsum(counts, 0).tolist()]
        ordered = len(labels) < 2 or bool(torch.all(labels[1:] >= labels[:-1]))
        self.order = None if ordered else torch.argsort(labels, stable=True)

    def apply(self, fn: Callable) -> _Bank:
        bank = copy.copy(self)
        bank.points, bank.labels, bank.sq = (
            fn(self.points),
            fn(self.labels),
            fn(self.sq),
        )
        if self.order is not None:
            bank.order = fn(self.order)
        return bank

    def subset(self, idx: torch.Tensor) -> _Bank:
        """The points ``idx``, sorted by class (a copy)."""
        idx = idx[torch.argsort(self.labels[idx], stable=True)]
        return _Bank(self.points[idx], self.labels[idx], self.n_classes)

    def __len__(self) -> int:
        return len(self.points)

    def sq_distances(self, f: torch.Tensor) -> torch.Tensor:
        """Squared distances ``(n, n_points)`` of the rows of ``f`` (no grad)."""
        d2 = torch.addmm(self.sq, f, self.points.T, beta=1, alpha=-2)
        return d2.add_((f * f).sum(1, keepdim=True)).clamp_(min=0)

    def blocks(self, f: torch.Tensor, budget: int):
        """``(start, squared distances)`` over query blocks within ``budget`` bytes.

        A block and its class-sorted copy must fit: 8 bytes per entry.
        """
        rows = max(1, budget // (8 * max(len(self), 1)))
        for start in range(0, len(f), rows):
            yield start, self.sq_distances(f[start : start + rows])

    def per_class(self, d2: torch.Tensor, m: int) -> torch.Tensor:
        """Indices ``(n, C, m)`` of each class's ``m`` nearest points in a block
        of squared distances; ``-1`` where a class has fewer points."""
        if not hasattr(self, "_padded"):
            # Positions (class-sorted) of each class's points, padded with -1.
            width = max(
                b - a for a, b in zip(self.offsets, self.offsets[1:], strict=False)
            )
            pos = torch.full((self.n_classes, max(width, 1)), -1, dtype=torch.long)
            for c in range(self.n_classes):
                a, b = self.offsets[c], self.offsets[c + 1]
                pos[c, : b - a] = torch.arange(a, b)
            self._padded = pos.to(d2.device)
        pos = self._padded
        d2s = d2 if self.order is None else d2[:, self.order]
        grouped = d2s[:, pos.clamp(min=0)].masked_fill_(pos < 0, math.inf)
        k = min(m, pos.shape[1])
        vals, idx = torch.topk(grouped, k, dim=2, largest=False)
        out = pos.expand(len(d2), -1, -1).gather(2, idx)
        if self.order is not None:
            out = torch.where(out >= 0, self.order[out.clamp(min=0)], out)
        out = out.masked_fill(torch.isinf(vals), -1)
        if k < m:
            pad = out.new_full((len(d2), self.n_classes, m - k), -1)
            out = torch.cat([out, pad], 2)
        return out


class SoftKNNVote(nn.Module):
    """The kNN vote of a fitted estimator as a differentiable torch module.

    Maps inputs to soft-kNN class scores, ``log`` of a soft version of
    ``predict_proba`` (usable as logits by any torch attack library), over
    the benign *and* the hardening sets, with the benign/hardening weighting
    (the estimator's ``weighting`` and ``temperature``) differentiated too.

    Parameters
    ----------
    estimator : fitted DAEkNNClassifier or Pipeline ending in one
        The vote to mirror: its network, layers, width reductions, indexed
        points, ``n_neighbors``, ``weighting``, ``temperature`` and
        ``metric``. A Pipeline's scalers are composed in front (see
        :class:`PGD`): the module's input is then the pipeline's input.
    temperature : float, default=0.05
        Softness ``T`` of the top-``k`` membership, relative to each
        layer's distance scale. Smaller is closer to the hard vote (and
        gives smaller gradients).
    n_candidates : int, default=None
        Nearest indexed points per layer and set that the soft membership
        runs over; ``None``: ``n_neighbors + 10``.
    max_block_bytes : int, default=64 MiB
        Largest (queries x indexed points) distance block held at once.

    Attributes
    ----------
    classes_ : ndarray
        The estimator's classes; output column ``j`` scores ``classes_[j]``.
    n_neighbors : int
        ``k``.
    weighting, weighting_temperature : str, float
        The estimator's benign/hardening weighting.
    metric : {'euclidean', 'cosine'}
        The estimator's neighbour metric.
    input_shape : tuple of int
        One sample's shape as the network sees it; inputs may also be given
        flat (``(n, n_features)``).
    box : (ndarray, ndarray) or None
        The box of the input space (the estimator's ``clip``, mapped back
        through a pipeline): the default ``clip`` of an attack on the module.
    scales_ : list of float
        The distance scale ``s_l`` of each layer.

    See Also
    --------
    KNNAdaptiveAttack : Attacks the vote through this module.

    Notes
    -----
    On the digits (600 training images, 200 test images) the argmax of the
    default module agrees with ``predict`` on at least 99% of clean inputs
    (the test suite checks 97%). Disagreements come from distance ties and
    near-ties of the vote.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_daeknn import DAEkNNClassifier, SoftKNNVote
    >>> X, y = load_iris(return_X_y=True)
    >>> X = minmax_scale(X).astype("float32")
    >>> clf = DAEkNNClassifier(clip=(0, 1), max_epochs=5, random_state=0).fit(X, y)
    >>> vote = SoftKNNVote(clf)
    >>> scores = vote(torch.from_numpy(X))
    >>> bool((scores.argmax(1).numpy() == clf.predict(X)).mean() > 0.9)
    True
    """

    def __init__(
        self,
        estimator: Any,
        *,
        temperature: float = 0.05,
        n_candidates: int | None = None,
        max_block_bytes: int = MAX_BLOCK_BYTES,
    ) -> None:
        super().__init__()
        if not (isinstance(temperature, int | float) and temperature > 0):
            raise ValueError(f"temperature must be a float > 0; got {temperature!r}.")
        parts = pipeline_parts(estimator)
        steps, final = parts if parts is not None else ([], estimator)
        if not is_daeknn(final):
            raise ValueError(
                "SoftKNNVote needs a fitted DAEkNNClassifier (or a Pipeline ending "
                f"in one); got {type(final).__name__}. For a kNN on raw features "
                "use SoftKNNVote.from_arrays(X, y)."
            )
        shape = tuple(final.input_shape_)
        device = torch.device(final.net_.device)
        self.network = final.net_.module_
        self.preprocess = torch_preprocessing(steps, shape)
        self.layers = tuple(final.layers_)
        self.reducers = list(final.layer_reducers_)
        self.estimator = estimator
        self.box = None
        if final.clip is not None:
            low = np.full(shape, float(final.clip[0]))
            high = np.full(shape, float(final.clip[1]))
            self.box = preimage_box(self.preprocess, low, high)
        labels_b = torch.as_tensor(np.asarray(final.benign_labels_), device=device)
        sets = [
            [
                _Bank(self._points(ix, device, final), labels_b, len(final.classes_))
                for ix in final.benign_indexes_
            ]
        ]
        if final.hardening_indexes_ is not None:
            labels_a = torch.as_tensor(
                np.asarray(final.hardening_labels_), device=device
            )
            sets.append(
                [
                    _Bank(
                        self._points(ix, device, final), labels_a, len(final.classes_)
                    )
                    for ix in final.hardening_indexes_
                ]
            )
        self._setup(
            sets,
            classes=np.asarray(final.classes_),
            n_neighbors=int(final.n_neighbors),
            weighting=str(final.weighting),
            weighting_temperature=float(final.temperature),
            metric=getattr(final, "metric", "euclidean"),
            input_shape=shape,
            temperature=float(temperature),
            n_candidates=n_candidates,
            max_block_bytes=int(max_block_bytes),
        )

    @staticmethod
    def _points(index: Any, device: torch.device, estimator: Any) -> torch.Tensor:
        data = np.asarray(index.data, dtype=np.float32)
        points = torch.from_numpy(data).to(device)  # shares memory on the CPU
        if getattr(estimator, "metric", "euclidean") == "cosine":
            points = F.normalize(points, dim=1)
        return points

    @classmethod
    def from_arrays(
        cls,
        X: Any,
        y: Any,
        *,
        n_neighbors: int = 5,
        input_shape: tuple[int, ...] | None = None,
        clip: Any = None,
        temperature: float = 0.05,
        n_candidates: int | None = None,
        max_block_bytes: int = MAX_BLOCK_BYTES,
    ) -> SoftKNNVote:
        """A soft vote over raw inputs: a kNN such as ``KNeighborsClassifier``.

        The features are the inputs themselves (flattened), there is one
        indexed set and the vote is the uniform-weight, Euclidean kNN vote.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The kNN's training inputs.
        y : array-like of shape (n_samples,)
            Their labels.
        n_neighbors : int, default=5
            ``k``.
        input_shape : tuple of int, default=None
            One sample's shape in the module's input; ``None``: flat.
        clip : (low, high) or None, default=None
            The box of the input space (the default ``clip`` of attacks on
            the module); ``None``: no box.
        temperature, n_candidates, max_block_bytes
            As in :class:`SoftKNNVote`.

        Returns
        -------
        vote : SoftKNNVote

        Examples
        --------
        >>> import numpy as np, torch
        >>> X = np.array([[0.0], [0.1], [1.0], [1.1]], dtype=np.float32)
        >>> vote = SoftKNNVote.from_arrays(X, [0, 0, 1, 1], n_neighbors=1)
        >>> vote(torch.tensor([[0.2], [0.9]])).argmax(1).tolist()
        [0, 1]
        """
        X = np.asarray(X, dtype=np.float32)
        X = X.reshape(len(X), -1)
        classes, y_enc = np.unique(np.asarray(y), return_inverse=True)
        if not (
            isinstance(n_neighbors, int | np.integer) and 1 <= n_neighbors <= len(X)
        ):
            raise ValueError(
                f"n_neighbors must be an int in [1, {len(X)}]; got {n_neighbors!r}."
            )
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self.network = None
        self.preprocess = None
        self.layers = ("input",)
        self.reducers = None
        self.estimator = None
        shape = tuple(input_shape) if input_shape is not None else (X.shape[1],)
        from ._threat_model import check_clip_bounds

        self.box = check_clip_bounds(clip, shape)
        bank = _Bank(
            torch.from_numpy(X), torch.as_tensor(y_enc.astype(np.int64)), len(classes)
        )
        self._setup(
            [[bank]],
            classes=classes,
            n_neighbors=int(n_neighbors),
            weighting="uniform",
            weighting_temperature=1.0,
            metric="euclidean",
            input_shape=shape,
            temperature=float(temperature),
            n_candidates=n_candidates,
            max_block_bytes=int(max_block_bytes),
        )
        return self

    def _setup(
        self,
        sets,
        *,
        classes,
        n_neighbors,
        weighting,
        weighting_temperature,
        metric,
        input_shape,
        temperature,
        n_candidates,
        max_block_bytes,
    ) -> None:
        self.classes_ = classes
        self.n_neighbors = n_neighbors
        self.weighting = weighting
        self.weighting_temperature = weighting_temperature
        self.metric = metric
        self.input_shape = input_shape
        self.temperature = temperature
        self.n_candidates = (
            n_neighbors + 10 if n_candidates is None else int(n_candidates)
        )
        if self.n_candidates < n_neighbors:
            raise ValueError(
                f"n_candidates must be at least n_neighbors={n_neighbors}; got "
                f"{n_candidates!r}."
            )
        self.max_block_bytes = max_block_bytes
        self._sets = sets  # [set][layer] -> _Bank
        self.scales_ = [self._scale(sets[0][layer]) for layer in range(len(sets[0]))]

    def _scale(self, bank: _Bank) -> float:
        """Median distance of a sample of indexed points to their k-th neighbour."""
        n = len(bank)
        rows = np.unique(np.linspace(0, n - 1, min(n, _SCALE_SAMPLE)).astype(int))
        q = bank.points[torch.as_tensor(rows, device=bank.points.device)]
        kk = min(self.n_neighbors + 1, n)  # the point itself is at distance 0
        with torch.no_grad():
            kth = torch.cat(
                [
                    torch.topk(d2, kk, dim=1, largest=False).values[:, -1]
                    for _, d2 in bank.blocks(q, self.max_block_bytes)
                ]
            )
        scale = float(kth.sqrt().median())
        return scale if scale > 0 else 1.0

    def _apply(self, fn: Callable, recurse: bool = True) -> SoftKNNVote:
        super()._apply(fn, recurse)
        self._sets = [[bank.apply(fn) for bank in banks] for banks in self._sets]
        return self

    # ------------------------------------------------------------- features

    @property
    def n_classes(self) -> int:
        return len(self.classes_)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The (reduced, for cosine normalised) features of ``x`` at each layer."""
        x = x.reshape(len(x), *self.input_shape)
        if self.preprocess is not None:
            x = self.preprocess(x)
        if self.network is None:
            return [x.reshape(len(x), -1)]
        with eval_mode(self.network):
            outs = layer_outputs(self.network, self.layers, x)
        feats = [r(o.float()) for r, o in zip(self.reducers, outs, strict=True)]
        if self.metric == "cosine":
            feats = [F.normalize(f, dim=1) for f in feats]
        return feats

    def _reported(self, d: torch.Tensor) -> torch.Tensor:
        """Euclidean distances as the estimator reports them (cosine: 1 - cos)."""
        return d * d / 2 if self.metric == "cosine" else d

    # ------------------------------------------------------------- the vote

    def _nearest(self, f: torch.Tensor, bank: _Bank, m: int) -> torch.Tensor:
        """Indices ``(n, m)`` of the ``m`` nearest points of ``bank`` (no grad)."""
        m = min(m, len(bank))
        with torch.no_grad():
            return torch.cat(
                [
                    torch.topk(d2, m, dim=1, largest=False).indices
                    for _, d2 in bank.blocks(f.detach(), self.max_block_bytes)
                ]
            )

    def _candidates(self, f: torch.Tensor, bank: _Bank) -> torch.Tensor:
        """The soft vote's candidates ``(n, m + C)`` (no grad).

        The ``n_candidates`` nearest points, then the nearest point of each
        class, ``-1`` where that point is already among the first. The
        nearest point of every class keeps a gradient toward every class:
        with the nearest points overall alone, the soft vote of an input
        whose candidates all share its class is flat around it.
        """
        m = min(self.n_candidates, len(bank))
        out = []
        with torch.no_grad():
            for _, d2 in bank.blocks(f.detach(), self.max_block_bytes):
                near = torch.topk(d2, m, dim=1, largest=False).indices
                per_class = bank.per_class(d2, 1)[:, :, 0]
                dup = (per_class[:, :, None] == near[:, None, :]).any(2)
                out.append(torch.cat([near, per_class.masked_fill(dup, -1)], 1))
        return torch.cat(out)

    @staticmethod
    def _distances(f: torch.Tensor, bank: _Bank, idx: torch.Tensor) -> torch.Tensor:
        """Euclidean distances ``(n, m)`` from ``f`` to ``bank``'s points ``idx``."""
        pts = bank.points[idx]  # (n, m, d)
        d2 = (f * f).sum(1, keepdim=True) - 2 * torch.einsum("nd,nmd->nm", f, pts)
        return (d2 + bank.sq[idx]).clamp(min=0).add(_TINY).sqrt()

    def _soft_set(self, f: torch.Tensor, bank: _Bank, scale: float, hard=False):
        """Soft class fractions ``(n, C)`` and mean distance ``(n,)`` of one set."""
        k = min(self.n_neighbors, len(bank))
        idx = self._candidates(f, bank)
        valid = idx >= 0
        idx = idx.clamp(min=0)
        d = self._distances(f, bank, idx)
        # Invalid entries (repeats): far beyond every threshold, no gradient.
        d = torch.where(valid, d, d.detach().amax(1, keepdim=True) + 1e3 * scale)
        with torch.no_grad():
            ordered, order = torch.sort(d, dim=1, stable=True)
            kth = ordered[:, k - 1]
            nxt = ordered[:, k] if ordered.shape[1] > k else kth + scale
            tau = (kth + nxt) / 2
        if hard:
            member = torch.zeros_like(d).scatter_(1, order[:, :k], 1.0)
        else:
            member = torch.sigmoid((tau[:, None] - d) / (self.temperature * scale))
        total = member.sum(1).clamp(min=_TINY)
        labels = bank.labels[idx]
        frac = torch.zeros(len(f), self.n_classes, dtype=d.dtype, device=d.device)
        frac = frac.scatter_add(1, labels, member) / total[:, None]
        mean_d = (member * self._reported(d)).sum(1) / total
        return frac, mean_d

    def proba(self, x: torch.Tensor) -> torch.Tensor:
        """The soft ``predict_proba``: rows sum to 1."""
        return self._vote(x, hard=False)

    def exact_proba(self, x: torch.Tensor) -> torch.Tensor:
        """The hard vote (``predict_proba``), recomputed in torch over the points.

        Equals the estimator's ``predict_proba`` up to ties of distance and
        the approximation of a pynndescent index; for a module built
        :meth:`from_arrays`, the vote of ``KNeighborsClassifier`` with
        uniform weights.
        """
        with torch.no_grad():
            return self._vote(x, hard=True)

    def _vote(self, x: torch.Tensor, hard: bool) -> torch.Tensor:
        feats = self.features(x)
        total = 0.0
        for layer, f in enumerate(feats):
            scale = self.scales_[layer]
            frac_b, d_b = self._soft_set(f, self._sets[0][layer], scale, hard)
            if len(self._sets) == 1:
                total = total + frac_b
                continue
            frac_a, d_a = self._soft_set(f, self._sets[1][layer], scale, hard)
            w_b = vote_weights_torch(
                d_b,
                d_a,
                weighting=self.weighting,
                temperature=self.weighting_temperature,
            )[:, None]
            total = total + w_b * frac_b + (1 - w_b) * frac_a
        return total / len(feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``log`` of the soft vote's probabilities, ``(n, n_classes)``."""
        return torch.log(self.proba(x) + _TINY)

    # -------------------------------------------------------- restriction

    def restricted_to(self, x: torch.Tensor, n_per_class: int = 8) -> SoftKNNVote:
        """A view that searches only the candidates of the clean inputs ``x``.

        For each layer and set, the union over the inputs of ``x`` of their
        ``n_per_class`` nearest indexed points of every class and their
        ``n_candidates`` nearest points overall. The view re-selects the
        neighbours inside that union at every forward, so it is a pure
        function of its input; it shares everything else with this module.

        Parameters
        ----------
        x : torch.Tensor
            The clean inputs about to be attacked.
        n_per_class : int, default=8
            Candidates per input and class.

        Returns
        -------
        view : SoftKNNVote
        """
        with torch.no_grad():
            feats = self.features(x)
        view = copy.copy(self)
        view._sets = []
        for banks in self._sets:
            new = []
            for f, bank in zip(feats, banks, strict=True):
                idx = [self._nearest(f, bank, self.n_candidates).flatten()]
                idx += [self._per_class(f, bank, n_per_class).flatten()]
                idx = torch.unique(torch.cat(idx))
                new.append(bank.subset(idx[idx >= 0]))
            view._sets.append(new)
        return view

    def _per_class(self, f: torch.Tensor, bank: _Bank, m: int) -> torch.Tensor:
        """Indices ``(n, C, m)`` of the ``m`` nearest points of each class (no
        grad); ``-1`` where a class has fewer than ``m`` points."""
        with torch.no_grad():
            return torch.cat(
                [
                    bank.per_class(d2, m)
                    for _, d2 in bank.blocks(f.detach(), self.max_block_bytes)
                ]
            )

    def classwise(
        self, n_references: int = 5, temperature: float | None = None
    ) -> ClasswiseKNNScores:
        """The class-wise soft-kNN scores of ASK over this module's points.

        See :class:`ClasswiseKNNScores`.
        """
        return ClasswiseKNNScores(self, n_references, temperature)

    def extra_repr(self) -> str:
        sizes = [len(banks[0]) for banks in self._sets]
        return (
            f"layers={self.layers}, n_neighbors={self.n_neighbors}, "
            f"points per set={sizes}, temperature={self.temperature:g}, "
            f"weighting={self.weighting!r}"
        )


class ClasswiseKNNScores(nn.Module):
    """Class-wise soft-kNN scores (the loss of the ASK attack), as logits.

    Per layer ``l`` and class ``c``, the ``n_references`` nearest indexed
    points of class ``c`` over the benign and hardening sets together,
    re-selected at every forward, give ``s_lc = - mean distance / (T s_l)``;
    the output is ``sum_l log_softmax(s_l)``. Its cross-entropy against the
    true label is the loss of Wang et al.'s ASK attack (with references
    re-selected, as DAEkNN's two sets require); the targeted version pulls
    ``f_l(x)`` toward the references of a chosen wrong class and away from
    the others, as the guide samples of Sitawarin & Wagner (2019) do.

    Parameters
    ----------
    vote : SoftKNNVote
        Whose features and indexed points (or restricted view) are used.
    n_references : int, default=5
        References per layer and class.
    temperature : float, default=None
        ``T``; ``None``: the vote's temperature.

    Examples
    --------
    >>> import numpy as np, torch
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]], dtype=np.float32)
    >>> vote = SoftKNNVote.from_arrays(X, [0, 0, 1, 1], n_neighbors=1)
    >>> vote.classwise(n_references=2)(torch.tensor([[0.2]])).argmax(1).tolist()
    [0]
    """

    def __init__(
        self, vote: SoftKNNVote, n_references: int = 5, temperature: float | None = None
    ) -> None:
        super().__init__()
        self.vote = vote
        self.n_references = int(n_references)
        self.temperature = (
            vote.temperature if temperature is None else float(temperature)
        )
        self.classes_ = vote.classes_
        self.box = vote.box

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vote = self.vote
        n_ref = self.n_references
        total = 0.0
        for layer, f in enumerate(vote.features(x)):
            scale = vote.scales_[layer]
            dists = []
            for banks in vote._sets:
                bank = banks[layer]
                idx = vote._per_class(f, bank, n_ref)  # (n, C, m)
                n, c, m = idx.shape
                flat = idx.reshape(n, c * m)
                d = vote._distances(f, bank, flat.clamp(min=0)).reshape(n, c, m)
                # A class short of points: its missing references are far away.
                dists.append(d.masked_fill(idx < 0, 1e6 * scale))
            d = torch.cat(dists, dim=2)
            nearest = torch.topk(d, min(n_ref, d.shape[2]), dim=2, largest=False).values
            scores = -nearest.mean(2) / (self.temperature * scale)
            total = total + F.log_softmax(scores, dim=1)
        return total
