"""Solver numerics (issue 11): scale-invariant exact solves, CG's stated accuracy, LiSSA's reported error.

Every reference here is computed with numpy from scikit-learn's own predictions (no code
shared with the library): explicit Hessians in well-scaled coordinates, leave-one-out refits,
and exact expectations of the LiSSA recursion.
"""

import warnings

import numpy as np
import pytest
from conftest import tight_logistic
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from sklearn_influence import InfluenceEstimator, SmoothHingeClassifier
from sklearn_influence._solvers import ExactSolver


@pytest.fixture(scope="module")
def issue_data():
    """The issue's shared setup (with labels that are not separable), plus query rows drawn the same way."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = X.sum(1) + rng.standard_normal(60)
    Xq = rng.standard_normal((5, 4))
    yq = Xq.sum(1) + rng.standard_normal(5)
    return X, y, (y > 0).astype(int), Xq, yq, (yq > 0).astype(int)


def _scaled(X, k):
    Xs = X.copy()
    Xs[:, 0] *= k
    return Xs


def _derivatives(kind, model, X, y):
    """``dℓ/df`` and ``d²ℓ/df²`` per row, from scikit-learn's predictions only."""
    if kind == "squared":  # ℓ = (y − f)², the un-halved squared error of Ridge / LinearRegression
        f = model.predict(X)
        return 2.0 * (f - y), np.full(len(y), 2.0)
    if kind == "logistic":
        p = model.predict_proba(X)[:, 1]
        return p - y, p * (1 - p)
    # smooth hinge τ log(1 + exp((1 − y f)/τ)) with y in {−1, +1}
    tau, sign = model.temperature, 2.0 * y - 1.0
    sigma = expit((1.0 - sign * model.decision_function(X)) / tau)
    return -sign * sigma, sigma * (1 - sigma) / tau


def _reference(kind, model, penalty, X, y, Xq, yq, k):
    """Influence quantities from an explicit Hessian in the unscaled coordinates of ``X`` (numpy only).

    ``model`` was fitted on ``X`` with feature 0 scaled by ``k``; ``penalty``: the L2 strength
    λ_c of each coefficient of the unscaled coordinates in the sum form Σ ℓ + ½ Σ λ_c θ_c²
    (the intercept is unpenalised).
    """
    n = len(y)
    Xt, Xqt = np.c_[X, np.ones(n)], np.c_[Xq, np.ones(len(Xq))]
    r, a = _derivatives(kind, model, _scaled(X, k), y)
    rq, _ = _derivatives(kind, model, _scaled(Xq, k), yq)
    H = Xt.T @ (a[:, None] * Xt) + np.diag(np.r_[penalty, 0.0])
    solved = np.linalg.solve(H, (r[:, None] * Xt).T).T  # H⁻¹ g_i
    leverage = np.einsum("ic,ic->i", Xt, np.linalg.solve(H, Xt.T).T)
    return {
        "influence_params": -n * solved,
        "self_influence": n * r * np.einsum("ic,ic->i", Xt, solved),
        "newton": solved / (1.0 - a * leverage)[:, None],
        "influence": -n * (rq[:, None] * Xqt) @ solved.T,
    }


def _polished(model, kind, penalty, X, y, k):
    """``model`` moved to the exact minimiser by Newton steps in the unscaled coordinates (numpy only).

    scikit-learn's own fit on badly scaled data can stop early; influence is defined at the
    minimiser, so the reference and the library both use this one.
    """
    Xt = np.c_[X, np.ones(len(y))]
    to_scaled = np.r_[1.0 / k, np.ones(X.shape[1] - 1)]
    theta = np.r_[model.coef_.ravel() / to_scaled, model.intercept_]
    for _ in range(30):
        r, a = _derivatives(kind, model, _scaled(X, k), y)
        gradient = Xt.T @ r + np.r_[penalty, 0.0] * theta
        hessian = Xt.T @ (a[:, None] * Xt) + np.diag(np.r_[penalty, 0.0])
        theta = theta - np.linalg.solve(hessian, gradient)
        model.coef_ = (theta[:-1] * to_scaled).reshape(model.coef_.shape)
        model.intercept_ = theta[-1] if np.ndim(model.intercept_) == 0 else theta[-1:]
    return model


