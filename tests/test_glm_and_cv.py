"""The rest of scikit-learn's smooth linear models: stationarity of the decoded objective at
tight fits, and Newton leave-one-out against refits."""

import warnings

import numpy as np
import pytest
from conftest import decoded_minimiser, pearson, sklearn_params, spread_rows
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    GammaRegressor,
    LogisticRegressionCV,
    PoissonRegressor,
    RidgeClassifier,
    RidgeCV,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator


@pytest.fixture(scope="module")
def count_data():
    """Diabetes: standardised features, the (integer, positive) disease progression as target."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X[:200], y[:200], X[300:308], y[300:308]


def _tight(estimator):
    return estimator.set_params(solver="newton-cholesky", tol=1e-12, max_iter=1000)


GLMS = [
    _tight(PoissonRegressor(alpha=0.1)),
    _tight(GammaRegressor(alpha=0.1)),
    _tight(TweedieRegressor(power=1.5, link="log", alpha=0.1)),
    _tight(TweedieRegressor(power=3.0, link="log", alpha=0.1)),
    _tight(TweedieRegressor(power=0.0, alpha=0.1)),
    _tight(PoissonRegressor(alpha=0.1, fit_intercept=False)),
]


def glm_loss_rows(model, X, y):
    """Half deviance from scikit-learn's own predictions and deviance-based metric."""
    from sklearn.metrics import mean_tweedie_deviance

    power = {"PoissonRegressor": 1.0, "GammaRegressor": 2.0}.get(type(model).__name__, getattr(model, "power", 0))
    mu = model.predict(X)
    return np.array([mean_tweedie_deviance([a], [b], power=power) / 2 for a, b in zip(y, mu)])


@pytest.mark.parametrize("estimator", GLMS, ids=repr)
def test_glm_is_stationary_and_loss_is_half_deviance(estimator, count_data):
    X, y, Xq, yq = count_data
    if estimator.fit_intercept is False:
        y = y / y.mean()  # without an intercept, keep the scale reachable
        yq = yq / y.mean()
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    inf = InfluenceEstimator(estimator).fit(X, y, sample_weight=weight)
    assert inf.relative_gradient_norm_ < 1e-6
    np.testing.assert_allclose(inf.loss(Xq, yq), glm_loss_rows(inf.estimator_, Xq, yq), rtol=1e-8)


@pytest.mark.parametrize("estimator", GLMS[:3], ids=repr)
def test_glm_newton_leave_one_out_against_refits(estimator, count_data):
    X, y, Xq, yq = count_data
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows = spread_rows(len(y))
    base = glm_loss_rows(inf.estimator_, Xq, yq)
    actual = np.empty((len(yq), len(rows)))
    for a, i in enumerate(rows):
        keep = np.arange(len(y)) != i
        actual[:, a] = glm_loss_rows(clone(estimator).fit(X[keep], y[keep]), Xq, yq) - base
    assert pearson(inf.leave_one_out(Xq, yq, method="newton", indices=rows), actual) >= 0.99


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_ridge_classifier_newton_is_exact(kind, binary_data, multiclass_data):
    """Ridge on ±1 class codes: the Newton step is the refit (fixed class weights)."""
    X, y, Xq, yq = binary_data if kind == "binary" else multiclass_data
    class_weight = {label: 1.0 + label for label in np.unique(y)}
    estimator = RidgeClassifier(alpha=2.0, solver="cholesky", class_weight=class_weight)
    inf = InfluenceEstimator(estimator).fit(X, y)
    assert inf.relative_gradient_norm_ < 1e-8
    rows = spread_rows(len(y), 15)
    actual = np.array([sklearn_params(clone(estimator).fit(np.delete(X, i, 0), np.delete(y, i))) for i in rows])
    predicted = inf.leave_one_out_params(method="newton", indices=rows)
    np.testing.assert_allclose(predicted, actual - inf.params_, atol=1e-10)


def test_ridge_cv_holds_the_chosen_alpha(regression_data):
    X, Y, Xq, Yq = regression_data
    inf = InfluenceEstimator(RidgeCV(alphas=[0.01, 0.1, 1.0])).fit(X, Y[:, 0])
    assert inf.relative_gradient_norm_ < 1e-8
    from sklearn.linear_model import Ridge

    held = InfluenceEstimator(Ridge(alpha=inf.estimator_.alpha_)).fit(X, Y[:, 0])
    np.testing.assert_allclose(inf.influence(Xq, Yq[:, 0]), held.influence(Xq, Yq[:, 0]), rtol=1e-8)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_logistic_regression_cv_holds_the_chosen_C(kind, binary_data, multiclass_data):
    X, y, _, _ = binary_data if kind == "binary" else multiclass_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        cv = LogisticRegressionCV(Cs=[0.1, 1.0], l1_ratios=[0.0], tol=1e-12, max_iter=10_000, solver="newton-cholesky")
        inf = InfluenceEstimator(cv).fit(X, y)
    assert inf.relative_gradient_norm_ < 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        refuse = LogisticRegressionCV(Cs=[0.1, 1.0], refit=False, l1_ratios=[0.0])
        with pytest.raises(ValueError, match="refit=False"):
            InfluenceEstimator(refuse).fit(X, y)


