"""Ground truth for every quantity: refits, finite differences in sample weights and features,
statsmodels and closed forms; then the identities that tie the quantities together
(symmetry, weights as repeated or removed rows, chunking), which compare the library with
itself by design."""

import numpy as np
import pytest
import statsmodels.api as sm
from conftest import pearson, refit_leave_one_out, sklearn_loss, sklearn_params, spread_rows, tight_logistic
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge

from sklearn_influence import InfluenceEstimator


def test_ridge_newton_leave_one_out_is_exact(regression_data):
    X, Y, Xq, Yq = regression_data
    estimator = Ridge(alpha=0.3, solver="cholesky")
    inf = InfluenceEstimator(estimator).fit(X, Y)
    rows = spread_rows(X.shape[0])
    actual_loss, actual_params = refit_leave_one_out(estimator, X, Y, Xq, Yq, rows)
    np.testing.assert_allclose(inf.leave_one_out(Xq, Yq, method="newton", indices=rows), actual_loss, atol=1e-10)
    np.testing.assert_allclose(inf.leave_one_out_params(method="newton", indices=rows), actual_params, atol=1e-10)


def test_ridge_closed_form_loo_residuals(regression_data):
    X, Y, _, _ = regression_data
    y = Y[:, 0]
    inf = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    # exact LOO residual r_i / (1 - h_ii), h = X̃ (X̃ᵀX̃ + αJ)⁻¹ X̃ᵀ
    Xt = np.c_[X, np.ones(len(X))]
    J = np.diag(np.r_[np.ones(X.shape[1]), 0.0])
    hat = np.einsum("ij,ji->i", Xt, np.linalg.solve(Xt.T @ Xt + 0.3 * J, Xt.T))
    residual = y - inf.predict(X)
    loo_residual = residual / (1 - hat)
    # removing row i and predicting it: loss change at z_i is loo_residual² − residual²
    rows = np.arange(len(y))
    own = np.array([inf.leave_one_out(X[[i]], y[[i]], method="newton", indices=[i])[0, 0] for i in rows[:30]])
    np.testing.assert_allclose(own, loo_residual[:30] ** 2 - residual[:30] ** 2, rtol=1e-9)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_logistic_leave_one_out_against_refits(kind, binary_data, multiclass_data):
    X, y, Xq, yq = binary_data if kind == "binary" else multiclass_data
    rows = spread_rows(X.shape[0])
    estimator = tight_logistic(C=0.5)
    inf = InfluenceEstimator(estimator).fit(X, y)
    actual_loss, actual_params = refit_leave_one_out(estimator, X, y, Xq, yq, rows)
    newton = inf.leave_one_out(Xq, yq, method="newton", indices=rows)
    first_order = inf.leave_one_out(Xq, yq, method="influence", indices=rows)
    assert pearson(newton, actual_loss) >= 0.99
    assert pearson(first_order, actual_loss) >= 0.99  # moderate regularisation
    assert np.abs(newton - actual_loss).mean() < np.abs(first_order - actual_loss).mean()
    newton_params = inf.leave_one_out_params(method="newton", indices=rows)
    first_params = inf.leave_one_out_params(method="influence", indices=rows)
    assert pearson(newton_params, actual_params) >= 0.99
    assert np.abs(newton_params - actual_params).mean() < np.abs(first_params - actual_params).mean()


def test_newton_beats_first_order_at_weak_regularisation(binary_data):
    X, y, Xq, yq = binary_data
    estimator = tight_logistic(C=100.0)
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows = spread_rows(X.shape[0])
    actual, _ = refit_leave_one_out(estimator, X, y, Xq, yq, rows)
    newton = inf.leave_one_out(Xq, yq, method="newton", indices=rows)
    first = inf.leave_one_out(Xq, yq, method="influence", indices=rows)
    assert pearson(newton, actual) >= 0.99
    assert np.abs(newton - actual).max() < np.abs(first - actual).max()


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_sample_weight_derivative_equals_influence_over_n(kind, binary_data, multiclass_data, regression_data):
    X, y, Xq, yq = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    estimator = Ridge(alpha=0.5, solver="cholesky") if kind == "regression" else tight_logistic(C=0.5)
    n = X.shape[0]
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows, eps = [3, 17, 40], 1e-4
    dparams = np.empty((len(rows), inf.params_.size))
    dloss = np.empty((len(yq), len(rows)))
    for a, i in enumerate(rows):
        fits = []
        for sign in (+1, -1):
            weight = np.ones(n)
            weight[i] += sign * eps
            fits.append(clone(estimator).fit(X, y, sample_weight=weight))
        dparams[a] = (sklearn_params(fits[0]) - sklearn_params(fits[1])) / (2 * eps)
        dloss[:, a] = (sklearn_loss(fits[0], Xq, yq) - sklearn_loss(fits[1], Xq, yq)) / (2 * eps)
    scale_p, scale_l = np.abs(dparams).max(), np.abs(dloss).max()
    np.testing.assert_allclose(inf.influence_params(indices=rows) / n, dparams, atol=1e-5 * scale_p)
    np.testing.assert_allclose(inf.influence(Xq, yq, indices=rows) / n, dloss, atol=1e-5 * scale_l)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_perturbation_influence_matches_feature_finite_differences(kind, binary_data, multiclass_data, regression_data):
    X, y, Xq, yq = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    estimator = Ridge(alpha=0.5, solver="cholesky") if kind == "regression" else tight_logistic(C=0.5)
    n = X.shape[0]
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows, eps = [5, 30], 1e-5
    ours = inf.perturbation_influence(Xq, yq, indices=rows) / n
    for a, i in enumerate(rows):
        for c in [0, 2]:
            losses = []
            for sign in (+1, -1):
                moved = X.copy()
                moved[i, c] += sign * eps
                losses.append(sklearn_loss(clone(estimator).fit(moved, y), Xq, yq))
            numeric = (losses[0] - losses[1]) / (2 * eps)
            np.testing.assert_allclose(ours[:, a, c], numeric, rtol=1e-4, atol=1e-5 * np.abs(numeric).max())


