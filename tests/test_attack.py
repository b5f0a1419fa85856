"""PGD and Madry adversarial training."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from skorch import NeuralNetClassifier
from torch import nn

from sklearn_daeknn import MLP, PGD, AdversarialNetClassifier, pgd_perturb


def _net(seed=0, n_features=6, n_classes=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, n_classes))


@given(
    eps=st.floats(0.0, 0.5),
    n_steps=st.integers(0, 5),
    random_start=st.booleans(),
    seed=st.integers(0, 2**16),
    low=st.floats(-1.0, 0.0),
)
def test_pgd_stays_in_ball_and_box(eps, n_steps, random_start, seed, low):
    rng = np.random.RandomState(seed)
    high = low + 1.0
    X = rng.uniform(low, high, size=(7, 6)).astype(np.float32)
    y = rng.randint(3, size=7)
    attack = PGD(
        eps=eps,
        n_steps=n_steps,
        random_start=random_start,
        clip=(low, high),
        random_state=seed,
    )
    X_adv = attack.generate(_net(seed), X, y)
    assert X_adv.dtype == np.float32 and X_adv.shape == X.shape
    assert np.abs(X_adv - X).max(initial=0) <= eps + 1e-6
    assert X_adv.min() >= np.float32(low) and X_adv.max() <= np.float32(high)


@given(seed=st.integers(0, 2**16), n_steps=st.integers(0, 5))
def test_pgd_eps_zero_returns_input(seed, n_steps):
    X = np.random.RandomState(seed).rand(5, 6).astype(np.float32)
    X_adv = PGD(eps=0.0, n_steps=n_steps, clip=None).generate(
        _net(), X, np.zeros(5, int)
    )
    np.testing.assert_array_equal(X_adv, X)


def test_pgd_is_deterministic_under_seed():
    X = np.random.RandomState(0).rand(20, 6).astype(np.float32)
    y = np.arange(20) % 3
    a = PGD(eps=0.2, clip=(0, 1), random_state=3).generate(_net(), X, y)
    b = PGD(eps=0.2, clip=(0, 1), random_state=3).generate(_net(), X, y)
    c = PGD(eps=0.2, clip=(0, 1), random_state=4).generate(_net(), X, y)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pgd_lowers_network_accuracy(fitted_dknn, digits):
    _, _, X_test, y_test = digits
    clean = np.mean(fitted_dknn.predict_network(X_test) == y_test)
    X_adv = PGD(eps=0.2, random_state=0).generate(fitted_dknn, X_test, y_test)
    adv = np.mean(fitted_dknn.predict_network(X_adv) == y_test)
    assert clean > 0.8
    assert adv < clean - 0.3


def test_pgd_restores_mode_and_leaves_parameter_gradients_alone():
    net = _net().train()
    x, y = torch.rand(4, 6), torch.tensor([0, 1, 2, 0])
    pgd_perturb(net, x, y, eps=0.1, n_steps=3)
    assert net.training
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    pgd_perturb(net, x, y, eps=0.1, n_steps=3)
    assert not net.training


def test_pgd_freezes_parameters_and_restores_them_even_on_error():
    net = _net()
    frozen = next(net.parameters())
    frozen.requires_grad_(False)  # the user's own choice must survive
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = net

        def forward(self, x):
            seen.append([p.requires_grad for p in net.parameters()])
            return self.inner(x)

    x, y = torch.rand(4, 6), torch.tensor([0, 1, 2, 0])
    pgd_perturb(Spy(), x, y, eps=0.1, n_steps=2)
    assert seen and not any(any(flags) for flags in seen)
    assert [p.requires_grad for p in net.parameters()][0] is False
    assert all(p.requires_grad for p in list(net.parameters())[1:])

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = net

        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        pgd_perturb(Broken().train(), x, y, eps=0.1, n_steps=2)
    assert all(p.requires_grad for p in list(net.parameters())[1:])
    assert not frozen.requires_grad


def test_pgd_without_labels_uses_predictions():
    net = _net()
    X = np.random.RandomState(0).rand(10, 6).astype(np.float32)
    with torch.no_grad():
        y_pred = net(torch.from_numpy(X)).argmax(1).numpy()
    a = PGD(eps=0.1, clip=None, random_state=0).generate(net, X)
    b = PGD(eps=0.1, clip=None, random_state=0).generate(net, X, y_pred)
    np.testing.assert_array_equal(a, b)


def test_pgd_rejects_bad_input(fitted_daeknn, digits):
    _, _, X_test, y_test = digits
    with pytest.raises(ValueError, match="outside the box"):
        PGD(eps=0.1).generate(fitted_daeknn, X_test + 2.0, y_test)
    with pytest.raises(ValueError, match="unseen at fit"):
        PGD(eps=0.1).generate(fitted_daeknn, X_test[:3], np.array([0, 1, 99]))
    with pytest.raises(ValueError, match="NaN"):
        PGD(eps=0.1).generate(fitted_daeknn, np.full_like(X_test[:2], np.nan))
    with pytest.raises(ValueError, match="'eps' parameter of PGD"):
        PGD(eps=-0.1).generate(fitted_daeknn, X_test, y_test)
    with pytest.raises(ValueError, match="'norm' parameter of PGD"):
        PGD(eps=0.1, norm="L1").generate(fitted_daeknn, X_test, y_test)
    with pytest.raises(ValueError, match="differentiate"):
        PGD(eps=0.1).generate(object(), X_test, y_test)
    with pytest.raises(ValueError, match="shape"):
        PGD(eps=0.1).generate(fitted_daeknn, X_test[:, :10], y_test)
    # A bare module does not know its box: no silent (0, 1).
    with pytest.raises(ValueError, match="clip='auto'"):
        PGD(eps=0.1).generate(_net(n_features=64), X_test, y_test)


def test_attacks_share_scikit_learn_parameter_handling():
    attack = PGD(eps=0.1, norm="2", n_steps=3, random_state=0)
    assert attack.get_params()["norm"] == "2"
    assert repr(attack) == "PGD(eps=0.1, n_steps=3, norm='2', random_state=0)"
    copy = clone(attack).set_params(eps=0.2)
    assert copy.eps == 0.2 and attack.eps == 0.1
    with pytest.raises(ValueError, match="Invalid parameter"):
        attack.set_params(steps=3)


def test_default_box_is_the_estimators(fitted_dknn, digits):
    _, _, X_test, y_test = digits
    X_adv = PGD(eps=0.5, n_steps=3, random_state=0).generate(
        fitted_dknn, X_test[:20], y_test[:20]
    )
    assert X_adv.min() >= 0.0 and X_adv.max() <= 1.0
    assert X_adv.max() == 1.0  # eps 0.5 reaches the box


def test_l2_pgd_lowers_network_accuracy(fitted_dknn, digits):
    _, _, X_test, y_test = digits
    clean = np.mean(fitted_dknn.predict_network(X_test) == y_test)
    X_adv = PGD(eps=1.5, norm="L2", random_state=0).generate(
        fitted_dknn, X_test, y_test
    )
    assert np.linalg.norm(X_adv - X_test, axis=1).max() <= 1.5 + 1e-5
    assert np.mean(fitted_dknn.predict_network(X_adv) == y_test) < clean - 0.3


def _train(net_cls, **kwargs):
    X = np.random.RandomState(0).rand(64, 4).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    torch.manual_seed(0)
    net = net_cls(
        MLP(input_shape=(4,), n_classes=2),
        criterion=nn.CrossEntropyLoss,
        train_split=None,
        max_epochs=3,
        batch_size=16,
        verbose=0,
        **kwargs,
    )
    torch.manual_seed(1)
    return net.fit(X, y)


def test_adversarial_training_with_eps_zero_is_standard_training():
    standard = _train(NeuralNetClassifier)
    adversarial = _train(AdversarialNetClassifier, attack_eps=0.0)
    for p, q in zip(
        standard.module_.parameters(), adversarial.module_.parameters(), strict=True
    ):
        torch.testing.assert_close(p, q)


def test_adversarial_training_changes_the_network():
    standard = _train(NeuralNetClassifier)
    adversarial = _train(AdversarialNetClassifier, attack_eps=0.2)
    assert any(
        not torch.allclose(p, q)
        for p, q in zip(
            standard.module_.parameters(), adversarial.module_.parameters(), strict=True
        )
    )
