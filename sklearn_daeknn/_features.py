"""Per-layer features: hidden activations, flattened to bounded-width float32.

Forward hooks collect the outputs of the selected submodules batch by batch;
each output is reduced as soon as it is produced, so no full activation
history is ever held. Convolutional maps wider than ``max_features`` are
average-pooled to the largest square grid that fits; other wide outputs are
projected with a seeded Gaussian random projection; for the cosine metric
the reduced rows are then L2-normalised. The same reduction is applied at
fit and at predict.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._progress import progress

__all__ = [
    "LayerReducer",
    "check_feature_values",
    "check_layer_outputs",
    "check_layers",
    "extract_layer_features",
    "l2_normalize",
    "layer_outputs",
    "max_feature_magnitude",
]


def check_layers(module: nn.Module, layers: Sequence[str]) -> tuple[str, ...]:
    """Validate layer names against ``module.named_modules()``."""
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    if not layers:
        raise ValueError("layers must name at least one submodule; got an empty list.")
    valid = [name for name, _ in module.named_modules() if name]
    unknown = [name for name in layers if name not in valid]
    if unknown:
        raise ValueError(
            f"layers contains names that are not submodules of the network: "
            f"{unknown}. Valid names: {valid}."
        )
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers contains duplicates: {list(layers)}.")
    return layers


def l2_normalize(features: torch.Tensor) -> torch.Tensor:
    """Rows of ``features`` divided by their Euclidean norm; zero rows stay zero.

    Differentiable. The rows are first divided by their largest magnitude,
    so that the norm of finite rows never overflows float32 (a row of
    ``1e30`` becomes a unit vector, not zeros); rows holding NaN or infinity
    come out as NaN, which the feature check reports.

    Parameters
    ----------
    features : torch.Tensor of shape (n_samples, n_features)

    Returns
    -------
    normalized : torch.Tensor of shape (n_samples, n_features)

    Examples
    --------
    >>> import torch
    >>> l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    """
    scale = features.abs().amax(dim=1, keepdim=True)
    features = features / torch.where(scale > 0, scale, torch.ones_like(scale))
    norm = torch.linalg.vector_norm(features, dim=1, keepdim=True)
    return features / torch.where(norm > 0, norm, torch.ones_like(norm))


class LayerReducer:
    """Bound the width of one layer's output (and normalise it, for cosine).

    Parameters
    ----------
    shape : tuple of int
        Shape of one sample's output of the layer (without batch axis).
    max_features : int or None
        Largest width kept; ``None`` keeps the flattened output.
    seed : int
        Seeds the random projection when one is needed.
    normalize : bool, default=False
        Divide each reduced row by its Euclidean norm, last (the estimator's
        ``metric='cosine'``). A zero row (e.g. a ReLU layer silent on an
        input) has no direction and stays zero.

    Attributes
    ----------
    n_features : int
        Width of the reduced output.
    pool_to : (int, int) or None
        Grid that a convolutional map is average-pooled to, if any.
    projection : torch.Tensor or None
        The ``(width, max_features)`` random projection, if any.
    normalize : bool
        Whether the rows are L2-normalised.

    Examples
    --------
    >>> import torch
    >>> from sklearn_daeknn import LayerReducer
    >>> reducer = LayerReducer((64, 14, 14), max_features=4096, seed=0)
    >>> reducer
    LayerReducer((64, 14, 14) -> 4096, pool to (8, 8))
    >>> reducer(torch.zeros(2, 64, 14, 14)).shape
    torch.Size([2, 4096])
    >>> LayerReducer((3,), max_features=None, seed=0, normalize=True)(
    ...     torch.tensor([[0.0, 3.0, 4.0]]))
    tensor([[0.0000, 0.6000, 0.8000]])
    """

    #: Reducers pickled before normalisation existed do not normalise.
    normalize = False

    def __init__(
        self,
        shape: tuple[int, ...],
        max_features: int | None,
        seed: int,
        *,
        normalize: bool = False,
    ):
        self.shape = tuple(shape)
        self.normalize = bool(normalize)
        self.pool_to: tuple[int, int] | None = None
        self.projection: torch.Tensor | None = None
        width = math.prod(self.shape)
        if max_features is None or width <= max_features:
            self.n_features = width
            return
        if len(self.shape) == 3:
            channels, height, wide = self.shape
            side = (
                math.isqrt(max_features // channels) if channels <= max_features else 0
            )
            if side >= 1:
                self.pool_to = (min(side, height), min(side, wide))
                self.n_features = channels * self.pool_to[0] * self.pool_to[1]
                return
            self.pool_to = (1, 1)
            width = channels
            if width <= max_features:
                self.n_features = width
                return
        generator = torch.Generator().manual_seed(int(seed))
        self.projection = torch.randn(
            width, max_features, generator=generator
        ) / math.sqrt(max_features)
        self.n_features = max_features

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        if self.pool_to is not None:
            output = F.adaptive_avg_pool2d(output, self.pool_to)
        output = output.reshape(len(output), -1)
        if self.projection is not None:
            output = output @ self.projection.to(output.device, output.dtype)
        if self.normalize:
            output = l2_normalize(output)
        return output

    def __repr__(self) -> str:
        steps = [f"pool to {self.pool_to}"] if self.pool_to else []
        if self.projection is not None:
            steps.append("random projection")
        if self.normalize:
            steps.append("L2-normalised")
        how = "".join(f", {step}" for step in steps)
        return f"LayerReducer({self.shape} -> {self.n_features}{how})"


def layer_outputs(
    module: nn.Module, layers: Sequence[str], xb: torch.Tensor
) -> list[torch.Tensor]:
    """The outputs of the submodules ``layers`` when ``module`` runs on ``xb``.

    Forward hooks are registered for this call only. A module is shared by
    every thread that uses it, and so are its hooks: each hook records only
    the forward passes of the thread that registered it, so concurrent calls
    (a web service, joblib's threading backend) each get their own outputs.
    Gradients flow through the returned tensors unless the caller disables
    them.

    Raises a ``ValueError`` naming the layer when one of them is not called
    by ``module``'s forward or returns something else than one tensor.
    """
    named = dict(module.named_modules())
    outputs: dict[str, Any] = {}
    caller = threading.get_ident()

    def record(name: str, out: Any) -> None:
        if threading.get_ident() == caller:
            outputs[name] = out

    handles = [
        named[name].register_forward_hook(
            lambda _m, _i, out, name=name: record(name, out)
        )
        for name in layers
    ]
    try:
        module(xb)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in layers if name not in outputs]
    if missing:
        raise ValueError(
            f"The network's forward never calls the layer(s) {missing}: kNN "
            "layers must be submodules that forward runs (see "
            "module.named_modules() and forward)."
        )
    for name in layers:
        if not isinstance(outputs[name], torch.Tensor):
            raise ValueError(
                f"The layer {name!r} returns a {type(outputs[name]).__name__}, not "
                "a tensor: kNN layers must return one tensor (for an LSTM, say, "
                "use a submodule after the one that returns a tuple)."
            )
    return [outputs[name] for name in layers]


def check_layer_outputs(
    module: nn.Module, layers: Sequence[str], probe: torch.Tensor
) -> None:
    """Check on ``probe`` (two samples or more) that every layer of ``layers``
    runs and returns one tensor with the batch first, in eval mode.

    Raises a ``ValueError`` naming the first layer that does not.
    """
    was_training = module.training
    try:
        with torch.no_grad():
            outs = layer_outputs(module.eval(), layers, probe)
    finally:
        module.train(was_training)
    for name, out in zip(layers, outs, strict=True):
        if out.ndim == 0 or out.shape[0] != len(probe):
            raise ValueError(
                f"The layer {name!r} returns shape {tuple(out.shape)} for a batch "
                f"of {len(probe)} samples: its first axis must be the batch."
            )


def max_feature_magnitude(n_features: int) -> float:
    """Largest feature magnitude whose squared distances fit in float32.

    The indexes compute squared Euclidean distances between float32
    features; for two vectors of ``d`` entries each at most ``m`` in
    magnitude, every squared norm, dot product and squared distance on the
    way is at most ``4 m^2 d``.
    """
    return math.sqrt(float(torch.finfo(torch.float32).max) / (4 * max(n_features, 1)))


def check_feature_values(
    features: torch.Tensor, layer: str, inputs: np.ndarray
) -> None:
    """Raise a ``ValueError`` naming ``layer`` when its features are not
    finite, or so large that their distances would overflow float32."""
    width = features.shape[1] if features.ndim == 2 else 1
    # One reduction (and one device sync): max propagates NaN.
    peak = float(features.abs().max()) if features.numel() else 0.0
    limit = max_feature_magnitude(width)
    if peak <= limit:
        return
    span = f"[{float(np.min(inputs)):.3g}, {float(np.max(inputs)):.3g}]"
    if not math.isfinite(peak):
        raise ValueError(
            f"The features of layer {layer!r} are not finite (NaN or infinity) "
            f"on inputs with values in {span}: the network overflows on them, or "
            "its weights diverged in training. Scale the inputs (for example "
            "with StandardScaler) or lower lr."
        )
    raise ValueError(
        f"The features of layer {layer!r} reach {peak:.3g} in magnitude, beyond "
        f"{limit:.3g}, where squared distances between {width}-wide float32 "
        f"features overflow, on inputs with values in {span}. Scale the inputs "
        "(for example with StandardScaler) or set clip."
    )


def extract_layer_features(
    module: nn.Module,
    X: np.ndarray,
    layers: Sequence[str],
    *,
    reducers: list[LayerReducer] | None = None,
    max_features: int | None = None,
    seed: int = 0,
    normalize: bool = False,
    batch_size: int = 256,
    device: Any = "cpu",
    verbose: int = 0,
) -> tuple[list[np.ndarray], list[LayerReducer]]:
    """Compute the reduced float32 features of ``layers`` for inputs ``X``.

    Parameters
    ----------
    module : torch.nn.Module
        The network, run in eval mode (the caller's mode is restored).
    X : ndarray
        Inputs in the module's shape, with a leading batch axis.
    layers : sequence of str
        Names of submodules whose outputs are returned.
    reducers : list of LayerReducer, default=None
        The reductions to apply; ``None`` creates them from the first batch
        (at fit time) with ``max_features`` and ``seed``.
    max_features, seed, normalize
        Used only to create reducers (see :class:`LayerReducer`).
    batch_size : int, default=256
        Samples per forward pass.
    device : str or torch.device, default="cpu"
        Where the module runs.
    verbose : int, default=0
        Progress bar when positive.

    Returns
    -------
    features : list of ndarray of shape (n_samples, n_features_l), float32
        One array per layer, in the order of ``layers``.
    reducers : list of LayerReducer
        The reductions used (pass them back at predict time).
    """
    n = len(X)
    features: list[np.ndarray] = []
    # Switch modes only when needed: a fitted estimator's module is already in
    # eval mode, and concurrent predictions must not flip a shared module's
    # mode under each other.
    was_training = module.training
    if was_training:
        module.eval()
    try:
        with torch.inference_mode():
            for start in progress(
                range(0, n, batch_size),
                total=math.ceil(n / batch_size),
                desc="layer features",
                verbose=verbose,
            ):
                batch = X[start : start + batch_size]
                if not batch.flags.writeable:  # e.g. a pandas 3 (copy-on-write) view
                    batch = batch.copy()
                xb = torch.as_tensor(batch).to(device)
                outs = layer_outputs(module, layers, xb)
                if reducers is None:
                    reducers = [
                        LayerReducer(
                            tuple(out.shape[1:]),
                            max_features,
                            seed + i,
                            normalize=normalize,
                        )
                        for i, out in enumerate(outs)
                    ]
                if not features:
                    features = [
                        np.empty((n, r.n_features), dtype=np.float32) for r in reducers
                    ]
                for name, feat, reducer, out in zip(
                    layers, features, reducers, outs, strict=True
                ):
                    if out.ndim == 0 or len(out) != len(xb):
                        raise ValueError(
                            f"The layer {name!r} returns shape {tuple(out.shape)} "
                            f"for a batch of {len(xb)} samples: its first axis "
                            "must be the batch."
                        )
                    reduced = reducer(out.float())
                    check_feature_values(reduced, name, batch)
                    feat[start : start + len(out)] = reduced.cpu().numpy()
    finally:
        if was_training:
            module.train()
    if reducers is None:  # no samples at all
        raise ValueError("X has no samples.")
    return features, reducers