def test_statsmodels_glm_one_step_d_params(binary_data):
    X, y, _, _ = binary_data
    X = X[:, :4]
    result = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    d_params = result.get_influence().d_params  # constant first
    inf = InfluenceEstimator(tight_logistic(C=np.inf)).fit(X, y)
    ours = inf.leave_one_out_params(method="newton")
    np.testing.assert_allclose(-np.c_[ours[:, -1], ours[:, :-1]], d_params, atol=1e-8)


def test_statsmodels_ols_dfbeta(regression_data):
    X, Y, _, _ = regression_data
    result = sm.OLS(Y[:, 0], sm.add_constant(X)).fit()
    inf = InfluenceEstimator(LinearRegression()).fit(X, Y[:, 0])
    ours = inf.leave_one_out_params(method="newton")
    dfbeta = result.get_influence().dfbeta
    np.testing.assert_allclose(-np.c_[ours[:, -1], ours[:, :-1]], dfbeta, atol=1e-9 * np.abs(dfbeta).max())


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_influence_on_training_set_is_symmetric_with_self_influence_diagonal(
    kind, binary_data, multiclass_data, regression_data
):
    X, y, _, _ = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    estimator = Ridge(alpha=0.5) if kind == "regression" else tight_logistic(C=0.5)
    inf = InfluenceEstimator(estimator).fit(X, y)
    matrix = inf.influence(X, y)
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-9, atol=1e-12 * np.abs(matrix).max())
    np.testing.assert_allclose(-np.diag(matrix), inf.self_influence(), rtol=1e-9)
    assert np.all(inf.self_influence() >= 0)


def test_zero_weight_equals_removing_the_row(binary_data):
    X, y, Xq, yq = binary_data
    weight = np.ones(len(y))
    weight[7] = 0.0
    weighted = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y, sample_weight=weight)
    keep = np.arange(len(y)) != 7
    removed = InfluenceEstimator(tight_logistic(C=0.5)).fit(X[keep], y[keep])
    # n differs (rows counted): compare the n-free quantities
    n_w, n_r = len(y), keep.sum()
    np.testing.assert_allclose(
        weighted.influence(Xq, yq)[:, keep] / n_w, removed.influence(Xq, yq) / n_r, rtol=1e-7, atol=1e-12
    )
    np.testing.assert_allclose(weighted.leave_one_out(Xq, yq, method="newton")[:, 7], 0.0, atol=1e-12)
    # and leaving out any other row gives the same as leaving it out of the data without row 7
    np.testing.assert_allclose(
        weighted.leave_one_out(Xq, yq, method="newton")[:, keep],
        removed.leave_one_out(Xq, yq, method="newton"),
        rtol=1e-6,
        atol=1e-12,
    )


def test_integer_weight_equals_repeated_row(regression_data):
    X, Y, Xq, Yq = regression_data
    y = Y[:, 0]
    weight = np.ones(len(y))
    weight[4] = 3.0
    weighted = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y, sample_weight=weight)
    repeated_rows = np.r_[np.arange(len(y)), 4, 4]
    repeated = InfluenceEstimator(Ridge(alpha=0.5)).fit(X[repeated_rows], y[repeated_rows])
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-10)
    np.testing.assert_allclose(
        weighted.influence_params() / len(y), repeated.influence_params()[: len(y)] / len(repeated_rows), rtol=1e-8
    )
    # removing the weight-3 row predicts removing all three copies: exact for least squares
    keep = np.arange(len(y)) != 4
    gone = Ridge(alpha=0.5).fit(X[keep], y[keep])
    np.testing.assert_allclose(
        weighted.leave_one_out_params(method="newton", indices=[4])[0],
        sklearn_params(gone) - weighted.params_,
        atol=1e-9,
    )


