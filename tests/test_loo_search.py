"""Leave-one-out predictions, LeaveOneOutSearchCV and jackknife+ intervals (issue 13), against refits by hand,
scikit-learn's GridSearchCV / cross_val_predict / RidgeCV, and ridge's closed form."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier, RidgeCV
from sklearn.metrics import log_loss, make_scorer, r2_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneOut,
    ParameterGrid,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_influence import (
    InfluenceEstimator,
    LeaveOneOutSearchCV,
    loo_decision_function,
    loo_predict,
    loo_predict_interval,
    loo_predict_proba,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4)) * [1.0, 3.0, 0.5, 2.0] + 1.0
    y_reg = X @ [1.0, -0.5, 2.0, 0.3] + rng.standard_normal(50)
    y_bin = (X[:, 0] - 0.3 * X[:, 1] + rng.standard_normal(50) > 1.0).astype(int)
    y_multi = np.digitize(X[:, 0] + 0.5 * rng.standard_normal(50), [0.5, 1.5])
    return X, y_reg, y_bin, y_multi


def _refit_loo(estimator, X, y, method="predict", sample_weight=None):
    """Actual leave-one-out refits, one per row (the reference)."""
    params = None if sample_weight is None else {"sample_weight": sample_weight}
    return cross_val_predict(clone(estimator), X, y, cv=LeaveOneOut(), method=method, params=params)


# --- leave-one-out predictions ---------------------------------------------------------------------------
def test_ridge_loo_predictions_equal_refits_closed_form_and_ridgecv(data):
    X, y, _, _ = data
    alpha = 0.7
    got = loo_predict(Ridge(alpha=alpha), X, y)
    np.testing.assert_allclose(got, _refit_loo(Ridge(alpha=alpha), X, y), rtol=0, atol=1e-8)
    # closed form: y_i − e_i / (1 − h_ii) on the design [X, 1] with the intercept unpenalised
    Z = np.column_stack([X, np.ones(len(X))])
    H = Z.T @ Z + np.diag([alpha] * X.shape[1] + [0.0])
    h = np.einsum("ij,ji->i", Z, np.linalg.solve(H, Z.T))
    residual = y - Z @ np.linalg.solve(H, Z.T @ y)
    np.testing.assert_allclose(got, y - residual / (1 - h), rtol=0, atol=1e-8)
    ridge_cv = RidgeCV(alphas=[alpha], store_cv_results=True).fit(X, y)  # squared LOO errors
    np.testing.assert_allclose((y - got) ** 2, ridge_cv.cv_results_[:, 0], rtol=1e-8, atol=1e-10)


def test_weighted_multioutput_ridge_and_ridge_classifier_equal_refits(data):
    X, y, _, y_multi = data
    weights = np.linspace(0.5, 2.0, len(X))
    Y = np.column_stack([y, np.sin(y)])
    got = loo_predict(Ridge(alpha=0.3), X, Y, sample_weight=weights)
    np.testing.assert_allclose(got, _refit_loo(Ridge(alpha=0.3), X, Y, sample_weight=weights), atol=1e-8)
    got = loo_decision_function(RidgeClassifier(alpha=2.0), X, y_multi)
    expected = _refit_loo(RidgeClassifier(alpha=2.0), X, y_multi, "decision_function")
    np.testing.assert_allclose(got, expected, atol=1e-8)
    assert np.array_equal(
        loo_predict(RidgeClassifier(alpha=2.0), X, y_multi), _refit_loo(RidgeClassifier(alpha=2.0), X, y_multi)
    )


@pytest.mark.parametrize("target", ["binary", "multinomial"])
def test_logistic_loo_probabilities_within_tolerance_of_refits(data, target):
    X, _, y_bin, y_multi = data
    y = y_bin if target == "binary" else y_multi
    model = LogisticRegression(C=1.0, tol=1e-12)
    got = loo_predict_proba(model, X, y)
    expected = _refit_loo(model, X, y, "predict_proba")
    # one Newton step: stated tolerance 2e-2 in any probability, 2e-3 on average (n = 50, p = 4)
    assert np.abs(got - expected).max() < 2e-2
    assert np.abs(got - expected).mean() < 2e-3
    assert (loo_predict(model, X, y) == _refit_loo(model, X, y)).mean() >= 0.96


def test_fitted_influence_estimator_is_used_as_is_and_checked(data):
    X, y, _, _ = data
    inf = InfluenceEstimator(Ridge(alpha=0.7)).fit(X, y)
    np.testing.assert_allclose(loo_predict(inf, X), loo_predict(Ridge(alpha=0.7), X, y), atol=1e-12)
    with pytest.raises(ValueError, match="trained on 50"):
        loo_predict(inf, X[:10])
    with pytest.raises(ValueError, match="method must be"):
        loo_predict(Ridge(), X, y, method="exact")
    with pytest.raises(ValueError, match="y is required"):
        loo_predict(Ridge(), X)


def test_pipeline_fixed_equals_refits_of_the_last_step_and_refit_is_close_to_pipeline_refits(data):
    X, y, _, _ = data
    pipe = make_pipeline(StandardScaler(), Ridge(alpha=0.7))
    fixed = loo_predict(InfluenceEstimator(pipe, preprocessing="fixed"), X, y)
    Xt = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(fixed, _refit_loo(Ridge(alpha=0.7), Xt, y), atol=1e-8)
    refit = loo_predict(InfluenceEstimator(pipe), X, y)
    expected = _refit_loo(pipe, X, y)  # the whole pipeline refitted: the scaler's statistics move too
    assert np.abs(refit - expected).max() < 1e-3 * np.abs(expected).max()


# --- LeaveOneOutSearchCV ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "estimator, grid, target, scoring",
    [
        (Ridge(), {"alpha": [0.01, 1.0, 30.0]}, "reg", "neg_mean_squared_error"),
        (Ridge(), {"alpha": [0.01, 1.0], "fit_intercept": [True, False]}, "reg", "neg_mean_absolute_error"),
        (LinearRegression(), {"fit_intercept": [True, False]}, "reg", "neg_mean_squared_error"),
        (RidgeClassifier(), {"alpha": [0.01, 1.0, 30.0]}, "multi", "accuracy"),
    ],
)
def test_least_squares_search_equals_grid_search_with_leave_one_out(data, estimator, grid, target, scoring):
    X, y_reg, _, y_multi = data
    y = y_reg if target == "reg" else y_multi
    ours = LeaveOneOutSearchCV(estimator, grid, scoring=scoring).fit(X, y)
    reference = GridSearchCV(estimator, grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=0, atol=1e-8
    )
    assert ours.best_params_ == reference.best_params_ and ours.n_splits_ == reference.n_splits_ == len(X)
    for key in ("params", "mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time", "std_test_score"):
        assert key in ours.cv_results_
    for key in [k for k in reference.cv_results_ if k.startswith("param_")]:
        assert list(ours.cv_results_[key]) == list(reference.cv_results_[key])
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], reference.cv_results_["rank_test_score"])
    np.testing.assert_allclose(ours.predict(X), reference.best_estimator_.predict(X), atol=1e-10)


def test_ridge_search_picks_ridgecv_alpha_and_reports_its_leverage(data):
    X, y, _, _ = data
    alphas = [0.01, 0.3, 3.0, 30.0, 300.0]
    ours = LeaveOneOutSearchCV(Ridge(), {"alpha": alphas}, scoring="neg_mean_squared_error").fit(X, y)
    assert ours.best_params_["alpha"] == RidgeCV(alphas=alphas).fit(X, y).alpha_
    Z = np.column_stack([X, np.ones(len(X))])
    for alpha, max_leverage in zip(alphas, ours.cv_results_["max_leverage"]):
        H = Z.T @ Z + np.diag([alpha] * X.shape[1] + [0.0])
        assert max_leverage == pytest.approx(np.einsum("ij,ji->i", Z, np.linalg.solve(H, Z.T)).max(), rel=1e-8)


def test_logistic_search_within_one_percent_of_leave_one_out_refits():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 4))
    y_bin = (X[:, 0] - 0.5 * X[:, 1] + rng.standard_normal(120) > 0).astype(int)
    y_multi = np.digitize(X[:, 0] + 0.5 * X[:, 2] + 0.7 * rng.standard_normal(120), [-0.5, 0.5])
    grid = {"C": [0.03, 0.3, 3.0]}
    for y in (y_bin, y_multi):
        labels = np.unique(y)
        scoring = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=labels)
        model = LogisticRegression(tol=1e-12)
        ours = LeaveOneOutSearchCV(model, grid, scoring=scoring).fit(X, y)
        reference = GridSearchCV(model, grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y)
        np.testing.assert_allclose(
            ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-2
        )
        assert ours.best_index_ == reference.best_index_


def test_roc_auc_is_scored_on_the_pooled_leave_one_out_probabilities(data):
    from sklearn.metrics import roc_auc_score

    X, _, y, _ = data
    model = LogisticRegression(C=0.3, tol=1e-12)
    ours = LeaveOneOutSearchCV(model, {"C": [0.3]}, scoring="roc_auc").fit(X, y)
    pooled = roc_auc_score(y, _refit_loo(model, X, y, "predict_proba")[:, 1])
    assert ours.best_score_ == pytest.approx(pooled, abs=0.01)
    assert np.isnan(ours.cv_results_["std_test_score"]).all()


@pytest.mark.parametrize(
    "estimator, target, cv",
    [
        (Ridge(), "reg", KFold(5, shuffle=True, random_state=0)),
        (Ridge(), "reg", GroupKFold(5)),
        (RidgeClassifier(), "multi", StratifiedKFold(4)),
    ],
    ids=["KFold", "GroupKFold", "StratifiedKFold"],
)
def test_kfold_least_squares_equals_grid_search(data, estimator, target, cv):
    X, y_reg, _, y_multi = data
    y = y_reg if target == "reg" else y_multi
    groups = np.arange(len(X)) % 7
    grid = {"alpha": [0.01, 1.0, 30.0]}
    scoring = "neg_mean_squared_error" if target == "reg" else "accuracy"
    groups = groups if isinstance(cv, GroupKFold) else None
    ours = LeaveOneOutSearchCV(estimator, grid, scoring=scoring, cv=cv).fit(X, y, groups=groups)
    reference = GridSearchCV(estimator, grid, scoring=scoring, cv=cv).fit(X, y, groups=groups)
    for key in [k for k in reference.cv_results_ if "test_score" in k and not k.startswith("rank")]:
        np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], rtol=0, atol=1e-8)
    assert ours.best_index_ == reference.best_index_ and ours.n_splits_ == reference.n_splits_


def test_kfold_logistic_within_stated_tolerance(data):
    X, _, y, _ = data
    grid = {"C": [0.03, 0.3, 3.0]}
    cv = StratifiedKFold(10)
    ours = LeaveOneOutSearchCV(LogisticRegression(tol=1e-12), grid, scoring="neg_log_loss", cv=cv).fit(X, y)
    reference = GridSearchCV(LogisticRegression(tol=1e-12), grid, scoring="neg_log_loss", cv=cv).fit(X, y)
    # block-Newton, 10 % of the rows per fold: within 3 % of the refits' mean log-loss
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=0.03)
    assert ours.best_index_ == reference.best_index_


def test_weighted_ridge_search_equals_grid_search_with_weights(data):
    X, y, _, _ = data
    weights = np.linspace(0.2, 3.0, len(X))
    grid = {"alpha": [0.01, 1.0, 30.0]}
    for cv in (None, KFold(5)):
        ours = LeaveOneOutSearchCV(Ridge(), grid, scoring="neg_mean_squared_error", cv=cv)
        ours.fit(X, y, sample_weight=weights)
        reference = GridSearchCV(Ridge(), grid, scoring="neg_mean_squared_error", cv=cv or LeaveOneOut())
        reference.fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(
            ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=0, atol=1e-8
        )
        np.testing.assert_allclose(ours.best_estimator_.coef_, reference.best_estimator_.coef_, atol=1e-10)


@pytest.mark.parametrize("cv", [None, StratifiedKFold(5)], ids=["loo", "5-fold"])
def test_exact_method_refits_as_grid_search_does(data, cv):
    X, _, y, _ = data
    grid = {"C": [0.1, 3.0]}
    scoring = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1])
    model = LogisticRegression(tol=1e-12)
    ours = LeaveOneOutSearchCV(model, grid, scoring=scoring, method="exact", cv=cv).fit(X, y)
    reference = GridSearchCV(model, grid, scoring=scoring, cv=cv or LeaveOneOut()).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-10
    )


def test_high_leverage_is_reported_and_warned_for_logistic_only():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((14, 8))
    y = (X[:, 0] + rng.standard_normal(14) > 0).astype(int)
    with pytest.warns(UserWarning, match="leverage > 0.5"):
        search = LeaveOneOutSearchCV(LogisticRegression(C=100.0, tol=1e-12), {"C": [100.0]}).fit(X, y)
    assert search.cv_results_["fraction_high_leverage"][0] > 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # exact for least squares: no warning
        ridge = LeaveOneOutSearchCV(Ridge(alpha=1e-3), {"alpha": [1e-3]}).fit(X, X[:, 0] + y)
    assert ridge.cv_results_["fraction_high_leverage"][0] > 0


def test_search_refuses_bad_parameters(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="scoring must be one scorer"):
        LeaveOneOutSearchCV(Ridge(), {"alpha": [1.0]}, scoring=["r2", "neg_mean_squared_error"]).fit(X, y)
    with pytest.raises(ValueError, match="method must be"):
        LeaveOneOutSearchCV(Ridge(), {"alpha": [1.0]}, method="refits").fit(X, y)
    search = LeaveOneOutSearchCV(Ridge(), {"alpha": [1.0]}, refit=False).fit(X, y)
    with pytest.raises(AttributeError, match="refit=True"):
        search.predict(X)


# --- jackknife+ ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["jackknife+", "jackknife", "jackknife-minmax"])
def test_ridge_jackknife_intervals_equal_refit_based_intervals(data, method):
    X, y, _, _ = data
    rng = np.random.default_rng(1)
    X_new = rng.standard_normal((7, 4)) * 2.0
    alpha, level = 0.7, 0.8
    got = loo_predict_interval(Ridge(alpha=alpha), X_new, X, y, confidence_level=level, method=method)
    n = len(X)
    refits = [Ridge(alpha=alpha).fit(np.delete(X, i, 0), np.delete(y, i)) for i in range(n)]
    residuals = np.abs(y - np.array([m.predict(X[i : i + 1])[0] for i, m in enumerate(refits)]))
    mu = np.array([m.predict(X_new) for m in refits]).T  # (queries, n)
    k_up = int(np.ceil(level * (n + 1)))
    k_low = int(np.floor((1 - level) * (n + 1)))
    q = np.sort(residuals)[k_up - 1]
    if method == "jackknife+":
        expected = np.column_stack(
            [np.sort(mu - residuals, axis=1)[:, k_low - 1], np.sort(mu + residuals, axis=1)[:, k_up - 1]]
        )
    elif method == "jackknife":
        centre = Ridge(alpha=alpha).fit(X, y).predict(X_new)
        expected = np.column_stack([centre - q, centre + q])
    else:
        expected = np.column_stack([mu.min(axis=1) - q, mu.max(axis=1) + q])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_interval_refuses_bad_input(data):
    X, y, y_bin, _ = data
    with pytest.raises(ValueError, match="confidence_level"):
        loo_predict_interval(Ridge(), X, X, y, confidence_level=90)
    with pytest.raises(ValueError, match="method must be"):
        loo_predict_interval(Ridge(), X, X, y, method="cv+")
    with pytest.raises(ValueError, match="regressors"):
        loo_predict_interval(LogisticRegression(tol=1e-12), X, X, y_bin)


def test_pipeline_candidates_follow_refit_semantics_and_dataframes_work(data):
    pd = pytest.importorskip("pandas")
    X, y, _, y_multi = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"], index=np.arange(100, 100 + len(X)))
    pipe = make_pipeline(StandardScaler(), Ridge())
    grid = {"ridge__alpha": [0.1, 10.0]}
    ours = LeaveOneOutSearchCV(pipe, grid, scoring="neg_mean_squared_error").fit(frame, y)
    reference = GridSearchCV(pipe, grid, scoring="neg_mean_squared_error", cv=LeaveOneOut()).fit(frame, y)
    # the scaler's statistics move with each row (second order in 1/n): within 1e-3 of the pipeline refits
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-3)
    assert list(ours.feature_names_in_) == ["a", "b", "c", "d"]
    labels = np.array(["low", "mid", "high"])[y_multi]
    got = loo_predict(RidgeClassifier(alpha=2.0), frame, labels)
    assert np.array_equal(got, _refit_loo(RidgeClassifier(alpha=2.0), X, labels))


def test_poisson_and_balanced_logistic_take_the_general_path_within_stated_tolerance():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 0.2))
    model = PoissonRegressor(alpha=0.1, tol=1e-12, max_iter=1000)  # the row's share of α·Σs leaves with it
    got, expected = loo_predict(model, X, y), _refit_loo(model, X, y)
    assert np.abs(got / expected - 1).max() < 0.03  # one Newton step at n = 60: within 3 % of the refits
    y_bin = (X[:, 0] + rng.standard_normal(60) > 0.8).astype(int)
    model = LogisticRegression(class_weight="balanced", tol=1e-12)  # the refit re-balances the classes
    got, expected = loo_predict_proba(model, X, y_bin), _refit_loo(model, X, y_bin, "predict_proba")
    assert np.abs(got - expected).max() < 1e-2


# --- the shared-SVD ridge path, warm starts, std_test_score, method="influence", GLMs on bundled data ----------
def test_ridge_alpha_path_equals_grid_search_when_wide_weighted_and_multioutput():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((12, 20)) + 2.0  # p > n: the decomposition has n - 1 centred directions
    Y = X[:, :2] @ [[1.0, -1.0], [0.5, 2.0]] + rng.standard_normal((12, 2))
    weights = rng.uniform(0.2, 2.0, 12)
    grid = {"alpha": [0.1, 1.0, 10.0]}
    for fit_intercept in (True, False):
        model = Ridge(fit_intercept=fit_intercept)
        ours = LeaveOneOutSearchCV(model, grid, scoring="neg_mean_squared_error").fit(X, Y, sample_weight=weights)
        reference = GridSearchCV(model, grid, scoring="neg_mean_squared_error", cv=LeaveOneOut())
        reference.fit(X, Y, sample_weight=weights)
        for key in ("mean_test_score", "std_test_score"):
            np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], rtol=0, atol=1e-8)
        Z = np.column_stack([X, np.ones(12)]) if fit_intercept else X
        for alpha, max_leverage in zip(grid["alpha"], ours.cv_results_["max_leverage"]):
            H = Z.T @ (weights[:, None] * Z) + np.diag([alpha] * 20 + [0.0] * fit_intercept)
            h = weights * np.einsum("ij,ji->i", Z, np.linalg.solve(H, Z.T))
            assert max_leverage == pytest.approx(h.max(), rel=1e-8)


@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "neg_mean_absolute_error"])
def test_leave_one_out_std_is_grid_search_std_of_one_row_scores(data, scoring):
    X, y, _, _ = data
    grid = {"alpha": [0.01, 1.0, 30.0], "fit_intercept": [True, False]}  # not alpha alone: the general path
    ours = LeaveOneOutSearchCV(Ridge(), grid, scoring=scoring).fit(X, y)
    reference = GridSearchCV(Ridge(), grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y)
    for key in ("mean_test_score", "std_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], rtol=0, atol=1e-8)


def test_logistic_leave_one_out_std_within_tolerance_of_grid_search(data):
    X, _, y, _ = data
    grid = {"C": [0.1, 1.0]}
    model = LogisticRegression(tol=1e-12)
    log_loss_scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1])
    for scoring in (log_loss_scorer, "accuracy"):
        ours = LeaveOneOutSearchCV(model, grid, scoring=scoring).fit(X, y)
        reference = GridSearchCV(model, grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y)
        # one Newton step per row, n = 50: the spread of the one-row scores within 2 %
        np.testing.assert_allclose(
            ours.cv_results_["std_test_score"], reference.cv_results_["std_test_score"], rtol=2e-2
        )


def test_influence_method_search_is_its_first_order_definition():
    """method='influence': f_i + x̃_iᵀ H⁻¹ s_i g_i (no 1/(1 − h) factor), by hand with numpy."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 4))
    y_reg = X @ [1.0, -0.5, 0.0, 2.0] + rng.standard_normal(60)
    y = (X[:, 0] - 0.5 * X[:, 1] + rng.standard_normal(60) > 0).astype(int)
    Z = np.column_stack([X, np.ones(60)])
    for alpha in (0.1, 10.0):
        ridge = Ridge(alpha=alpha).fit(X, y_reg)
        H = Z.T @ Z + np.diag([alpha] * 4 + [0.0])
        h = np.einsum("ij,ji->i", Z, np.linalg.solve(H, Z.T))
        residual = y_reg - ridge.predict(X)
        expected = -np.mean((residual * (1 + h)) ** 2)  # y − (ŷ − h e): first order drops 1/(1 − h)
        ours = LeaveOneOutSearchCV(Ridge(), {"alpha": [alpha]}, scoring="neg_mean_squared_error", method="influence")
        assert ours.fit(X, y_reg).best_score_ == pytest.approx(expected, rel=1e-10)
    for C in (0.1, 0.3):  # (a larger C moves some first-order probabilities out of [0, 1] here)
        fitted = LogisticRegression(C=C, tol=1e-12).fit(X, y)
        f = fitted.decision_function(X)
        p = 1 / (1 + np.exp(-f))
        H = Z.T @ ((p * (1 - p))[:, None] * Z) + np.diag([1 / C] * 4 + [0.0])
        h = np.einsum("ij,ji->i", Z, np.linalg.solve(H, Z.T))
        loo_f = f + h * (p - y)  # θ̂₋ᵢ − θ̂ ≈ H⁻¹ ∇ℓ_i, ∇ℓ_i = (p_i − y_i) x̃_i
        loo_p = p + p * (1 - p) * h * (p - y)  # the probability moves to first order too
        per_row = np.log(np.where(y == 1, loo_p, 1 - loo_p))
        search = LeaveOneOutSearchCV(LogisticRegression(tol=1e-12), {"C": [C]}, method="influence")
        assert search.fit(X, y).best_score_ == pytest.approx(np.mean((loo_f > 0) == y), abs=1e-12)
        search.set_params(scoring=make_scorer(log_loss, greater_is_better=False, response_method="predict_proba"))
        search.fit(X, y)
        assert search.best_score_ == pytest.approx(per_row.mean(), rel=1e-8)
        assert search.cv_results_["std_test_score"][0] == pytest.approx(per_row.std(), rel=1e-8)


