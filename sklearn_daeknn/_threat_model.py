"""The threat model of every attack: a norm ball intersected with the data box.

An attack may move an input ``x`` to any point of ``B(x, eps) ∩ box``, where
``B`` is the L-infinity or the L2 ball and the box holds the valid inputs
(per feature, possibly unbounded on some sides). :class:`ThreatModel` knows
how to start inside that set, how to take a steepest-ascent step (the sign of
the gradient for L-infinity, the normalised gradient for L2) and how to
project back; PGD, the adaptive attacks and the AutoAttack wrapper all use
it, so that there is one definition of what an attack may do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["NORMS", "ThreatModel", "check_norm", "check_clip_bounds"]

#: The norms of the threat model, by their canonical names.
NORMS = ("Linf", "L2")

#: The accepted spellings of each norm (the canonical one first).
NORM_ALIASES = {"Linf": "Linf", "inf": "Linf", "L2": "L2", "2": "L2"}

# Guards a division by a gradient or perturbation norm that is exactly 0.
_TINY = 1e-12


def check_norm(norm: Any) -> str:
    """The canonical name (``'Linf'`` or ``'L2'``) of an accepted spelling.

    Examples
    --------
    >>> check_norm("inf"), check_norm("L2")
    ('Linf', 'L2')
    """
    canonical = NORM_ALIASES.get(norm) if isinstance(norm, str) else None
    if canonical is None:
        raise ValueError(
            f"norm must be one of {sorted(NORM_ALIASES)} ('inf' and '2' are "
            f"aliases of 'Linf' and 'L2'); got {norm!r}."
        )
    return canonical


def check_clip_bounds(
    clip: Any, sample_shape: tuple[int, ...], *, name: str = "clip"
) -> tuple[np.ndarray, np.ndarray] | None:
    """Validate a box ``(low, high)`` and broadcast it to one sample's shape.

    ``low`` and ``high`` are numbers or arrays broadcastable to
    ``sample_shape`` (per-feature bounds; ``-inf``/``inf`` leave a side
    open). Returns float32 arrays of shape ``sample_shape``, or ``None`` for
    no box.
    """
    if clip is None:
        return None
    try:
        low, high = clip
        low = np.asarray(low, dtype=np.float64)
        high = np.asarray(high, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be None or a pair (low, high) of numbers or per-feature "
            f"arrays; got {clip!r}."
        ) from None
    if low.ndim == 0 and high.ndim == 0 and not low < high:
        raise ValueError(f"{name} must have low < high; got {clip!r}.")
    try:
        low = np.broadcast_to(low, sample_shape).astype(np.float32)
        high = np.broadcast_to(high, sample_shape).astype(np.float32)
    except ValueError:
        raise ValueError(
            f"{name}'s bounds have shapes {low.shape} and {high.shape}, which do "
            f"not broadcast to one sample's shape {sample_shape}."
        ) from None
    if np.isnan(low).any() or np.isnan(high).any() or not np.all(low <= high):
        raise ValueError(
            f"{name} must be a pair (low, high) with low <= high everywhere and "
            f"no NaN; got {clip!r}."
        )
    return low, high


class ThreatModel:
    """``B_p(x, eps) ∩ box`` for ``p`` in {inf, 2}, on batches of tensors.

    Parameters
    ----------
    eps : float
        Radius of the ball.
    norm : {'Linf', 'L2'}
        The ball's norm (``'inf'`` and ``'2'`` are accepted too).
    lower, upper : torch.Tensor or None
        The box, broadcastable to one sample's shape (infinite entries leave
        a side open); ``None``: no box.

    Examples
    --------
    >>> import torch
    >>> threat = ThreatModel(0.5, "L2", torch.tensor(0.0), torch.tensor(1.0))
    >>> x = torch.full((1, 4), 0.5)
    >>> x_adv = threat.project(x + 1.0, x)
    >>> float(torch.linalg.vector_norm(x_adv - x)) <= 0.5 + 1e-6
    True
    """

    def __init__(
        self,
        eps: float,
        norm: str,
        lower: torch.Tensor | None = None,
        upper: torch.Tensor | None = None,
    ) -> None:
        self.eps = float(eps)
        self.norm = check_norm(norm)
        self.lower = lower
        self.upper = upper

    def to(self, device: Any) -> ThreatModel:
        """The same threat model with its box on ``device``."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return ThreatModel(self.eps, self.norm, move(self.lower), move(self.upper))

    def clamp_box(self, x: torch.Tensor, *, inplace: bool = True) -> torch.Tensor:
        """Clamp ``x`` into the box (in place unless ``inplace=False``)."""
        if not inplace:
            if self.lower is not None:
                x = torch.maximum(x, self.lower)
            if self.upper is not None:
                x = torch.minimum(x, self.upper)
            return x
        if self.lower is not None:
            torch.maximum(x, self.lower, out=x)
        if self.upper is not None:
            torch.minimum(x, self.upper, out=x)
        return x

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Move ``x_adv`` into ``B(x, eps) ∩ box``, in place.

        For L-infinity this is the exact (Euclidean) projection. For L2 the
        perturbation is first scaled into the ball and then clamped into the
        box: clamping moves every coordinate toward ``x``'s (which lies in the
        box), so the result stays in both.
        """
        if self.norm == "Linf":
            torch.maximum(x_adv, x - self.eps, out=x_adv)
            torch.minimum(x_adv, x + self.eps, out=x_adv)
        else:
            delta = x_adv.sub_(x)
            norms = _l2(delta)
            scale = torch.where(
                norms > self.eps, self.eps / norms.clamp(min=_TINY), 1.0
            )
            delta.mul_(scale.view(-1, *([1] * (x.ndim - 1))))
            x_adv = delta.add_(x)
        return self.clamp_box(x_adv)

    def random_start(self, x: torch.Tensor, generator: torch.Generator | None):
        """A random point of ``B(x, eps) ∩ box`` (uniform in the ball, then boxed).

        The noise is drawn on the CPU from ``generator``, so that the same
        seed gives the same start on every device.
        """
        shape = tuple(x.shape)
        if self.norm == "Linf":
            noise = torch.rand(shape, generator=generator, dtype=x.dtype)
            delta = (2 * noise - 1) * self.eps
        else:
            direction = torch.randn(shape, generator=generator, dtype=x.dtype)
            direction /= _l2(direction).clamp(min=_TINY).view(-1, *[1] * (x.ndim - 1))
            dim = math.prod(shape[1:]) or 1
            radius = torch.rand(shape[0], generator=generator, dtype=x.dtype)
            radius = self.eps * radius ** (1.0 / dim)
            delta = direction * radius.view(-1, *[1] * (x.ndim - 1))
        return self.project(x + delta.to(x.device), x)

    def ascent_direction(self, grad: torch.Tensor) -> torch.Tensor:
        """The steepest-ascent direction of unit norm: ``sign(g)`` or ``g/||g||_2``.

        Computed in place on ``grad``.
        """
        if self.norm == "Linf":
            return grad.sign_()
        norms = _l2(grad).clamp(min=_TINY)
        return grad.div_(norms.view(-1, *[1] * (grad.ndim - 1)))

    def step(
        self, x_adv: torch.Tensor, x: torch.Tensor, grad: torch.Tensor, step_size: float
    ) -> torch.Tensor:
        """One projected ascent step, in place on ``x_adv`` (and ``grad``)."""
        x_adv.add_(self.ascent_direction(grad), alpha=float(step_size))
        return self.project(x_adv, x)

    def __repr__(self) -> str:
        box = "no box" if self.lower is None and self.upper is None else "boxed"
        return f"ThreatModel(eps={self.eps:g}, norm={self.norm!r}, {box})"


def _l2(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norms of a batch."""
    return torch.linalg.vector_norm(t.reshape(len(t), -1), dim=1)
