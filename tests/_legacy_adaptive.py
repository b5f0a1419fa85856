"""The first KNNAdaptiveAttack, kept as the baseline the new one must beat.

An adaptive L-infinity attack on the kNN vote itself (not on the network).

Transfer PGD differentiates the network's cross-entropy and hopes the kNN
follows; attacks on the neighbour search (Sitawarin & Wagner, 2019, "On the
Robustness of Deep K-Nearest Neighbors") move the layer representations
``f_l(x)`` directly toward training points of another class. This module
implements that idea against a fitted
:class:`~sklearn_daeknn.DAEkNNClassifier`, in exactly the (width-reduced)
feature space its indexes search, and against both its benign and its
hardening sets.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from sklearn_daeknn._features import layer_outputs
from sklearn_daeknn._targets import attack_mode as _AttackMode
from sklearn_daeknn._validation import check_box, check_clip


def _ball_box(x, eps, clip):
    lower, upper = x - eps, x + eps
    if clip is not None:
        lower.clamp_(min=clip[0])
        upper.clamp_(max=clip[1])
    return lower, upper


def _project(x, lower, upper):
    return torch.clamp(x, lower, upper, out=x)


def _start(x, eps, lower, upper, random_start, generator):
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return _project(x + (2 * noise.to(x.device) - 1) * eps, lower, upper)


def progress(iterable, **kwargs):
    return iterable


__all__ = ["LegacyKNNAdaptiveAttack"]

# The guide and opponent pools are re-selected every this many steps.
_REFRESH_EVERY = 5
# Bytes of one (queries x points) block of squared distances.
_BLOCK_BYTES = 64 * 2**20


class _Bank:
    """One layer's indexed features (benign or hardening) and their labels."""

    def __init__(self, layer: int, data: np.ndarray, labels: np.ndarray, device):
        self.layer = layer
        self.data = torch.as_tensor(np.asarray(data, dtype=np.float32), device=device)
        self.sq = (self.data * self.data).sum(1)
        self.labels = torch.as_tensor(labels, dtype=torch.long, device=device)

    def sq_distances(self, f: torch.Tensor) -> torch.Tensor:
        """Squared distances ``(n_queries, n_points)`` from ``f`` (no grad)."""
        d2 = torch.addmm(self.sq, f, self.data.T, beta=1, alpha=-2)
        d2 += (f * f).sum(1, keepdim=True)
        return d2.clamp_(min=0)