# estimator, loss kind, binary target?, penalty λ on each coefficient in the sum form
_CASES = {
    "linear": (lambda: LinearRegression(), "squared", False, 0.0),
    "ridge": (lambda: Ridge(alpha=1.0), "squared", False, 2.0),  # α||w||² = ½ (2α) ||w||²
    "logistic": (lambda: tight_logistic(C=1.0), "logistic", True, 1.0),  # ½||w||²/C in sum form
    "smooth_hinge": (lambda: SmoothHingeClassifier(C=1.0, temperature=0.5, tol=1e-12), "hinge", True, 1.0),
}


@pytest.mark.parametrize("case", list(_CASES))
@pytest.mark.parametrize("k", [1e6, 1e-6, 1e4])
def test_badly_scaled_feature_gives_the_well_scaled_answers(case, k, issue_data):
    """Scaling feature 0 by k: results equal the unscaled problem's, mapped through the scaling.

    With ``X_s = X K`` (``K = diag(k, 1, ..., 1)``), ``θ_s = K⁻¹ θ`` and the penalty on θ₀ becomes
    ``λ/k²``: ``H_s⁻¹ g_s = K⁻¹ H⁻¹ g`` where ``H`` and ``g`` are those of the unscaled coordinates,
    computed with numpy where ``H`` is well conditioned. Loss-space results are unchanged.
    """
    X, y, yb, Xq, yq, yqb = issue_data
    make, kind, binary, strength = _CASES[case]
    target, query_target = (yb, yqb) if binary else (y, yq)
    Xs, Xqs = _scaled(X, k), _scaled(Xq, k)
    issue_model = LogisticRegression() if kind == "logistic" else make()  # scikit-learn's defaults
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # scikit-learn's own fit on X_s may stop early
        InfluenceEstimator(issue_model).fit(Xs, target)  # raised "singular to working precision" before
        if binary:  # and with the issue's own (separable) labels
            InfluenceEstimator(issue_model).fit(Xs, (X[:, 0] > 0).astype(int))
    penalty = np.r_[strength / k**2, np.full(X.shape[1] - 1, strength)]
    start = make().fit(X, target)  # well scaled; its coefficients written in X_s's units
    start.coef_ = start.coef_ / np.r_[k, np.ones(X.shape[1] - 1)]
    model = _polished(start, kind, penalty, X, target, k)
    inf = InfluenceEstimator(FrozenEstimator(model)).fit(Xs, target)
    assert inf.solver_ == "exact" and inf.relative_gradient_norm_ < 1e-5  # rounding, times k in X_s's units
    expected = _reference(kind, model, penalty, X, target, Xq, query_target, k)
    to_unscaled = np.r_[k, np.ones(X.shape[1])]  # K θ_s = θ
    for name, got in [
        ("influence_params", inf.influence_params() * to_unscaled),
        ("newton", inf.leave_one_out_params(method="newton") * to_unscaled),
        ("self_influence", inf.self_influence()),
        ("influence", inf.influence(Xqs, query_target)),
    ]:
        want = expected[name]
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10 * np.abs(want).max(), err_msg=name)


@pytest.mark.parametrize("k", [1e6, 1e-6])
def test_badly_scaled_linear_regression_newton_equals_refits(k, issue_data):
    """For least squares the Newton step is exact: it equals refits without each row (unscaled, mapped)."""
    X, y, _, _, _, _ = issue_data
    inf = InfluenceEstimator(LinearRegression()).fit(_scaled(X, k), y)
    Xt = np.c_[X, np.ones(len(y))]
    full = np.linalg.lstsq(Xt, y, rcond=None)[0]
    rows = np.arange(0, len(y), 6)
    refits = np.array([np.linalg.lstsq(np.delete(Xt, i, 0), np.delete(y, i), rcond=None)[0] for i in rows])
    expected = refits - full
    got = inf.leave_one_out_params(method="newton", indices=rows) * np.r_[k, np.ones(X.shape[1])]  # K θ_s = θ
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())


