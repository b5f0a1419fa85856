"""What an attack is given, resolved into a torch function on the input space.

An attack may be given a torch module, a fitted skorch net, a fitted
:class:`~sklearn_daeknn.DAEkNNClassifier` (its network is attacked; ``X`` is
2-D) or a :class:`~sklearn.pipeline.Pipeline` ending in one. :func:`resolve_target`
turns each into a :class:`Target`: a torch module from the *input space*
(the space of the ``X`` the user passes) to logits, the model's own box in
that space, and the label encoding. A pipeline's preprocessing steps are
composed in front of the network as torch operations, so that gradients,
``eps`` and the box all live in the pipeline's input space.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = [
    "Target",
    "attack_mode",
    "eval_mode",
    "is_daeknn",
    "pipeline_parts",
    "resolve_target",
    "torch_preprocessing",
]


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for the block and give back the caller's mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@contextlib.contextmanager
def attack_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and frozen parameters for the block; both given back after.

    An attack needs the gradient with respect to the input only.
    ``torch.autograd.grad`` for the input alone already skips the parameters'
    gradients; freezing them also stops autograd from saving the tensors
    those gradients would need (about 3% of a PGD step on ``MNISTCNN``).
    """
    frozen = [p for p in module.parameters() if p.requires_grad]
    for param in frozen:
        param.requires_grad_(False)
    try:
        with eval_mode(module):
            yield module
    finally:
        for param in frozen:
            param.requires_grad_(True)


def is_daeknn(model: Any) -> bool:
    """Whether ``model`` looks like a fitted DAEkNNClassifier (duck typing)."""
    return all(
        hasattr(model, name)
        for name in ("net_", "classes_", "input_shape_", "benign_indexes_")
    )


