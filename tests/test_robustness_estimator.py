"""InfluenceEstimator robustness (issue 11): stale state across refits, degenerate hinge optima,
clear errors for bad input, per-estimator stationarity advice."""

import warnings
from copy import deepcopy

import autograd.numpy as anp
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    HuberRegressor,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC, LinearSVC

from sklearn_influence import (
    AutogradModel,
    InfluenceEstimator,
    SmoothHingeClassifier,
    flatten_mlp_params,
    refine_mlp,
    unflatten_mlp_params,
)


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    return X, X.sum(1) + rng.standard_normal(60)


def test_refit_on_array_forgets_the_dataframe_fit(regression):
    X, y = regression
    inf = InfluenceEstimator(Ridge()).fit(pd.DataFrame(X, columns=list("abcd"), index=np.arange(60) + 100), y)
    assert list(inf.feature_names_in_) == list("abcd")
    inf.fit(X, y)
    assert not hasattr(inf, "feature_names_in_")
    assert inf.training_index_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names" on every query
        inf.influence(X[:2], y[:2])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # LiSSA's accuracy at this depth
def test_refit_with_another_solver_forgets_lissa_state(regression):
    X, y = regression
    inf = InfluenceEstimator(Ridge(), solver="lissa", lissa_depth=50, lissa_repeats=1, random_state=0).fit(X, y)
    assert hasattr(inf, "lissa_bias_bound_")
    inf.set_params(solver="exact").fit(X, y)
    assert not hasattr(inf, "lissa_bias_bound_")


def _survey(n, seed, questions=6, levels=4):
    """One-hot answers to multiple-choice questions, a noisy label driven by three answers."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, levels, size=(n, questions))
    X = np.zeros((n, questions * levels))
    X[np.arange(n)[:, None], np.arange(questions) * levels + codes] = 1.0
    logit = 1.5 * (codes[:, 0] == 1) - (codes[:, 1] == 2) + 0.5 * (codes[:, 2] == 0) - 0.3
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def _largest_refit_move(estimator, X, y, rows, X_query):
    """Largest change of the query decision values over leave-one-out refits (scikit-learn only)."""
    before = clone(estimator).fit(X, y).decision_function(X_query)
    return max(
        np.abs(clone(estimator).fit(np.delete(X, r, 0), np.delete(y, r)).decision_function(X_query) - before).max()
        for r in rows
    )


HINGE_MODELS = [LinearSVC(loss="hinge", tol=1e-10, max_iter=100_000), SVC(kernel="linear", tol=1e-8)]


@pytest.mark.parametrize("estimator", HINGE_MODELS, ids=lambda e: type(e).__name__)
def test_degenerate_hinge_optimum_is_reported(estimator):
    X, y = _survey(300, seed=1)
    with pytest.warns(UserWarning, match="degenerate optimum") as record:
        inf = InfluenceEstimator(estimator, smoothing=0.01).fit(X, y)
    assert "SmoothHingeClassifier" in str(record[0].message)
    rows = np.arange(0, 300, 20)
    # what the warning claims, by refits: no single row moves the hinge fit ...
    assert _largest_refit_move(estimator, X, y, rows, X[:5]) < 1e-7
    # ... while the smoothed influence predicts changes orders of magnitude larger
    assert np.abs(inf.leave_one_out(X[:5], y[:5], indices=rows, method="influence")).max() > 1e-5


@pytest.mark.parametrize("estimator", HINGE_MODELS, ids=lambda e: type(e).__name__)
def test_no_degeneracy_warning_where_refits_move(estimator):
    X, y = _survey(300, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        InfluenceEstimator(estimator, smoothing=0.01).fit(X, y)
    assert _largest_refit_move(estimator, X, y, np.arange(0, 300, 20), X[:5]) > 0.1


def test_degenerate_hinge_remedy_smooth_hinge_tracks_refits():
    X, y = _survey(300, seed=1)
    model = SmoothHingeClassifier(C=1.0, temperature=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        inf = InfluenceEstimator(model).fit(X, y)
    rows = np.arange(0, 300, 10)
    predicted = inf.leave_one_out(X[:5], y[:5], indices=rows, method="newton")
    before = clone(model).fit(X, y).decision_function(X[:5])
    after = np.array([clone(model).fit(np.delete(X, r, 0), np.delete(y, r)).decision_function(X[:5]) for r in rows])
    # the smooth hinge loss of the queries, written out: tau log(1 + exp((1 - t f)/tau))
    t = 2.0 * y[:5] - 1.0
    loss = lambda f: 0.01 * np.logaddexp(0.0, (1.0 - t * f) / 0.01)  # noqa: E731
    actual = (loss(after) - loss(before)).T
    assert np.abs(actual).max() > 1e-3  # the smooth fit does move
    assert np.corrcoef(predicted.ravel(), actual.ravel())[0, 1] > 0.95


class _CountingRidge(Ridge):
    """Ridge that counts its fits: proves a check ran before the (possibly long) fit."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize(
    "estimator",
    [_CountingRidge(), RidgeClassifier(), RidgeCV(), SVC(kernel="linear")],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(60), r"finite, non-negative.*sample_weight\[0\]=-1"),
        (np.r_[np.nan, np.ones(59)], r"finite, non-negative.*sample_weight\[0\]=nan"),
        (np.ones((60, 2)), r"shape \(60,\).*got shape \(60, 2\)"),
        (np.ones(59), r"shape \(60,\).*got shape \(59,\)"),
        (np.zeros(60), "zero for every row"),
    ],
    ids=["negative", "nan", "2-D", "short", "all-zero"],
)
def test_sample_weight_is_checked_before_the_estimator_sees_it(estimator, weights, match, regression):
    X, y = regression
    target = (y > 0).astype(int) if type(estimator).__name__ in ("RidgeClassifier", "SVC") else y
    _CountingRidge.fits = 0
    smoothing = {"smoothing": 0.01} if isinstance(estimator, SVC) else {}
    with pytest.raises(ValueError, match=match):
        InfluenceEstimator(estimator, **smoothing).fit(X, target, sample_weight=weights)
    assert _CountingRidge.fits == 0


