"""Identities that hold on every well-conditioned problem (hypothesis over random data; issue 11, "Proven").

Each property is checked against something that shares no code with the library: scikit-learn refits of a
tightly converged clone with one sample weight moved (central finite differences), exact leave-one-out refits,
explicit numpy Hessians (for the conditioning that bounds conjugate-gradient errors) and query losses computed
here from scikit-learn's own predictions with the formulas of design.md §1 and the loss docstrings:

* ``solver="cg"`` (``cg_tol=1e-10``) equals ``solver="exact"`` on every returned quantity, within the error a
  relative residual of ``cg_tol`` allows: ``cond(H) · cg_tol`` relative;
* ``influence(X_q, y_q)[:, i] / n`` is ``d(query loss)/d(s_i)`` and ``influence_params()[i] / n`` is
  ``dθ̂/d(s_i)`` (design.md §1, every model, data-scaled penalties included);
* ``self_influence() >= 0`` for convex models;
* least squares: Newton leave-one-out equals the refit, in loss and in parameters;
* ``leave_one_out(method="influence") == −(s_i/n) · influence`` and the same for the parameters, sample
  weights included.

Problems: n in 30..80 rows, p in 2..5 mildly scaled and offset features, sample weights in [0.5, 2], penalties
within a decade of moderate, with and without an intercept. HuberRegressor's L-BFGS-B cannot be converged
tightly, so its fits are polished here by Newton's method on its documented objective. SGDClassifier /
SGDRegressor are left out: their stochastic fits stop on a loss tolerance with a noisy last iterate, far from
the 1e-12 stationarity that central differences in a weight need.
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    GammaRegressor,
    HuberRegressor,
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    TweedieRegressor,
)
from threadpoolctl import threadpool_limits

from sklearn_influence import InfluenceEstimator, SmoothHingeClassifier

# Examples are derandomised (deterministic CI). Shrinking is off: every example costs a dozen refits, and a
# failing example is still printed and reproducible from its seed.
SETTINGS = dict(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])

PROBLEMS = st.tuples(
    st.integers(min_value=30, max_value=80),  # n training rows
    st.integers(min_value=2, max_value=5),  # p features
    st.floats(min_value=-1.0, max_value=1.0),  # log10 of the penalty scale
    st.booleans(),  # fit_intercept
    st.integers(min_value=0, max_value=2**32 - 1),  # seed
)
N_QUERIES = 4
CG_TOL = 1e-10

# tol=1e-12 can lie below what the GLMs' Newton line search resolves; scikit-learn then finishes with lbfgs and
# says so. Stationarity is asserted where it matters (the finite-difference test).
pytestmark = pytest.mark.filterwarnings("ignore:Line search of Newton solver:sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny problems: scikit-learn's OpenMP loss kernels cost ~30 ms a call on 40 rows with 2 busy threads,
    0.5 ms on one (and threaded BLAS gains nothing at this size)."""
    with threadpool_limits(limits=1):
        yield


# --- query losses from scikit-learn's predictions (design.md §1 and the loss docstrings) -------------------


def _codes(model, y, n_outputs):
    """±1 codes: one column for two classes (+1 for classes_[1]), else one-vs-rest."""
    index = np.searchsorted(model.classes_, y)
    if n_outputs == 1:
        return np.where(index == 1, 1.0, -1.0)[:, None]
    return np.where(index[:, None] == np.arange(n_outputs), 1.0, -1.0)


def log_loss(model, X, y):
    """−log p of the true class, from ``predict_proba``."""
    proba = model.predict_proba(X)
    return -np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)])


def squared_error(model, X, y):
    """Un-halved squared error summed over outputs (Ridge's and LinearRegression's data term)."""
    residual = np.reshape(y, (len(y), -1)) - np.reshape(model.predict(X), (len(y), -1))
    return np.sum(residual**2, axis=1)


def coded_squared_error(model, X, y):
    """RidgeClassifier: un-halved squared error of the ±1 class codes against ``decision_function``."""
    scores = np.reshape(model.decision_function(X), (len(y), -1))
    return np.sum((_codes(model, y, scores.shape[1]) - scores) ** 2, axis=1)