class _Affine(nn.Module):
    """``clamp(x * scale + shift, low, high)`` per feature: a scaler in torch."""

    def __init__(self, scale, shift, low=None, high=None, *, shape=None) -> None:
        super().__init__()

        def buf(v):
            if v is None:
                return None
            t = torch.as_tensor(np.asarray(v, dtype=np.float32))
            return t.reshape(shape) if shape is not None and t.ndim else t

        self.register_buffer("scale", buf(scale), persistent=False)
        self.register_buffer("shift", buf(shift), persistent=False)
        self.register_buffer("low", buf(low), persistent=False)
        self.register_buffer("high", buf(high), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.scale + self.shift
        if self.low is not None:
            x = torch.clamp(x, self.low, self.high)
        return x

    def preimage(self, low: np.ndarray, high: np.ndarray) -> tuple:
        """The inputs that this step maps into ``[low, high]`` (per feature)."""
        scale = self.scale.cpu().numpy().astype(np.float64)
        shift = self.shift.cpu().numpy().astype(np.float64)
        new_low = (low - shift) / scale
        new_high = (high - shift) / scale
        if self.low is not None:
            # Clamped below c_lo: any input under the clamp lands on c_lo.
            c_lo = self.low.cpu().numpy().astype(np.float64)
            c_hi = self.high.cpu().numpy().astype(np.float64)
            new_low = np.where(low <= c_lo, -np.inf, new_low)
            new_high = np.where(high >= c_hi, np.inf, new_high)
        return new_low, new_high


def _step_to_torch(name: str, step: Any, shape: tuple[int, ...]) -> _Affine | None:
    """The torch equivalent of one fitted pipeline step (``None``: identity)."""
    from sklearn.preprocessing import (
        FunctionTransformer,
        MaxAbsScaler,
        MinMaxScaler,
        StandardScaler,
    )

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return None
    if type(step) is FunctionTransformer and step.func is None:
        return None
    if type(step) is MinMaxScaler:
        low = high = None
        if step.clip:
            low = np.full_like(step.scale_, step.feature_range[0])
            high = np.full_like(step.scale_, step.feature_range[1])
        return _Affine(step.scale_, step.min_, low, high, shape=shape)
    if type(step) is StandardScaler:
        mean = step.mean_ if step.with_mean else 0.0
        scale = step.scale_ if step.with_std else None
        inv = 1.0 / scale if scale is not None else np.ones(int(np.prod(shape)))
        shift = -np.asarray(mean, dtype=np.float64) * inv
        return _Affine(inv, np.broadcast_to(shift, inv.shape), shape=shape)
    if type(step) is MaxAbsScaler:
        return _Affine(1.0 / step.scale_, np.zeros_like(step.scale_), shape=shape)
    raise ValueError(
        f"Pipeline step {name!r} ({type(step).__name__}) has no torch equivalent, "
        "so an attack cannot differentiate through it. Supported steps: "
        "MinMaxScaler, StandardScaler, MaxAbsScaler, FunctionTransformer() "
        "(func=None) and 'passthrough'. Transform X with the pipeline's first "
        "steps yourself and attack its last step instead (eps is then "
        "measured after those steps)."
    )


def pipeline_parts(model: Any) -> tuple[list[tuple[str, Any]], Any] | None:
    """``(preprocessing steps, final estimator)`` of a Pipeline, else ``None``."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return None
    return list(model.steps[:-1]), model.steps[-1][1]


def torch_preprocessing(
    steps: list[tuple[str, Any]], shape: tuple[int, ...]
) -> nn.Sequential | None:
    """The fitted preprocessing ``steps`` as one torch module (``None``: none)."""
    mods = [m for name, step in steps if (m := _step_to_torch(name, step, shape))]
    return nn.Sequential(*mods) if mods else None


def preimage_box(
    preprocess: nn.Sequential | None, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The box of the input space that ``preprocess`` maps into ``[low, high]``."""
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    for step in reversed(list(preprocess or [])):
        low, high = step.preimage(low, high)
    if not np.all(low <= high):
        raise ValueError(
            "The pipeline's preprocessing maps no input into the estimator's "
            "clip box on some features; check the scalers' settings."
        )
    if preprocess is not None:
        # Inward by a hair: the scalers' float32 rounding must not carry a
        # point on the boundary out of the estimator's box.
        margin = 1e-6 * np.where(np.isfinite(high - low), high - low, 0.0)
        low, high = low + margin, high - margin
    return low.astype(np.float32), high.astype(np.float32)


class InputSpaceNetwork(nn.Module):
    """A network fed from the input space: reshape, preprocessing, network."""

    def __init__(
        self, network: nn.Module, preprocess: nn.Module | None, shape: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.network = network
        self.preprocess = preprocess
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), *self.shape)
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.network(x)


@dataclass
class Target:
    """An attack's view of a model; see :func:`resolve_target`."""

    #: ``(n, *sample_shape)`` tensors of the input space to logits.
    module: nn.Module
    #: One sample's shape in the attack's tensors (``None``: that of ``X``).
    sample_shape: tuple[int, ...] | None
    #: The model's own box in the input space, when it has one.
    box: tuple[np.ndarray, np.ndarray] | None
    #: Whether ``box`` is known (a bare torch module does not know its box).
    box_known: bool
    device: torch.device
    #: Labels of the outputs (``None``: labels are the output indices).
    classes: np.ndarray | None
    #: The fitted DAEkNNClassifier at the end, if any.
    estimator: Any = None
    #: Input space to the estimator's input (its ``input_shape_``), if any.
    preprocess: nn.Module | None = None
    #: What the user gave (its ``predict_proba`` judges adaptive attacks).
    model: Any = None
    #: Columns of ``X`` when ``X`` must be 2-D.
    n_features: int | None = None
    #: Name for messages.
    name: str = ""

    def encode(self, labels: Any) -> np.ndarray:
        """Labels as indices of the module's outputs (a ``ValueError`` if unseen)."""
        labels = np.asarray(labels)
        if self.classes is None:
            if not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"y must hold integer class indices for {self.name}; got "
                    f"dtype {labels.dtype}."
                )
            return labels.astype(np.int64)
        classes = np.asarray(self.classes)
        idx = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
        if not np.all(classes[idx] == labels):
            unseen = np.setdiff1d(labels, classes)
            raise ValueError(
                f"y contains labels unseen at fit: {unseen[:5].tolist()}; the "
                f"model knows {classes.tolist()}."
            )
        return idx.astype(np.int64)

    def check_X(self, X: Any) -> np.ndarray:
        """``X`` as float32, with its shape and values checked."""
        X = np.asarray(X, dtype=np.float32)
        if self.n_features is not None and (
            X.ndim != 2 or X.shape[1] != self.n_features
        ):
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}) for {self.name}; "
                f"got {X.shape}."
            )
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinity.")
        return X

    def shape_of(self, X: np.ndarray) -> tuple[int, ...]:
        """One sample's shape in the attack's tensors."""
        return self.sample_shape if self.sample_shape is not None else X.shape[1:]