def test_warm_started_search_equals_cold_to_the_solver_tolerance():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 5))
    y_bin = (X[:, 0] + 0.5 * rng.standard_normal(80) > 0).astype(int)
    y_count = rng.poisson(np.exp(0.4 * X[:, 1]))
    cases = [
        (LogisticRegression(tol=1e-10, max_iter=1000), {"C": [0.01, 0.1, 1.0, 10.0]}, y_bin, "neg_log_loss"),
        (PoissonRegressor(tol=1e-10, max_iter=1000), {"alpha": [3.0, 0.3, 0.03]}, y_count, "neg_mean_poisson_deviance"),
        # a grid whose coefficients change shape (fit_intercept) restarts cold
        (LogisticRegression(tol=1e-10), [{"C": [0.1, 1.0]}, {"C": [1.0], "fit_intercept": [False]}], y_bin, "accuracy"),
    ]
    for model, grid, y, scoring in cases:
        warm = LeaveOneOutSearchCV(model, grid, scoring=scoring).fit(X, y)
        cold = LeaveOneOutSearchCV(model, grid, scoring=scoring, warm_start=False).fit(X, y)
        # lbfgs to tol 1e-10 from two starts, then the Newton step from each: equal to ~1e-8
        np.testing.assert_allclose(warm.cv_results_["mean_test_score"], cold.cv_results_["mean_test_score"], rtol=1e-7)
        assert warm.best_index_ == cold.best_index_
        assert warm.best_estimator_.get_params()["warm_start"] is False  # the refit is cold, as the user's model
    # the start is the previous solution: fewer solver iterations than a cold fit
    search = LeaveOneOutSearchCV(LogisticRegression(tol=1e-10, max_iter=1000), {"C": [1.0]})
    previous = search._fit_candidate({"C": 1.0}, None, X, y_bin, None, {})
    warm = search._fit_candidate({"C": 1.1}, previous, X, y_bin, None, {})
    cold = clone(search.estimator).set_params(C=1.1).fit(X, y_bin)
    assert warm.n_iter_[0] < cold.n_iter_[0]
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:.*leverage > 0.5")  # reported, and within 1 % all the same
def test_poisson_and_smooth_hinge_searches_within_one_percent_of_grid_search_on_bundled_data():
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import PoissonRegressor

    from sklearn_influence import SmoothHingeClassifier

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:150]
    cases = [
        (PoissonRegressor(solver="newton-cholesky", tol=1e-10), {"alpha": [0.01, 0.3, 3.0]}, X, y[:150]),
    ]
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:100]
    cases.append((SmoothHingeClassifier(), {"C": [0.01, 0.1, 1.0]}, X, y[:100]))
    for (model, grid, X, y), scoring in zip(cases, ["neg_mean_poisson_deviance", "accuracy"]):
        ours = LeaveOneOutSearchCV(model, grid, scoring=scoring).fit(X, y)
        reference = GridSearchCV(model, grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y)
        np.testing.assert_allclose(
            ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-2
        )
        assert ours.best_index_ == reference.best_index_
    # K-fold: block-Newton per fold against GridSearchCV's refits on the same folds. Poisson: within 2 %.
    model, grid, X, y = cases[0]
    ours = LeaveOneOutSearchCV(model, grid, scoring="neg_mean_poisson_deviance", cv=KFold(5)).fit(X, y)
    reference = GridSearchCV(model, grid, scoring="neg_mean_poisson_deviance", cv=KFold(5)).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=2e-2)
    # the smooth hinge's curvature sits on the few rows near the margin: a fold of 20 of these 100 rows carries
    # most of it in some direction, one block-Newton step is off (6 % in accuracy at C = 1), and it is said
    model, grid, X, y = cases[1]
    with pytest.warns(RuntimeWarning, match="carry more than 90% of the curvature"):
        LeaveOneOutSearchCV(model, {"C": [1.0]}, scoring="accuracy", cv=StratifiedKFold(5)).fit(X, y)


