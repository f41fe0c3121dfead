"""Pointwise losses: gradients and Hessians against central finite differences."""

import numpy as np
import pytest
from scipy.special import logsumexp

from sklearn_influence._models._losses import BinomialLogLoss, MultinomialLogLoss, SquaredError, sum_zero_basis


def _cases(rng):
    n = 7
    yield SquaredError(), rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    yield SquaredError(scale=0.5), rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    yield BinomialLogLoss(), rng.integers(0, 2, n).astype(float), rng.normal(size=(n, 1))
    yield MultinomialLogLoss(4), rng.integers(0, 4, n), rng.normal(size=(n, 3))


def _finite_difference(fun, f, eps=1e-6):
    grad = np.empty(f.shape + fun(f).shape[1:])
    for k in range(f.shape[1]):
        step = np.zeros_like(f)
        step[:, k] = eps
        grad[:, k] = (fun(f + step) - fun(f - step)) / (2 * eps)
    return grad


def test_gradient_and_hessian_match_finite_differences(rng):
    for loss, t, f in _cases(rng):
        numeric_grad = _finite_difference(lambda g: loss.loss(t, g), f)
        np.testing.assert_allclose(loss.gradient(t, f), numeric_grad, rtol=1e-6, atol=1e-8)
        numeric_hess = _finite_difference(lambda g: loss.gradient(t, g), f)  # (n, K, K)
        hess = loss.hessian(t, f)
        if loss.isotropic_hessian:
            hess = hess[:, None, None] * np.eye(f.shape[1])
        np.testing.assert_allclose(hess, numeric_hess, rtol=1e-6, atol=1e-8)


def test_binomial_is_log_loss_of_sigmoid():
    f = np.array([[-3.0], [0.0], [40.0]])
    t = np.array([1.0, 0.0, 0.0])
    p = 1.0 / (1.0 + np.exp(-f[:, 0]))
    np.testing.assert_allclose(BinomialLogLoss().loss(t, f), [-np.log(p[0]), -np.log(1 - p[1]), 40.0])


def test_multinomial_reduced_loss_equals_softmax_log_loss(rng):
    full = rng.normal(size=(5, 4))
    full -= full.mean(axis=1, keepdims=True)  # the identified subspace
    t = rng.integers(0, 4, 5)
    loss = MultinomialLogLoss(4)
    expected = logsumexp(full, axis=1) - full[np.arange(5), t]
    np.testing.assert_allclose(loss.loss(t, full @ loss.basis), expected)


def test_sum_zero_basis_is_orthonormal_and_centred():
    q = sum_zero_basis(5)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(q.sum(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("loss", [SquaredError(), BinomialLogLoss(), MultinomialLogLoss(3)])
def test_targets_broadcast_against_many_parameter_vectors(loss, rng):
    k = 2 if isinstance(loss, MultinomialLogLoss) else (1 if isinstance(loss, BinomialLogLoss) else 2)
    f = rng.normal(size=(3, 5, k))
    t = (
        rng.normal(size=(3, k))
        if isinstance(loss, SquaredError)
        else rng.integers(0, k + 1, 3).astype(float if isinstance(loss, BinomialLogLoss) else int)
    )
    t_b = np.expand_dims(t, 1)
    pairwise = loss.loss(t_b, f)
    assert pairwise.shape == (3, 5)
    for j in range(3):
        np.testing.assert_allclose(pairwise[j], loss.loss(np.broadcast_to(t[j], (5,) + np.shape(t[j])), f[j]))


def _margin_cases(rng):
    from sklearn_influence._models._losses import (
        LogisticMargin,
        MarginLoss,
        ModifiedHuberMargin,
        SmoothHingeMargin,
        SquaredHingeMargin,
    )

    n = 9
    for margin in [SmoothHingeMargin(0.3), SmoothHingeMargin(0.05), LogisticMargin()]:
        for n_classes, scheme in [(2, "ovr"), (3, "ovr"), (4, "ovo")]:
            loss = MarginLoss(margin, n_classes, scheme)
            t = loss.encode(rng.integers(0, n_classes, n))
            yield loss, t, rng.normal(scale=2.0, size=t.shape)
    for margin in [SquaredHingeMargin(), ModifiedHuberMargin()]:  # once differentiable: gradients only
        loss = MarginLoss(margin, 3)
        t = loss.encode(rng.integers(0, 3, n))
        yield loss, t, rng.normal(scale=2.0, size=t.shape)


def test_margin_losses_match_finite_differences(rng):
    from sklearn_influence._models._losses import ModifiedHuberMargin, SquaredHingeMargin

    for loss, t, f in _margin_cases(rng):
        numeric_grad = _finite_difference(lambda g: loss.loss(t, g), f)
        np.testing.assert_allclose(loss.gradient(t, f), numeric_grad, rtol=1e-6, atol=1e-7)
        if isinstance(loss.margin, (SquaredHingeMargin, ModifiedHuberMargin)):
            continue
        numeric_hess = _finite_difference(lambda g: loss.gradient(t, g), f)
        hess = loss.hessian(t, f)
        if loss.isotropic_hessian:
            hess = hess[:, None, None] * np.eye(f.shape[1])
        np.testing.assert_allclose(hess, numeric_hess, rtol=1e-5, atol=1e-7)


def test_smooth_hinge_tends_to_hinge():
    from sklearn_influence._models._losses import SmoothHingeMargin

    s = np.linspace(-3, 3, 61)
    hinge = np.maximum(0, 1 - s)
    for temperature in [0.1, 0.01, 0.001]:
        gap = SmoothHingeMargin(temperature).value(s) - hinge
        assert np.all(gap >= -1e-15) and gap.max() <= temperature * np.log(2) * (1 + 1e-12)


def test_one_vs_one_targets():
    from sklearn_influence._models._losses import LogisticMargin, MarginLoss

    t = MarginLoss(LogisticMargin(), 3, "ovo").encode(np.array([0, 1, 2]))
    # pairs (0,1), (0,2), (1,2): +1 for the first class of the pair, -1 for the second, 0 otherwise
    np.testing.assert_array_equal(t, [[1, 1, 0], [-1, 0, 1], [0, -1, -1]])
