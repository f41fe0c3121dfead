"""Objective decoding: stationarity at scikit-learn's converged fits, finite differences of the
per-sample gradients (through scikit-learn's own predictions) and of Hessian-vector products."""

import warnings
from copy import deepcopy

import numpy as np
import pytest
from conftest import sklearn_loss, tight_logistic
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, LogisticRegressionCV, Ridge
from sklearn.neighbors import KNeighborsClassifier

from sklearn_influence import InfluenceEstimator
from sklearn_influence._models._design import LinearDesign

LOGISTIC_CONFIGS = [
    dict(solver="newton-cholesky"),
    dict(solver="lbfgs"),
    dict(solver="newton-cg"),
    dict(solver="sag", max_iter=200_000),
    dict(solver="saga", max_iter=200_000),
    dict(solver="newton-cholesky", fit_intercept=False),
    dict(solver="newton-cholesky", C=0.05, class_weight="balanced"),
    dict(solver="lbfgs", class_weight={0: 2.0, 1: 0.5, 2: 1.0}),
    dict(solver="newton-cholesky", C=np.inf),
]


def _data(kind, binary_data, multiclass_data):
    X, y, _, _ = binary_data if kind == "binary" else multiclass_data
    return X, y


def _fit(estimator, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return InfluenceEstimator(estimator).fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("config", LOGISTIC_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_logistic_fit_is_stationary_for_decoded_objective(config, kind, binary_data, multiclass_data):
    X, y = _data(kind, binary_data, multiclass_data)
    if config.get("C") == np.inf and kind == "binary":
        X = X[:, :3]  # keep the unpenalised binary problem far from separable
    if isinstance(config.get("class_weight"), dict) and kind == "binary":
        config = {**config, "class_weight": {0: 2.0, 1: 0.5}}
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    inf = _fit(tight_logistic(**config), X, y, sample_weight=weights)
    assert inf.relative_gradient_norm_ < 1e-4


def test_liblinear_penalised_intercept_is_decoded(binary_data):
    X, y, _, _ = binary_data
    inf = _fit(tight_logistic(solver="liblinear", C=0.2, intercept_scaling=3.0), X, y)
    assert inf.relative_gradient_norm_ < 1e-4


def test_deprecated_penalty_spelling_is_decoded(binary_data):
    X, y, _, _ = binary_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        l2 = _fit(tight_logistic(penalty="l2", C=0.3), X, y)
        none = _fit(tight_logistic(penalty=None), X[:, :3], y)
        modern = _fit(tight_logistic(C=0.3), X, y)
    assert l2.relative_gradient_norm_ < 1e-4 and none.relative_gradient_norm_ < 1e-4
    np.testing.assert_allclose(l2.influence(X[:3], y[:3]), modern.influence(X[:3], y[:3]))


@pytest.mark.parametrize(
    "estimator",
    [Ridge(alpha=0.7), Ridge(alpha=0.7, fit_intercept=False), Ridge(alpha=1e-3, solver="svd"), LinearRegression()],
    ids=repr,
)
@pytest.mark.parametrize("n_targets", [1, 3])
def test_least_squares_fit_is_stationary(estimator, n_targets, regression_data):
    X, Y, _, _ = regression_data
    y = Y[:, 0] if n_targets == 1 else Y
    weights = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    inf = _fit(estimator, X, y, sample_weight=weights)
    assert inf.relative_gradient_norm_ < 1e-8


def test_stationarity_has_power_to_detect_a_wrong_penalty(binary_data):
    X, y, _, _ = binary_data
    inf = _fit(tight_logistic(C=0.3), X, y)
    objective = inf._objective
    objective.penalty = 2 * objective.penalty  # a decoding mistake: ½‖w‖²/C read as ‖w‖²/C
    wrong = objective.gradient(inf._design, inf._targets, inf._weights)
    assert np.linalg.norm(wrong) > 1e3 * inf.gradient_norm_


def test_loose_fit_warns_with_remedy(binary_data):
    X, y, _, _ = binary_data
    with pytest.warns(ConvergenceWarning, match="smaller tol"):
        InfluenceEstimator(LogisticRegression(solver="lbfgs", tol=1e-1, max_iter=3)).fit(X, y)


def _set_public_params(model, theta):
    n_coef = np.size(model.coef_)
    model.coef_ = theta[:n_coef].reshape(np.shape(model.coef_))
    if model.fit_intercept:
        model.intercept_ = theta[n_coef:].reshape(np.shape(model.intercept_))
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda d: (tight_logistic(C=0.5), d["binary"]),
        lambda d: (tight_logistic(C=0.5), d["multiclass"]),
        lambda d: (tight_logistic(C=0.5, fit_intercept=False), d["multiclass"]),
        lambda d: (Ridge(alpha=0.5), d["regression"]),
    ],
    ids=["binary", "multinomial", "multinomial-no-intercept", "ridge-multi-output"],
)
def test_per_sample_gradients_match_finite_differences(make, binary_data, multiclass_data, regression_data):
    estimator, (X, y, _, _) = make(
        {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}
    )
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows = np.arange(5)
    objective = inf._objective
    design = LinearDesign(X[rows], objective.fit_intercept)
    ours = objective.to_public(inf._residuals[rows, :, None] * design.dense()[:, None, :])

    model = deepcopy(inf.estimator_)
    theta = inf.params_
    eps = 1e-6
    numeric = np.empty_like(ours)
    for c in range(theta.size):
        step = np.zeros_like(theta)
        step[c] = eps
        plus = sklearn_loss(_set_public_params(model, theta + step), X[rows], y[rows])
        minus = sklearn_loss(_set_public_params(model, theta - step), X[rows], y[rows])
        numeric[:, c] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(ours, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_hessian_vector_products_match_finite_differences(kind, binary_data, multiclass_data, regression_data, rng):
    X, y, _, _ = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    estimator = Ridge(alpha=0.5) if kind == "regression" else tight_logistic(C=0.5)
    inf = InfluenceEstimator(estimator).fit(X, y)
    objective, design = inf._objective, inf._design
    curvature = objective.curvature_weights(inf._targets, inf._raw, inf._weights)
    v = rng.normal(size=objective.coef.shape)
    coef, eps = objective.coef.copy(), 1e-6
    objective.coef = coef + eps * v
    plus = objective.gradient(design, inf._targets, inf._weights)
    objective.coef = coef - eps * v
    minus = objective.gradient(design, inf._targets, inf._weights)
    objective.coef = coef
    numeric = (plus - minus) / (2 * eps)
    hvp = objective.hessian_product(design, curvature, v[None])[0]
    np.testing.assert_allclose(hvp, numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max())
    # the dense Hessian assembled from sandwich products is the same operator
    hessian = objective.hessian(design, curvature)
    dense = (v @ hessian) if objective.separable else (hessian @ v.ravel()).reshape(v.shape)
    np.testing.assert_allclose(dense, hvp, rtol=1e-10, atol=1e-10 * np.abs(hvp).max())


@pytest.mark.parametrize(
    "estimator, match",
    [
        (LogisticRegression(l1_ratio=1.0, solver="saga"), "twice-differentiable"),
        (LogisticRegression(l1_ratio=0.5, solver="saga"), "twice-differentiable"),
        (Lasso(), "Lasso is not supported.*LogisticRegression"),
        (KNeighborsClassifier(), "KNeighborsClassifier is not supported"),
        (LogisticRegressionCV(refit=False, l1_ratios=[0.0]), "refit=False"),
        (Ridge(positive=True), "positive=True"),
    ],
    ids=lambda e: type(e).__name__ if not isinstance(e, str) else "",
)
def test_unsupported_models_are_refused_clearly(estimator, match, binary_data):
    X, y, _, _ = binary_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError), match=match):
            InfluenceEstimator(estimator).fit(X, y)


def test_per_target_alpha_is_refused(regression_data):
    X, Y, _, _ = regression_data
    with pytest.raises(ValueError, match="different alpha per target"):
        InfluenceEstimator(Ridge(alpha=[1.0, 2.0, 3.0])).fit(X, Y)
    # the same alpha for every target is the scalar case
    same = InfluenceEstimator(Ridge(alpha=[0.5, 0.5, 0.5])).fit(X, Y)
    np.testing.assert_allclose(same.self_influence(), InfluenceEstimator(Ridge(alpha=0.5)).fit(X, Y).self_influence())