def smooth_hinge(model, X, y):
    """Σ_k τ log(1 + exp((1 − t_k f_k)/τ)) over the (one-vs-rest) outputs, ``f = decision_function``."""
    scores = np.reshape(model.decision_function(X), (len(y), -1))
    tau = model.temperature
    return np.sum(tau * np.logaddexp(0.0, (1.0 - _codes(model, y, scores.shape[1]) * scores) / tau), axis=1)


def half_tweedie_deviance(power):
    """Half the Tweedie deviance of ``μ = predict(X)``: the GLMs' data term (zero at μ = y)."""

    def loss(model, X, y):
        mu = model.predict(X)
        if power == 1:
            return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - y + mu
        if power == 2:
            return np.log(mu / y) + y / mu - 1.0
        p = power
        return y ** (2 - p) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p)

    return loss


def huber_loss(model, X, y):
    """HuberRegressor's per-row term σ + σ H_ε(|y − f|/σ), H_ε(z) = z² below ε, 2εz − ε² beyond."""
    sigma, epsilon = model.scale_, model.epsilon
    z = np.abs(y - model.predict(X)) / sigma
    return sigma + sigma * np.where(z < epsilon, z**2, 2 * epsilon * z - epsilon**2)


# --- HuberRegressor, converged tightly --------------------------------------------------------------------


def _huber_terms(theta, X, y, weight, epsilon, alpha):
    """Value, gradient and generalised Hessian of Σ s_i (σ + σ H_ε(r_i/σ)) + α||w||² in θ = (w, [b,] σ)."""
    p = X.shape[1]
    Xt = np.c_[X, np.ones(len(y))] if len(theta) == p + 2 else X
    sigma = theta[-1]
    r = y - Xt @ theta[:-1]
    inner = np.abs(r) < epsilon * sigma
    value = np.sum(weight * np.where(inner, sigma + r**2 / sigma, sigma + 2 * epsilon * np.abs(r) - epsilon**2 * sigma))
    value += alpha * theta[:p] @ theta[:p]
    d_raw = np.where(inner, -2 * r / sigma, -2 * epsilon * np.sign(r))  # ∂/∂(x̃ᵀθ)
    d_sigma = np.where(inner, 1 - (r / sigma) ** 2, 1 - epsilon**2)
    gradient = np.r_[Xt.T @ (weight * d_raw), weight @ d_sigma]
    gradient[:p] += 2 * alpha * theta[:p]
    s = weight * inner
    hessian = np.zeros((len(theta), len(theta)))
    hessian[:-1, :-1] = (Xt.T * (2 * s / sigma)) @ Xt
    hessian[:-1, -1] = hessian[-1, :-1] = Xt.T @ (s * 2 * r / sigma**2)
    hessian[-1, -1] = s @ (2 * r**2 / sigma**3)
    hessian[np.arange(p), np.arange(p)] += 2 * alpha
    return value, gradient, hessian


