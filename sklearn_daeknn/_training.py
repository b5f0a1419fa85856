"""Network training with skorch: standard or Madry PGD adversarial training.

Adversarial training overrides only skorch's ``train_step_single``: each
batch is replaced by its PGD version before the usual forward, loss and
backward pass, so skorch's loop, callbacks and history stay as they are.

The estimator trains with the ``Interruptible*`` variants: skorch ends its fit
loop on ``KeyboardInterrupt`` and returns the partly trained network, which the
estimator would go on to index (and cache); they carry the interrupt out
instead. skorch also uses ``KeyboardInterrupt`` as the way a callback stops
training (``EarlyStopping`` raises it): one raised by a user's callback still
ends training normally.

:func:`build_net` assembles the skorch network from the estimator's training
settings, routing the user's ones (``optimizer``, ``callbacks``,
``train_split`` and ``net_params`` with skorch's ``optimizer__``,
``callbacks__``, ``iterator_train__``... keys) to skorch unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import re
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit, unpack_data
from skorch.utils import to_tensor

from ._attack import pgd_perturb
from ._knn_loss import soft_knn_loss
from ._progress import progress_bar

__all__ = [
    "ROUTED_PREFIXES",
    "AdversarialNetClassifier",
    "FitInterrupted",
    "InterruptibleAdversarialNetClassifier",
    "InterruptibleKNNLossAdversarialNetClassifier",
    "InterruptibleKNNLossNetClassifier",
    "InterruptibleNetClassifier",
    "NoOptimizer",
    "build_net",
    "check_net_params",
    "is_routed",
    "log_epoch",
    "single_sample_batch_fails",
]

#: skorch's routing prefixes that ``net_params`` (and the estimator's
#: ``set_params``) accept: ``optimizer__momentum``, ``criterion__weight``,
#: ``callbacks__<name>__<param>``, ``iterator_train__num_workers``, ...
ROUTED_PREFIXES = (
    "optimizer",
    "criterion",
    "callbacks",
    "iterator_train",
    "iterator_valid",
    "dataset",
)

#: skorch arguments that the estimator sets itself, and what to use instead.
_OWNED = {
    "module": "the estimator's module parameter",
    "criterion": (
        "nothing: the loss is torch.nn.CrossEntropyLoss on the logits; route its "
        "arguments with criterion__ keys (criterion__weight, "
        "criterion__label_smoothing)"
    ),
    "optimizer": "the estimator's optimizer parameter",
    "lr": "the estimator's lr parameter",
    "max_epochs": "the estimator's max_epochs parameter",
    "batch_size": "the estimator's batch_size parameter",
    "train_split": "the estimator's train_split parameter",
    "callbacks": "the estimator's callbacks parameter",
    "device": "the estimator's device parameter",
    "verbose": "the estimator's verbose parameter",
    "classes": "nothing: the classes are those of y",
    "warm_start": (
        "nothing: every fit trains from a fresh initialisation; "
        "sklearn_daeknn.refit_knn reuses a trained network"
    ),
    "predict_nonlinearity": (
        "nothing: predict_proba_network is the softmax of the logits"
    ),
    "compile": (
        "nothing: a compiled module renames its submodules, which the kNN "
        "layers are named after"
    ),
}

_OWN_CALLBACKS = frozenset({"progress"})


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

    def adversarial_inputs(self, Xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        """The PGD version of a training batch, which the step trains on."""
        return pgd_perturb(
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

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        X_adv = self.adversarial_inputs(Xi, yi)
        self._set_training(True)
        y_pred = self.infer(X_adv, **fit_params)
        loss = self.get_loss(y_pred, yi, X=X_adv, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}


class _SoftKNNLoss:
    """Mixin for skorch nets: the training loss plus a soft-kNN loss on layers.

    The step's loss is ``CE + knn_loss_weight * soft_knn_loss``
    (:func:`~sklearn_daeknn.soft_knn_loss`) on the outputs of the
    submodules ``knn_loss_layers``: the queries are the batch the step trains
    on (the PGD batch of an :class:`AdversarialNetClassifier`), the
    references the clean batch (one more forward pass) or, in standard
    training, the batch itself. Only ``train_step_single`` changes; skorch's
    loop, callbacks and history are skorch's.
    """

    def __init__(
        self,
        module: Any,
        *args: Any,
        knn_loss_weight: float = 1.0,
        knn_loss_temperature: float = 0.1,
        knn_loss_layers: tuple[str, ...] = (),
        knn_loss_cosine: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, *args, **kwargs)
        self.knn_loss_weight = knn_loss_weight
        self.knn_loss_temperature = knn_loss_temperature
        self.knn_loss_layers = knn_loss_layers
        self.knn_loss_cosine = knn_loss_cosine

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        adversarial = getattr(self, "adversarial_inputs", None)
        X_train = Xi if adversarial is None else adversarial(Xi, yi)
        self._set_training(True)
        with _recorded(self.module_, self.knn_loss_layers) as queries:
            y_pred = self.infer(X_train, **fit_params)
        loss = self.get_loss(y_pred, yi, X=X_train, training=True)
        references = None
        if adversarial is not None:
            with _recorded(self.module_, self.knn_loss_layers) as references:
                self.infer(Xi, **fit_params)
        knn = soft_knn_loss(
            [queries[name] for name in self.knn_loss_layers],
            None
            if references is None
            else [references[name] for name in self.knn_loss_layers],
            yi,
            yi,
            temperature=self.knn_loss_temperature,
            cosine=self.knn_loss_cosine,
        )
        loss = loss + self.knn_loss_weight * knn
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}


@contextlib.contextmanager
def _recorded(module: torch.nn.Module, layers: Sequence[str]):
    """``{layer: output}`` of the forward passes run in the block (the last)."""
    named = dict(module.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        named[name].register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out)
        )
        for name in layers
    ]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


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


class _StopTraining(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` raised by a user's callback: skorch's way of
    stopping training (``EarlyStopping``), not the user pressing Ctrl-C."""


