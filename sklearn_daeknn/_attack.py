"""Projected gradient descent (PGD) under the L-infinity norm.

:func:`pgd_perturb` works on one batch of tensors and is what the adversarial
training step calls; :class:`PGD` is the NumPy-in, NumPy-out attack that users
and the estimator call on whole data sets, against any torch module or a
fitted :class:`~sklearn_daeknn.DAEkNNClassifier`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from torch import nn
from torch.nn import functional as F

from ._progress import progress
from ._validation import check_box, check_clip

__all__ = ["PGD", "default_step_size", "pgd_perturb"]


def default_step_size(eps: float, n_steps: int) -> float:
    """Madry et al.'s rule of thumb: ``2.5 * eps / n_steps``.

    Examples
    --------
    >>> default_step_size(0.3, 10)
    0.075
    """
    return 2.5 * float(eps) / int(n_steps)


class _EvalMode:
    """Put a module in eval mode and give back the caller's mode afterwards."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __enter__(self) -> nn.Module:
        self.was_training = self.module.training
        self.module.eval()
        return self.module

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was_training)


class _AttackMode(_EvalMode):
    """Eval mode, and the parameters frozen; both given back afterwards.

    An attack needs the gradient with respect to the input only.
    ``torch.autograd.grad`` for the input alone already skips the parameters'
    gradients; freezing them also stops autograd from saving the tensors
    those gradients would need (about 3% of a PGD step on ``MNISTCNN``,
    docs/results/scale.md).
    """

    def __enter__(self) -> nn.Module:
        self.frozen = [p for p in self.module.parameters() if p.requires_grad]
        for param in self.frozen:
            param.requires_grad_(False)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        for param in self.frozen:
            param.requires_grad_(True)
        super().__exit__(*exc)


