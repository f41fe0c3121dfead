"""Covariance, standard errors and the regression-diagnostics catalogue (``_diagnostics._statistics``).

References that share no code with the library: statsmodels' ``OLS``/``WLS``/``GLM`` fits
(``cov_params``, ``cov_type="HC0"…"HC3"``, ``OLSInfluence``, ``GLMInfluence``), ridge written as
ordinary least squares on stacked rows, exact leave-one-out refits, and R's own output stored
as CSV fixtures by ``tests/fixtures/make_r_diagnostics.R``.
"""

import doctest
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import (
    GammaRegressor,
    HuberRegressor,
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
)
from sklearn.neural_network import MLPRegressor
from sklearn.svm import LinearSVC

from sklearn_influence import InfluenceEstimator
from sklearn_influence._diagnostics import _statistics

sm = pytest.importorskip("statsmodels.api")
from statsmodels.stats.outliers_influence import OLSInfluence  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
RTOL = 1e-8
CATALOGUE = ["hat_diag", "cooks_d", "standard_resid", "student_resid", "dffits_internal", "dffits", "cov_ratio"]


def test_docstring_examples_run():
    result = doctest.testmod(_statistics, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def close(actual, expected, rtol=RTOL):
    """Max error relative to the largest reference value (at least 1)."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    err = np.max(np.abs(actual - expected)) / max(1.0, np.max(np.abs(expected)))
    assert err < rtol, err


def dfb(frame):
    return frame[[c for c in frame.columns if c.startswith("dfb_")]].to_numpy()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 40
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, -2.0, 0.5] + 1.0 + rng.normal(size=n) * (1 + np.abs(X[:, 0]))
    w = rng.uniform(0.5, 2.0, n)
    yb = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ [1.0, -1.0, 0.5]))).astype(int)
    yp = rng.poisson(np.exp(0.3 * X @ [1.0, -1.0, 0.5]))
    yg = rng.gamma(3.0, np.exp(0.2 * X @ [1.0, -1.0, 0.5]) / 3.0)
    return X, np.column_stack([X, np.ones(n)]), y, w, yb, yp, yg


def newton_glm(y, Xc, family, weights=None):
    """statsmodels GLM by Newton: its covariance is then the inverse Hessian at the final
    parameters (IRLS's comes from the weights of the step before, like R's)."""
    model = sm.GLM(y, Xc, family=family, var_weights=weights)
    start = model.fit(tol=1e-14).params
    return model.fit(start_params=start, method="newton", tol=1e-14, maxiter=100)


# --- covariance ----------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_least_squares_covariance_matches_statsmodels(data, weighted):
    X, Xc, y, w, *_ = data
    wt = w if weighted else None
    inf = InfluenceEstimator(LinearRegression()).fit(X, y, sample_weight=wt)
    res = sm.WLS(y, Xc, weights=w).fit() if weighted else sm.OLS(y, Xc).fit()
    close(inf.covariance(), res.cov_params())
    close(inf.standard_errors(), res.bse)
    for kind in ("HC0", "HC1", "HC2", "HC3"):
        close(inf.covariance(kind), res.get_robustcov_results(cov_type=kind).cov_params())


def test_least_squares_loss_scale_does_not_matter(data):
    """SGD-style halved squared error (the GLM's identity-link Tweedie) gives the same covariance."""
    from sklearn.linear_model import TweedieRegressor

    X, Xc, y, *_ = data
    inf = InfluenceEstimator(TweedieRegressor(power=0, alpha=0, link="identity", tol=1e-12, max_iter=10000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf.fit(X, y)
    res = sm.OLS(y, Xc).fit()
    close(inf.covariance(), res.cov_params(), 1e-6)  # lbfgs's own convergence
    close(inf.diagnostics_frame()["cooks_d"], OLSInfluence(res).cooks_distance[0], 1e-6)


@pytest.mark.parametrize("family", ["logit", "poisson"])
def test_glm_covariance_matches_statsmodels(data, family):
    X, Xc, _, _, yb, yp, _ = data
    if family == "logit":
        est, yy, fam = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12), yb, sm.families.Binomial()
    else:
        est, yy, fam = PoissonRegressor(alpha=0, solver="newton-cholesky", tol=1e-12), yp, sm.families.Poisson()
    inf = InfluenceEstimator(est).fit(X, yy)
    res = newton_glm(yy, Xc, fam)
    close(inf.params_, res.params)
    close(inf.covariance(), res.cov_params())
    close(inf.covariance("HC0"), sm.GLM(yy, Xc, family=fam).fit(tol=1e-14, cov_type="HC0").cov_params())
    # statsmodels' GLM gives HC0 for every HC kind: HC1-HC3 from its score_obs, Hessian and hat diagonal
    scores, bread = res.model.score_obs(res.params), np.linalg.inv(-res.model.hessian(res.params))
    hat = res.get_hat_matrix_diag()
    n, k = Xc.shape
    for kind, factor in [("HC1", np.full(n, n / (n - k))), ("HC2", 1 / (1 - hat)), ("HC3", 1 / (1 - hat) ** 2)]:
        close(inf.covariance(kind), bread @ (scores.T * factor) @ scores @ bread)


def test_covariance_labelled_and_validated(data):
    X, _, y, *_ = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    inf = InfluenceEstimator(LinearRegression()).set_output(transform="pandas").fit(frame, y)
    cov = inf.covariance("HC3")
    assert list(cov.index) == list(cov.columns) == ["a", "b", "c", "intercept"]
    assert inf.standard_errors().index.tolist() == ["a", "b", "c", "intercept"]
    with pytest.raises(ValueError, match="kind must be one of .*got kind='HC4'"):
        inf.covariance("HC4")


# --- ridge: least squares on stacked rows ----------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_equals_augmented_least_squares(data, weighted):
    """Ridge = OLS on [X̃; √α e_c] with y = [y; 0]: R's/statsmodels' numbers on the real rows."""
    X, Xc, y, w, *_ = data
    alpha, n = 3.0, X.shape[0]
    wt = w if weighted else np.ones(n)
    inf = InfluenceEstimator(Ridge(alpha=alpha)).fit(X, y, sample_weight=wt if weighted else None)
    pseudo = np.hstack([np.sqrt(alpha) * np.eye(3), np.zeros((3, 1))])
    res = sm.WLS(np.r_[y, np.zeros(3)], np.vstack([Xc, pseudo]), weights=np.r_[wt, np.ones(3)]).fit()
    close(inf.params_, res.params)
    close(inf.covariance(), res.cov_params())
    frame, reference = inf.diagnostics_frame(), _whitened_influence(res, np.r_[wt, np.ones(3)])
    for column in CATALOGUE:
        close(frame[column], reference[column][:n])
    close(dfb(frame), dfb(reference)[:n])


def _whitened_influence(res, weights):
    """OLSInfluence of the OLS fit on √w-scaled rows: R's weighted lm influence measures."""
    sw = np.sqrt(weights)
    ols = sm.OLS(res.model.endog * sw, res.model.exog * sw[:, None]).fit()
    influence = OLSInfluence(ols)
    frame = influence.summary_frame()
    frame["cov_ratio"] = influence.cov_ratio
    return frame


def test_ridge_deletion_against_refits(data):
    """Least squares' one-step deletion is exact: DFBETAS × scale = θ̂ − θ̂_(i) of refits."""
    X, _, y, *_ = data
    inf = InfluenceEstimator(Ridge(alpha=3.0)).fit(X, y)
    frame = inf.diagnostics_frame()
    n, k = X.shape[0], 4
    resid = y - inf.predict(X)
    rss = resid @ resid + 3.0 * inf.params_[:3] @ inf.params_[:3]
    h = frame["hat_diag"].to_numpy()
    sigma2_del = (rss - resid**2 / (1 - h)) / (n + 3 - k - 1)
    unscaled = np.diag(inf.covariance()) / (rss / (n + 3 - k))
    for i in (0, 7, 21):
        keep = np.arange(n) != i
        refit = Ridge(alpha=3.0).fit(X[keep], y[keep])
        delta = inf.params_ - np.r_[refit.coef_, refit.intercept_]
        close(dfb(frame)[i], delta / np.sqrt(sigma2_del[i] * unscaled), 1e-9)


# --- the per-row catalogue against statsmodels --------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_least_squares_catalogue_matches_statsmodels(data, weighted):
    X, Xc, y, w, *_ = data
    inf = InfluenceEstimator(LinearRegression()).fit(X, y, sample_weight=w if weighted else None)
    res = sm.WLS(y, Xc, weights=w).fit() if weighted else sm.OLS(y, Xc).fit()
    reference = _whitened_influence(res, w if weighted else np.ones(len(y)))
    frame = inf.diagnostics_frame()
    assert list(frame.columns[:7]) == [
        "hat_diag",
        "cooks_d",
        "standard_resid",
        "dffits_internal",
        "student_resid",
        "dffits",
        "cov_ratio",
    ]
    for column in CATALOGUE:
        close(frame[column], reference[column])
    close(dfb(frame), dfb(reference))
    if not weighted:  # statsmodels' own OLSInfluence directly
        direct = OLSInfluence(res)
        close(frame["student_resid"], direct.resid_studentized_external)
        close(frame["cov_ratio"], direct.cov_ratio)


@pytest.mark.parametrize("family", ["logit", "poisson", "gamma"])
def test_glm_catalogue_matches_statsmodels(data, family):
    X, Xc, _, _, yb, yp, yg = data
    if family == "logit":
        est, yy, fam = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12), yb, sm.families.Binomial()
    elif family == "poisson":
        est, yy, fam = PoissonRegressor(alpha=0, solver="newton-cholesky", tol=1e-12), yp, sm.families.Poisson()
    else:
        est, yy = GammaRegressor(alpha=0, solver="newton-cholesky", tol=1e-12), yg
        fam = sm.families.Gamma(sm.families.links.Log())
    inf = InfluenceEstimator(est).fit(X, yy)
    # IRLS's hat diagonal is evaluated at the final parameters, its cov_params (behind DFBETAS) is not
    res = sm.GLM(yy, Xc, family=fam).fit(tol=1e-14)
    reference, frame = res.get_influence(observed=False).summary_frame(), inf.diagnostics_frame()
    for column in ("hat_diag", "cooks_d", "standard_resid", "dffits_internal"):
        close(frame[column], reference[column])
    if family != "gamma":  # statsmodels divides Gamma's d_params by √φ̂ once more
        close(dfb(frame), dfb(newton_glm(yy, Xc, fam).get_influence().summary_frame()))
    if family == "logit":
        _check_pregibon(frame, yb, inf.predict_proba(X)[:, 1])
    else:
        assert "cbar" not in frame


def _check_pregibon(frame, y, p):
    """SAS's definitions, written from the fitted probabilities and statsmodels' leverage."""
    chi = (y - p) / np.sqrt(p * (1 - p))
    dev = np.sign(y - p) * np.sqrt(-2 * (y * np.log(p) + (1 - y) * np.log1p(-p)))
    h = frame["hat_diag"].to_numpy()
    close(frame["c"], chi**2 * h / (1 - h) ** 2)
    close(frame["cbar"], chi**2 * h / (1 - h))
    close(frame["difchisq"], chi**2 / (1 - h))
    close(frame["difdev"], dev**2 + chi**2 * h / (1 - h))


def test_logistic_deletion_is_the_newton_step(data):
    """Pregibon's one-step DFBETA × standard error is the library's Newton leave-one-out step, reversed."""
    X, _, _, _, yb, *_ = data
    inf = InfluenceEstimator(LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)).fit(X, yb)
    delta = dfb(inf.diagnostics_frame()) * inf.standard_errors()
    close(delta, -inf.leave_one_out_params(method="newton"))


# --- flags, labels, refusals -----------------------------------------------------------------


def test_flags_follow_r_rules(data):
    X, _, y, *_ = data
    y = y.copy()
    y[3] += 25.0  # an outlier
    inf = InfluenceEstimator(LinearRegression()).fit(pd.DataFrame(X, index=[f"r{i}" for i in range(40)]), y)
    flags, frame = inf.influence_flags(), inf.diagnostics_frame()
    assert flags.index.tolist() == frame.index.tolist()
    assert flags.columns.tolist() == [c for c in frame.columns if c.startswith("dfb_")] + [
        "dffits",
        "cov_ratio",
        "cooks_d",
        "hat_diag",
    ]
    assert flags.loc["r3", "dffits"] and flags.dtypes.eq(bool).all()
    n, k = 40, 4
    np.testing.assert_array_equal(flags["hat_diag"], frame["hat_diag"] > 3 * k / n)


@pytest.mark.parametrize(
    "estimator, y_kind, match",
    [
        (HuberRegressor(), "y", "HuberRegressor is decoded as"),
        (LinearSVC(dual=False, tol=1e-10), "binary", "LinearSVC's loss is"),
        (LogisticRegression(), "multi", "LogisticRegression has 2 outputs here"),
        (MLPRegressor(hidden_layer_sizes=(2,), max_iter=50, random_state=0), "y", "MLPRegressor is decoded"),
    ],
)
def test_refusals(data, estimator, y_kind, match):
    X, _, y, *_ = data
    target = {"multi": np.arange(40) % 3, "binary": y > 0, "y": y}[y_kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf = InfluenceEstimator(estimator, damping=1e3).fit(X, target)
    for call in (inf.covariance, inf.diagnostics_frame):
        with pytest.raises(ValueError, match=match):
            call()


# --- R's own numbers (tests/fixtures/make_r_diagnostics.R) ---------------------------------------

R_MODELS = {
    "ols": lambda: LinearRegression(),
    "wls": lambda: LinearRegression(),
    "ridge": lambda: Ridge(alpha=10.0),
    "logit": lambda: LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=1000),
    "poisson": lambda: PoissonRegressor(alpha=0, solver="newton-cholesky", tol=1e-12, max_iter=1000),
    "gamma": lambda: GammaRegressor(alpha=0, solver="newton-cholesky", tol=1e-12, max_iter=1000),
}


def r_order(names):
    """Our parameter order (coefficients, then intercept) from R's (intercept first)."""
    return [*names[1:], names[0]]


@pytest.mark.parametrize("name", list(R_MODELS))
def test_matches_r(name):
    table = pd.read_csv(FIXTURES / f"r_diagnostics_{name}.csv")
    vcov = pd.read_csv(FIXTURES / f"r_diagnostics_{name}_vcov.csv").to_numpy()
    features = [c for c in table.columns if c.startswith("x_")]
    X = table[features].set_axis([c[2:] for c in features], axis=1)
    weights = table["w"].to_numpy() if name == "wls" else None
    inf = InfluenceEstimator(R_MODELS[name]()).fit(X, table["y"].to_numpy(), sample_weight=weights)
    order = r_order(list(range(len(features) + 1)))
    close(inf.covariance(), vcov[np.ix_(order, order)])
    frame = inf.diagnostics_frame()
    for column in ("hat_diag", "cooks_d", "standard_resid", "student_resid", "dffits", "cov_ratio"):
        close(frame[column], table[column])
    glm = name in ("logit", "poisson", "gamma")
    r_dfb = table[r_order([c for c in table.columns if c.startswith("dfb_")])].to_numpy()
    if not glm:
        close(dfb(frame), r_dfb)
    else:  # R's dfbetas.glm: deviance residual dᵢ for Pearson χᵢ, σ_(i) for √φ̂ (the documented difference)
        y, mu = table["y"].to_numpy(), inf.predict_proba(X)[:, 1] if name == "logit" else inf.predict(X)
        chi, dev = (
            (y - mu) / np.sqrt({"logit": mu * (1 - mu), "poisson": mu, "gamma": mu**2}[name]),
            {
                "logit": lambda: -2 * (y * np.log(mu) + (1 - y) * np.log1p(-mu)),
                "poisson": lambda: 2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - (y - mu)),
                "gamma": lambda: 2 * (-np.log(y / mu) + (y - mu) / mu),
            }[name](),
        )
        dev = np.sign(y - mu) * np.sqrt(dev)
        n, k, h = len(y), len(features) + 1, frame["hat_diag"].to_numpy()
        sigma = np.sqrt((dev @ dev - dev**2 / (1 - h)) / (n - k - 1))
        phi = 1.0 if name != "gamma" else chi @ chi / (n - k)
        close(dfb(frame) * (dev / chi * np.sqrt(phi) / sigma)[:, None], r_dfb)
    flags = inf.influence_flags()
    if name == "ridge":  # R's influence.measures rules on R's values, n counting the stacked lm's 3 pseudo-rows
        n, k = len(table) + 3, 4
        expected = {
            "dffits": table["dffits"].abs() > 3 * np.sqrt(k / (n - k)),
            "cov_ratio": (1 - table["cov_ratio"]).abs() > 3 * k / (n - k),
            "cooks_d": stats.f.cdf(table["cooks_d"], k, n - k) > 0.5,
            "hat_diag": table["hat_diag"] > 3 * k / n,
        }
        for column, values in expected.items():
            np.testing.assert_array_equal(flags[column], values, err_msg=column)
        assert flags["cov_ratio"].any()  # a rule that flags something
    else:
        expected = table[[c for c in table.columns if c.startswith("inf_")]]
        for column in ("dffits", "cov_ratio", "cooks_d", "hat_diag"):
            np.testing.assert_array_equal(flags[column], expected[f"inf_{column}"], err_msg=column)
        if not glm:
            np.testing.assert_array_equal(
                flags[[c for c in flags.columns if c.startswith("dfb_")]],
                expected[r_order([f"inf_{c}" for c in ["intercept", *X.columns]])],
            )