def _raised_in(exc: BaseException, obj: Any) -> bool:
    """Whether ``exc`` was raised in the code of a method of ``obj``'s class."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    codes = {
        getattr(member, "__code__", None)
        for cls in type(obj).__mro__
        for member in vars(cls).values()
    }
    return tb.tb_frame.f_code in codes


class _PropagateInterrupt:
    """Mixin for skorch nets: an interrupt in the fit loop ends ``fit`` with
    :class:`FitInterrupted` instead of returning a partly trained network.

    A ``KeyboardInterrupt`` raised by the code of one of the user's callbacks
    (not skorch's defaults, not the estimator's progress bar) is skorch's
    request to stop training early: it ends the loop as in skorch, once the
    other callbacks have seen the epoch. Any other (Ctrl-C during a forward
    pass, say) propagates.
    """

    def notify(self, method_name: str, **cb_kwargs: Any) -> None:
        getattr(self, method_name)(self, **cb_kwargs)
        own = _OWN_CALLBACKS | {name for name, _ in self.get_default_callbacks()}
        stop = None
        for name, cb in self.callbacks_:
            try:
                getattr(cb, method_name)(self, **cb_kwargs)
            except KeyboardInterrupt as exc:
                if name in own or not _raised_in(exc, cb):
                    raise
                stop = exc
        # Unlike skorch, the callbacks after the one that asked to stop still
        # see the last epoch: the log prints its row, the progress bar ends.
        if stop is not None:
            raise _StopTraining() from stop

    def fit_loop(self, X: Any, y: Any = None, epochs: Any = None, **fit_params: Any):
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        except _StopTraining:
            return self  # skorch's partial_fit then calls on_train_end
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


class InterruptibleKNNLossNetClassifier(
    _PropagateInterrupt, _SoftKNNLoss, NeuralNetClassifier
):
    """Standard training plus the soft-kNN loss; fit never swallows Ctrl-C."""


class InterruptibleKNNLossAdversarialNetClassifier(
    _PropagateInterrupt, _SoftKNNLoss, AdversarialNetClassifier
):
    """Madry training plus the soft-kNN loss; fit never swallows Ctrl-C."""


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


def is_routed(key: str) -> bool:
    """Whether ``key`` is a skorch routing key of :data:`ROUTED_PREFIXES`.

    Examples
    --------
    >>> is_routed("optimizer__momentum"), is_routed("callbacks"), is_routed("lr")
    (True, False, False)
    """
    prefix, sep, rest = key.partition("__")
    return bool(sep and rest) and prefix in ROUTED_PREFIXES


def check_net_params(net_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy of ``net_params``, or a ``ValueError`` naming a key that
    the estimator owns (or that is not a string).

    Examples
    --------
    >>> check_net_params({"optimizer__momentum": 0.9})
    {'optimizer__momentum': 0.9}
    >>> check_net_params({"lr": 0.1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: net_params={'lr': 0.1} sets 'lr', which the estimator sets ...
    """
    params = dict(net_params or {})
    for key in params:
        if not isinstance(key, str):
            raise ValueError(
                f"net_params keys must be skorch argument names (str); got {key!r}."
            )
        if key in _OWNED:
            raise ValueError(
                f"net_params={net_params!r} sets {key!r}, which the estimator sets "
                f"itself: use {_OWNED[key]}."
            )
        if key.startswith("module__"):
            raise ValueError(
                f"net_params={net_params!r} sets {key!r}: the network's arguments "
                "go in module_params (without the module__ prefix)."
            )
    # The user's objects (callbacks, generators, tensors) are never modified.
    return copy.deepcopy(params)


