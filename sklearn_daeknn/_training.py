"""Network training with skorch: standard or Madry PGD adversarial training.

Adversarial training overrides only skorch's ``train_step_single``: each
batch is replaced by its PGD version before the usual forward, loss and
backward pass, so skorch's loop, callbacks and history stay as they are.

The estimator trains with the ``Interruptible*`` variants: skorch ends its fit
loop on ``KeyboardInterrupt`` and returns the partly trained network, which the
estimator would go on to index (and cache); they carry the interrupt out
instead.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._attack import pgd_perturb
from ._progress import progress_bar

__all__ = [
    "AdversarialNetClassifier",
    "FitInterrupted",
    "InterruptibleAdversarialNetClassifier",
    "InterruptibleNetClassifier",
    "NoOptimizer",
    "log_epoch",
    "single_sample_batch_fails",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class AdversarialNetClassifier(NeuralNetClassifier):
    """A skorch classifier trained on PGD adversarial examples (Madry et al.).

    Solves ``min_theta E max_{||delta||_inf <= attack_eps} CE(f(x + delta), y)``
    with the inner maximum approximated by :func:`~sklearn_daeknn.pgd_perturb`.
    All other arguments are those of :class:`skorch.NeuralNetClassifier`.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; it must return logits (use
        ``criterion=torch.nn.CrossEntropyLoss``).
    attack_eps : float, default=0.3
        Radius of the training attack's L-infinity ball.
    attack_step_size : float, default=None
        PGD step size; ``None`` means ``2.5 * attack_eps / attack_steps``.
    attack_steps : int, default=7
        PGD steps per batch.
    attack_random_start : bool, default=True
        Start each attack from a random point of the ball.
    attack_clip : (float, float) or None, default=None
        The data box.
    attack_seed : int, default=0
        Seeds the random starts.
    *args, **kwargs
        Passed to :class:`skorch.NeuralNetClassifier`.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_daeknn import MLP
    >>> X = np.random.RandomState(0).rand(40, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(np.int64)
    >>> net = AdversarialNetClassifier(
    ...     MLP(input_shape=(4,), n_classes=2),
    ...     criterion=torch.nn.CrossEntropyLoss, train_split=None,
    ...     max_epochs=2, attack_eps=0.05, attack_clip=(0.0, 1.0), verbose=0)
    >>> net.fit(X, y).predict(X).shape
    (40,)
    """

    def __init__(
        self,
        module: Any,
        *args: Any,
        attack_eps: float = 0.3,
        attack_step_size: float | None = None,
        attack_steps: int = 7,
        attack_random_start: bool = True,
        attack_clip: tuple[float, float] | None = None,
        attack_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, *args, **kwargs)
        self.attack_eps = attack_eps
        self.attack_step_size = attack_step_size
        self.attack_steps = attack_steps
        self.attack_random_start = attack_random_start
        self.attack_clip = attack_clip
        self.attack_seed = attack_seed

    def initialize(self) -> AdversarialNetClassifier:
        super().initialize()
        self.attack_generator_ = torch.Generator().manual_seed(int(self.attack_seed))
        return self

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        X_adv = pgd_perturb(
            self.module_,
            Xi,
            yi,
            eps=self.attack_eps,
            step_size=self.attack_step_size,
            n_steps=self.attack_steps,
            random_start=self.attack_random_start,
            clip=self.attack_clip,
            generator=self.attack_generator_,
        )
        self._set_training(True)
        y_pred = self.infer(X_adv, **fit_params)
        loss = self.get_loss(y_pred, yi, X=X_adv, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}


class EpochProgress(Callback):
    """A progress bar over epochs, with the training loss, on stderr."""

    def __init__(self, desc: str = "training") -> None:
        self.desc = desc

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kw: Any) -> None:
        self.bar_ = progress_bar(total=net.max_epochs, desc=self.desc, leave=False)

    def on_epoch_end(self, net: Any, **kw: Any) -> None:
        self.bar_.set_postfix(loss=f"{net.history[-1, 'train_loss']:.4f}")
        self.bar_.update(1)

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kw: Any) -> None:
        self.bar_.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("bar_", None)
        return state


class FitInterrupted(BaseException):
    """A ``KeyboardInterrupt`` in skorch's fit loop, carried past skorch.

    skorch's ``partial_fit`` catches ``KeyboardInterrupt`` and returns the
    network as it is, so that Ctrl-C ends an interactive training early. In
    an estimator that goes on to index the network's features (and may cache
    it), a partly trained network would be a silently wrong result. A
    ``BaseException``, so that no ``except Exception`` on the way swallows
    it; the original interrupt is its ``__cause__``.
    """


class _PropagateInterrupt:
    """Mixin for skorch nets: an interrupt in the fit loop ends ``fit`` with
    :class:`FitInterrupted` instead of returning a partly trained network."""

    def fit_loop(self, X: Any, y: Any = None, epochs: Any = None, **fit_params: Any):
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        except KeyboardInterrupt as exc:
            # What skorch's partial_fit would have done after the loop.
            self.notify("on_train_end", X=X, y=y)
            raise FitInterrupted() from exc


class InterruptibleNetClassifier(_PropagateInterrupt, NeuralNetClassifier):
    """:class:`skorch.NeuralNetClassifier` whose fit never swallows Ctrl-C."""


class InterruptibleAdversarialNetClassifier(
    _PropagateInterrupt, AdversarialNetClassifier
):
    """:class:`AdversarialNetClassifier` whose fit never swallows Ctrl-C."""


class NoOptimizer:
    """The optimizer of a network with no trainable parameter, trained for
    no epoch: skorch always builds one, and torch's refuse an empty list."""

    def __init__(self, params: Any = (), **kwargs: Any) -> None:
        self.param_groups: list[dict[str, Any]] = []

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass

    def step(self, closure: Any = None) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def log_epoch(text: str) -> None:
    """skorch's ``PrintLog`` sink: each line of its table, logged at INFO level
    on the ``sklearn_daeknn`` logger, without colour codes.

    skorch colours the best value of each column with ANSI escape codes meant
    for a terminal; in a log file or a notebook's log handler they are noise.
    A module-level function, so that the skorch net (whose parameter it is)
    pickles.
    """
    logging.getLogger("sklearn_daeknn").info("%s", _ANSI.sub("", text))


def single_sample_batch_fails(module: torch.nn.Module, probe: torch.Tensor) -> bool:
    """Whether training ``module`` on a batch of one sample would fail.

    Batch norm in training mode needs more than one value per channel: a
    layer normalising one value per channel and sample (``BatchNorm1d`` on
    ``(N, C)``, or any map of size 1) fails on a batch of one sample. The
    sizes are read from a forward pass of ``probe`` in eval mode.
    """
    norms = [
        m
        for m in module.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    if not norms:
        return False
    sizes: list[int] = []

    def record(_module: Any, args: tuple) -> None:
        sizes.append(math.prod(args[0].shape[2:]))

    handles = [m.register_forward_pre_hook(record) for m in norms]
    was_training = module.training
    try:
        with torch.no_grad():
            module.eval()(probe)
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return any(size == 1 for size in sizes)
