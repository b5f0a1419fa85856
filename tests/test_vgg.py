"""VGG16: block shapes, width multiplier, batch norm modes, use in the estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from sklearn_daeknn import PGD, VGG16, DAEkNNClassifier, default_knn_layers, refit_knn

BLOCKS = ("block1", "block2", "block3", "block4", "block5")


def _block_outputs(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    outputs = []
    with torch.no_grad():
        for name in BLOCKS:
            x = getattr(net, name)(x)
            outputs.append(x)
    return outputs


@pytest.fixture(scope="module")
def images():
    """Twenty random 3x32x32 images in [0, 1], two classes, flattened."""
    rng = np.random.RandomState(0)
    X = rng.rand(20, 3 * 32 * 32).astype(np.float32)
    y = np.arange(20) % 2
    # A class signal the tiny network can pick up: brighter red channel.
    X[y == 1, :1024] = np.clip(X[y == 1, :1024] + 0.3, 0, 1)
    return X, y


@pytest.fixture(scope="module")
def fitted_vgg(images):
    X, y = images
    return DAEkNNClassifier(
        VGG16,
        input_shape=(3, 32, 32),
        module_params=dict(width=1 / 16),
        layers=["block3", "block4"],
        n_neighbors=3,
        max_epochs=1,
        batch_size=8,
        train_eps=8 / 255,
        train_steps=1,
        hardening_strength=8 / 255,
        hardening_steps=2,
        clip=(0.0, 1.0),
        index="exact",
        random_state=0,
    ).fit(X, y)


def test_full_width_block_shapes_and_size():
    net = VGG16().eval()
    shapes = [
        tuple(o.shape[1:]) for o in _block_outputs(net, torch.zeros(1, 3, 32, 32))
    ]
    assert shapes == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2), (512, 1, 1)]
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) for m in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 13
    assert [type(getattr(net, b)[-1]) for b in BLOCKS] == [nn.MaxPool2d] * 5
    assert net.head[-1].in_features == 512
    # The standard CIFAR-10 VGG16-BN: 14.73 million parameters.
    assert sum(p.numel() for p in net.parameters()) == 14_728_266
    assert default_knn_layers(net) == BLOCKS


@pytest.mark.parametrize(
    ("width", "channels"),
    [(0.125, (8, 16, 32, 64, 64)), (0.5, (32, 64, 128, 256, 256)), (0.001, (1,) * 5)],
)
def test_width_multiplier(width, channels):
    net = VGG16(n_classes=7, width=width).eval()
    outputs = _block_outputs(net, torch.zeros(2, 3, 32, 32))
    assert tuple(o.shape[1] for o in outputs) == channels
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


def test_larger_input_and_no_batch_norm():
    net = VGG16(input_shape=(1, 64, 48), n_classes=3, batch_norm=False).eval()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    last = _block_outputs(net, torch.zeros(1, 1, 64, 48))[-1]
    assert last.shape == (1, 512, 2, 1)
    assert net.head[-1].in_features == 1024
    assert net(torch.zeros(1, 1, 64, 48)).shape == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(input_shape=(3, 16, 16)), r"at least 32; got input_shape=\(3, 16, 16\)"),
        (dict(input_shape=(3072,)), "input_shape"),
        (dict(width=0), "width must be a positive float; got width=0"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VGG16(**kwargs)


def test_fit_predict_with_selected_blocks(fitted_vgg, images):
    X, y = images
    clf = fitted_vgg
    assert clf.layers_ == ("block3", "block4")
    assert isinstance(clf.net_.module_, VGG16)
    features = clf.layer_features(X[:4])
    # block3: 16 x 4 x 4, block4: 32 x 2 x 2 at width 1/16.
    assert [f.shape for f in features] == [(4, 256), (4, 128)]
    proba = clf.predict_proba(X)
    assert proba.shape == (20, 2)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X)) <= {0, 1}
    assert clf.hardening_indexes_ is not None
    assert clf.predict_network(X).shape == (20,)


def test_trained_in_train_mode(fitted_vgg):
    # Training ran in train mode: the batch norm running statistics moved
    # away from their initial values (mean 0, variance 1).
    bns = [
        m for m in fitted_vgg.net_.module_.modules() if isinstance(m, nn.BatchNorm2d)
    ]
    assert len(bns) == 13
    assert all(int(bn.num_batches_tracked) > 0 for bn in bns)
    assert any(bn.running_mean.abs().max() > 1e-3 for bn in bns)


def test_features_and_attacks_use_eval_mode(fitted_vgg, images):
    X, y = images
    module = fitted_vgg.net_.module_
    state = {k: v.clone() for k, v in module.state_dict().items()}
    # In eval mode a sample's features do not depend on the rest of the batch
    # (in train mode batch norm would use the batch's statistics).
    alone = fitted_vgg.layer_features(X[:1])
    together = fitted_vgg.layer_features(X[:8])
    for a, b in zip(alone, together, strict=True):
        assert_allclose(a[0], b[0], rtol=1e-4, atol=1e-5)
    module.train()
    PGD(eps=8 / 255, n_steps=2, random_state=0).generate(fitted_vgg, X[:8], y[:8])
    fitted_vgg.layer_features(X[:8])
    # Neither call updated the running statistics, and both restored the mode.
    assert module.training
    module.eval()
    for key, value in module.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_with_network_keeps_the_trained_batch_norm(fitted_vgg, images):
    # The benchmark's hardened models reuse the trained network (max_epochs=0):
    # its weights and batch norm statistics must come through unchanged.
    X, y = images
    refit = refit_knn(fitted_vgg, X, y, hardening_strength=4 / 255)
    old, new = fitted_vgg.net_.module_.state_dict(), refit.net_.module_.state_dict()
    assert old.keys() == new.keys()
    for key in old:
        assert torch.equal(old[key], new[key]), key
    assert refit.hardening_strength == 4 / 255
    assert refit.predict(X).shape == (20,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_and_reuse_of_the_network(images):
    X, y = images
    clf = DAEkNNClassifier(
        VGG16,
        input_shape=(3, 32, 32),
        module_params=dict(width=1 / 16),
        max_epochs=1,
        train_steps=1,
        hardening_steps=1,
        hardening_strength=8 / 255,
        clip=(0.0, 1.0),
        device="cuda",
        random_state=0,
    ).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    refit = refit_knn(clf, X, y, hardening_strength=4 / 255)
    assert refit.predict_proba(X).shape == (20, 2)
    X_adv = PGD(eps=8 / 255, n_steps=2, random_state=0).generate(refit, X, y)
    assert np.abs(X_adv - X).max() <= 8 / 255 + 1e-6
