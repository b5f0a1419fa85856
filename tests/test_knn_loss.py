"""The soft-kNN training loss on the vote layers (``knn_loss_weight``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sklearn_daeknn import DAEkNNClassifier
from sklearn_daeknn._knn_loss import soft_knn_loss
from sklearn_daeknn._training import (
    InterruptibleAdversarialNetClassifier,
    InterruptibleKNNLossAdversarialNetClassifier,
    InterruptibleKNNLossNetClassifier,
)

from .conftest import DIGITS_DAEKNN


def test_loss_is_low_for_separated_classes_and_high_for_mixed_ones():
    rng = np.random.RandomState(0)
    y = torch.as_tensor(np.repeat(np.arange(3), 10))
    centers = torch.as_tensor(rng.rand(3, 4).astype(np.float32)) * 10
    separated = centers[y] + 0.1 * torch.randn(30, 4)
    mixed = centers[torch.randperm(30) % 3] + 0.1 * torch.randn(30, 4)
    low = soft_knn_loss([separated], None, y, y, temperature=0.1)
    high = soft_knn_loss([mixed], None, y, y, temperature=0.1)
    assert low < 0.1 < high
    # The reference form: queries near their class's references.
    queries = separated + 0.05
    assert soft_knn_loss([queries], [separated], y, y, temperature=0.1) < 0.1


def test_self_is_left_out_and_gradients_are_finite_with_duplicates():
    f = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]], requires_grad=True)
    y = torch.tensor([0, 1, 1])
    loss = soft_knn_loss([f], None, y, y, temperature=0.5)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(f.grad).all()
    # Alone in its class once itself is left out: each query is skipped.
    pair, y_pair = f.detach()[[0, 2]], torch.tensor([0, 1])
    alone = soft_knn_loss([pair], [pair], y_pair, y_pair, temperature=1)
    assert float(alone) > 0  # its own copy is a reference (no self-exclusion)
    skipped = soft_knn_loss([pair], None, y_pair, y_pair, temperature=1)
    assert float(skipped) == 0.0


@pytest.fixture(scope="module")
def train(digits):
    X, y, X_test, y_test = digits
    return X[:300], y[:300]


def _loss_on_training_data(est, X, y):
    with torch.no_grad():
        feats = est.layer_features(X)
    y_enc = torch.as_tensor(np.searchsorted(est.classes_, y))
    return float(
        soft_knn_loss(
            [torch.from_numpy(f) for f in feats], None, y_enc, y_enc, temperature=0.1
        )
    )


@pytest.mark.parametrize("adversarial", [True, False])
def test_weight_trains_the_representation_for_the_vote(train, adversarial):
    X, y = train
    params = {**DIGITS_DAEKNN, "adversarial_training": adversarial}
    plain = DAEkNNClassifier(**params).fit(X, y)
    knn = DAEkNNClassifier(**params, knn_loss_weight=2.0).fit(X, y)
    expected = (
        InterruptibleKNNLossAdversarialNetClassifier
        if adversarial
        else InterruptibleKNNLossNetClassifier
    )
    assert type(knn.net_) is expected
    assert knn.net_.knn_loss_layers == knn.layers_
    assert _loss_on_training_data(knn, X, y) < _loss_on_training_data(plain, X, y)


def test_weight_zero_and_no_training_keep_the_plain_network(train):
    X, y = train
    params = {**DIGITS_DAEKNN, "max_epochs": 1}
    assert type(DAEkNNClassifier(**params).fit(X, y).net_) is (
        InterruptibleAdversarialNetClassifier
    )
    trained = DAEkNNClassifier(**params).fit(X, y)
    fixed = DAEkNNClassifier(
        **{**params, "max_epochs": 0},
        module=trained.net_.module_,
        knn_loss_weight=1.0,
    ).fit(X, y)
    assert type(fixed.net_) is InterruptibleAdversarialNetClassifier