def fit_huber(estimator, X, y, sample_weight):
    """HuberRegressor's fit, polished by Newton's method on its documented objective.

    Its L-BFGS-B stops on the function tolerance near 1e-3 relative gradient whatever ``tol`` says; from
    there the (piecewise quadratic) objective is minimised to rounding by damped Newton steps.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(estimator).fit(X, y, sample_weight=sample_weight)
    theta = np.r_[model.coef_, [model.intercept_] if model.fit_intercept else [], model.scale_]
    args = (X, y, sample_weight, model.epsilon, model.alpha)
    value, gradient, hessian = _huber_terms(theta, *args)
    scale = np.abs(gradient).max() + np.linalg.norm(sample_weight)
    for _ in range(100):
        if np.linalg.norm(gradient) <= 1e-14 * scale:
            break
        step = np.linalg.solve(hessian, gradient)
        t = 1.0
        while t > 1e-8:
            trial = theta - t * step
            trial_terms = _huber_terms(trial, *args) if trial[-1] > 0 else (np.inf,)
            if trial_terms[0] <= value or np.linalg.norm(trial_terms[1]) < np.linalg.norm(gradient):
                break
            t /= 2
        theta = trial
        value, gradient, hessian = trial_terms
    assert np.linalg.norm(gradient) <= 1e-11 * scale, "the Huber oracle did not converge"
    model.coef_, model.scale_ = theta[: X.shape[1]], theta[-1]
    model.intercept_ = theta[-2] if model.fit_intercept else 0.0
    return model


def _huber_kink_distance(model, X, y):
    """min_i ||r_i|/σ − ε|: how close a training row sits to the kink of H_ε."""
    return np.min(np.abs(np.abs(y - model.predict(X)) / model.scale_ - model.epsilon))


# --- random well-conditioned problems ---------------------------------------------------------------------

CLASSIFIERS = ("logistic", "multinomial", "smooth_hinge", "smooth_hinge_3", "ridge_classifier", "ridge_classifier_3")
TIGHT_LOGISTIC = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)
TIGHT_GLM = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)


def make_problem(family, problem):
    """A random well-conditioned problem of ``family``: estimator, data, weights, queries and query loss."""
    n, p, log_strength, fit_intercept, seed = problem
    rng = np.random.default_rng(seed)
    strength = 10.0**log_strength
    X = rng.standard_normal((n + N_QUERIES, p)) * rng.uniform(0.5, 2.0, p) + rng.uniform(-1.0, 1.0, p)
    signal = (X - X.mean(0)) / X.std(0)
    weight = rng.uniform(0.5, 2.0, n)
    if family in ("logistic", "smooth_hinge", "ridge_classifier"):
        y = (rng.random(len(X)) < expit(2.0 * signal @ rng.standard_normal(p) / np.sqrt(p))).astype(int)
        y[:2] = [0, 1]
    elif family in ("multinomial", "smooth_hinge_3", "ridge_classifier_3"):
        y = np.argmax(signal @ rng.standard_normal((p, 3)) + rng.gumbel(size=(len(X), 3)), axis=1)
        y[:3] = [0, 1, 2]
    elif family in ("ridge", "ridge_2", "linear", "huber"):
        n_outputs = 2 if family == "ridge_2" else 1
        noise = rng.standard_t(3, (len(X), n_outputs)) if family == "huber" else rng.standard_normal((len(X), 1))
        y = X @ rng.standard_normal((p, n_outputs)) + noise
        y = y if n_outputs == 2 else y[:, 0]
    else:  # GLMs with a log link
        mu = np.exp(0.5 + 0.4 * signal @ rng.standard_normal(p) / np.sqrt(p))
        if family == "poisson":
            y = rng.poisson(mu).astype(float)
        elif family == "gamma":
            y = rng.gamma(3.0, mu / 3.0)
        else:  # compound Poisson-gamma: zeros and positive values, Tweedie power in (1, 2)
            y = rng.poisson(mu) * rng.gamma(2.0, 0.5, len(mu))
    estimator, query_loss = {
        "logistic": (LogisticRegression(C=strength, **TIGHT_LOGISTIC), log_loss),
        "multinomial": (LogisticRegression(C=strength, **TIGHT_LOGISTIC), log_loss),
        "ridge": (Ridge(alpha=strength, solver="cholesky"), squared_error),
        "ridge_2": (Ridge(alpha=strength, solver="cholesky"), squared_error),
        "linear": (LinearRegression(), squared_error),
        "poisson": (PoissonRegressor(alpha=0.1 * strength, **TIGHT_GLM), half_tweedie_deviance(1)),
        "gamma": (GammaRegressor(alpha=0.1 * strength, **TIGHT_GLM), half_tweedie_deviance(2)),
        "tweedie": (
            TweedieRegressor(power=1.5, link="log", alpha=0.1 * strength, **TIGHT_GLM),
            half_tweedie_deviance(1.5),
        ),
        "smooth_hinge": (SmoothHingeClassifier(C=strength, temperature=rng.uniform(0.2, 1.0), tol=1e-12), smooth_hinge),
        "smooth_hinge_3": (
            SmoothHingeClassifier(C=strength, temperature=rng.uniform(0.2, 1.0), tol=1e-12),
            smooth_hinge,
        ),
        "ridge_classifier": (RidgeClassifier(alpha=strength, solver="cholesky"), coded_squared_error),
        "ridge_classifier_3": (RidgeClassifier(alpha=strength, solver="cholesky"), coded_squared_error),
        "huber": (HuberRegressor(alpha=strength, epsilon=1.35, tol=1e-12, max_iter=10_000), huber_loss),
    }[family]
    estimator.set_params(fit_intercept=fit_intercept)
    effective_weight = weight
    if family in CLASSIFIERS and rng.random() < 0.5:  # class_weight folds into s_i (design.md §1)
        class_weight = dict(enumerate(rng.uniform(0.5, 2.0, 3)))
        estimator.set_params(class_weight=class_weight)
        effective_weight = weight * np.array([class_weight[c] for c in y[:n]])
    return SimpleNamespace(
        family=family,
        estimator=estimator,
        X=X[:n],
        y=y[:n],
        weight=weight,  # sample_weight
        effective_weight=effective_weight,  # s_i: sample_weight × class weight
        X_query=X[n:],
        y_query=y[n:],
        query_loss=query_loss,
        rows=rng.choice(n, 3, replace=False),  # the training rows whose weight moves / that are left out
    )


def sklearn_params(model):
    """``concatenate([coef_.ravel(), intercept_.ravel()])`` (no intercept when none is fitted; Huber's
    ``scale_`` last, as it is a parameter of its objective)."""
    intercept = np.ravel(model.intercept_) if model.fit_intercept else []
    return np.r_[np.ravel(model.coef_), intercept, np.ravel(getattr(model, "scale_", []))]


def refit(problem, weight):
    """The tightly converged scikit-learn fit of the problem's estimator with these sample weights."""
    if problem.family == "huber":
        return fit_huber(problem.estimator, problem.X, problem.y, weight)
    return clone(problem.estimator).fit(problem.X, problem.y, sample_weight=weight)


