"""Small default networks whose hidden blocks are the kNN layers.

Every network here names its hidden blocks (``block1``, ``block2``, ...) and
lists them in ``knn_layers``; the estimator uses that list when the user does
not choose ``layers``. The logits (``head``) are never a kNN layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._conv import InputConv2d

__all__ = ["MLP", "MNISTCNN", "VGG16", "SmallCNN", "default_knn_layers"]


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

        # InputConv2d: oneDNN's input gradient for this few-channel, strided
        # 8x8 convolution is slow, and every attack step needs it (_conv.py).
        self.block1 = block(
            InputConv2d(int(input_shape[0]), 64, 8, stride=2, padding=3)
        )
        self.block2 = block(nn.Conv2d(64, 128, 6, stride=2))
        self.block3 = block(nn.Conv2d(128, 128, 5))
        width = _flat_size(
            nn.Sequential(self.block1, self.block2, self.block3), input_shape
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(x))))


#: Output channels of VGG16's convolutions, one tuple per block.
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512,) * 3)


class VGG16(nn.Module):
    """VGG16 for small images (CIFAR-10), its five convolutional blocks named.

    Thirteen 3x3 convolutions (padding 1) in five blocks, ``block1`` ...
    ``block5``, with 64, 128, 256, 512 and 512 channels (times ``width``);
    each convolution is followed by batch norm (optional) and ReLU, and each
    block ends with a 2x2 max-pool, so on 32x32 input the blocks output maps
    of 16x16, 8x8, 4x4, 2x2 and 1x1. The head is a single linear layer on the
    flattened ``block5`` output, as usual for CIFAR-10 VGGs. The five blocks
    are the kNN layers (the DAEkNN paper's Figure 1); the logits never are.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        ``(channels, height, width)`` of one image; height and width must be
        at least 32 (five 2x2 poolings).
    n_classes : int, default=10
        Number of outputs (logits).
    width : float, default=1.0
        Multiplier of every block's channel count (rounded, at least 1):
        ``0.125`` gives a VGG16 with 8 ... 64 channels that trains on a CPU.
    batch_norm : bool, default=True
        Put a ``BatchNorm2d`` after each convolution. Batch norm makes the
        network's output depend on its mode: the estimator trains it in train
        mode and runs attacks and feature extraction in eval mode.

    Notes
    -----
    At full width, on 3x32x32 input, a forward pass costs about 0.31 GMAC
    (0.63 GFLOP) per image and the network has 14.7 million parameters; the
    cost scales with ``width ** 2``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_daeknn import VGG16
    >>> net = VGG16(width=0.125)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> net.knn_layers
    ('block1', 'block2', 'block3', 'block4', 'block5')
    >>> net.block3(net.block2(net.block1(torch.zeros(1, 3, 32, 32)))).shape
    torch.Size([1, 32, 4, 4])
    """

    knn_layers = ("block1", "block2", "block3", "block4", "block5")

    def __init__(
        self,
        input_shape: Sequence[int] = (3, 32, 32),
        n_classes: int = 10,
        width: float = 1.0,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        input_shape = tuple(int(size) for size in input_shape)
        if len(input_shape) != 3 or min(input_shape[1:]) < 32:
            raise ValueError(
                "VGG16 needs input_shape=(channels, height, width) with height "
                f"and width of at least 32; got input_shape={input_shape}."
            )
        if not width > 0:
            raise ValueError(f"width must be a positive float; got width={width!r}.")
        in_channels = input_shape[0]
        for i, channels in enumerate(VGG16_BLOCKS, start=1):
            layers: list[nn.Module] = []
            for size in channels:
                out_channels = max(1, round(size * width))
                layers.append(nn.Conv2d(in_channels, out_channels, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(nn.ReLU(inplace=True))
                in_channels = out_channels
            layers.append(nn.MaxPool2d(2))
            self.add_module(f"block{i}", nn.Sequential(*layers))
        features = _flat_size(
            nn.Sequential(*(getattr(self, name) for name in self.knn_layers)).eval(),
            input_shape,
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(features, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.knn_layers:
            x = getattr(self, name)(x)
        return self.head(x)
