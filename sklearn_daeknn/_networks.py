"""Small default networks whose hidden blocks are the kNN layers.

Every network here names its hidden blocks (``block1``, ``block2``, ...) and
lists them in ``knn_layers``; the estimator uses that list when the user does
not choose ``layers``. The logits (``head``) are never a kNN layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "MNISTCNN", "SmallCNN", "default_knn_layers"]


def default_knn_layers(module: nn.Module) -> tuple[str, ...]:
    """Names of the submodules whose outputs are kNN layers by default.

    A network may declare them in a ``knn_layers`` attribute. Otherwise every
    top-level child but the last one (taken to be the classification head) is
    used.

    Parameters
    ----------
    module : torch.nn.Module
        The network.

    Returns
    -------
    layers : tuple of str
        Names as found in ``module.named_modules()``.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_daeknn import MLP
    >>> default_knn_layers(MLP(input_shape=(4,), n_classes=3))
    ('block1', 'block2')
    >>> default_knn_layers(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    ('0', '1')
    """
    declared = getattr(module, "knn_layers", None)
    if declared is not None:
        return tuple(declared)
    names = [name for name, _ in module.named_children()]
    return tuple(names[:-1])


def _flat_size(layers: nn.Module, input_shape: Sequence[int]) -> int:
    with torch.no_grad():
        return int(layers(torch.zeros(1, *input_shape)).numel())


class MLP(nn.Module):
    """A fully connected network for flat (tabular) input.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample; its product is the number of input features.
    n_classes : int
        Number of outputs (logits).
    hidden_sizes : sequence of int, default=(64, 64)
        Width of each hidden block (``Linear`` then ``ReLU``).
    dropout : float, default=0.0
        Dropout probability after each hidden block.

    Examples
    --------
    >>> import torch
    >>> from sklearn_daeknn import MLP
    >>> net = MLP(input_shape=(4,), n_classes=3)
    >>> net(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    >>> net.knn_layers
    ('block1', 'block2')
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        hidden_sizes: Sequence[int] = (64, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        width = 1
        for size in input_shape:
            width *= int(size)
        names = []
        for i, size in enumerate(hidden_sizes, start=1):
            block = [nn.Flatten()] if i == 1 else []
            block += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                block.append(nn.Dropout(dropout))
            self.add_module(f"block{i}", nn.Sequential(*block))
            names.append(f"block{i}")
            width = size
        self.head = nn.Linear(width, n_classes)
        self.knn_layers = tuple(names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.knn_layers:
            x = getattr(self, name)(x)
        return self.head(x)


class SmallCNN(nn.Module):
    """A small convolutional network for images of any size.

    Three hidden blocks: a 3x3 convolution, a strided 3x3 convolution and a
    fully connected layer, each followed by ReLU.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    n_classes : int
        Number of outputs (logits).
    channels : tuple of int, default=(32, 64)
        Output channels of the two convolutions.
    hidden_size : int, default=128
        Width of the fully connected block.

    Examples
    --------
    >>> import torch
    >>> from sklearn_daeknn import SmallCNN
    >>> net = SmallCNN(input_shape=(1, 8, 8), n_classes=10)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    knn_layers = ("block1", "block2", "block3")

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        channels: Sequence[int] = (32, 64),
        hidden_size: int = 128,
    ) -> None:
        super().__init__()
        in_channels = int(input_shape[0])
        self.block1 = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, padding=1), nn.ReLU()
        )
        self.block2 = nn.Sequential(
            nn.Conv2d(channels[0], channels[1], 3, stride=2, padding=1), nn.ReLU()
        )
        width = _flat_size(nn.Sequential(self.block1, self.block2), input_shape)
        self.block3 = nn.Sequential(
            nn.Flatten(), nn.Linear(width, hidden_size), nn.ReLU()
        )
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(x))))


class MNISTCNN(nn.Module):
    """The three-block MNIST network of the DAEkNN paper's experiments.

    conv 1->64 (8x8, stride 2, padding 3), conv 64->128 (6x6, stride 2),
    conv 128->128 (5x5), each followed by ReLU and dropout, then a linear
    head. On 28x28 input the blocks have 12544, 3200 and 128 features.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` of one image.
    n_classes : int, default=10
        Number of outputs (logits).
    dropout : float, default=0.0
        Dropout probability after each block.

    Examples
    --------
    >>> import torch
    >>> from sklearn_daeknn import MNISTCNN
    >>> net = MNISTCNN()
    >>> net.block1(torch.zeros(1, 1, 28, 28)).shape
    torch.Size([1, 64, 14, 14])
    """

    knn_layers = ("block1", "block2", "block3")

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        n_classes: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()

        def block(*layers: nn.Module) -> nn.Sequential:
            extra = [nn.Dropout(dropout)] if dropout else []
            return nn.Sequential(*layers, nn.ReLU(), *extra)

        self.block1 = block(nn.Conv2d(int(input_shape[0]), 64, 8, stride=2, padding=3))
        self.block2 = block(nn.Conv2d(64, 128, 6, stride=2))
        self.block3 = block(nn.Conv2d(128, 128, 5))
        width = _flat_size(
            nn.Sequential(self.block1, self.block2, self.block3), input_shape
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(x))))
