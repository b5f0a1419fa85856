"""Projected gradient descent (PGD), and what every attack shares.

:func:`pgd_perturb` works on one batch of tensors and is what the adversarial
training step calls; :class:`PGD` is the NumPy-in, NumPy-out attack that users
and the estimator call on whole data sets, against a torch module, a fitted
skorch net, a fitted :class:`~sklearn_daeknn.DAEkNNClassifier` or a Pipeline
ending in one. :class:`BaseAttack` holds the parameter handling of all the
attacks (scikit-learn's ``get_params``/``set_params``/``clone``, validation at
``generate``) and the resolution of the threat model.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn
from torch.nn import functional as F

from ._progress import progress
from ._targets import Target, attack_mode, resolve_target
from ._threat_model import NORM_ALIASES, ThreatModel, check_clip_bounds, check_norm

__all__ = ["PGD", "BaseAttack", "attack_settings", "default_step_size", "pgd_perturb"]


def default_step_size(eps: float, n_steps: int) -> float:
    """Madry et al.'s rule of thumb: ``2.5 * eps / n_steps``.

    Examples
    --------
    >>> default_step_size(0.3, 10)
    0.075
    """
    return 2.5 * float(eps) / max(int(n_steps), 1)


def _box_tensors(clip: Any, shape: tuple[int, ...], device: Any) -> tuple:
    bounds = check_clip_bounds(clip, shape)
    if bounds is None:
        return None, None
    return tuple(torch.from_numpy(b).to(device) for b in bounds)


def pgd_perturb(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float | None = None,
    n_steps: int = 10,
    random_start: bool = True,
    clip: Any = None,
    norm: str = "Linf",
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
        Radius of the ball around ``x``.
    step_size : float, default=None
        Size of each step; ``None`` means ``2.5 * eps / n_steps``.
    n_steps : int, default=10
        Number of steps.
    random_start : bool, default=True
        Start from a uniform random point of the ball.
    clip : (low, high) or None, default=None
        The data box (numbers or per-feature arrays); the result stays
        inside it.
    norm : {'Linf', 'L2'}, default='Linf'
        The ball's norm: steps along the gradient's sign (L-infinity) or its
        normalised direction (L2).
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
    threat = ThreatModel(eps, norm, *_box_tensors(clip, tuple(x.shape[1:]), x.device))
    x_adv = threat.random_start(x, generator) if random_start else x.clone()
    with attack_mode(module):
        for _ in range(n_steps):
            x_adv.requires_grad_(True)
            loss = F.cross_entropy(module(x_adv), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_adv)
            # In place: the graph of this step is gone, x_adv is free to reuse.
            x_adv = threat.step(x_adv.detach(), x, grad, step_size)
    return x_adv


class BaseAttack(BaseEstimator):
    """What the attacks share: settings, their validation, the threat model.

    Subclasses declare their settings in ``__init__`` (stored unchanged, as
    scikit-learn estimators do) and ``_parameter_constraints``; ``generate``
    validates them. ``get_params``, ``set_params``, ``clone`` and the ``repr``
    come from :class:`~sklearn.base.BaseEstimator`.
    """

    #: The constraints every attack's common settings obey.
    _common_constraints: dict = {
        "eps": [Interval(Real, 0, None, closed="left")],
        "norm": [StrOptions(set(NORM_ALIASES))],
        "clip": [None, StrOptions({"auto"}), tuple, list],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _parameter_constraints: dict = dict(_common_constraints)

    def generate(self, model: Any, X: Any, y: Any = None) -> np.ndarray:
        raise NotImplementedError

    def _threat_model(self, target: Target, X: np.ndarray) -> ThreatModel:
        """The ball and box for ``X`` (the model's box when ``clip='auto'``)."""
        shape = target.shape_of(X)
        clip = self.clip
        if isinstance(clip, str):  # 'auto'
            if not target.box_known:
                raise ValueError(
                    f"clip='auto' takes the model's own box, but a {target.name} "
                    "does not know its box: pass clip=(low, high) (e.g. (0.0, "
                    "1.0) for images) or clip=None for unbounded inputs."
                )
            clip = target.box
        bounds = check_clip_bounds(clip, shape)
        if bounds is not None and X.size:
            rows = X.reshape(-1, *shape)
            # Rounding of a box mapped through a pipeline's scalers is no error.
            width = np.where(
                np.isfinite(bounds[1] - bounds[0]), bounds[1] - bounds[0], 1
            )
            tol = 1e-5 * np.maximum(width, 1e-3)
            below, above = rows < bounds[0] - tol, rows > bounds[1] + tol
            if below.any() or above.any():
                raise ValueError(
                    f"X has values in [{float(X.min()):g}, {float(X.max()):g}], "
                    f"outside the box of the attack (clip={self.clip!r}, per feature "
                    f"within [{float(bounds[0].min()):g}, {float(bounds[1].max()):g}]"
                    "). Scale the data into the box (for example with "
                    "MinMaxScaler(clip=True)) or set clip=None for unbounded data."
                )
        lower = upper = None
        if bounds is not None:
            lower = torch.from_numpy(bounds[0]).to(target.device)
            upper = torch.from_numpy(bounds[1]).to(target.device)
        return ThreatModel(float(self.eps), check_norm(self.norm), lower, upper)

    @staticmethod
    def _check_y(y: Any, X: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y have different numbers of samples: {X.shape[0]} and "
                f"{y.shape[0]}."
            )
        return y

    def _seed(self) -> int:
        """One seed drawn from ``random_state`` (an int is reproducible)."""
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )


def attack_settings(attack: Any) -> dict[str, Any] | None:
    """An attack's settings as JSON-able values, for reports.

    The name of its class, its ``get_params()`` (without ``verbose``), the
    norm under its canonical name and, for PGD-style attacks, the step size
    actually used.

    Examples
    --------
    >>> attack_settings(PGD(eps=0.1, n_steps=4))["step_size"]
    0.0625
    """
    if attack is None:
        return None
    settings: dict[str, Any] = {"name": type(attack).__name__}
    params = attack.get_params() if hasattr(attack, "get_params") else {}
    for key, value in params.items():
        if (
            key == "verbose"
            or key == "random_state"
            and not isinstance(value, Integral | None)
        ):
            continue
        settings[key] = _jsonable(value)
    if "norm" in settings:
        settings["norm"] = check_norm(settings["norm"])
    if (
        "step_size" in settings
        and settings["step_size"] is None
        and "n_steps" in settings
    ):
        settings["step_size"] = default_step_size(settings["eps"], settings["n_steps"])
    return settings


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return repr(value)


class PGD(BaseAttack):
    """Projected gradient descent (Madry et al., 2018), L-infinity or L2.

    ``x^{t+1} = Proj_{B(x, eps) ∩ box}(x^t + step_size * d(grad CE(f(x^t), y)))``
    from a random start in the ball, with ``d`` the sign of the gradient
    (L-infinity) or its normalised direction (L2).

    Parameters
    ----------
    eps : float, default=0.3
        Radius of the ball; ``0`` returns the input unchanged.
    norm : {'Linf', 'L2'}, default='Linf'
        The ball's norm; ``'inf'`` and ``'2'`` are accepted aliases.
    step_size : float, default=None
        Step size; ``None`` means ``2.5 * eps / n_steps``.
    n_steps : int, default=10
        Number of steps.
    random_start : bool, default=True
        Start from a uniform random point of the ball.
    clip : 'auto', (low, high) or None, default='auto'
        The data box: inputs must lie inside it, outputs stay inside it.
        ``'auto'`` takes the model's own box: a DAEkNNClassifier's ``clip``
        (mapped back through a Pipeline's scalers into the pipeline's input
        space) or an AdversarialNetClassifier's ``attack_clip``; a bare torch
        module or skorch net has none, and ``'auto'`` then raises an error
        asking for ``clip``. ``low`` and ``high`` may be per-feature arrays.
        ``None``: no box.
    batch_size : int, default=256
        Samples attacked at once.
    random_state : int, RandomState instance or None, default=None
        Seeds the random start.
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    AutoAttack : The standard evaluation of a network.
    KNNAdaptiveAttack : An attack on the kNN vote itself.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sklearn_daeknn import PGD
    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> X = np.random.RandomState(0).rand(10, 4).astype(np.float32)
    >>> y = np.arange(10) % 3
    >>> attack = PGD(eps=0.1, clip=(0.0, 1.0), random_state=0)
    >>> attack
    PGD(clip=(0.0, 1.0), eps=0.1, random_state=0)
    >>> X_adv = attack.generate(net, X, y)
    >>> bool(np.abs(X_adv - X).max() <= 0.1 + 1e-6)
    True
    """

    _parameter_constraints: dict = {
        **BaseAttack._common_constraints,
        "step_size": [None, Interval(Real, 0, None, closed="neither")],
        "n_steps": [Interval(Integral, 0, None, closed="left")],
        "random_start": ["boolean"],
    }

    def __init__(
        self,
        eps: float = 0.3,
        *,
        norm: str = "Linf",
        step_size: float | None = None,
        n_steps: int = 10,
        random_start: bool = True,
        clip: Any = "auto",
        batch_size: int = 256,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.eps = eps
        self.norm = norm
        self.step_size = step_size
        self.n_steps = n_steps
        self.random_start = random_start
        self.clip = clip
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def generate(self, model: Any, X: Any, y: Any = None) -> np.ndarray:
        """Return adversarial versions of ``X``.

        Parameters
        ----------
        model : torch.nn.Module, fitted skorch net, DAEkNNClassifier or Pipeline
            The network to attack. For a DAEkNNClassifier its network
            ``net_`` is attacked and ``X`` is in the estimator's 2-D layout;
            for a Pipeline ending in one, ``X`` and ``eps`` are in the
            pipeline's input space (its scalers are differentiated).
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
        self._validate_params()
        target = resolve_target(model)
        X = target.check_X(X)
        threat = self._threat_model(target, X)
        shape = target.shape_of(X)
        y_enc = None if y is None else target.encode(self._check_y(y, X))
        x_all = X.reshape(-1, *shape)
        generator = torch.Generator().manual_seed(self._seed())
        module, device = target.module, target.device
        out = np.empty_like(x_all)
        if self.eps == 0 or self.n_steps == 0:
            return X.copy()
        step = self.step_size or default_step_size(self.eps, self.n_steps)
        n_batches = math.ceil(len(x_all) / self.batch_size)
        with attack_mode(module):
            for start in progress(
                range(0, len(x_all), self.batch_size),
                total=n_batches,
                desc=f"PGD eps={self.eps:g}",
                verbose=self.verbose,
            ):
                xb = torch.from_numpy(x_all[start : start + self.batch_size]).to(device)
                if y_enc is None:
                    with torch.no_grad():
                        yb = module(xb).argmax(1)
                else:
                    yb = torch.as_tensor(
                        y_enc[start : start + self.batch_size], device=device
                    )
                adv = (
                    xb.clone()
                    if not self.random_start
                    else threat.random_start(xb, generator)
                )
                for _ in range(self.n_steps):
                    adv.requires_grad_(True)
                    loss = F.cross_entropy(module(adv), yb, reduction="sum")
                    (grad,) = torch.autograd.grad(loss, adv)
                    adv = threat.step(adv.detach(), xb, grad, step)
                out[start : start + len(adv)] = adv.cpu().numpy()
        return out.reshape(X.shape)