def _seeded_split(train_split: Any, seed: int) -> Any:
    """A copy of ``train_split``; a float ``ValidSplit`` without a
    ``random_state`` is given ``seed``, so that the fit stays reproducible."""
    split = copy.deepcopy(train_split)
    if (
        isinstance(split, ValidSplit)
        and split.random_state is None
        and isinstance(split.cv, Real)
        and not isinstance(split.cv, int)
    ):
        split.random_state = seed
    return split


def build_net(
    module: torch.nn.Module,
    *,
    seed: int,
    device: str,
    optimizer: Any,
    lr: float,
    max_epochs: int,
    batch_size: int,
    callbacks: list | None,
    train_split: Any,
    net_params: Mapping[str, Any] | None,
    verbose: int,
    drop_last: bool = False,
    attack: dict[str, Any] | None = None,
    knn_loss: dict[str, Any] | None = None,
) -> NeuralNetClassifier:
    """The initialised skorch network the estimator trains.

    The estimator's own settings (the loss, the seeded data loaders, the
    progress bar, the log sink) come first; the user's ``net_params`` then
    override skorch's (and the estimator's) defaults of the same key, as in a
    ``NeuralNetClassifier(**net_params)``. ``attack`` holds the
    ``attack_*`` arguments of :class:`AdversarialNetClassifier`; ``None``
    trains without attack. ``knn_loss`` holds the ``knn_loss_*`` arguments of
    the soft-kNN loss (see :class:`_SoftKNNLoss`); ``None`` trains without
    it. ``drop_last`` leaves out each epoch's last
    (incomplete) batch. ``callbacks`` and ``net_params`` are deep-copied:
    training never changes the objects the user passed.

    Raises a ``ValueError`` naming the training settings when skorch cannot
    build the network from them (an unknown routing key, an optimizer
    argument its class does not take, a duplicate callback name).
    """
    user_callbacks = copy.deepcopy(list(callbacks or []))
    own_callbacks = [("progress", EpochProgress())] if verbose else []
    kwargs: dict[str, Any] = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=_seeded_split(train_split, seed),
        iterator_train__shuffle=True,
        # Its own generator, not torch's global one: reproducible in threads.
        iterator_train__generator=torch.Generator().manual_seed(seed + 1),
        # A loader without a generator draws its base seed from the global
        # RNG at every pass, even without shuffling.
        iterator_valid__generator=torch.Generator().manual_seed(seed + 2),
        device=device,
        callbacks=[*user_callbacks, *own_callbacks] or None,
        callbacks__print_log__sink=log_epoch,
        verbose=0,
    )
    if drop_last:
        kwargs["iterator_train__drop_last"] = True
    kwargs.update(check_net_params(net_params))
    cls = InterruptibleNetClassifier
    if attack is not None:
        cls = InterruptibleAdversarialNetClassifier
        kwargs.update(attack)
    if knn_loss is not None:
        cls = (
            InterruptibleKNNLossNetClassifier
            if attack is None
            else InterruptibleKNNLossAdversarialNetClassifier
        )
        kwargs.update(knn_loss)
    try:
        return cls(module, **kwargs).initialize()
    except Exception as exc:
        names = getattr(optimizer, "__name__", repr(optimizer))
        raise ValueError(
            f"skorch cannot build the network from optimizer={names}, "
            f"callbacks={callbacks!r}, train_split={train_split!r}, "
            f"net_params={net_params!r}: {type(exc).__name__}: {exc}"
        ) from exc
