"""Layer reductions: the L2-normalisation of ``metric='cosine'``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_daeknn import LayerReducer
from sklearn_daeknn._features import extract_layer_features, l2_normalize


def test_l2_normalize_unit_rows_zero_rows_and_huge_rows():
    x = torch.tensor([[3.0, -4.0], [0.0, 0.0], [1e30, 1e30], [1e-30, 0.0]])
    out = l2_normalize(x)
    s = 2**-0.5
    expected = torch.tensor([[0.6, -0.8], [0.0, 0.0], [s, s], [1.0, 0.0]])
    torch.testing.assert_close(out, expected)
    # Without the rescaling, 1e30 squared overflows and the row becomes 0.
    assert torch.isinf(torch.linalg.vector_norm(x[2]))


def test_l2_normalize_is_differentiable():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(l2_normalize, (x,))


def test_reducer_normalizes_last():
    reducer = LayerReducer((4, 6, 6), max_features=16, seed=0, normalize=True)
    assert reducer.pool_to == (2, 2)
    out = reducer(torch.rand(3, 4, 6, 6))
    assert out.shape == (3, 16)
    torch.testing.assert_close(torch.linalg.vector_norm(out, dim=1), torch.ones(3))
    assert "L2-normalised" in repr(reducer)
    plain = LayerReducer((4, 6, 6), max_features=16, seed=0)
    x = torch.rand(3, 4, 6, 6)
    torch.testing.assert_close(reducer(x), l2_normalize(plain(x)))


def test_reducers_pickled_before_normalisation_do_not_normalise():
    reducer = LayerReducer((3,), max_features=None, seed=0)
    del reducer.__dict__["normalize"]
    restored = pickle.loads(pickle.dumps(reducer))
    x = torch.tensor([[3.0, 4.0, 0.0]])
    torch.testing.assert_close(restored(x), x)


def test_non_finite_features_are_reported_after_normalisation():
    net = nn.Sequential(nn.Identity(), nn.Linear(2, 2))
    X = np.array([[np.inf, 1.0], [1.0, 2.0]], dtype=np.float32)
    with pytest.raises(ValueError, match="layer '0' are not finite"):
        extract_layer_features(net, X, ["0"], normalize=True)
    features, reducers = extract_layer_features(net, X[1:], ["0"], normalize=True)
    assert reducers[0].normalize
    np.testing.assert_allclose(features[0], [[1 / 5**0.5, 2 / 5**0.5]], rtol=1e-6)