def _smallest(d2: torch.Tensor, mask: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of the ``m`` smallest entries of each row among ``mask``."""
    masked = d2.masked_fill(~mask, math.inf)
    return torch.topk(masked, min(m, d2.shape[1]), dim=1, largest=False).indices


class LegacyKNNAdaptiveAttack:
    """The adaptive attack of release 0.1 (guides and opponents, PGD), frozen.

    Only for tests: the new KNNAdaptiveAttack must be at least as strong.
    """

    def __init__(
        self,
        eps: float = 0.3,
        *,
        step_size: float | None = None,
        n_steps: int = 40,
        n_restarts: int = 1,
        n_guides: int = 16,
        temperature: float = 0.5,
        n_target_classes: int = 1,
        clip: tuple[float, float] | None = (0.0, 1.0),
        batch_size: int = 128,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.eps = eps
        self.step_size = step_size
        self.n_steps = n_steps
        self.n_restarts = n_restarts
        self.n_guides = n_guides
        self.temperature = temperature
        self.n_target_classes = n_target_classes
        self.clip = clip
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- parts

    @staticmethod
    def _features(estimator: Any, module, x: torch.Tensor) -> list[torch.Tensor]:
        outs = layer_outputs(module, estimator.layers_, x)
        reducers = estimator.layer_reducers_
        return [r(o.float()) for r, o in zip(reducers, outs, strict=True)]

    def _banks(self, estimator: Any, device) -> list[_Bank]:
        sets = [(estimator.benign_indexes_, estimator.benign_labels_)]
        if getattr(estimator, "hardening_indexes_", None) is not None:
            sets.append((estimator.hardening_indexes_, estimator.hardening_labels_))
        return [
            _Bank(layer, index.data, labels, device)
            for indexes, labels in sets
            for layer, index in enumerate(indexes)
        ]

    def _rank_targets(
        self,
        banks: list[_Bank],
        feats: list[torch.Tensor],
        y: torch.Tensor,
        k: int,
        n_classes: int,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Wrong classes by nearness (n, n_classes - 1) and per-bank scales."""
        cost = torch.zeros(len(y), n_classes, device=y.device)
        scales = []
        for bank in banks:
            d2 = bank.sq_distances(feats[bank.layer])
            kk = min(k, d2.shape[1])
            scale = torch.topk(d2, kk, dim=1, largest=False).values[:, -1]
            scale = scale.clamp(min=1e-12 + 1e-6 * float(scale.mean()))
            scales.append(scale)
            for c in range(n_classes):
                mask = (bank.labels == c)[None, :].expand_as(d2)
                near = _smallest(d2, mask, kk)
                dist = d2.gather(1, near).mean(1)
                cost[:, c] += torch.nan_to_num(dist, posinf=1e30) / scale
        cost.scatter_(1, y[:, None], math.inf)
        order = torch.argsort(cost, dim=1, stable=True)[:, : n_classes - 1]
        return order, scales

    def _pools(self, banks, feats, target: torch.Tensor) -> list[tuple]:
        """Per bank: the union of the selected points, and per-row masks.

        Each row's guides and opponents are marked in ``(n, n_union)`` masks
        over the union of all rows' selections, so that the loss is one
        matrix product per bank rather than a gather per row.
        """
        m = self.n_guides
        pools = []
        for bank in banks:
            d2 = bank.sq_distances(feats[bank.layer])
            is_target = bank.labels[None, :] == target[:, None]
            guides = _smallest(d2, is_target, m)
            opponents = _smallest(d2, ~is_target, m)
            # Rows with fewer than m points of a kind picked masked (inf) ones.
            ok_g = torch.isfinite(d2.gather(1, guides))
            ok_o = torch.isfinite(d2.gather(1, opponents))
            union, inverse = torch.unique(
                torch.cat([guides, opponents], dim=1), return_inverse=True
            )
            n, n_guides = guides.shape
            guide = torch.zeros(n, len(union), dtype=torch.bool, device=d2.device)
            valid = torch.zeros_like(guide)
            guide.scatter_(1, inverse[:, :n_guides], ok_g)
            valid.scatter_(1, inverse[:, n_guides:], ok_o)
            valid |= guide
            pools.append((bank.data[union], bank.sq[union], guide, valid))
        return pools

    def _loss(self, banks, pools, scales, feats) -> torch.Tensor:
        loss = 0.0
        for bank, (points, sq, guide, valid), scale in zip(
            banks, pools, scales, strict=True
        ):
            f = feats[bank.layer]
            d2 = torch.addmm(sq, f, points.T, beta=1, alpha=-2)
            d2 = d2 + (f * f).sum(1, keepdim=True)
            logits = -d2 / (scale[:, None] * self.temperature)
            all_ = torch.logsumexp(logits.masked_fill(~valid, -math.inf), dim=1)
            tgt = torch.logsumexp(logits.masked_fill(~guide, -math.inf), dim=1)
            loss = loss + (all_ - tgt).sum()
        return loss

    def _attack_batch(
        self,
        estimator: Any,
        module,
        banks: list[_Bank],
        x: torch.Tensor,
        target: torch.Tensor,
        scales: list[torch.Tensor],
        generator: torch.Generator,
        clip,
    ) -> torch.Tensor:
        lower, upper = _ball_box(x, float(self.eps), clip)
        x_adv = _start(x, float(self.eps), lower, upper, True, generator)
        step = self.step_size
        if step is None:
            step = 2.5 * float(self.eps) / max(1, self.n_steps)
        pools = None
        for t in range(self.n_steps):
            if t % _REFRESH_EVERY == 0:
                with torch.no_grad():
                    pools = self._pools(
                        banks, self._features(estimator, module, x_adv), target
                    )
            x_adv.requires_grad_(True)
            loss = self._loss(
                banks, pools, scales, self._features(estimator, module, x_adv)
            )
            (grad,) = torch.autograd.grad(loss, x_adv)
            with torch.no_grad():
                x_adv = _project(x_adv - step * grad.sign(), lower, upper)
        return x_adv.detach()

    # -------------------------------------------------------------- generate

    def generate(self, model: Any, X: Any, y: Any = None) -> np.ndarray:
        """Return adversarial versions of ``X`` against ``model``'s kNN vote.

        Parameters
        ----------
        model : fitted DAEkNNClassifier
            The estimator whose layers, width reducers and indexes are used.
        X : array-like of shape (n_samples, n_features)
            Clean inputs in the estimator's 2-D layout.
        y : array-like of shape (n_samples,), default=None
            True labels. ``None`` uses the estimator's own predictions.

        Returns
        -------
        X_adv : ndarray of float32 of shape (n_samples, n_features)
        """
        if not hasattr(model, "benign_indexes_"):
            raise TypeError(
                "KNNAdaptiveAttack attacks the kNN vote of a fitted "
                f"DAEkNNClassifier; got {type(model).__name__}. Use PGD to "
                "attack a network."
            )
        check_is_fitted(model)
        module, device = model.net_.module_, torch.device(model.net_.device)
        input_shape = model.input_shape_

        def encode(labels):
            return np.searchsorted(model.classes_, labels)

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != model.n_features_in_:
            raise ValueError(
                f"X must have shape (n_samples, {model.n_features_in_}); got {X.shape}."
            )
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinity.")
        clip = check_clip(self.clip)
        check_box(X, clip, name="X")
        if y is None:
            y = model.predict(X)
        y = np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y have different numbers of samples: {X.shape[0]} and "
                f"{y.shape[0]}."
            )
        y_enc = encode(y)
        out = X.copy()
        if self.eps == 0 or self.n_steps == 0 or len(X) == 0:
            return out
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        generator = torch.Generator().manual_seed(int(seed))
        banks = self._banks(model, device)
        n_targets = min(self.n_target_classes, len(model.classes_) - 1)
        n_batches = math.ceil(len(X) / self.batch_size)
        with _AttackMode(module):
            for start in progress(
                range(0, len(X), self.batch_size),
                total=n_batches,
                desc=f"kNN adaptive eps={self.eps:g}",
                verbose=self.verbose,
            ):
                stop = min(start + self.batch_size, len(X))
                x = torch.from_numpy(X[start:stop]).reshape(-1, *input_shape)
                x = x.to(device)
                yb = torch.as_tensor(y_enc[start:stop], dtype=torch.long, device=device)
                with torch.no_grad():
                    feats = self._features(model, module, x)
                    order, scales = self._rank_targets(
                        banks, feats, yb, model.n_neighbors, len(model.classes_)
                    )
                best = np.full(stop - start, np.inf)
                todo = np.arange(stop - start)
                for restart in range(self.n_restarts):
                    if len(todo) == 0:
                        break
                    sel = torch.as_tensor(todo, device=device)
                    x_adv = self._attack_batch(
                        model,
                        module,
                        banks,
                        x[sel],
                        order[sel, restart % n_targets],
                        [s[sel] for s in scales],
                        generator,
                        clip,
                    )
                    x_np = x_adv.cpu().numpy().reshape(len(todo), -1)
                    proba = model.predict_proba(x_np)
                    true = y_enc[start + todo]
                    p_true = proba[np.arange(len(todo)), true]
                    correct = proba.argmax(1) == true
                    score = p_true + correct  # any misclassification beats all
                    better = score < best[todo]
                    out[start + todo[better]] = x_np[better]
                    best[todo[better]] = score[better]
                    todo = todo[best[todo] >= 1]  # still classified correctly
        return out
