"""Property-based checks (hypothesis) on random problems: each property holds for any data."""

import numpy as np
from conftest import sklearn_params, tight_logistic
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from sklearn_influence import InfluenceEstimator

problems = st.tuples(
    st.integers(min_value=12, max_value=40),  # n
    st.integers(min_value=1, max_value=5),  # p
    st.floats(min_value=1e-2, max_value=10.0),  # regularisation
    st.integers(min_value=0, max_value=2**31 - 1),  # seed
)


@settings(max_examples=25, deadline=None)
@given(problems)
def test_ridge_newton_equals_refit_for_any_data(problem):
    n, p, alpha, seed = problem
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.1, 10, p)
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    weight = rng.uniform(0.2, 3.0, n)
    inf = InfluenceEstimator(Ridge(alpha=alpha, solver="cholesky")).fit(X, y, sample_weight=weight)
    i = int(rng.integers(n))
    keep = np.arange(n) != i
    refit = Ridge(alpha=alpha, solver="cholesky").fit(X[keep], y[keep], sample_weight=weight[keep])
    predicted = inf.leave_one_out_params(method="newton", indices=[i])[0]
    np.testing.assert_allclose(
        predicted, sklearn_params(refit) - inf.params_, atol=1e-8 * (1 + np.abs(inf.params_).max())
    )


@settings(max_examples=25, deadline=None)
@given(problems)
def test_logistic_self_influence_is_nonnegative_and_solvers_agree(problem):
    n, p, C, seed = problem
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = np.r_[0, 1, rng.integers(0, 2, n - 2)]
    exact = InfluenceEstimator(tight_logistic(C=C)).fit(X, y)
    cg = InfluenceEstimator(tight_logistic(C=C), solver="cg").fit(X, y)
    self_influence = exact.self_influence()
    assert np.all(self_influence >= -1e-12)
    np.testing.assert_allclose(cg.self_influence(), self_influence, rtol=1e-6, atol=1e-10)
    matrix = exact.influence(X, y)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-9 * np.abs(matrix).max())
