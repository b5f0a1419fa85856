"""A soft-kNN training loss on the vote layers: the representation for the vote.

Adversarial training (Madry et al.) makes the network's *logits* robust; the
kNN vote reads hidden layers, whose geometry that loss does not ask for. The
ASK defence (Wang et al., "ASK: Adversarial Soft k-Nearest Neighbor Attack
and Defense", IEEE Access 2022) trains on the soft-kNN loss that its attack
maximises, and the soft nearest-neighbour loss of Frosst, Papernot & Hinton
("Analyzing and Improving Representations with the Soft Nearest Neighbor
Loss", ICML 2019) pulls each point toward its class's points in a hidden
layer. :func:`soft_knn_loss` is ASK's class-wise loss computed within a
training batch: per layer ``l``, query ``i`` and class ``c``::

    s_ic = - mean of the n smallest  ||f_l(q_i) - f_l(r_j)|| / (T * m_l)
                over the references r_j of class c
    loss = mean over layers and queries of  CE(softmax_c(s_i), y_i)

The queries are the batch the step trains on (the PGD batch in adversarial
training), the references the clean batch (with gradients through both: the
representation of the clean points moves too), ``n = 5`` (ASK's), ``T`` the
temperature and ``m_l`` the median query-reference distance of the batch in
that layer (held constant for the gradient), which makes ``T`` one number
for every layer. When the queries are the references (standard training),
each query is left out of its own references.

Unlike ASK's defence, the adversarial inputs are the Madry PGD ones (the
loss of the logits), not the ASK attack's, and the references come from the
batch rather than from the whole training set: one extra forward pass per
batch, no memory bank.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

__all__ = ["N_REFERENCES", "soft_knn_loss"]

#: References per query and class (ASK's ``n``).
N_REFERENCES = 5


def soft_knn_loss(
    queries: Sequence[torch.Tensor],
    references: Sequence[torch.Tensor] | None,
    y_queries: torch.Tensor,
    y_references: torch.Tensor,
    *,
    temperature: float,
    n_references: int = N_REFERENCES,
    cosine: bool = False,
) -> torch.Tensor:
    """ASK's class-wise soft-kNN cross-entropy of ``queries`` against ``references``.

    Parameters
    ----------
    queries : list of torch.Tensor of shape (n_queries, ...)
        Layer outputs of the inputs trained on, one tensor per layer
        (flattened here).
    references : list of torch.Tensor of shape (n_references_total, ...) or None
        The same layers' outputs of the reference points; ``None``: the
        queries themselves, each then left out of its own references.
    y_queries, y_references : torch.Tensor of int
        Labels.
    temperature : float
        ``T``, relative to the batch's median distance in each layer.
    n_references : int, default=5
        Nearest references per class averaged.
    cosine : bool, default=False
        L2-normalise the layer outputs first (the vote's ``metric='cosine'``).

    Returns
    -------
    loss : torch.Tensor
        A scalar; ``0`` when no query has a reference of its own class.

    Examples
    --------
    >>> import torch
    >>> f = torch.tensor([[0.0], [0.1], [1.0], [1.1]])
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> near = soft_knn_loss([f], None, y, y, temperature=0.1)
    >>> mixed = torch.tensor([0, 1, 0, 1])
    >>> far = soft_knn_loss([f], None, mixed, mixed, temperature=0.1)
    >>> bool(near < far)
    True
    """
    self_refs = references is None
    refs = queries if self_refs else references
    n_classes = int(torch.cat([y_queries, y_references]).max()) + 1
    total = queries[0].new_zeros(())
    for q, r in zip(queries, refs, strict=True):
        q = q.reshape(len(q), -1).float()
        r = r.reshape(len(r), -1).float()
        if cosine:
            q, r = F.normalize(q, dim=1), F.normalize(r, dim=1)
        d = torch.cdist(q, r)
        invalid = torch.zeros_like(d, dtype=torch.bool)
        if self_refs:
            invalid.fill_diagonal_(True)
        with torch.no_grad():
            kept = d[~invalid]
            scale = kept.median() if len(kept) else d.new_ones(())
            scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        d = d / (scale * temperature)
        scores = []
        for c in range(n_classes):
            mask = invalid | (y_references != c)[None, :]
            m = min(n_references, len(r))
            vals = torch.topk(d.masked_fill(mask, torch.inf), m, dim=1, largest=False)
            valid = torch.isfinite(vals.values)
            count = valid.sum(1)
            mean = vals.values.masked_fill(~valid, 0).sum(1) / count.clamp(min=1)
            scores.append(torch.where(count > 0, -mean, -torch.inf))
        scores = torch.stack(scores, 1)
        has_own = torch.isfinite(scores.gather(1, y_queries[:, None])[:, 0])
        if has_own.any():
            total = total + F.cross_entropy(scores[has_own], y_queries[has_own])
    return total / len(queries)