@pytest.mark.parametrize("loss", ["squared_error", "huber", "squared_epsilon_insensitive"])
def test_sgd_regressor_minimises_the_decoded_objective(loss, regression_data):
    X, Y, _, _ = regression_data
    X = StandardScaler().fit_transform(X)
    y = (Y[:, 0] - Y[:, 0].mean()) / Y[:, 0].std()
    sgd = SGDRegressor(
        loss=loss,
        alpha=0.01,
        epsilon=0.5,
        max_iter=5000,
        tol=None,
        learning_rate="constant",
        eta0=1e-3,
        average=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf = InfluenceEstimator(sgd).fit(X, y)
    start = inf._objective.coef.copy()
    optimum = decoded_minimiser(inf)
    assert np.linalg.norm(start.ravel() - optimum) < 0.03 * np.linalg.norm(optimum)


def test_unsupported_glm_link_and_sgd_loss(count_data):
    X, y, _, _ = count_data
    with pytest.raises(ValueError, match="identity"):
        InfluenceEstimator(TweedieRegressor(power=1.5, link="identity")).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="epsilon_insensitive.*not differentiable"):
            InfluenceEstimator(SGDRegressor(loss="epsilon_insensitive")).fit(X, y / y.max())


def test_huber_regressor_with_its_scale(count_data):
    """HuberRegressor's objective is joint in (w, b, σ): stationary at its fit (L-BFGS-B stops on its
    function tolerance near 1e-3 relative), and the parameter changes follow refits."""
    from sklearn.linear_model import HuberRegressor

    X, y, _, _ = count_data
    y = (y - y.mean()) / y.std()
    estimator = HuberRegressor(alpha=1.0, epsilon=1.35, tol=1e-12, max_iter=10_000)
    inf = InfluenceEstimator(estimator).fit(X, y)
    assert inf.relative_gradient_norm_ < 2e-3
    model = inf.estimator_
    np.testing.assert_array_equal(inf.params_, np.r_[model.coef_, model.intercept_, model.scale_])
    rows = spread_rows(len(y), 20)
    refits = [clone(estimator).fit(np.delete(X, i, 0), np.delete(y, i)) for i in rows]
    actual = np.array([np.r_[m.coef_, m.intercept_, m.scale_] for m in refits]) - inf.params_
    assert pearson(inf.leave_one_out_params(indices=rows), actual) >= 0.99


def test_leave_one_out_removes_the_rows_share_of_a_data_scaled_penalty(count_data):
    """GLMs penalise α·Σs and SGD α·n: a refit without a row has a weaker penalty, and the
    leave-one-out predictions account for it (up to the share's own curvature, O(1/n))."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import Ridge

    X, y, _, _ = count_data
    rows = spread_rows(len(y), 20)
    poisson = _tight(PoissonRegressor(alpha=0.1))
    inf = InfluenceEstimator(poisson).fit(X, y)
    refits = [clone(poisson).fit(np.delete(X, i, 0), np.delete(y, i)) for i in rows]
    actual = np.array([sklearn_params(m) for m in refits]) - inf.params_
    error = np.abs(inf.leave_one_out_params(method="newton", indices=rows) - actual).max()
    assert error < 0.015 * np.abs(actual).max()  # 2.6 % without the share
    # SGD's squared loss at its exact minimiser is ridge with alpha = n·α; removing a row gives (n − 1)·α
    alpha, n = 0.01, len(y)
    ys = (y - y.mean()) / y.std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sgd = SGDRegressor(loss="squared_error", alpha=alpha, max_iter=1, tol=None).fit(X, ys)
    exact = Ridge(alpha=n * alpha).fit(X, ys)
    sgd.coef_, sgd.intercept_ = exact.coef_.copy(), np.atleast_1d(exact.intercept_)
    inf = InfluenceEstimator(FrozenEstimator(sgd)).fit(X, ys)
    refits = [Ridge(alpha=(n - 1) * alpha).fit(np.delete(X, i, 0), np.delete(ys, i)) for i in rows]
    actual = np.array([sklearn_params(m) for m in refits]) - inf.params_
    error = np.abs(inf.leave_one_out_params(method="newton", indices=rows) - actual).max()
    assert error < 0.006 * np.abs(actual).max()  # 1.8 % without the share