def influence_estimator(problem, **params):
    """InfluenceEstimator fitted on the weighted problem (Huber: on its polished fit, frozen)."""
    if problem.family == "huber":
        model = FrozenEstimator(fit_huber(problem.estimator, problem.X, problem.y, problem.weight))
        return InfluenceEstimator(model, **params).fit(problem.X, problem.y, sample_weight=problem.weight)
    return InfluenceEstimator(problem.estimator, **params).fit(problem.X, problem.y, sample_weight=problem.weight)


ALL_FAMILIES = [
    "logistic",
    "multinomial",
    "ridge",
    "ridge_2",
    "linear",
    "poisson",
    "gamma",
    "tweedie",
    "smooth_hinge",
    "smooth_hinge_3",
    "ridge_classifier",
    "ridge_classifier_3",
    "huber",
]


# --- 1. exact == CG -----------------------------------------------------------------------------------------


def _sum_zero_basis(k):
    """Orthonormal basis (k, k − 1) of the vectors whose entries sum to zero (built here, not the library's)."""
    _, _, vt = np.linalg.svd(np.ones((1, k)))
    return vt[1:].T


def hessian_condition(problem, model):
    """cond(H) of H = Σ s_i A_i ⊗ x̃_i x̃_iᵀ + I ⊗ diag(λ), from scikit-learn's fit, in identified coordinates.

    ``A_i`` is the curvature of the per-sample loss in the raw prediction (reduced to the sum-zero subspace
    for the softmax), ``λ`` the sum-form penalty (0 on the intercept).
    """
    X, s = problem.X, problem.effective_weight
    intercept = problem.estimator.fit_intercept
    Xt = np.c_[X, np.ones(len(X))] if intercept else X
    penalised = np.r_[np.ones(X.shape[1]), [0.0] if intercept else []]
    if problem.family == "logistic":
        proba = model.predict_proba(X)[:, 1]
        curvature, strength = (proba * (1 - proba))[:, None, None], 1 / model.C
    elif problem.family == "multinomial":
        proba = model.predict_proba(X)
        full = proba[:, :, None] * np.eye(proba.shape[1]) - proba[:, :, None] * proba[:, None, :]
        basis = _sum_zero_basis(proba.shape[1])
        curvature, strength = basis.T @ full @ basis, 1 / model.C
    elif problem.family in ("ridge", "ridge_2"):  # the same block for every output
        curvature, strength = np.full((len(X), 1, 1), 2.0), 2 * model.alpha
    elif problem.family == "poisson":
        curvature, strength = model.predict(X)[:, None, None], model.alpha * s.sum()
    elif problem.family == "smooth_hinge":
        u = (1 - _codes(model, problem.y, 1)[:, 0] * model.decision_function(X)) / model.temperature
        curvature, strength = (expit(u) * (1 - expit(u)) / model.temperature)[:, None, None], 1 / model.C
    k, d = curvature.shape[1], Xt.shape[1]
    hessian = np.einsum("i,ikl,ic,id->kcld", s, curvature, Xt, Xt).reshape(k * d, k * d)
    hessian += np.kron(np.eye(k), np.diag(strength * penalised))
    eigenvalues = np.linalg.eigvalsh(hessian)
    assert eigenvalues[0] > 0
    return eigenvalues[-1] / eigenvalues[0]