def test_per_row_scores_average_to_scikit_learn_metrics():
    """Each one-row score is the metric's own term: their mean is scikit-learn's metric of all the rows."""
    from sklearn.metrics import get_scorer, mean_tweedie_deviance

    from sklearn_influence._model_selection._scores import per_row_scores

    class Fixed:  # stands for the leave-one-out responses
        classes_ = np.array(["a", "b", "c"])

        def __init__(self, values):
            self.values = values

        def predict(self, X):
            return self.values

        predict_proba = predict

    rng = np.random.default_rng(2)
    y_pos, mu = rng.gamma(2.0, size=30), rng.gamma(2.0, size=30)
    labels, proba = rng.choice(["a", "b", "c"], 30), rng.dirichlet(np.ones(3), 30)
    y_two, pred_two = rng.standard_normal((30, 2)), rng.standard_normal((30, 2))
    tweedie = make_scorer(mean_tweedie_deviance, greater_is_better=False, power=1.5)
    for scorer, y, values in [
        (get_scorer("neg_mean_squared_error"), y_two, pred_two),
        (get_scorer("neg_mean_absolute_error"), y_two, pred_two),
        (get_scorer("neg_mean_poisson_deviance"), y_pos, mu),
        (get_scorer("neg_mean_gamma_deviance"), y_pos, mu),
        (tweedie, y_pos, mu),
        (get_scorer("accuracy"), labels, rng.choice(["a", "b", "c"], 30)),
        (get_scorer("neg_log_loss"), labels, proba),
    ]:
        rows = per_row_scores(scorer, Fixed(values), y)
        assert rows.shape == (30,)
        assert rows.mean() == pytest.approx(scorer._sign * scorer._score_func(y, values, **scorer._kwargs), rel=1e-12)
    assert per_row_scores(get_scorer("r2"), Fixed(mu), y_pos) is None
    assert per_row_scores(get_scorer("neg_root_mean_squared_error"), Fixed(mu), y_pos) is None


