"""AutoAttack (Croce & Hein, 2020) through the published ``pyautoattack`` package.

The package's attacks (APGD-CE, APGD-T, FAB-T, Square) work on inputs in
``[0, 1]^d`` and seed torch's global random number generator. This module
runs them on any box and keeps the rest of the process reproducible:

- the attack's domain is mapped onto ``[0, 1]`` by one affine map
  ``z = (x - offset) / width`` (``eps`` divided by ``width``: the map is the
  same on every feature, so the L-infinity and L2 balls map onto balls);
  a per-feature box is enforced by clamping inside the wrapped forward, and
  an unbounded side is given room for the whole ball;
- torch's global RNG is seeded for the run and given back afterwards, under
  the lock every fit of the estimator uses
  (:data:`~sklearn_daeknn._rng.GLOBAL_RNG_LOCK`), so that fits in other
  threads stay reproducible;
- the package's log messages go to a silent logger unless ``verbose``.

The run itself follows AutoAttack's: each attack of the list runs on the
inputs that are still classified correctly, and an input counts as broken as
soon as one attack finds an adversarial example for it.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn
from torch.nn import functional as F

from ._attack import BaseAttack
from ._progress import progress
from ._rng import GLOBAL_RNG_LOCK
from ._targets import attack_mode, resolve_target
from ._threat_model import ThreatModel

__all__ = ["ATTACK_LISTS", "AutoAttack", "UnitBox", "apgd_single_run", "global_rng"]

#: The attacks of each ``version``, in the order they run.
ATTACK_LISTS = {
    "standard": ("apgd-ce", "apgd-t", "fab-t", "square"),
    "fast": ("apgd-ce", "apgd-t"),
}


@contextlib.contextmanager
def global_rng(seed: int) -> Iterator[None]:
    """Seed torch's global RNG for the block, give its state back after.

    Holds :data:`~sklearn_daeknn._rng.GLOBAL_RNG_LOCK` for the whole
    block: the attacks draw from the global RNG at every restart, and no
    other thread may seed or draw from it in between.
    """
    with GLOBAL_RNG_LOCK:
        state = torch.get_rng_state()
        cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
        cuda_states = torch.cuda.get_rng_state_all() if cuda else None
        torch.manual_seed(int(seed))
        try:
            yield
        finally:
            torch.set_rng_state(state)
            if cuda_states is not None:
                torch.cuda.set_rng_state_all(cuda_states)


def package_logger(verbose: int) -> logging.Logger:
    """Where the package's messages go: the library's logger, or nowhere."""
    if verbose:
        return logging.getLogger("sklearn_daeknn.autoattack")
    # An unregistered logger with a null handler: silent, and touching no
    # logger that other code (or another thread's attack) configures.
    quiet = logging.Logger("sklearn_daeknn.autoattack.quiet")
    quiet.addHandler(logging.NullHandler())
    return quiet


class UnitBox:
    """The affine map of an attack's domain onto the unit box of pyautoattack.

    Parameters
    ----------
    threat : ThreatModel
        The ball and the box, in the input space.
    X : torch.Tensor
        All the inputs that will be attacked (fixes the map for unbounded
        sides, so that it does not depend on the batching).
    """

    def __init__(self, threat: ThreatModel, X: torch.Tensor) -> None:
        eps = threat.eps
        shape = X.shape[1:]
        x_min = X.amin(0) - eps if len(X) else torch.zeros(shape)
        x_max = X.amax(0) + eps if len(X) else torch.ones(shape)
        lower = (
            x_min
            if threat.lower is None
            else torch.where(
                torch.isfinite(threat.lower), threat.lower.expand(shape), x_min
            )
        )
        upper = (
            x_max
            if threat.upper is None
            else torch.where(
                torch.isfinite(threat.upper), threat.upper.expand(shape), x_max
            )
        )
        self.offset = float(lower.min())
        self.width = max(float(upper.max()) - self.offset, 1e-12)
        self.threat = threat
        self.eps = eps / self.width

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.offset) / self.width).clamp_(0.0, 1.0)

    def from_unit(self, z: torch.Tensor) -> torch.Tensor:
        return self.threat.clamp_box(z * self.width + self.offset, inplace=False)

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` as a function of the unit box."""
        return _UnitModel(module, self)


class _UnitModel(nn.Module):
    def __init__(self, module: nn.Module, box: UnitBox) -> None:
        super().__init__()
        self.inner = module
        self.box = box

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.inner(self.box.from_unit(z))