def test_condition_check_does_not_depend_on_units(issue_data):
    X, y, _, _, _, _ = issue_data
    plain = InfluenceEstimator(LinearRegression(), solver="exact").fit(X, y)._solver.rcond
    for k in (1e-8, 1e8):
        scaled = InfluenceEstimator(LinearRegression(), solver="exact").fit(_scaled(X, k), y)._solver.rcond
        assert scaled == pytest.approx(plain, rel=1e-6)


@pytest.mark.parametrize("k", [1.0, 1e6])
def test_duplicated_feature_is_still_singular_whatever_its_scale(k, issue_data):
    X, y, _, _, _, _ = issue_data
    Xd = np.c_[X, k * X[:, 1]]  # collinear columns, no penalty
    with pytest.raises(ValueError, match="singular") as error:
        InfluenceEstimator(LinearRegression()).fit(Xd, y)
    message = str(error.value)
    assert "damping > 0" in message and "duplicated" in message and "neural network" not in message


def test_feature_nearly_constant_against_its_mean_is_told_to_centre(issue_data):
    X, y, _, _, _, _ = issue_data
    Xu = X.copy()
    Xu[:, 0] = 1e7 + X[:, 0]  # mean/spread 1e7: collinear with the intercept to ~1e-14
    with pytest.raises(ValueError, match="Centre the features"):
        InfluenceEstimator(LinearRegression()).fit(Xu, y)


# --- item 4: a singular Hessian's message names its cause ----------------------------------