def test_ridge_classifier_alpha_path_equals_grid_search_with_leave_one_out(data):
    X, _, y_bin, y_multi = data
    weights = np.linspace(0.5, 2.0, len(X))
    grid = {"alpha": [0.1, 3.0, 100.0]}

    def decision_error(estimator, X, y):  # a mean of per-row terms on the decision function
        signs = np.where(y == estimator.classes_[1], 1.0, -1.0)
        return -np.mean((estimator.decision_function(X) - signs) ** 2)

    cases = [
        (RidgeClassifier(), y_bin, decision_error),
        (RidgeClassifier(class_weight={0: 2.0, 1: 1.0, 2: 0.5}), y_multi, "accuracy"),
    ]
    for model, y, scoring in cases:
        ours = LeaveOneOutSearchCV(model, grid, scoring=scoring).fit(X, y, sample_weight=weights)
        reference = GridSearchCV(model, grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(
            ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=0, atol=1e-8
        )
        assert ours.best_index_ == reference.best_index_


# --- user-facing behaviour as GridSearchCV's (new-user trial) ---------------------------------------------
def _own_score(estimator, X, y):
    return estimator.score(X, y)


def test_callable_scorer_reads_score_of_held_out_responses_as_grid_search(data):
    X, y_reg, _, y_multi = data
    grid = {"alpha": [0.01, 1.0, 30.0]}
    for estimator, y, cv in ((Ridge(), y_reg, KFold(5)), (RidgeClassifier(), y_multi, StratifiedKFold(4))):
        ours = LeaveOneOutSearchCV(estimator, grid, scoring=_own_score, cv=cv).fit(X, y)
        reference = GridSearchCV(estimator, grid, scoring=_own_score, cv=cv).fit(X, y)
        for key in ("split0_test_score", "mean_test_score", "rank_test_score"):
            np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], atol=1e-10)
    # leave-one-out: R² of the pooled refit predictions (GridSearchCV cannot score one row with R²)
    for estimator in (Ridge(alpha=1.0), LinearRegression()):  # the alpha path and the general path
        ours = LeaveOneOutSearchCV(estimator, {}, scoring=_own_score).fit(X, y_reg)
        expected = r2_score(y_reg, _refit_loo(estimator, X, y_reg))
        np.testing.assert_allclose(ours.cv_results_["mean_test_score"], [expected], rtol=1e-10)