@pytest.mark.parametrize("verbose", [-1, "0", np.nan, [1], 2.0, None])
def test_verbose_is_validated(verbose, regression):
    X, y = regression
    with pytest.raises(ValueError, match=r"verbose must be a non-negative integer.*got verbose="):
        InfluenceEstimator(Ridge(), verbose=verbose).fit(X, y)


@pytest.mark.parametrize("verbose", [0, 2, True, np.int64(1)])
def test_valid_verbose_values_are_accepted(verbose, regression):
    X, y = regression
    InfluenceEstimator(Ridge(), verbose=verbose).fit(X, y)


def test_poisson_on_all_zero_targets_says_why(regression):
    X, _ = regression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own log(0) and lbfgs warnings
        with pytest.raises(ValueError, match="0 for every row.*-inf.*at least one positive target"):
            InfluenceEstimator(PoissonRegressor()).fit(X, np.zeros(60))


def _squared_loss(params, X, y):
    return (anp.dot(X, params[:-1]) + params[-1] - y) ** 2


def _summed_loss(params, X, y):
    return anp.sum(_squared_loss(params, X, y))


@pytest.mark.parametrize(
    "model, y_change, weights, match",
    [
        (AutogradModel(_squared_loss, np.zeros(5)), "nan", None, "y contains 1 NaN"),
        (AutogradModel(_squared_loss, np.zeros(5)), "short", None, r"one entry per row of X \(60 rows\).*\(50,\)"),
        (AutogradModel(_summed_loss, np.zeros(5)), None, None, r"one loss per row.*shape \(60,\).*got shape \(\)"),
        (AutogradModel(_squared_loss, np.zeros(3)), None, None, r"init_params.*\(got 3\)"),
        (AutogradModel(_squared_loss, np.zeros(3), max_iter=0), None, None, r"init_params.*\(got 3\)"),
        (AutogradModel(_squared_loss, np.r_[np.zeros(4), np.nan]), None, None, "init_params.*NaN"),
        (AutogradModel(_squared_loss, np.zeros(5)), None, np.r_[np.nan, np.ones(59)], "sample_weight"),
        (AutogradModel(_squared_loss, np.zeros(5), penalty=lambda p: p), None, None, "penalty.*one finite number"),
    ],
    ids=["nan-y", "short-y", "summed-loss", "short-init", "short-init-prefit", "nan-init", "nan-weight", "penalty"],
)
def test_autograd_model_input_errors(model, y_change, weights, match, regression):
    X, y = regression
    if y_change == "nan":
        y = np.r_[np.nan, y[1:]]
    elif y_change == "short":
        y = y[:50]
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, sample_weight=weights)  # the model alone
    with pytest.raises(ValueError, match=match if weights is None else "sample_weight"):
        InfluenceEstimator(model).fit(X, y, sample_weight=weights)  # and wrapped


