"""The vote as a torch module: agreement with predict, the weighting, blocks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.neighbors import KNeighborsClassifier

from sklearn_daeknn import SoftKNNVote, vote_weights
from sklearn_daeknn._surrogate import vote_weights_torch

#: The agreement of the default surrogate's argmax with predict, on digits.
#: Measured: 0.995 (DAEkNN) and 1.0 (DkNN) on the 200 test digits.
AGREEMENT = 0.97


@pytest.mark.parametrize("name", ["fitted_daeknn", "fitted_dknn"])
def test_argmax_agrees_with_predict(request, digits, name):
    estimator = request.getfixturevalue(name)
    _, _, X, _ = digits
    vote = SoftKNNVote(estimator)
    with torch.no_grad():
        scores = vote(torch.from_numpy(X))
    agreement = np.mean(estimator.classes_[scores.argmax(1)] == estimator.predict(X))
    assert agreement >= AGREEMENT
    np.testing.assert_allclose(
        vote.exact_proba(torch.from_numpy(X)).numpy(),
        estimator.predict_proba(X),
        atol=1e-5,
    )


@pytest.mark.parametrize("weighting", ["relative", "softmax", "uniform", "released"])
@given(
    d=st.lists(st.floats(0, 50), min_size=2, max_size=2),
    temperature=st.floats(0.05, 10),
)
def test_torch_weighting_equals_vote_weights(weighting, d, temperature):
    d_b, d_a = np.array([d[0]]), np.array([d[1]])
    expected, _ = vote_weights(d_b, d_a, weighting=weighting, temperature=temperature)
    got = vote_weights_torch(
        torch.tensor(d_b),
        torch.tensor(d_a),
        weighting=weighting,
        temperature=temperature,
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_gradient_toward_every_class(fitted_dknn, digits):
    _, _, X, y = digits
    vote = SoftKNNVote(fitted_dknn)
    x = torch.from_numpy(X[:30]).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(vote(x), torch.as_tensor(y[:30]))
    (grad,) = torch.autograd.grad(loss, x)
    # Even inputs whose nearest points all share their class get a gradient.
    assert torch.all(grad.abs().sum(1) > 0)


def test_restricted_view_and_blocks_give_the_same_function(fitted_daeknn, digits):
    _, _, X, _ = digits
    x = torch.from_numpy(X[:40])
    vote = SoftKNNVote(fitted_daeknn)
    small = SoftKNNVote(fitted_daeknn, max_block_bytes=4 * 700 * 3)  # 3 rows
    sub = vote.restricted_to(x)
    with torch.no_grad():
        full = vote(x)
        torch.testing.assert_close(small(x), full, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(sub(x), full, atol=1e-4, rtol=1e-4)
        # A pure function: a subset of the batch gives the same rows.
        torch.testing.assert_close(sub(x[5:9]), sub(x)[5:9])
    assert len(sub._sets[0][0]) <= len(vote._sets[0][0])


def test_from_arrays_is_a_knn(digits):
    X, y, X_test, _ = digits
    vote = SoftKNNVote.from_arrays(X, y, n_neighbors=5)
    knn = KNeighborsClassifier(n_neighbors=5).fit(X, y)
    exact = vote.exact_proba(torch.from_numpy(X_test)).numpy()
    agree = np.mean(exact.argmax(1) == knn.predict(X_test))
    assert agree >= 0.97  # ties of distance aside


def test_cosine_metric_normalises(fitted_dknn, digits):
    _, _, X, _ = digits
    est = copy.copy(fitted_dknn)
    est.metric = "cosine"
    vote = SoftKNNVote(est)
    feats = vote.features(torch.from_numpy(X[:5]))
    torch.testing.assert_close(feats[0].norm(dim=1), torch.ones(5))
    points = vote._sets[0][0].points
    torch.testing.assert_close(points.norm(dim=1), torch.ones(len(points)))


def test_errors(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="from_arrays"):
        SoftKNNVote(KNeighborsClassifier().fit(X, y))
    with pytest.raises(ValueError, match="n_neighbors"):
        SoftKNNVote.from_arrays(X, y, n_neighbors=0)
    with pytest.raises(ValueError, match="temperature"):
        SoftKNNVote.from_arrays(X, y).__class__(None, temperature=0)