def _device_of(module: nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    if param is None:
        param = next(module.buffers(), None)
    return torch.device("cpu") if param is None else param.device


def resolve_target(model: Any) -> Target:
    """Resolve what an attack is given into a :class:`Target`.

    Parameters
    ----------
    model : torch.nn.Module, fitted skorch net, fitted DAEkNNClassifier or Pipeline
        A Pipeline must end in a fitted DAEkNNClassifier and its other steps
        must have a torch equivalent (see :func:`torch_preprocessing`).

    Returns
    -------
    target : Target
    """
    parts = pipeline_parts(model)
    if parts is not None:
        steps, final = parts
        if not is_daeknn(final):
            raise ValueError(
                "A Pipeline given to an attack must end in a fitted "
                f"DAEkNNClassifier; its last step is {type(final).__name__}."
            )
        check_is_fitted(final)
        return _estimator_target(final, steps, model)
    if is_daeknn(model):
        check_is_fitted(model)
        return _estimator_target(model, [], model)
    if isinstance(model, nn.Module):
        box = getattr(model, "box", None)
        return Target(
            module=model,
            sample_shape=None,
            box=box,
            box_known=hasattr(model, "box"),
            device=_device_of(model),
            classes=getattr(model, "classes_", None),
            model=model,
            name=type(model).__name__,
        )
    module = getattr(model, "module_", None)
    if isinstance(module, nn.Module):
        # A fitted skorch net; AdversarialNetClassifier knows its box.
        clip = getattr(model, "attack_clip", None)
        box_known = hasattr(model, "attack_clip")
        box = None
        if clip is not None:
            box = (np.float32(clip[0]), np.float32(clip[1]))
        classes = getattr(model, "classes_inferred_", None)
        return Target(
            module=module,
            sample_shape=None,
            box=box,
            box_known=box_known,
            device=torch.device(model.device),
            classes=None if classes is None else np.asarray(classes),
            model=model,
            name=type(model).__name__,
        )
    raise ValueError(
        "model must be a torch.nn.Module, a fitted skorch net, a fitted "
        "DAEkNNClassifier or a Pipeline ending in one: an attack needs a "
        f"network it can differentiate; got {type(model).__name__}."
    )


def _estimator_target(estimator: Any, steps: list, model: Any) -> Target:
    shape = tuple(estimator.input_shape_)
    preprocess = torch_preprocessing(steps, shape)
    clip = estimator.clip
    box = None
    if clip is not None:
        low = np.full(shape, float(clip[0]))
        high = np.full(shape, float(clip[1]))
        box = preimage_box(preprocess, low, high)
        if np.all(np.isinf(box[0])) and np.all(np.isinf(box[1])):
            box = None
    net = estimator.net_
    return Target(
        module=InputSpaceNetwork(net.module_, preprocess, shape),
        sample_shape=shape,
        box=box,
        box_known=True,
        device=torch.device(net.device),
        classes=np.asarray(estimator.classes_),
        estimator=estimator,
        preprocess=preprocess,
        model=model,
        n_features=int(np.prod(shape)),
        name=type(model).__name__,
    )