def apgd_single_run(
    model: nn.Module,
    z: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: str,
    n_iter: int,
    loss: str = "ce",
    y_target: torch.Tensor | None = None,
    logger: logging.Logger | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One run of pyautoattack's APGD on unit-box inputs ``z``, on every input.

    Unlike ``APGDAttack.perturb`` it attacks every input given (also those
    that ``model`` already misclassifies: the caller judges success) and
    returns both the point of highest loss and the last misclassified one.
    The random start draws from torch's global RNG (see :func:`global_rng`).

    Returns
    -------
    x_best, x_best_adv, fooled : torch.Tensor
        The highest-loss points, the last points ``model`` misclassified
        (the random start where it never did), and whether it ever did.
    """
    from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted

    cls = APGDAttack if y_target is None else APGDAttack_targeted
    apgd = cls(
        model,
        n_iter=n_iter,
        norm=norm,
        n_restarts=1,
        eps=eps,
        seed=0,
        device=z.device,
        logger=logger,
    )
    apgd.loss = loss
    apgd.init_hyperparam(z)
    apgd.y_target = y_target
    x_best, acc, _, x_best_adv = apgd.attack_single_run(z, y)
    return x_best.detach(), x_best_adv.detach(), ~acc.bool()


class AutoAttack(BaseAttack):
    """AutoAttack (Croce & Hein, 2020), the standard evaluation of a network.

    Runs the attacks of the published ``pyautoattack`` package one after the
    other, each on the inputs the model still classifies correctly:

    - ``'standard'``: APGD-CE, APGD-T (targeted DLR), FAB-T and Square
      (a black-box attack, ``n_queries`` queries), AutoAttack's standard list;
    - ``'fast'``: APGD-CE and APGD-T, the usual cheap custom list, which
      catches almost everything the standard list does on MNIST-sized models
      at a fraction of the cost (FAB-T and Square are the expensive half).

    Works on any box (see ``clip``); the package itself assumes ``[0, 1]``.
    For inputs it cannot break, the output is APGD-CE's point of highest loss
    (AutoAttack returns the clean input there): the model's accuracy on the
    output is AutoAttack's robust accuracy either way, and transferred to
    another classifier (such as a kNN vote) the output is a stronger attack.

    Parameters
    ----------
    eps : float, default=0.3
        Radius of the ball; ``0`` returns the input unchanged.
    norm : {'Linf', 'L2'}, default='Linf'
        The ball's norm; ``'inf'`` and ``'2'`` are accepted aliases.
    version : {'fast', 'standard'}, default='fast'
        The list of attacks.
    n_restarts : int, default=1
        Random restarts of APGD-CE (AutoAttack's standard version uses 1).
    n_target_classes : int, default=9
        Target classes of APGD-T and FAB-T (the highest-scoring wrong
        classes of the clean input), at most ``n_classes - 1``.
    n_steps : int, default=100
        Iterations of each APGD and FAB run.
    n_queries : int, default=5000
        Queries of Square (``version='standard'``).
    clip : 'auto', (low, high) or None, default='auto'
        The data box, as in :class:`PGD`. ``None``: no box (the ball is
        then the whole threat model).
    batch_size : int, default=256
        Samples attacked at once.
    random_state : int, RandomState instance or None, default=None
        Seeds the random starts. Torch's global RNG, which the package uses,
        is seeded for the run and restored afterwards.
    verbose : int, default=0
        Progress bar, and the package's log messages on the
        ``sklearn_daeknn.autoattack`` logger, when positive.

    See Also
    --------
    PGD : Projected gradient descent, one fixed step size.
    KNNAdaptiveAttack : The same APGD attacks on a soft-kNN surrogate of the vote.

    Notes
    -----
    The DLR losses need several classes: the untargeted DLR loss divides by
    the gap between the largest and the third largest logit and the targeted
    one by the gap to the mean of the third and fourth. With fewer than 4
    classes APGD-T therefore runs on the targeted cross-entropy instead, and
    with 2 classes it has a single target (the other class).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from sklearn_daeknn import AutoAttack
    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> X = np.random.RandomState(0).rand(10, 4).astype(np.float32)
    >>> y = np.arange(10) % 3
    >>> attack = AutoAttack(eps=0.1, n_steps=10, clip=(0.0, 1.0), random_state=0)
    >>> X_adv = attack.generate(net, X, y)
    >>> bool(np.abs(X_adv - X).max() <= 0.1 + 1e-6)
    True
    """

    _parameter_constraints: dict = {
        **BaseAttack._common_constraints,
        "version": [StrOptions(set(ATTACK_LISTS))],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "n_target_classes": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "n_queries": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        eps: float = 0.3,
        *,
        norm: str = "Linf",
        version: str = "fast",
        n_restarts: int = 1,
        n_target_classes: int = 9,
        n_steps: int = 100,
        n_queries: int = 5000,
        clip: Any = "auto",
        batch_size: int = 256,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.eps = eps
        self.norm = norm
        self.version = version
        self.n_restarts = n_restarts
        self.n_target_classes = n_target_classes
        self.n_steps = n_steps
        self.n_queries = n_queries
        self.clip = clip
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def generate(self, model: Any, X: Any, y: Any = None) -> np.ndarray:
        """Return adversarial versions of ``X``.

        Parameters
        ----------
        model : torch.nn.Module, fitted skorch net, DAEkNNClassifier or Pipeline
            The network to attack, as in :meth:`PGD.generate`.
        X : array-like
            Clean inputs.
        y : array-like of shape (n_samples,), default=None
            True labels; ``None`` uses the model's predictions.

        Returns
        -------
        X_adv : ndarray of float32, same shape as ``X``
        """
        self._validate_params()
        target = resolve_target(model)
        X = target.check_X(X)
        threat = self._threat_model(target, X)
        shape = target.shape_of(X)
        if self.version == "standard" and len(shape) != 3:
            raise ValueError(
                "version='standard' runs Square, which needs image inputs of "
                f"shape (channels, height, width); one sample here has shape "
                f"{shape}. Use version='fast' (APGD-CE and APGD-T)."
            )
        y_enc = None if y is None else target.encode(self._check_y(y, X))
        if self.eps == 0 or len(X) == 0:
            return X.copy()
        x_all = torch.from_numpy(X.reshape(-1, *shape)).to(target.device)
        seed = self._seed()
        with attack_mode(target.module), global_rng(seed):
            x_adv = self._run(
                target.module, x_all, y_enc, threat.to(target.device), seed
            )
        return x_adv.cpu().numpy().reshape(X.shape)

    # ------------------------------------------------------------------ run

    def _predict(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat(
                [
                    module(x[i : i + self.batch_size]).argmax(1)
                    for i in range(0, len(x), self.batch_size)
                ]
            )

    def _run(self, module, x_all, y_enc, threat, seed: int) -> torch.Tensor:
        from pyautoattack.fab_pt import FABAttack_PT
        from pyautoattack.square import SquareAttack

        device = x_all.device
        logger = package_logger(self.verbose)
        norm = threat.norm
        box = UnitBox(threat, x_all)
        unit = box.wrap(module)
        with torch.no_grad():
            n_classes = int(module(x_all[:1]).shape[1])
        y = (
            self._predict(module, x_all)
            if y_enc is None
            else torch.as_tensor(y_enc, device=device)
        )
        robust = self._predict(module, x_all) == y
        x_adv = x_all.clone()
        best_loss = torch.full((len(x_all),), -math.inf, device=device)
        n_targets = min(self.n_target_classes, n_classes - 1)
        t_loss = "dlr-targeted" if n_classes >= 4 else "ce-targeted"
        runs = []
        for name in ATTACK_LISTS[self.version]:
            if name == "apgd-ce":
                runs += [(name, r) for r in range(self.n_restarts)]
            elif name in ("apgd-t", "fab-t"):
                runs += [(name, t) for t in range(2, n_targets + 2)]
            else:
                runs.append((name, 0))
        for run_index, (name, arg) in enumerate(
            progress(runs, total=len(runs), desc="AutoAttack", verbose=self.verbose)
        ):
            idx_all = robust.nonzero().flatten()
            for start in range(0, len(idx_all), self.batch_size):
                idx = idx_all[start : start + self.batch_size]
                x, yb = x_all[idx], y[idx]
                z = box.to_unit(x)
                run_seed = seed + 7919 * run_index + start
                torch.manual_seed(run_seed)
                if name == "apgd-ce":
                    z_best, z_fooled, _ = apgd_single_run(
                        unit,
                        z,
                        yb,
                        eps=box.eps,
                        norm=norm,
                        n_iter=self.n_steps,
                        logger=logger,
                    )
                    # Keep the highest-loss point of inputs not broken.
                    cand = threat.project(box.from_unit(z_best), x)
                    with torch.no_grad():
                        loss = F.cross_entropy(module(cand), yb, reduction="none")
                    better = loss > best_loss[idx]
                    x_adv[idx[better]] = cand[better]
                    best_loss[idx[better]] = loss[better]
                elif name == "apgd-t":
                    with torch.no_grad():
                        order = unit(z).argsort(dim=1)
                    z_best, z_fooled, _ = apgd_single_run(
                        unit,
                        z,
                        yb,
                        eps=box.eps,
                        norm=norm,
                        n_iter=self.n_steps,
                        loss=t_loss,
                        y_target=order[:, -arg],
                        logger=logger,
                    )
                elif name == "fab-t":
                    fab = FABAttack_PT(
                        unit,
                        norm=norm,
                        n_restarts=1,
                        n_iter=self.n_steps,
                        eps=box.eps,
                        seed=run_seed,
                        targeted=True,
                        n_target_classes=1,
                        device=device,
                    )
                    fab.target_class = arg
                    z_fooled = fab.attack_single_run(z, yb, is_targeted=True)
                else:  # square
                    square = SquareAttack(
                        unit,
                        p_init=0.8,
                        n_queries=self.n_queries,
                        eps=box.eps,
                        norm=norm,
                        n_restarts=1,
                        seed=run_seed,
                        verbose=False,
                        device=device,
                        resc_schedule=False,
                    )
                    square.init_hyperparam(z)
                    _, z_fooled = square.attack_single_run(z, yb)
                cand = threat.project(box.from_unit(z_fooled.detach()), x)
                with torch.no_grad():
                    broken = module(cand).argmax(1) != yb
                x_adv[idx[broken]] = cand[broken]
                robust[idx[broken]] = False
        return x_adv