def test_callable_scorer_reads_attributes_of_the_fit_on_all_rows(data):
    X, y, _, _ = data
    grid = {"ridge__alpha": [0.1, 10.0]}
    model = make_pipeline(StandardScaler(), Ridge())

    def coef_norm(estimator, X, y):
        return -np.abs(estimator.named_steps["ridge"].coef_).sum()

    expected = [coef_norm(clone(model).set_params(**p).fit(X, y), X, y) for p in ParameterGrid(grid)]
    for cv in (None, KFold(3)):
        ours = LeaveOneOutSearchCV(model, grid, scoring=coef_norm, cv=cv).fit(X, y)
        np.testing.assert_allclose(ours.cv_results_["mean_test_score"], expected, rtol=1e-12)
    # the alpha path (no fitted candidate until a scorer reads one)
    ours = LeaveOneOutSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, scoring=lambda e, X, y: -np.abs(e.coef_).sum())
    expected = [-np.abs(Ridge(alpha=a).fit(X, y).coef_).sum() for a in (0.1, 10.0)]
    np.testing.assert_allclose(ours.fit(X, y).cv_results_["mean_test_score"], expected, rtol=1e-12)


def test_predict_log_proba_scorer_equals_grid_search_refits(data):
    X, _, y, _ = data

    def mean_log_likelihood(estimator, X, y):
        return np.mean(estimator.predict_log_proba(X)[np.arange(len(y)), y])

    grid, cv = {"C": [0.1, 3.0]}, StratifiedKFold(5)
    model = LogisticRegression(tol=1e-12)
    ours = LeaveOneOutSearchCV(model, grid, scoring=mean_log_likelihood, method="exact", cv=cv).fit(X, y)
    reference = GridSearchCV(model, grid, scoring=mean_log_likelihood, cv=cv).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-8)