# --- weights, sparse input, penalised GLMs ---------------------------------------------------


def test_zero_weight_rows_are_left_out(data):
    """Rows of zero weight: the fit on the other rows (R drops them; hat 0, NaN elsewhere)."""
    X, Xc, y, w, *_ = data
    w = w.copy()
    w[[2, 5]] = 0.0
    inf = InfluenceEstimator(LinearRegression()).fit(X, y, sample_weight=w)
    keep = w > 0
    res = sm.WLS(y[keep], Xc[keep], weights=w[keep]).fit()
    close(inf.covariance(), res.cov_params())
    close(inf.covariance("HC3"), res.get_robustcov_results(cov_type="HC3").cov_params())
    frame, reference = inf.diagnostics_frame(), _whitened_influence(res, w[keep])
    for column in CATALOGUE:
        close(frame[column][keep], reference[column])
    assert (frame["hat_diag"][~keep] == 0).all() and frame.loc[~keep, "cooks_d"].isna().all()
    assert inf.influence_flags()["hat_diag"].sum() == (reference["hat_diag"] > 3 * 4 / keep.sum()).sum()


def test_sparse_equals_dense(data):
    import scipy.sparse as sp

    X, _, y, *_ = data
    dense = InfluenceEstimator(Ridge(alpha=2.0, solver="cholesky")).fit(X, y)
    sparse = InfluenceEstimator(Ridge(alpha=2.0, solver="sparse_cg", tol=1e-14, max_iter=10**5))
    sparse.fit(sp.csr_matrix(X), y)
    close(sparse.covariance("HC2"), dense.covariance("HC2"), 1e-7)
    close(sparse.diagnostics_frame().to_numpy(), dense.diagnostics_frame().to_numpy(), 1e-7)