def test_chunked_passes_equal_one_pass(multiclass_data):
    from sklearn import config_context

    X, y, Xq, yq = multiclass_data
    inf = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y)
    rows = np.r_[0:20, 40, 3]
    whole = [
        inf.influence(Xq, yq),
        inf.self_influence(),
        inf.leave_one_out(Xq, yq, method="newton", indices=rows),
        inf.leave_one_out_params(method="newton"),
        inf.perturbation_influence(Xq, yq, indices=rows),
    ]
    with config_context(working_memory=0.002):  # a few rows per chunk
        chunked = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y)
        parts = [
            chunked.influence(Xq, yq),
            chunked.self_influence(),
            chunked.leave_one_out(Xq, yq, method="newton", indices=rows),
            chunked.leave_one_out_params(method="newton"),
            chunked.perturbation_influence(Xq, yq, indices=rows),
        ]
    for a, b in zip(whole, parts):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_top_influences_equal_sorting_the_full_matrix(kind, binary_data, multiclass_data, regression_data):
    from sklearn import config_context

    X, y, Xq, yq = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    estimator = Ridge(alpha=0.5) if kind == "regression" else tight_logistic(C=0.5)
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows = np.arange(3, X.shape[0], 2)
    full = inf.influence(Xq, yq, indices=rows)
    with config_context(working_memory=0.005):  # many chunks
        top = inf.top_influences(Xq, yq, k=7, indices=rows)
    np.testing.assert_array_equal(top.harmful_indices, rows[np.argsort(-full, axis=1, kind="stable")[:, :7]])
    np.testing.assert_array_equal(top.helpful_indices, rows[np.argsort(full, axis=1, kind="stable")[:, :7]])
    np.testing.assert_allclose(top.harmful_values, -np.sort(-full, axis=1)[:, :7], rtol=1e-12)
    np.testing.assert_allclose(top.helpful_values, np.sort(full, axis=1)[:, :7], rtol=1e-12)
    small = inf.top_influences(Xq, yq, k=50, indices=[0, 1, 2])
    assert small.harmful_indices.shape == (len(yq), 3)
    with pytest.raises(ValueError, match="k must be a positive integer; got k=0"):
        inf.top_influences(Xq, yq, k=0)


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_stochastic_self_influence_matches_exact_within_its_error(solver, binary_data, regression_data):
    from scipy.stats import spearmanr

    for estimator, (X, y, _, _) in [(tight_logistic(C=0.5), binary_data), (Ridge(alpha=0.5), regression_data)]:
        inf = InfluenceEstimator(estimator, solver=solver).fit(X, y)
        exact = inf.self_influence()
        for k in (200, 2000):
            relative = inf.self_influence(n_probes=k, random_state=0) / exact - 1
            assert np.abs(relative).mean() < 1.5 * np.sqrt(2 / k)  # a scaled chi-square with k dof
        assert spearmanr(inf.self_influence(n_probes=200, random_state=1), exact)[0] > 0.99
    with pytest.raises(ValueError, match="n_probes must be None or a positive integer"):
        inf.self_influence(n_probes=0)


def test_stochastic_self_influence_needs_a_single_output_linear_model(multiclass_data):
    X, y, _, _ = multiclass_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    with pytest.raises(ValueError, match="single-output linear models"):
        inf.self_influence(n_probes=10)


def test_newton_warns_for_rows_whose_removal_leaves_a_singular_hessian(rng):
    from sklearn.linear_model import LinearRegression

    X = np.c_[rng.normal(size=(30, 2)), np.eye(30)[:, 0]]  # only row 0 has the third feature
    y = rng.normal(size=30)
    inf = InfluenceEstimator(LinearRegression()).fit(X, y)
    with pytest.warns(RuntimeWarning, match=r"Removing training rows \[0\]"):
        steps = inf.leave_one_out_params(method="newton")
    assert np.all(np.isnan(steps[0])) and np.all(np.isfinite(steps[1:]))


def test_glm_query_targets_outside_the_domain_are_an_error():
    from sklearn.linear_model import GammaRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = np.exp(X[:, 0] / 2) + 0.1
    inf = InfluenceEstimator(GammaRegressor(alpha=0.1)).fit(X, y)
    with pytest.raises(ValueError, match="needs y > 0"):
        inf.loss(X[:2], [0.0, 1.0])