def test_missing_response_method_is_named_on_the_users_estimator(data):
    X, y, _, _ = data
    search = LeaveOneOutSearchCV(Ridge(), {"alpha": [1.0]}, scoring="neg_log_loss", error_score="raise")
    with pytest.raises(AttributeError, match="Ridge has none of the following attributes: predict_proba") as info:
        search.fit(X, y)
    assert "_FixedResponses" not in str(info.value)
    with pytest.raises(AttributeError, match="Ridge .*has no attribute 'feature_importances_'"):
        LeaveOneOutSearchCV(
            Ridge(), {"alpha": [1.0]}, scoring=lambda e, X, y: e.feature_importances_.sum(), error_score="raise"
        ).fit(X, y)


def test_fold_without_a_class_scores_nan_as_grid_search_failed_fit(data):
    X, _, y, _ = data
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    tests = [positives, negatives[::2], negatives[1::2]]  # fold 0's training rows hold no row of class 1
    cv = [(np.setdiff1d(np.arange(len(y)), test), test) for test in tests]
    grid, model = {"C": [0.1, 3.0]}, LogisticRegression(tol=1e-12)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = LeaveOneOutSearchCV(model, grid, method="exact", cv=cv).fit(X, y)
    ours_warnings = [w for w in caught if "training rows hold no row" in str(w.message)]
    assert len(ours_warnings) == 1 and "fold 0's training rows hold no row of class [1]" in str(
        ours_warnings[0].message
    )
    assert ours_warnings[0].filename == __file__  # points at the caller of fit
    assert not [w for w in caught if "_dispatch" in w.filename or "Removing groups" in str(w.message)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(model, grid, cv=cv, error_score=np.nan).fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "split2_test_score", "mean_test_score", "rank_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], rtol=1e-10)
    assert np.isnan(ours.cv_results_["split0_test_score"]).all() and ours.best_index_ == reference.best_index_
    # Newton steps with a log-loss scorer: NaN for that fold, no crash on NaN probabilities
    scoring = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1])
    with pytest.warns(UserWarning, match="fold 0's training rows hold no row of class"):
        newton = LeaveOneOutSearchCV(model, grid, scoring=scoring, cv=cv).fit(X, y)
    assert np.isnan(newton.cv_results_["split0_test_score"]).all()
    assert np.isfinite(newton.cv_results_["split1_test_score"]).all()


