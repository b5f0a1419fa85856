"""Input checks shared by the attack and the estimator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def check_clip(clip: Any) -> tuple[float, float] | None:
    """Validate a data box ``(low, high)`` and return it as floats."""
    if clip is None:
        return None
    try:
        low, high = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(
            f"clip must be None or a pair (low, high) of numbers; got {clip!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"clip must be a pair (low, high) of finite numbers with low < high; "
            f"got {clip!r}."
        )
    return low, high


def check_box(X: np.ndarray, clip: tuple[float, float] | None, *, name: str) -> None:
    """Raise a ``ValueError`` when ``X`` has values outside the box ``clip``.

    The bounds are compared in ``X``'s precision: float64 data at its own
    bounds, ``clip=(X.min(), X.max())``, is inside the box once both are
    rounded to float32, as the estimator and the attacks round the data (and
    the attacks' clamps round the bounds) to float32.
    """
    if clip is None or X.size == 0:
        return
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    low, high = (np.asarray(bound, dtype=dtype) for bound in clip)
    x_min, x_max = X.min(), X.max()
    if x_min < low or x_max > high:
        raise ValueError(
            f"{name} has values in [{float(x_min):g}, {float(x_max):g}], outside "
            "the box "
            f"clip={tuple(clip)!r}. Scale the data into the box (for example "
            "with MinMaxScaler(clip=True)) or set clip=None for unbounded data."
        )


def check_input_shape(input_shape: Any, n_features: int) -> tuple[int, ...]:
    """Validate ``input_shape`` against the number of features of ``X``."""
    if input_shape is None:
        return (int(n_features),)
    if isinstance(input_shape, int | np.integer):
        input_shape = (input_shape,)
    if not isinstance(input_shape, Sequence) or not all(
        isinstance(s, int | np.integer) and s > 0 for s in input_shape
    ):
        raise ValueError(
            "input_shape must be None or a tuple of positive ints, e.g. (1, 8, 8); "
            f"got {input_shape!r}."
        )
    shape = tuple(int(s) for s in input_shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            f"input_shape={shape!r} holds {int(np.prod(shape))} values per sample, "
            f"but X has {n_features} features."
        )
    return shape


def check_device(device: Any) -> torch.device:
    """``torch.device(device)``, or a ``ValueError`` saying why it cannot be used."""
    given = device
    try:
        device = torch.device(given)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={given!r} is not a torch device; use e.g. 'cpu' or 'cuda'."
        ) from None
    if device.type == "meta":
        raise ValueError(
            f"device={given!r} holds no data (its tensors have shapes "
            "only), so nothing can be trained or searched on it; use 'cpu' or "
            "an accelerator such as 'cuda'."
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={given!r} but torch.cuda.is_available() is False.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={given!r} but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s): use an index below "
            f"{torch.cuda.device_count()}."
        )
    if device.type not in ("cpu", "cuda"):
        try:
            torch.empty(1, device=device)
        except Exception as exc:
            # torch's message may list every backend: its first line says it.
            reason = str(exc).strip().split("\n")[0][:200]
            raise ValueError(
                f"device={given!r} is not available on this machine "
                f"({type(exc).__name__}: {reason}); use 'cpu' or a device "
                "this torch build supports."
            ) from None
    return device
