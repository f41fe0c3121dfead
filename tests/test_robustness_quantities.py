"""Regression tests for the quantity defects of the robustness issue (issue 11), each against a
computation that shares no code with the library: central finite differences of tightly
converged weighted refits, exact minimisers from scikit-learn's own solvers, and exact
leave-one-out refits."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    GammaRegressor,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

from sklearn_influence import InfluenceEstimator


@pytest.fixture
def issue_data():
    """The issue's shared setup: ``X`` (60 × 4), a regression ``y`` and binary ``yb``."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = X.sum(1) + rng.standard_normal(60)
    yb = (X[:, 0] > 0).astype(int)
    return X, y, yb


# --- item 3: one definition of influence with a data-scaled penalty ------------------------------


def _tight_glm(kind):
    model = PoissonRegressor(alpha=0.5) if kind == "poisson" else GammaRegressor(alpha=0.5)
    return model.set_params(solver="newton-cholesky", tol=1e-12, max_iter=1000)


def _glm_targets(kind, X):
    rng = np.random.default_rng(1)
    mean = np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.5)
    return rng.poisson(mean).astype(float) if kind == "poisson" else mean * rng.gamma(4.0, 0.25, len(X))


def _half_deviance(kind, mu, y):
    """Half unit deviance, written out (Poisson: y log(y/μ) − y + μ; Gamma: log(μ/y) + y/μ − 1)."""
    if kind == "poisson":
        return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - y + mu
    return np.log(mu / y) + y / mu - 1.0


@pytest.mark.parametrize("kind", ["poisson", "gamma"])
def test_glm_influence_is_the_weight_derivative_including_the_penalty_share(kind, issue_data):
    """``influence/n`` = d(query loss)/d s_i and ``influence_params/n`` = dθ̂/ds_i by central
    differences of weighted refits (tol=1e-12); before the fix the α·s_i penalty share was left
    out (here up to 57 % off on row 17 for Poisson)."""
    X, _, _ = issue_data
    y = _glm_targets(kind, X)
    weight = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    estimator = _tight_glm(kind)
    inf = InfluenceEstimator(estimator).fit(X, y, sample_weight=weight)
    Xq, yq = X[:4] + 0.1, y[:4]
    rows, h, n = [0, 5, 17, 42], 1e-4, len(y)
    dloss = np.empty((len(yq), len(rows)))
    dparams = np.empty((len(rows), inf.params_.size))
    for a, i in enumerate(rows):
        fits = []
        for sign in (1, -1):
            moved = weight.copy()
            moved[i] += sign * h
            fits.append(clone(estimator).fit(X, y, sample_weight=moved))
        dloss[:, a] = (
            _half_deviance(kind, fits[0].predict(Xq), yq) - _half_deviance(kind, fits[1].predict(Xq), yq)
        ) / (2 * h)
        dparams[a] = (np.r_[fits[0].coef_, fits[0].intercept_] - np.r_[fits[1].coef_, fits[1].intercept_]) / (2 * h)
    influence = inf.influence(Xq, yq, indices=rows)
    np.testing.assert_allclose(influence / n, dloss, rtol=1e-6, atol=1e-7 * np.abs(dloss).max())
    np.testing.assert_allclose(
        inf.influence_params(indices=rows) / n, dparams, rtol=1e-6, atol=1e-7 * np.abs(dparams).max()
    )
    # the other quantities read the same definition
    np.testing.assert_array_equal(inf.leave_one_out(Xq, yq, indices=rows), influence * (-weight[rows] / n))
    np.testing.assert_allclose(
        inf.leave_one_out_params(indices=rows),
        inf.influence_params(indices=rows) * (-weight[rows, None] / n),
        rtol=1e-12,
        atol=1e-15,
    )
    full = inf.influence(Xq, yq)
    top = inf.top_influences(Xq, yq, k=3)
    np.testing.assert_allclose(top.harmful_values, -np.sort(-full, axis=1)[:, :3], rtol=1e-12)
    np.testing.assert_allclose(top.helpful_values, np.sort(full, axis=1)[:, :3], rtol=1e-12)


def test_glm_perturbation_influence_is_the_feature_derivative_of_a_weighted_refit(issue_data):
    """Entry × s_i/n = d(query loss)/d x_ic (central differences of refits); the penalty share does
    not depend on the features."""
    X, _, _ = issue_data
    y = _glm_targets("poisson", X)
    weight = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    estimator = _tight_glm("poisson")
    inf = InfluenceEstimator(estimator).fit(X, y, sample_weight=weight)
    Xq, yq = X[:3] + 0.1, y[:3]
    rows, h, n = [5, 17], 1e-5, len(y)
    ours = inf.perturbation_influence(Xq, yq, indices=rows) * (weight[rows][None, :, None] / n)
    for a, i in enumerate(rows):
        for c in (0, 2):
            losses = []
            for sign in (1, -1):
                moved = X.copy()
                moved[i, c] += sign * h
                losses.append(
                    _half_deviance("poisson", clone(estimator).fit(moved, y, sample_weight=weight).predict(Xq), yq)
                )
            numeric = (losses[0] - losses[1]) / (2 * h)
            np.testing.assert_allclose(ours[:, a, c], numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max())