def test_penalised_logistic_with_class_weights_against_numerical_hessian(data):
    """covariance("model") = H⁻¹ of Σ sᵢ cᵢ ℓᵢ + ||w||²/(2C), its Hessian by central differences of
    the gradient written here; HC0 from the per-row gradients written here."""
    X, Xc, _, w, yb, *_ = data
    C, class_weight = 0.3, {0: 2.0, 1: 0.5}
    est = LogisticRegression(C=C, class_weight=class_weight, solver="newton-cholesky", tol=1e-12)
    inf = InfluenceEstimator(est).fit(X, yb, sample_weight=w)
    s = w * np.where(yb == 1, 0.5, 2.0)

    def gradient(theta):
        p = 1 / (1 + np.exp(-Xc @ theta))
        return Xc.T @ (s * (p - yb)) + np.r_[theta[:3], 0.0] / C

    theta, eps = inf.params_, 1e-5
    close(gradient(theta), np.zeros(4), 1e-9)
    hessian = np.column_stack([(gradient(theta + eps * e) - gradient(theta - eps * e)) / (2 * eps) for e in np.eye(4)])
    close(inf.covariance(), np.linalg.inv(hessian), 1e-7)
    p = 1 / (1 + np.exp(-Xc @ theta))
    scores = (s * (p - yb))[:, None] * Xc
    bread = np.linalg.inv(hessian)
    close(inf.covariance("HC0"), bread @ scores.T @ scores @ bread, 1e-7)
    frame = inf.diagnostics_frame()
    h = s * p * (1 - p) * np.einsum("ij,jk,ik->i", Xc, bread, Xc)
    close(frame["hat_diag"], h, 1e-7)
    assert {"c", "cbar", "difchisq", "difdev"} <= set(frame.columns)