def _ball_box(
    x: torch.Tensor, eps: float, clip: tuple[float, float] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds of ``B_inf(x, eps)`` intersected with the box ``clip``."""
    lower, upper = x - eps, x + eps
    if clip is not None:
        lower.clamp_(min=clip[0])
        upper.clamp_(max=clip[1])
    return lower, upper


def _project(x: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Project ``x`` onto the bounds of :func:`_ball_box`, in place."""
    return torch.clamp(x, lower, upper, out=x)


def _start(
    x: torch.Tensor,
    eps: float,
    lower: torch.Tensor,
    upper: torch.Tensor,
    random_start: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """PGD's first iterate: ``x`` or a uniform random point of the ball."""
    if not random_start:
        return x.clone()
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return _project(x + (2 * noise.to(x.device) - 1) * eps, lower, upper)


def pgd_perturb(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float | None = None,
    n_steps: int = 10,
    random_start: bool = True,
    clip: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return PGD adversarial examples for one batch of tensors.

    The module runs in eval mode with its parameters frozen (both restored
    afterwards): only the gradient with respect to the input is computed, and
    the parameters' ``.grad`` are not touched.

    Parameters
    ----------
    module : torch.nn.Module
        Maps ``x`` to logits.
    x : torch.Tensor
        Clean inputs, on the module's device.
    y : torch.Tensor of int64
        Labels whose cross-entropy loss the attack increases.
    eps : float
        Radius of the L-infinity ball around ``x``.
    step_size : float, default=None
        Size of each signed-gradient step; ``None`` means
        ``2.5 * eps / n_steps``.
    n_steps : int, default=10
        Number of steps.
    random_start : bool, default=True
        Start from a uniform random point of the ball.
    clip : (float, float) or None, default=None
        The data box; the result stays inside it.
    generator : torch.Generator, default=None
        Source of the random start (CPU generator).

    Returns
    -------
    x_adv : torch.Tensor
        Same shape, dtype and device as ``x``; ``x`` itself is not modified.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> x, y = torch.rand(5, 4), torch.tensor([0, 1, 2, 0, 1])
    >>> x_adv = pgd_perturb(net, x, y, eps=0.1, clip=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """
    x = x.detach()
    if eps == 0 or n_steps == 0:
        return x.clone()
    if step_size is None:
        step_size = default_step_size(eps, n_steps)
    lower, upper = _ball_box(x, eps, clip)
    x_adv = _start(x, eps, lower, upper, random_start, generator)
    with _AttackMode(module):
        for _ in range(n_steps):
            x_adv.requires_grad_(True)
            loss = F.cross_entropy(module(x_adv), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_adv)
            # In place: the graph of this step is gone, x_adv is free to reuse.
            x_adv = x_adv.detach().add_(grad.sign_(), alpha=step_size)
            _project(x_adv, lower, upper)
    return x_adv


def _resolve_target(model: Any) -> tuple[nn.Module, Any, tuple[int, ...] | None, Any]:
    """Find the torch module behind ``model`` and how to feed it.

    Returns ``(module, device, input_shape, label_encoder)``; the label encoder
    maps user labels to the module's output indices (``None``: labels are
    already indices).
    """
    if isinstance(model, nn.Module):
        device = next(model.parameters(), torch.empty(0)).device
        return model, device, None, None
    net = getattr(model, "net_", None)
    if net is not None and hasattr(model, "classes_"):
        # A fitted DAEkNNClassifier: attack its network.
        classes = model.classes_

        def encode(labels: np.ndarray) -> np.ndarray:
            idx = np.searchsorted(classes, labels)
            idx = np.clip(idx, 0, len(classes) - 1)
            if not np.all(classes[idx] == labels):
                unseen = np.setdiff1d(labels, classes)
                raise ValueError(
                    f"y contains labels unseen at fit: {unseen[:5].tolist()}; "
                    f"the model knows {classes.tolist()}."
                )
            return idx

        return net.module_, torch.device(net.device), model.input_shape_, encode
    module = getattr(model, "module_", None)
    if isinstance(module, nn.Module):
        # A fitted skorch net.
        return module, torch.device(model.device), None, None
    raise TypeError(
        "model must be a torch.nn.Module, a fitted skorch net or a fitted "
        f"DAEkNNClassifier; got {type(model).__name__}."
    )


class _Attack:
    """Settings handling shared by the attacks: report and validate them."""

    _parameter_constraints: dict = {}

    @staticmethod
    def _constraints(**own: list) -> dict:
        """The settings every attack has, around the attack's ``own`` ones."""
        return {
            "eps": [Interval(Real, 0, None, closed="left")],
            "step_size": [None, Interval(Real, 0, None, closed="neither")],
            "n_steps": [Interval(Integral, 0, None, closed="left")],
            **own,
            "clip": [None, tuple, list],
            "batch_size": [Interval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
            "verbose": ["verbose"],
        }

    def get_params(self) -> dict[str, Any]:
        """The attack's settings, as a dict (for reports)."""
        return {name: getattr(self, name) for name in self._parameter_constraints}

    def _validate(self) -> None:
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(),
            caller_name=type(self).__name__,
        )
        check_clip(self.clip)


class PGD(_Attack):
    """L-infinity projected gradient descent (Madry et al., 2018).

    ``x^{t+1} = Proj_{B(x, eps) ∩ box}(x^t + step_size * sign(grad CE(f(x^t), y)))``
    from a random start in the ball.

    Parameters
    ----------
    eps : float, default=0.3
        Radius of the L-infinity ball; ``0`` returns the input unchanged.
    step_size : float, default=None
        Step size; ``None`` means ``2.5 * eps / n_steps``.
    n_steps : int, default=10
        Number of steps.
    random_start : bool, default=True
        Start from a uniform random point of the ball.
    clip : (float, float) or None, default=(0.0, 1.0)
        The data box. Inputs must lie inside it; outputs stay inside it.
    batch_size : int, default=256
        Samples attacked at once.
    random_state : int, RandomState instance or None, default=None
        Seeds the random start.
    verbose : int, default=0
        Show a progress bar when positive.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sklearn_daeknn import PGD
    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> X = np.random.RandomState(0).rand(10, 4).astype(np.float32)
    >>> y = np.arange(10) % 3
    >>> X_adv = PGD(eps=0.1, random_state=0).generate(net, X, y)
    >>> bool(np.abs(X_adv - X).max() <= 0.1 + 1e-6)
    True
    """

    _parameter_constraints: dict = _Attack._constraints(random_start=["boolean"])

    def __init__(
        self,
        eps: float = 0.3,
        *,
        step_size: float | None = None,
        n_steps: int = 10,
        random_start: bool = True,
        clip: tuple[float, float] | None = (0.0, 1.0),
        batch_size: int = 256,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.eps = eps
        self.step_size = step_size
        self.n_steps = n_steps
        self.random_start = random_start
        self.clip = clip
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def __repr__(self) -> str:
        return (
            f"PGD(eps={self.eps!r}, step_size={self.step_size!r}, "
            f"n_steps={self.n_steps!r}, random_start={self.random_start!r}, "
            f"clip={self.clip!r})"
        )

    def generate(self, model: Any, X: Any, y: Any = None) -> np.ndarray:
        """Return adversarial versions of ``X``.

        Parameters
        ----------
        model : torch.nn.Module, fitted skorch net or fitted DAEkNNClassifier
            The network to attack. For a DAEkNNClassifier its network
            ``net_`` is attacked and ``X`` is in the estimator's 2-D layout.
        X : array-like
            Clean inputs: the module's input shape with a leading batch axis,
            or 2-D ``(n_samples, n_features)`` for a DAEkNNClassifier.
        y : array-like of shape (n_samples,), default=None
            True labels. ``None`` uses the model's own predictions (which
            avoids label leaking).

        Returns
        -------
        X_adv : ndarray of float32, same shape as ``X``
        """
        self._validate()
        module, device, input_shape, encode = _resolve_target(model)
        X = np.asarray(X, dtype=np.float32)
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinity.")
        check_box(X, self.clip, name="X")
        if y is not None:
            y = np.asarray(y)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"X and y have different numbers of samples: {X.shape[0]} "
                    f"and {y.shape[0]}."
                )
            y = encode(y) if encode is not None else y
        x_all = X.reshape(-1, *input_shape) if input_shape is not None else X
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        generator = torch.Generator().manual_seed(int(seed))
        clip = None if self.clip is None else tuple(map(float, self.clip))
        out = np.empty_like(x_all)
        n_batches = math.ceil(len(x_all) / self.batch_size)
        for start in progress(
            range(0, len(x_all), self.batch_size),
            total=n_batches,
            desc=f"PGD eps={self.eps:g}",
            verbose=self.verbose,
        ):
            xb = torch.from_numpy(x_all[start : start + self.batch_size]).to(device)
            if y is None:
                with torch.inference_mode(), _EvalMode(module):
                    yb = module(xb).argmax(1)
                yb = yb.clone()
            else:
                yb = torch.as_tensor(
                    y[start : start + self.batch_size], dtype=torch.long, device=device
                )
            adv = pgd_perturb(
                module,
                xb,
                yb,
                eps=float(self.eps),
                step_size=self.step_size,
                n_steps=self.n_steps,
                random_start=self.random_start,
                clip=clip,
                generator=generator,
            )
            out[start : start + len(adv)] = adv.cpu().numpy()
        return out.reshape(X.shape)