def every_quantity(inf, problem, rows):
    Xq, yq = problem.X_query, problem.y_query
    return {
        "influence": inf.influence(Xq, yq),
        "self_influence": inf.self_influence(),
        "influence_params": inf.influence_params(),
        "leave_one_out influence": inf.leave_one_out(Xq, yq, method="influence"),
        "leave_one_out newton": inf.leave_one_out(Xq, yq, method="newton"),
        "leave_one_out_params influence": inf.leave_one_out_params(method="influence"),
        "leave_one_out_params newton": inf.leave_one_out_params(method="newton"),
        "perturbation_influence": inf.perturbation_influence(Xq, yq, indices=rows),
    }


@pytest.mark.parametrize("family", ["logistic", "multinomial", "ridge", "ridge_2", "poisson", "smooth_hinge"])
@settings(max_examples=15, **SETTINGS)
@given(problem=PROBLEMS)
def test_cg_equals_exact_on_every_quantity(family, problem):
    """Every returned quantity is a bilinear form or a smooth function of solves ``H⁻¹ b``; CG stops at
    ``||b − H x|| ≤ cg_tol ||b||``, so each solve is off by at most ``cond(H) · cg_tol`` relative. The factor
    10 covers the few solves a quantity combines (one per output unit) and Newton's factor 1/(1 − leverage)."""
    problem = make_problem(family, problem)
    exact = influence_estimator(problem, solver="exact")
    cg = influence_estimator(problem, solver="cg", cg_tol=CG_TOL)
    assert exact.solver_ == "exact" and cg.solver_ == "cg"
    bound = 10 * hessian_condition(problem, exact.estimator_) * CG_TOL
    rows = np.arange(0, len(problem.y), 7)
    cg_values = every_quantity(cg, problem, rows)
    for name, expected in every_quantity(exact, problem, rows).items():
        np.testing.assert_allclose(cg_values[name], expected, rtol=0, atol=bound * np.abs(expected).max(), err_msg=name)


# --- 2. influence / n = d(query loss) / d(s_i) --------------------------------------------------------------

FD_STEP = 1e-4  # relative to s_i


@pytest.mark.parametrize("family", ALL_FAMILIES)
@settings(max_examples=12, **SETTINGS)
@given(problem=PROBLEMS)
def test_influence_is_the_derivative_in_a_sample_weight(family, problem):
    """``influence[:, i] / n = d(query loss)/d(s_i)`` and ``influence_params[i] / n = dθ̂/d(s_i)`` against
    central differences of tightly converged weighted refits (design.md §1: for every model, data-scaled
    penalties included).

    Error budget of the difference quotient with step h = 1e-4·s_i: truncation h²/6·|L'''| ~ (h·leverage)²
    relative ≤ 1e-8; the refits (Newton to a gradient of 1e-12, or exact solvers) leave the query loss and the
    parameters off by ~1e-12, i.e. 1e-12/h = 1e-8 relative. The tolerance, 1e-6 of the largest derivative, is
    50× that sum.
    """
    problem = make_problem(family, problem)
    n = len(problem.y)
    inf = influence_estimator(problem, solver="exact")
    assert inf.relative_gradient_norm_ < 1e-9  # the premise: the fit is stationary
    if family == "huber":  # H_ε is once differentiable: keep the steps away from its kink
        assume(_huber_kink_distance(inf.estimator_.estimator, problem.X, problem.y) > 1e-3)
    np.testing.assert_allclose(
        inf.loss(problem.X_query, problem.y_query),
        problem.query_loss(inf.estimator_, problem.X_query, problem.y_query),
        rtol=1e-10,
        atol=1e-12,
    )
    rows = problem.rows[:2]
    # the step is in sample_weight; s_i = sample_weight_i × class weight moves class-weight times as fast
    chain = problem.effective_weight[rows] / problem.weight[rows]
    predicted = inf.influence(problem.X_query, problem.y_query, indices=rows) / n * chain
    predicted_params = inf.influence_params(indices=rows) / n * chain[:, None]
    differences, param_differences = np.empty_like(predicted), np.empty_like(predicted_params)
    for a, i in enumerate(rows):
        h = FD_STEP * problem.weight[i]
        losses, params = [], []
        for sign in (1, -1):
            weight = problem.weight.copy()
            weight[i] += sign * h
            model = refit(problem, weight)
            losses.append(problem.query_loss(model, problem.X_query, problem.y_query))
            params.append(sklearn_params(model))
        differences[:, a] = (losses[0] - losses[1]) / (2 * h)
        param_differences[a] = (params[0] - params[1]) / (2 * h)
    np.testing.assert_allclose(predicted, differences, rtol=0, atol=1e-6 * np.abs(differences).max())
    np.testing.assert_allclose(predicted_params, param_differences, rtol=0, atol=1e-6 * np.abs(param_differences).max())