def test_residuals_leverage_display(data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sklearn_influence import ResidualsLeverageDisplay

    X, Xc, y, *_ = data
    y = y.copy()
    y[[3, 11]] += [25.0, -20.0]
    frame_X = pd.DataFrame(X, index=[f"r{i}" for i in range(40)])
    inf = InfluenceEstimator(LinearRegression()).fit(frame_X, y)
    display = ResidualsLeverageDisplay.from_estimator(inf, n_labels=2)
    cooks = OLSInfluence(sm.OLS(y, Xc).fit()).cooks_distance[0]
    close(display.cooks_d, cooks)
    close(display.scatter_.get_offsets(), inf.diagnostics_frame()[["hat_diag", "standard_resid"]].to_numpy())
    labelled = {text.get_text() for text in display.ax_.texts if text.get_text().startswith("r")}
    assert labelled == {f"r{i}" for i in np.argsort(cooks)[-2:]}
    for line in display.ax_.lines[:4]:  # the contours at D = 0.5 (two branches), then D = 1
        h, r = line.get_xdata(), line.get_ydata()
        level = r**2 * h / (4 * (1 - h))
        assert np.allclose(level, 0.5) or np.allclose(level, 1.0)
    with pytest.raises(ValueError, match="n_params must be a positive integer"):
        ResidualsLeverageDisplay(leverage=[0.1], standard_resid=[1.0], n_params=0)


# --- standard errors of predictions --------------------------------------------------------------


@pytest.mark.parametrize("family", ["ols", "logit", "poisson"])
def test_prediction_standard_errors_match_statsmodels(data, family):
    X, Xc, y, _, yb, yp, _ = data
    Xq = X[:7] + 0.3
    Xqc = np.column_stack([Xq, np.ones(7)])
    if family == "ols":
        inf, res = InfluenceEstimator(LinearRegression()).fit(X, y), sm.OLS(y, Xc).fit()
        robust = res.get_robustcov_results(cov_type="HC3")
    else:
        if family == "logit":
            est, yy, fam = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12), yb, sm.families.Binomial()
        else:
            est, yy, fam = PoissonRegressor(alpha=0, solver="newton-cholesky", tol=1e-12), yp, sm.families.Poisson()
        inf, res = InfluenceEstimator(est).fit(X, yy), newton_glm(yy, Xc, fam)
        robust = sm.GLM(yy, Xc, family=fam).fit(tol=1e-14, cov_type="HC0")
    close(inf.prediction_standard_errors(Xq), np.sqrt(np.einsum("ic,cd,id->i", Xqc, res.cov_params(), Xqc)))
    kind = "HC3" if family == "ols" else "HC0"
    if family == "ols":
        close(inf.prediction_standard_errors(Xq, kind=kind), robust.get_prediction(Xqc).se_mean)
        close(inf.prediction_standard_errors(Xq, scale="response"), res.get_prediction(Xqc).se_mean)
    else:
        close(inf.prediction_standard_errors(Xq, kind=kind), robust.get_prediction(Xqc, which="linear").se)
        close(inf.prediction_standard_errors(Xq, scale="response"), res.get_prediction(Xqc, which="mean").se)
    with pytest.raises(ValueError, match="scale must be 'linear' or 'response'; got scale='mean'"):
        inf.prediction_standard_errors(Xq, scale="mean")