@pytest.fixture(scope="module")
def stationarity_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    logit = X @ np.array([1.0, -0.5, 0.3, 0.0, 0.8])
    y_class = (rng.random(200) < 1 / (1 + np.exp(-logit))).astype(int)
    counts = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1]))
    return X, y_class, logit + rng.standard_normal(200), counts


# (loose fit, the advice the warning must give, the advised fit); the target: 0 classes, 1 response, 2 counts
ADVICE_CASES = [
    (
        LogisticRegression(tol=1e-1, max_iter=3),
        r"solver='newton-cholesky', tol=1e-10",
        LogisticRegression(solver="newton-cholesky", tol=1e-10),
        0,
    ),
    (
        LogisticRegression(solver="liblinear", tol=1e-1),
        r"Refit with tol=1e-10 \(liblinear",
        LogisticRegression(solver="liblinear", tol=1e-10),
        0,
    ),
    (Ridge(solver="sag", tol=1e-1), r"solver='cholesky'", Ridge(solver="cholesky"), 1),
    (Ridge(solver="sag", tol=1e-1), r"or with tol=1e-10", Ridge(solver="sag", tol=1e-10, max_iter=100_000), 1),
    (
        PoissonRegressor(tol=1e-1),
        r"PoissonRegressor\(solver='newton-cholesky', tol=1e-10\)",
        PoissonRegressor(solver="newton-cholesky", tol=1e-10),
        2,
    ),
    (
        LinearSVC(dual=True, tol=1e-1, max_iter=5),
        r"LinearSVC\(dual=False, tol=1e-10\)",
        LinearSVC(dual=False, tol=1e-10),
        0,
    ),
]


@pytest.mark.parametrize("loose, advice, advised, target", ADVICE_CASES, ids=lambda v: str(v)[:40])
def test_stationarity_warning_gives_advice_that_works(loose, advice, advised, target, stationarity_data):
    X, y = stationarity_data[0], stationarity_data[1 + target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own ConvergenceWarning for the loose fit
        with pytest.warns(ConvergenceWarning, match=advice):
            InfluenceEstimator(loose).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        inf = InfluenceEstimator(advised).fit(X, y)
    assert inf.relative_gradient_norm_ < 1e-5


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_sgd_advice_names_the_batch_model_with_the_same_objective(kind, stationarity_data):
    """SGD never reaches a stationary point; the batch model the advice names minimises the same objective.

    Checked by planting the batch model's fitted coefficients in the SGD model: its decoded
    objective is then stationary to solver precision.
    """
    X, y_class, y_response, _ = stationarity_data
    n, alpha = len(X), 0.01
    if kind == "classifier":
        sgd, y, match = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0), y_class, r"C=1 / \(n_samples"
        batch = LogisticRegression(C=1 / (n * alpha), solver="newton-cholesky", tol=1e-12)
    else:
        sgd, y, match = SGDRegressor(alpha=alpha, random_state=0), y_response, r"Ridge\(alpha=n_samples \* alpha\)"
        batch = Ridge(alpha=n * alpha)
    with pytest.warns(ConvergenceWarning, match=match):
        InfluenceEstimator(sgd).fit(X, y)
    sgd = clone(sgd).fit(X, y)
    batch.fit(X, y)
    sgd.coef_, sgd.intercept_ = batch.coef_.reshape(sgd.coef_.shape), np.reshape(batch.intercept_, sgd.intercept_.shape)
    assert InfluenceEstimator(FrozenEstimator(sgd)).fit(X, y).relative_gradient_norm_ < 1e-8