# --- 3. self-influence >= 0 and 5. leave_one_out(method="influence") = −(s_i/n)·influence ----------------------


@pytest.mark.parametrize("family", ALL_FAMILIES)
@settings(max_examples=15, **SETTINGS)
@given(problem=PROBLEMS)
def test_self_influence_is_nonnegative_and_first_order_leave_one_out_is_scaled_influence(family, problem):
    """``n g_iᵀ H⁻¹ g_i ≥ 0`` for a convex objective (to rounding); and design.md §1's definition of the
    first-order leave-one-out, ``−(s_i/n)·influence`` (parameters: ``−(s_i/n)·influence_params``), for every
    family, GLMs' data-scaled penalty included."""
    problem = make_problem(family, problem)
    n = len(problem.y)
    inf = influence_estimator(problem, solver="exact")
    self_influence = inf.self_influence()
    assert self_influence.shape == (n,)
    assert np.all(self_influence >= -1e-12 * max(1.0, np.abs(self_influence).max()))
    influence = inf.influence(problem.X_query, problem.y_query)
    np.testing.assert_allclose(
        inf.leave_one_out(problem.X_query, problem.y_query, method="influence"),
        -(problem.effective_weight / n) * influence,
        rtol=0,
        atol=1e-10 * np.abs(influence).max() / n,
    )
    influence_params = inf.influence_params()
    np.testing.assert_allclose(
        inf.leave_one_out_params(method="influence"),
        -(problem.effective_weight / n)[:, None] * influence_params,
        rtol=0,
        atol=1e-10 * np.abs(influence_params).max() / n,
    )


# --- 4. least squares: Newton leave-one-out is the refit --------------------------------------------------


@pytest.mark.parametrize("family", ["ridge", "ridge_2", "linear"])
@settings(max_examples=15, **SETTINGS)
@given(problem=PROBLEMS)
def test_least_squares_newton_leave_one_out_is_the_refit(family, problem):
    """One Newton step is exact for a quadratic objective: the loss and parameter changes equal those of a
    refit without the row (closed-form solvers: agreement to rounding × cond, ~1e-12 here; checked at 1e-8)."""
    problem = make_problem(family, problem)
    n = len(problem.y)
    inf = influence_estimator(problem, solver="exact")
    rows = problem.rows
    base = problem.query_loss(inf.estimator_, problem.X_query, problem.y_query)
    loss_change = np.empty((N_QUERIES, len(rows)))
    param_change = np.empty((len(rows), inf.params_.size))
    for a, i in enumerate(rows):
        keep = np.arange(n) != i
        model = clone(problem.estimator).fit(problem.X[keep], problem.y[keep], sample_weight=problem.weight[keep])
        loss_change[:, a] = problem.query_loss(model, problem.X_query, problem.y_query) - base
        param_change[a] = sklearn_params(model) - inf.params_
    np.testing.assert_allclose(
        inf.leave_one_out(problem.X_query, problem.y_query, method="newton", indices=rows),
        loss_change,
        rtol=1e-8,
        atol=1e-8 * np.abs(loss_change).max(),
    )
    np.testing.assert_allclose(
        inf.leave_one_out_params(method="newton", indices=rows),
        param_change,
        rtol=1e-8,
        atol=1e-8 * np.abs(param_change).max(),
    )