def test_failing_candidate_gets_error_score_and_the_others_rank_as_grid_search():
    import warnings

    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((15, 30)), rng.standard_normal(15)  # p > n: alpha=0 has a singular Hessian
    grid = {"alpha": [0.0, 1.0]}
    with pytest.warns(FitFailedWarning, match=r"Candidate \{'alpha': 0.0\} failed.*singular.*LeaveOneOutSearchCV"):
        ours = LeaveOneOutSearchCV(Ridge(), grid, scoring="neg_mean_squared_error").fit(X, y)
    reference = GridSearchCV(Ridge(alpha=1.0), {}, scoring="neg_mean_squared_error", cv=LeaveOneOut()).fit(X, y)
    assert np.isnan(ours.cv_results_["mean_test_score"][0])
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"][1], reference.best_score_, rtol=1e-10)
    assert list(ours.cv_results_["rank_test_score"]) == [2, 1] and ours.best_params_ == {"alpha": 1.0}
    with pytest.warns(FitFailedWarning):
        numeric = LeaveOneOutSearchCV(Ridge(), grid, error_score=-1e3).fit(X, y)
    assert numeric.cv_results_["mean_test_score"][0] == -1e3
    with pytest.raises(ValueError, match=r"^Candidate \{'alpha': 0.0\}: The Hessian .* LeaveOneOutSearchCV"):
        LeaveOneOutSearchCV(Ridge(), grid, error_score="raise").fit(X, y)
    with pytest.raises(ValueError, match="All the 1 candidates failed"):
        LeaveOneOutSearchCV(Ridge(), {"alpha": [0.0]}).fit(X, y)
    with pytest.raises(ValueError, match="error_score must be"):
        LeaveOneOutSearchCV(Ridge(), grid, error_score="nan").fit(X, y)
    # a refused candidate, as GridSearchCV with error_score=np.nan reports it
    X, y = X[:, :3], (y > 0).astype(int)
    grid, cv = {"solver": ["lbfgs"], "penalty": ["l1", "l2"]}, StratifiedKFold(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = LeaveOneOutSearchCV(LogisticRegression(tol=1e-12), grid, method="exact", cv=cv).fit(X, y)
        reference = GridSearchCV(LogisticRegression(tol=1e-12), grid, cv=cv, error_score=np.nan).fit(X, y)
    for key in ("mean_test_score", "rank_test_score", "split0_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], rtol=1e-10)
    # a candidate's convergence warning names it
    with pytest.warns(ConvergenceWarning, match=r"^Candidate \{'max_iter': 1\}: "):
        LeaveOneOutSearchCV(LogisticRegression(), {"max_iter": [1]}, error_score=0.0).fit(X, y)


def test_smoothing_and_damping_reach_each_candidate(data):
    X, y, y_bin, _ = data
    # damping d: each leave-one-out prediction is one Newton step with H + d I, by hand for ridge without intercept
    alpha, damping = 1.0, 5.0
    ours = LeaveOneOutSearchCV(
        Ridge(fit_intercept=False), {"alpha": [alpha]}, scoring="neg_mean_squared_error", damping=damping
    ).fit(X, y)
    coef = Ridge(alpha=alpha, fit_intercept=False).fit(X, y).coef_
    hessian = 2 * X.T @ X + (2 * alpha + damping) * np.eye(X.shape[1])
    residual = y - X @ coef
    step = np.array([x @ np.linalg.solve(hessian - 2 * np.outer(x, x), x) for x in X])
    expected = -np.mean((residual + 2 * residual * step) ** 2)
    np.testing.assert_allclose(ours.best_score_, expected, rtol=1e-8)
    undamped = LeaveOneOutSearchCV(Ridge(fit_intercept=False), {"alpha": [alpha]}, scoring="neg_mean_squared_error")
    assert abs(undamped.fit(X, y).best_score_ - expected) > 1e-3 * abs(expected)
    # smoothing: without it the remedy names the search's parameter and no internal wrapper
    from sklearn.svm import SVC

    with pytest.raises(
        ValueError,
        match=r"^Candidate \{'C': 1.0\}: SVC is trained with the hinge loss.*LeaveOneOutSearchCV\(\.\.\., smoothing=",
    ):
        LeaveOneOutSearchCV(SVC(kernel="linear"), {"C": [1.0]}, error_score="raise").fit(X, y_bin)
    Xs = StandardScaler().fit_transform(X)
    ours = LeaveOneOutSearchCV(SVC(kernel="linear"), {"C": [0.1, 1.0]}, smoothing=0.01).fit(Xs, y_bin)
    reference = GridSearchCV(SVC(kernel="linear"), {"C": [0.1, 1.0]}, cv=LeaveOneOut()).fit(Xs, y_bin)
    # leave-one-out accuracy of the smooth hinge at a small temperature against the hinge's refits: within 2 rows
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], atol=2 / len(y) + 1e-12
    )