def _sklearn_mlp_objective(model, X, y):
    """scikit-learn's own MLP objective (its forward pass, its loss): mean log-loss + α/(2n) Σ||W||²."""
    proba = np.clip(model.predict_proba(X)[np.arange(len(y)), y], 1e-300, None)
    return -np.mean(np.log(proba)) + 0.5 * model.alpha * sum(np.sum(w**2) for w in model.coefs_) / len(y)


def _directional_slopes(model, X, y, directions, step=1e-5):
    """Central finite differences of scikit-learn's objective along random directions in parameter space."""
    theta = flatten_mlp_params(model.coefs_, model.intercepts_)
    probe = deepcopy(model)
    slopes = []
    for v in directions:
        values = []
        for sign in (1, -1):
            probe.coefs_, probe.intercepts_ = unflatten_mlp_params(theta + sign * step * v, model)
            values.append(_sklearn_mlp_objective(probe, X, y))
        slopes.append((values[0] - values[1]) / (2 * step))
    return np.abs(slopes)


def test_mlp_advice_and_refine_mlp_reach_a_stationary_point(stationarity_data):
    X, y = stationarity_data[:2]
    relu = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", alpha=0.1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own ConvergenceWarning (max_iter)
        with pytest.warns(ConvergenceWarning, match="activation='tanh'"):
            InfluenceEstimator(relu, damping=10.0).fit(X, y)
    # even at tol=1e-10 (and max_fun unreachable) lbfgs stops short: the warning names refine_mlp
    tanh = clone(relu).set_params(activation="tanh", tol=1e-10, max_iter=10_000).fit(X, y)
    with pytest.warns(ConvergenceWarning, match=r"refine_mlp\(model, X, y\).*fixed ftol"):
        loose = InfluenceEstimator(FrozenEstimator(tanh), damping=10.0).fit(X, y)
    fitted = flatten_mlp_params(tanh.coefs_, tanh.intercepts_)
    refined = refine_mlp(tanh, X, y)
    np.testing.assert_array_equal(flatten_mlp_params(tanh.coefs_, tanh.intercepts_), fitted)  # input left as is
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        tight = InfluenceEstimator(FrozenEstimator(refined), damping=10.0).fit(X, y)
    assert tight.relative_gradient_norm_ < 1e-7 < 1e-3 < loose.relative_gradient_norm_
    # independently: scikit-learn's own objective is flat at the refined weights, not at lbfgs's
    directions = np.random.default_rng(1).standard_normal((6, refined.coefs_[0].size + 9))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    before = _directional_slopes(tanh, X, y, directions)
    after = _directional_slopes(refined, X, y, directions)
    assert after.max() < 1e-3 * before.max()
    assert _sklearn_mlp_objective(refined, X, y) <= _sklearn_mlp_objective(tanh, X, y)


def test_class_docstring_lists_every_supported_estimator_and_solver():
    from numpydoc.docscrape import ClassDoc

    from sklearn_influence._estimator import _SOLVERS
    from sklearn_influence._models._decoding import _DECODERS

    parameters = {p.name: (p.type, "\n".join(p.desc)) for p in ClassDoc(InfluenceEstimator)["Parameters"]}
    described = parameters["estimator"][1]
    assert [cls.__name__ for cls in _DECODERS if cls.__name__ not in described] == []
    assert all(f'"{solver}"' in parameters["solver"][0] for solver in _SOLVERS)


@pytest.mark.parametrize("estimator", [HuberRegressor(tol=1e-10, max_iter=1000), PoissonRegressor(tol=1e-12)])
def test_column_vector_targets_of_single_output_regressors(estimator):
    """A single-output regressor ravels ``y`` of shape (n, 1) (with scikit-learn's warning): so does ``fit``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.poisson(np.exp(X @ [0.2, 0.1, -0.3])).astype(float) + X[:, 0] ** 2
    flat = InfluenceEstimator(clone(estimator)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)
        column = InfluenceEstimator(clone(estimator)).fit(X, y[:, None])
    np.testing.assert_allclose(column.self_influence(), flat.self_influence(), rtol=1e-12)
    np.testing.assert_allclose(column.influence(X[:5], y[:5]), flat.influence(X[:5], y[:5]), rtol=1e-12)