def test_infinitesimal_jackknife_is_hc0(data):
    """HC0's prediction variance is Σᵢ (∂f(x)/∂wᵢ)², the derivatives by central differences of refits."""
    X, _, y, *_ = data
    Xq = X[:3] + 0.5
    inf = InfluenceEstimator(Ridge(alpha=2.0)).fit(X, y)
    eps, derivs = 1e-6, []
    for i in range(len(y)):
        moved = [
            Ridge(alpha=2.0).fit(X, y, sample_weight=1.0 + sign * eps * (np.arange(len(y)) == i)).predict(Xq)
            for sign in (1, -1)
        ]
        derivs.append((moved[0] - moved[1]) / (2 * eps))
    close(inf.prediction_standard_errors(Xq, kind="HC0"), np.sqrt(np.sum(np.square(derivs), axis=0)), 1e-6)


def test_pipeline_labels_and_summary_frame_leverage(data):
    """Through a pipeline (transformers held fixed) the frame is labelled by the training index and the
    final model's feature names; hat_diag is summary_frame's leverage for a canonical link."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _, _, _, yb, *_ = data
    frame_X = pd.DataFrame(X, columns=["a", "b", "c"], index=[f"r{i}" for i in range(40)])
    est = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12))
    inf = InfluenceEstimator(est, preprocessing="fixed").fit(frame_X, yb)
    frame = inf.diagnostics_frame()
    assert frame.index.tolist() == frame_X.index.tolist()
    assert [c for c in frame.columns if c.startswith("dfb_")] == ["dfb_a", "dfb_b", "dfb_c", "dfb_intercept"]
    close(frame["hat_diag"], inf.summary_frame()["leverage"])
    plain = InfluenceEstimator(LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12))
    plain.fit(StandardScaler().fit_transform(X), yb)
    close(frame.to_numpy(), plain.diagnostics_frame().to_numpy())


def test_grouped_binomial_as_weighted_rows_matches_r():
    """A group of m trials with k events is two rows (event, weight k; non-event, weight m - k): R's
    grouped-binomial vcov, and each group's hat value is the sum of its two rows' (the rows share x)."""
    table = pd.read_csv(FIXTURES / "r_diagnostics_grouped.csv")
    vcov = pd.read_csv(FIXTURES / "r_diagnostics_grouped_vcov.csv").to_numpy()
    X = np.vstack([table[["ldose", "male"]].to_numpy()] * 2)
    y = np.r_[np.ones(len(table)), np.zeros(len(table))]
    w = np.r_[table["dead"], table["n"] - table["dead"]].astype(float)
    inf = InfluenceEstimator(LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)).fit(X, y, w)
    order = r_order([0, 1, 2])
    close(inf.covariance(), vcov[np.ix_(order, order)])
    hat = inf.diagnostics_frame()["hat_diag"].to_numpy()
    close(hat[: len(table)] + hat[len(table) :], table["hat_diag"])


def test_penalised_poisson_against_numerical_hessian(data):
    """PoissonRegressor(alpha) with weights: covariance("model") = H⁻¹ of Σ sᵢ ℓᵢ + α Σs ||w||²/2 (its
    gradient written here, differentiated by central differences); leverage from that Hessian."""
    X, Xc, _, w, _, yp, _ = data
    alpha = 0.05
    inf = InfluenceEstimator(PoissonRegressor(alpha=alpha, solver="newton-cholesky", tol=1e-12)).fit(X, yp, w)

    def gradient(theta):
        return Xc.T @ (w * (np.exp(Xc @ theta) - yp)) + alpha * w.sum() * np.r_[theta[:3], 0.0]

    theta, eps = inf.params_, 1e-5
    close(gradient(theta), np.zeros(4), 1e-8)
    hessian = np.column_stack([(gradient(theta + eps * e) - gradient(theta - eps * e)) / (2 * eps) for e in np.eye(4)])
    bread = np.linalg.inv(hessian)
    close(inf.covariance(), bread, 1e-7)
    mu = np.exp(Xc @ theta)
    close(inf.diagnostics_frame()["hat_diag"], w * mu * np.einsum("ij,jk,ik->i", Xc, bread, Xc), 1e-7)