def _frozen_sgd(kind, X, y, weight, alpha):
    """An SGD model carrying the exact minimiser of its sum-form objective Σ s ℓ + ½ n α ||w||²
    (SGD applies α once per row, whatever the row's weight), computed by scikit-learn's exact
    solvers: Ridge(alpha=n·α) for ½-squared error, LogisticRegression(C=1/(n·α)) for log-loss."""
    n = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "regressor":
            sgd = SGDRegressor(loss="squared_error", alpha=alpha, max_iter=1, tol=None).fit(X, y)
        else:
            sgd = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=1, tol=None).fit(X, y)
    exact = _sgd_minimiser(kind, X, y, weight, n * alpha)
    sgd.coef_, sgd.intercept_ = exact.coef_.reshape(sgd.coef_.shape).copy(), np.atleast_1d(exact.intercept_).copy()
    return sgd


def _sgd_minimiser(kind, X, y, weight, strength):
    """argmin Σ s ℓ + ½ strength ||w||² (Ridge's objective is twice the ½-squared one)."""
    if kind == "regressor":
        return Ridge(alpha=strength, solver="cholesky").fit(X, y, sample_weight=weight)
    logistic = LogisticRegression(C=1.0 / strength, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return logistic.fit(X, y, sample_weight=weight)


def _sgd_query_loss(kind, model, Xq, yq):
    if kind == "regressor":
        return 0.5 * (yq - model.predict(Xq)) ** 2
    proba = model.predict_proba(Xq)
    return -np.log(proba[np.arange(len(yq)), yq])


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_sgd_influence_counts_the_row_share_of_its_penalty(kind, issue_data):
    """SGD penalises α·n: each row carries α whatever its weight. With the row's presence ``m_i``
    scaling its whole term ``m_i (s_i ℓ_i + α ½||w||²)`` (penalty (n − 1 + m_i)·α), a central
    difference of the exact minimiser in ``m_i`` equals ``s_i · influence/n`` (so the share per
    unit of weight is α/s_i); a row of weight 0 gets the plain weight derivative, and its share
    appears in leave_one_out only."""
    X, y, yb = issue_data
    target = y if kind == "regressor" else yb
    alpha, n = 0.02, len(target)
    weight = np.ones(n)
    weight[[3, 11]] = [2.5, 0.0]
    inf = InfluenceEstimator(FrozenEstimator(_frozen_sgd(kind, X, target, weight, alpha))).fit(
        X, target, sample_weight=weight
    )
    assert inf.relative_gradient_norm_ < 1e-8  # really the minimiser of the decoded objective
    Xq, yq = X[20:24] + 0.1, target[20:24]
    rows, h = [3, 7], 1e-4
    influence = inf.influence(Xq, yq, indices=rows + [11]) / n
    for a, i in enumerate(rows):
        losses = []
        for sign in (1, -1):
            presence = 1.0 + sign * h
            moved = weight.copy()
            moved[i] *= presence
            refit = _sgd_minimiser(kind, X, target, moved, (n - 1 + presence) * alpha)
            losses.append(_sgd_query_loss(kind, refit, Xq, yq))
        numeric = (losses[0] - losses[1]) / (2 * h) / weight[i]
        np.testing.assert_allclose(influence[:, a], numeric, rtol=1e-6, atol=1e-8 * np.abs(numeric).max())
    # the zero-weight row: plain derivative in s_11 (one-sided, second order: weights must stay >= 0)
    losses = []
    for step in (0.0, h, 2 * h):
        moved = weight.copy()
        moved[11] = step
        losses.append(_sgd_query_loss(kind, _sgd_minimiser(kind, X, target, moved, n * alpha), Xq, yq))
    numeric = (-3 * losses[0] + 4 * losses[1] - losses[2]) / (2 * h)
    np.testing.assert_allclose(influence[:, 2], numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max())
    # leave_one_out(method="influence") is −(s_i/n)·influence, plus the weight-0 row's share α
    loo = inf.leave_one_out(Xq, yq, indices=rows + [11])
    np.testing.assert_array_equal(loo[:, :2], inf.influence(Xq, yq, indices=rows) * (-weight[rows] / n))
    gone = _sgd_minimiser(kind, X, target, weight, (n - 1) * alpha)  # removing row 11 only weakens the penalty
    removed = _sgd_query_loss(kind, gone, Xq, yq) - inf.loss(Xq, yq)
    np.testing.assert_allclose(loo[:, 2], removed, rtol=1e-2, atol=1e-3 * np.abs(removed).max())
