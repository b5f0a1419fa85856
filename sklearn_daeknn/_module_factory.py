"""Building the user's network: the default for the data, a class, or a copy.

The estimator's ``module`` parameter may be ``None`` (the default network for
the input shape), a ``torch.nn.Module`` class (built with ``module_params``,
and ``input_shape``/``n_classes`` where it takes them) or an instance (deep
copied, so that fitting never trains the user's object). Whatever it is, the
result is checked on a probe batch before training, which may take hours.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import torch
from torch import nn

from ._networks import MLP, SmallCNN

__all__ = ["build_module", "construct", "is_trainable", "probe_input"]


def probe_input(module: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """Two zero samples of ``shape``, on the device of ``module``'s parameters."""
    param = next(module.parameters(), None)
    return torch.zeros(2, *shape, device=None if param is None else param.device)


def is_trainable(module: nn.Module) -> bool:
    """Whether ``module`` has a parameter that training would update."""
    return any(p.requires_grad for p in module.parameters())


def construct(cls: type, given: dict[str, Any], params: dict[str, Any]) -> nn.Module:
    """``cls(**given, **params)``, its failure a ``ValueError`` naming both."""
    kwargs = {**given, **params}
    try:
        return cls(**kwargs)
    except Exception as exc:
        raise ValueError(
            f"Cannot build the network {cls.__name__}(**{kwargs!r}) from "
            f"module_params={params!r}: {type(exc).__name__}: {exc}."
        ) from exc


def build_module(
    module: Any,
    module_params: dict[str, Any] | None,
    n_classes: int,
    shape: tuple[int, ...],
) -> nn.Module:
    """The network to train: ``module`` built (a class, or ``None`` for the
    default of ``shape``) or copied (an instance), then checked on a probe.

    Raises a ``ValueError`` naming the parameter when the network cannot be
    built or does not return one ``(n_classes,)`` row of logits per sample.
    """
    params = dict(module_params or {})
    if module is None:
        cls = SmallCNN if len(shape) == 3 else MLP
        given = {"input_shape": shape, "n_classes": n_classes}
        module = construct(cls, given, params)
    elif isinstance(module, nn.Module):
        if params:
            raise ValueError(
                "module_params applies only when module is a class; got an "
                f"instance of {type(module).__name__} and module_params={params}."
            )
        module = copy.deepcopy(module)
    elif isinstance(module, type) and issubclass(module, nn.Module):
        try:
            accepted = inspect.signature(module).parameters
        except (TypeError, ValueError):
            accepted = {}
        given = {
            name: value
            for name, value in (("input_shape", shape), ("n_classes", n_classes))
            if name in accepted and name not in params
        }
        module = construct(module, given, params)
    else:
        raise ValueError(
            "module must be None, a torch.nn.Module subclass or instance; got "
            f"{module!r}."
        )
    if len(shape) == 3 and any(isinstance(m, nn.Conv2d) for m in module.modules()):
        # oneDNN's (and cuDNN's) convolutions are faster in NHWC: 1.03x
        # (MNISTCNN) to 1.18x (SmallCNN) for PGD, docs/results/scale.md.
        module = module.to(memory_format=torch.channels_last)
    # Two samples, not one: a module that mixes or collapses the batch axis
    # can still return (1, n_classes) for one sample.
    probe = probe_input(module, shape)
    try:
        with torch.no_grad():
            out = module.eval()(probe)
    except Exception as exc:
        raise ValueError(
            f"The network fails on inputs of shape input_shape={shape}: "
            f"{type(exc).__name__}: {exc}. Check input_shape and the module."
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"The network returns a {type(out).__name__}; it must return one "
            f"tensor of ({n_classes},) logits per sample."
        )
    if tuple(out.shape) != (len(probe), n_classes):
        raise ValueError(
            f"The network returns outputs of shape {tuple(out.shape)} for "
            f"{len(probe)} samples, but y has {n_classes} classes: it must "
            f"return ({len(probe)}, {n_classes}) logits, the batch first."
        )
    return module
