"""A first convolution whose input gradient is cheap on the CPU.

PGD, adversarial training and the hardening attack all need the gradient of
the loss with respect to the *image*, so the backward pass runs through the
network's first convolution down to its input. oneDNN computes that gradient
slowly when the convolution has few input channels: for the paper's MNIST
network (1 -> 64 channels, 8x8 kernel, stride 2) it took 16.7 ms for a batch
of 128 against 2.4 ms for the forward pass, a third of a whole PGD step.

:class:`InputConv2d` computes it instead as one matrix product (the kernel
applied to the output gradient) followed by ``ceil(k/s)**2`` shifted,
strided additions (the polyphase form of the transposed convolution):
3.7 ms for the same batch. Its forward pass and weight gradient are
torch's own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

__all__ = ["InputConv2d", "conv2d_input_grad"]


def conv2d_input_grad(
    grad_output: torch.Tensor,
    weight: torch.Tensor,
    input_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """Gradient of ``conv2d(x, weight, stride, padding)`` with respect to ``x``.

    For ``groups=1`` and ``dilation=1``.

    Parameters
    ----------
    grad_output : torch.Tensor of shape (B, O, Ho, Wo)
        Gradient with respect to the convolution's output.
    weight : torch.Tensor of shape (O, C, kh, kw)
        The convolution's kernel.
    input_size : (int, int)
        Height and width of ``x``.
    stride, padding : (int, int)
        The convolution's stride and zero padding.

    Returns
    -------
    grad_input : torch.Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from torch.nn import functional as F
    >>> x = torch.rand(2, 1, 9, 9, requires_grad=True)
    >>> w, g = torch.rand(4, 1, 3, 3), torch.rand(2, 4, 4, 4)
    >>> (expected,) = torch.autograd.grad(F.conv2d(x, w, stride=2), x, g)
    >>> got = conv2d_input_grad(g, w, (9, 9), (2, 2), (0, 0))
    >>> torch.allclose(got, expected, atol=1e-5)
    True
    """
    batch, n_out, h_out, w_out = grad_output.shape
    _, n_in, kh, kw = weight.shape
    sh, sw = stride
    ph, pw = padding
    height, width = input_size
    # Taps per phase: tap i = a * stride + r lands on output row (y + a) of
    # phase r, for output position y.
    th, tw = -(-kh // sh), -(-kw // sw)
    if (th * sh, tw * sw) != (kh, kw):
        weight = F.pad(weight, (0, tw * sw - kw, 0, th * sh - kh))
    # cols[b, y, x, c, a, r, e, q] = sum_o g[b, o, y, x] * w[o, c, a*sh + r, e*sw + q]
    cols = grad_output.permute(0, 2, 3, 1).reshape(-1, n_out) @ weight.reshape(
        n_out, -1
    )
    cols = cols.reshape(batch, h_out, w_out, n_in, th, sh, tw, sw)
    rows = max(h_out - 1 + th, -(-(ph + height) // sh))
    columns = max(w_out - 1 + tw, -(-(pw + width) // sw))
    out = grad_output.new_zeros(batch, n_in, rows, sh, columns, sw)
    for a in range(th):
        for e in range(tw):
            out[:, :, a : a + h_out, :, e : e + w_out, :] += cols[
                :, :, :, :, a, :, e, :
            ].permute(0, 3, 1, 4, 2, 5)
    out = out.reshape(batch, n_in, rows * sh, columns * sw)
    return out[:, :, ph : ph + height, pw : pw + width]


class _InputConv2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int],
        padding: tuple[int, int],
    ) -> torch.Tensor:
        ctx.stride, ctx.padding = stride, padding
        ctx.input_size = tuple(x.shape[-2:])
        ctx.has_bias = bias is not None
        # The input is kept only when the weight's gradient will need it: not
        # during an attack, whose parameters are frozen.
        ctx.save_for_backward(x if weight.requires_grad else None, weight)
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = conv2d_input_grad(
                grad_output, weight, ctx.input_size, ctx.stride, ctx.padding
            )
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad_output,
                x,
                weight,
                [weight.shape[0]] if ctx.has_bias else None,
                list(ctx.stride),
                list(ctx.padding),
                [1, 1],
                False,
                [0, 0],
                1,
                [False, ctx.needs_input_grad[1], ctx.needs_input_grad[2]],
            )
        return grad_x, grad_w, grad_b, None, None


class InputConv2d(nn.Conv2d):
    """``nn.Conv2d`` for a network's first layer, with a fast input gradient.

    Same parameters, state dict and forward values as :class:`torch.nn.Conv2d`.
    When its input is on the CPU and requires a gradient (an attack on the
    image), the backward pass computes that gradient with
    :func:`conv2d_input_grad`. Only plain
    convolutions use it (``groups=1``, ``dilation=1``, numeric zero padding);
    any other configuration runs ``nn.Conv2d`` unchanged.

    Examples
    --------
    >>> import torch
    >>> conv = InputConv2d(1, 8, 8, stride=2, padding=3)
    >>> x = torch.rand(4, 1, 28, 28, requires_grad=True)
    >>> conv(x).sum().backward()
    >>> x.grad.shape
    torch.Size([4, 1, 28, 28])
    """

    def _plain(self) -> bool:
        return (
            self.groups == 1
            and self.dilation == (1, 1)
            and self.padding_mode == "zeros"
            and not isinstance(self.padding, str)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # On the CPU only: oneDNN is the slow one; cuDNN's input gradient is
        # left alone.
        if (
            x.device.type == "cpu"
            and x.requires_grad
            and torch.is_grad_enabled()
            and self._plain()
        ):
            return _InputConv2dFunction.apply(
                x, self.weight, self.bias, self.stride, self.padding
            )
        return super().forward(x)
