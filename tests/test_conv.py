"""InputConv2d: nn.Conv2d's values and gradients, with a faster input gradient."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from sklearn_daeknn import MNISTCNN
from sklearn_daeknn._conv import InputConv2d, conv2d_input_grad


def _pair(seed, n_in, n_out, kernel, stride, padding, bias, **kw):
    torch.manual_seed(seed)
    ref = nn.Conv2d(
        n_in, n_out, kernel, stride=stride, padding=padding, bias=bias, **kw
    )
    ours = InputConv2d(
        n_in, n_out, kernel, stride=stride, padding=padding, bias=bias, **kw
    )
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def _grads(conv, x, g):
    x = x.clone().requires_grad_(True)
    out = conv(x)
    params = [p for p in conv.parameters() if p.requires_grad]
    grads = torch.autograd.grad(out, [x, *params], g)
    return out.detach(), grads


@given(
    seed=st.integers(0, 2**16),
    n_in=st.integers(1, 3),
    n_out=st.integers(1, 5),
    kernel=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    size=st.tuples(st.integers(8, 14), st.integers(8, 14)),
    bias=st.booleans(),
    freeze=st.booleans(),
    channels_last=st.booleans(),
)
def test_same_values_and_gradients_as_conv2d(
    seed, n_in, n_out, kernel, stride, padding, size, bias, freeze, channels_last
):
    ref, ours = _pair(seed, n_in, n_out, kernel, stride, padding, bias)
    if channels_last:
        ref, ours = (m.to(memory_format=torch.channels_last) for m in (ref, ours))
    for p in [*ref.parameters(), *ours.parameters()]:
        p.requires_grad_(not freeze)
    x = torch.rand(2, n_in, *size)
    g = torch.randn_like(ref(x))
    out_ref, grads_ref = _grads(ref, x, g)
    out, grads = _grads(ours, x, g)
    torch.testing.assert_close(out, out_ref)
    assert len(grads) == len(grads_ref) == (1 if freeze else 2 + bias)
    for a, b in zip(grads, grads_ref, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kw", [dict(groups=2), dict(dilation=2), dict(padding="same")])
def test_other_configurations_run_plain_conv2d(kw):
    padding = kw.pop("padding", 1)
    ref, ours = _pair(0, 2, 4, 3, 1, padding, True, **kw)
    assert not ours._plain()
    x = torch.rand(2, 2, 9, 9)
    g = torch.randn_like(ref(x))
    for a, b in zip(_grads(ours, x, g)[1], _grads(ref, x, g)[1], strict=True):
        torch.testing.assert_close(a, b)


def test_mnist_network_uses_it_and_keeps_the_conv2d_state_dict():
    net = MNISTCNN()
    assert isinstance(net.block1[0], InputConv2d)
    assert isinstance(net.block1[0], nn.Conv2d)
    plain = nn.Conv2d(1, 64, 8, stride=2, padding=3)
    net.block1[0].load_state_dict(plain.state_dict())
    torch.testing.assert_close(net.block1[0].weight, plain.weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_it_is_conv2d():  # pragma: no cover - needs a GPU
    ref, ours = _pair(0, 1, 8, 8, 2, 3, True)
    ref, ours = ref.cuda(), ours.cuda()
    x = torch.rand(4, 1, 28, 28, device="cuda")
    g = torch.randn_like(ref(x))
    for a, b in zip(_grads(ours, x, g)[1], _grads(ref, x, g)[1], strict=True):
        torch.testing.assert_close(a, b)
    # The polyphase input gradient itself is device-agnostic.
    got = conv2d_input_grad(g, ours.weight.detach(), (28, 28), (2, 2), (3, 3))
    # cuDNN may use TF32: a tolerance of its precision.
    torch.testing.assert_close(got, _grads(ref, x, g)[1][0], atol=1e-2, rtol=1e-2)