def test_train_scores_as_grid_search_and_pre_dispatch_accepted(data):
    X, y, y_bin, _ = data
    grid = {"alpha": [0.01, 30.0]}
    ours = LeaveOneOutSearchCV(Ridge(), grid, cv=KFold(3), return_train_score=True, pre_dispatch=4).fit(X, y)
    reference = GridSearchCV(Ridge(), grid, cv=KFold(3), return_train_score=True, pre_dispatch=4).fit(X, y)
    train_keys = [key for key in reference.cv_results_ if "train_score" in key]
    assert sorted(train_keys) == sorted(key for key in ours.cv_results_ if "train_score" in key)
    for key in train_keys:
        np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], rtol=0, atol=1e-10)
    model, cv = LogisticRegression(tol=1e-12), StratifiedKFold(3)
    ours = LeaveOneOutSearchCV(model, {"C": [0.1, 3.0]}, method="exact", cv=cv, return_train_score=True)
    reference = GridSearchCV(model, {"C": [0.1, 3.0]}, cv=cv, return_train_score=True).fit(X, y_bin)
    for key in train_keys:
        np.testing.assert_allclose(ours.fit(X, y_bin).cv_results_[key], reference.cv_results_[key], rtol=1e-10)
    # leave-one-out: the score of the fit on all the rows (alpha path and general path)
    for estimator in (Ridge(), make_pipeline(StandardScaler(), Ridge())):
        key = "alpha" if isinstance(estimator, Ridge) else "ridge__alpha"
        ours = LeaveOneOutSearchCV(estimator, {key: [0.01, 30.0]}, return_train_score=True).fit(X, y)
        expected = [clone(estimator).set_params(**{key: a}).fit(X, y).score(X, y) for a in (0.01, 30.0)]
        np.testing.assert_allclose(ours.cv_results_["mean_train_score"], expected, rtol=1e-12)
        assert "split0_train_score" not in ours.cv_results_