def test_too_few_rows_are_named_not_a_neural_network(issue_data):
    X, y, _, _, _, _ = issue_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 rows fitted exactly: no typical gradient
        with pytest.raises(ValueError, match="too few rows: 2 training rows with a non-zero weight for 5 param") as e:
            InfluenceEstimator(LinearRegression()).fit(X[:2], y[:2])
    assert "neural network" not in str(e.value)
    weights = np.r_[np.ones(3), np.zeros(len(y) - 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 rows fitted exactly: no typical gradient
        with pytest.raises(ValueError, match="too few rows: 3 training rows") as e:
            InfluenceEstimator(LinearRegression(), solver="exact").fit(X, y, sample_weight=weights)
    assert "neural network" not in str(e.value)


def test_all_zero_weights_are_named():
    """No data term: only the penalty (here none on the intercept) is left in H."""
    penalty_only = np.diag([2.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="All sample weights are zero") as e:
        ExactSolver(penalty_only, 1, 3, True, intercept=True, n_rows=0, convex=True)
    assert "neural network" not in str(e.value)


def test_negative_curvature_blames_neural_networks_only_for_non_convex_models():
    indefinite = np.diag([2.0, 1.0, -0.5])
    with pytest.raises(ValueError, match=r"smallest eigenvalue is -0.5.*not convex at the fitted") as e:
        ExactSolver(indefinite, 1, 3, True, convex=True)
    assert "neural network" not in str(e.value) and "damping > 0.5" in str(e.value)
    with pytest.raises(ValueError, match=r"neural network\) needs damping > 0.5"):
        ExactSolver(indefinite, 1, 3, True)


# --- item 2: CG's accuracy on parameter-space results is stated, and warned about -------------


def test_cg_warns_when_parameter_space_results_may_be_off(issue_data):
    """The issue's case: a collinear column, Ridge(alpha=1e-8); CG's Newton leave-one-out was 10 % off, silently."""
    X, y, _, _, _, _ = issue_data
    Xc = np.c_[X[:, :3], X[:, 0] + X[:, 1]]
    exact = InfluenceEstimator(Ridge(alpha=1e-8), solver="exact").fit(Xc, y)
    with pytest.warns(ConvergenceWarning, match=r"condition number is at least .* may be off by up to 1.0e\+00"):
        cg = InfluenceEstimator(Ridge(alpha=1e-8), solver="cg").fit(Xc, y)
    assert cg.cg_condition_estimate_ > 1e8
    # the warning is not a false alarm: the parameter-space results really are off
    a, b = exact.leave_one_out_params(method="newton"), cg.leave_one_out_params(method="newton")
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()


def _explicit_hessian(model, X, y):
    """``X̃ᵀ diag(a) X̃ + diag(λ)`` from scikit-learn's predictions (no intercept column when not fitted)."""
    model = getattr(model, "estimator", model)  # through FrozenEstimator
    Xt = np.c_[X, np.ones(len(y))] if model.fit_intercept else X
    mask = np.r_[np.ones(X.shape[1]), np.zeros(Xt.shape[1] - X.shape[1])]
    if isinstance(model, Ridge):
        return 2.0 * Xt.T @ Xt + np.diag(2.0 * model.alpha * mask)
    p = model.predict_proba(X)[:, 1]
    return Xt.T @ (Xt * (p * (1 - p))[:, None]) + np.diag(mask / model.C)


@pytest.fixture(scope="module")
def ill_scaled():
    """Raw breast cancer and diabetes, their columns spread over 1e±3 (no intercept: M is plain Jacobi)."""
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = Xb[:150, :12] / Xb[:, :12].std(0) * np.logspace(-3, 3, 12), yb[:150]
    Xd = Xd * np.logspace(-3, 3, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        logistic = tight_logistic(C=1.0, fit_intercept=False).fit(Xb, yb)
    ridge = Ridge(alpha=1e-2, fit_intercept=False).fit(Xd, yd)
    return {"logistic": (FrozenEstimator(logistic), Xb, yb), "ridge": (FrozenEstimator(ridge), Xd, yd)}


@pytest.mark.parametrize("case", ["logistic", "ridge"])
def test_cg_condition_estimate_is_the_jacobi_scaled_condition_number(case, ill_scaled):
    model, X, y = ill_scaled[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cg = InfluenceEstimator(model, solver="cg").fit(X, y)
    H = _explicit_hessian(cg.estimator_, X, y)
    d = 1.0 / np.sqrt(np.diag(H))
    eigenvalues = np.linalg.eigvalsh(H * d[:, None] * d)
    assert cg.cg_condition_estimate_ == pytest.approx(eigenvalues[-1] / eigenvalues[0], rel=1e-3)


@pytest.mark.parametrize("case", ["logistic", "ridge", "intercept"])
def test_cg_meets_its_stated_tolerance_when_it_does_not_warn(case, ill_scaled, binary_data):
    """No warning at fit: every solution is within κ·cg_tol of the exact one (in M's norm, or √κ·cg_tol in H's)."""
    if case == "intercept":
        X, y, _, _ = binary_data
        model, tol = tight_logistic(C=0.5), 1e-9
    else:
        (model, X, y), tol = ill_scaled[case], 1e-11
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cg = InfluenceEstimator(model, solver="cg", cg_tol=tol).fit(X, y)
    exact = InfluenceEstimator(model, solver="exact").fit(X, y)
    bound = cg.cg_condition_estimate_ * tol
    assert bound <= 1e-6
    H = _explicit_hessian(exact.estimator_, X, y)
    # M = diag(H) without an intercept; with one, the energy norm ||e||_H / ||x||_H <= √κ · tol
    weight, bound = (np.diag(np.diag(H)), bound) if case != "intercept" else (H, np.sqrt(bound * tol))
    for got, want in [
        (cg.influence_params(), exact.influence_params()),
        (cg.leave_one_out_params(method="newton"), exact.leave_one_out_params(method="newton")),
    ]:
        error = got - want
        relative = np.sqrt(
            np.einsum("ij,jk,ik->i", error, weight, error) / np.einsum("ij,jk,ik->i", want, weight, want)
        )
        assert relative.max() <= bound


# --- item 3: LiSSA reports the error it makes ----------------------------------------------


def test_lissa_bias_bound_is_that_of_the_mean_hessian_with_penalty_and_damping(issue_data):
    """``(1 − λ_min/scale)^depth`` with λ_min of H/n, H = 2X̃ᵀX̃ + 2α·mask + damping·I written out with numpy."""
    X, y, _, _, _, _ = issue_data
    with pytest.warns(ConvergenceWarning, match="lissa_depth=50"):
        lissa = InfluenceEstimator(
            Ridge(alpha=1.0), solver="lissa", damping=0.5, lissa_depth=50, lissa_repeats=2, random_state=0
        ).fit(X, y)
    Xt = np.c_[X, np.ones(len(y))]
    H = 2.0 * Xt.T @ Xt + np.diag([2.0, 2.0, 2.0, 2.0, 0.0]) + 0.5 * np.eye(5)
    eigenvalues = np.linalg.eigvalsh(H / len(y))
    scale = lissa._solver.scale
    assert scale > eigenvalues[-1]
    assert lissa.lissa_bias_bound_ == pytest.approx((1.0 - eigenvalues[0] / scale) ** 50, rel=1e-3)


@pytest.mark.parametrize(
    "case, settings",
    [
        ("ridge", {}),
        ("logistic", {}),
        ("ridge", dict(lissa_batch_size=8, lissa_repeats=40)),
        ("logistic", dict(lissa_depth=20)),  # bias-dominated: the issue's 55 % case
    ],
)
def test_lissa_reported_error_is_the_actual_error(case, settings, issue_data):
    """``lissa_error_ + lissa_bias_bound_`` against the exact solver: within a factor 3 either way."""
    X, y, yb, _, _, _ = issue_data
    model, target = (Ridge(), y) if case == "ridge" else (tight_logistic(C=1.0), yb)
    exact = InfluenceEstimator(model, solver="exact").fit(X, target).influence_params()
    settings = {"lissa_depth": 300, "random_state": 0, **settings}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lissa = InfluenceEstimator(model, solver="lissa", **settings).fit(X, target)
    relative = np.sum((lissa.influence_params() - exact) ** 2, axis=1) / np.sum(exact**2, axis=1)
    actual = np.sqrt(relative.mean())
    reported = lissa.lissa_error_ + lissa.lissa_bias_bound_
    assert reported / 3 <= actual <= 3 * reported


def test_lissa_warns_at_the_default_settings_where_it_is_several_per_cent_off(issue_data):
    X, y, _, _, _, _ = issue_data
    with pytest.warns(ConvergenceWarning, match=r"off by about .*lissa_repeats.*solver='exact' or 'cg'"):
        lissa = InfluenceEstimator(Ridge(), solver="lissa", random_state=0).fit(X, y)
    assert lissa.lissa_error_ > 1e-2 and lissa.lissa_bias_bound_ < 1e-30
    with pytest.warns(ConvergenceWarning, match=r"lissa_depth=20.*lissa_depth to at least"):
        InfluenceEstimator(Ridge(), solver="lissa", lissa_depth=20, random_state=0).fit(X, y)


def test_lissa_is_quiet_and_accurate_with_enough_samples(issue_data):
    X, y, _, _, _, _ = issue_data
    exact = InfluenceEstimator(Ridge(), solver="exact").fit(X, y).influence_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        lissa = InfluenceEstimator(
            Ridge(), solver="lissa", lissa_depth=200, lissa_repeats=100, lissa_batch_size=60, random_state=0
        ).fit(X, y)
    assert lissa.lissa_error_ + lissa.lissa_bias_bound_ <= 1e-2
    error = np.linalg.norm(lissa.influence_params() - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert np.sqrt(np.mean(error**2)) <= 3e-2


def test_refit_with_another_solver_forgets_the_solver_attributes(issue_data):
    X, y, _, _, _, _ = issue_data
    inf = InfluenceEstimator(Ridge(), solver="lissa", lissa_depth=5, lissa_repeats=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf.fit(X, y)
    assert hasattr(inf, "lissa_bias_bound_") and hasattr(inf, "lissa_error_")
    inf.set_params(solver="cg").fit(X, y)
    assert hasattr(inf, "cg_condition_estimate_")
    assert not hasattr(inf, "lissa_bias_bound_") and not hasattr(inf, "lissa_error_")
    inf.set_params(solver="exact").fit(X, y)
    assert not hasattr(inf, "cg_condition_estimate_")
