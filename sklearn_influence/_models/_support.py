"""What the library supports, decided before any fit, and how to reach a stationary fit.

``check_supported`` refuses an unsupported wrapped estimator (a pipeline ending in one, a
search over one, every candidate of a search's grid) from constructor parameters alone, so
the error comes before a possibly long fit; ``convergence_advice`` names, per estimator
family, the setting that makes its fit stationary (checked in the tests to remove the
warning).
"""

import math
from collections.abc import Mapping

from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    GammaRegressor,
    HuberRegressor,
    LogisticRegression,
    LogisticRegressionCV,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from ._decoding import _STATIC_CHECKS, SUPPORTED_ESTIMATORS
from ._svm import SmoothHingeClassifier

#: Parameter combinations of a search checked one by one; beyond, each value on its own.
MAX_SEARCH_CANDIDATES = 10_000

_ALTERNATIVES = {
    "Lasso": "an L1 penalty is not differentiable: use Ridge",
    "LassoCV": "an L1 penalty is not differentiable: use RidgeCV",
    "ElasticNet": "an L1 penalty is not differentiable: use Ridge",
    "ElasticNetCV": "an L1 penalty is not differentiable: use RidgeCV",
    "SVR": "use SGDRegressor(loss='squared_epsilon_insensitive') or Ridge",
    "LinearSVR": "use SGDRegressor(loss='squared_epsilon_insensitive') or Ridge",
}


def _is_search(estimator):
    """A scikit-learn hyper-parameter search (``GridSearchCV``, ``RandomizedSearchCV``, the halving ones)."""
    return hasattr(estimator, "estimator") and (
        hasattr(estimator, "param_grid") or hasattr(estimator, "param_distributions")
    )


def _search_candidates(search):
    """Every parameter setting a search may give its best estimator (distributions of numbers left out)."""
    grids = getattr(search, "param_grid", None)
    if grids is None:
        grids = search.param_distributions
    for grid in [grids] if isinstance(grids, Mapping) else list(grids):
        values = {name: list(value) for name, value in grid.items() if not hasattr(value, "rvs")}
        if math.prod(len(value) for value in values.values()) <= MAX_SEARCH_CANDIDATES:
            yield from ParameterGrid(values)
        else:
            yield from ({name: value} for name, candidates in values.items() for value in candidates)


def check_supported(estimator, smoothing=None, *, where=""):
    """Refuse, before any fit, an estimator whose final model cannot be decoded.

    Reads constructor parameters only, so that an unsupported model (a random forest, a
    Lasso, a pipeline ending in one, a search over one, a search that does not refit) is
    refused before a possibly long fit. Looks through ``FrozenEstimator``, ``Pipeline`` (its
    last step) and search objects (every candidate of their parameter grid, since a grid may
    swap the model or its penalty). What depends on the fitted state (the number of classes,
    ...) is checked by the decoders after the fit.

    Parameters
    ----------
    estimator : estimator object
        The estimator given to :class:`InfluenceEstimator`.
    smoothing : float or None, default=None
        The ``smoothing`` given to :class:`InfluenceEstimator` (hinge models need it, the
        others refuse it).
    where : str, default=""
        Where ``estimator`` sits in the estimator given, for the error message.

    Raises
    ------
    TypeError
        The final model is not a supported estimator.
    ValueError
        It is, with parameters that are not supported (an L1 penalty, a non-linear kernel, a
        hinge loss without ``smoothing``, a search with ``refit=False``, ...).
    """
    name = type(estimator).__name__
    if isinstance(estimator, FrozenEstimator):
        return check_supported(estimator.estimator, smoothing, where=f"{where}FrozenEstimator → ")
    if _is_search(estimator):
        if not estimator.refit:
            raise ValueError(
                f"{where}{name}(refit=False) keeps no refitted best_estimator_, so there is no fitted model to "
                "analyse: use refit=True (or a scorer name or callable that picks the best candidate)."
            )
        check_supported(estimator.estimator, smoothing, where=f"{where}{name} → ")
        for candidate in _search_candidates(estimator):
            try:
                model = clone(estimator.estimator).set_params(**candidate)
            except ValueError:  # a value checked on its own that needs the rest of its grid: skip it
                continue
            check_supported(model, smoothing, where=f"{where}{name} candidate {candidate} → ")
        return
    if isinstance(estimator, Pipeline):
        step, last = estimator.steps[-1]
        if last is None or last == "passthrough":
            raise TypeError(
                f"{where}Pipeline ends in {last!r}: there is no model to analyse. End it in one of the supported "
                f"estimators. Supported estimators: {SUPPORTED_ESTIMATORS}."
            )
        return check_supported(last, smoothing, where=f"{where}Pipeline step {step!r} → ")
    checker = _STATIC_CHECKS.get(type(estimator))
    if checker is None:
        subclass = [cls.__name__ for cls in _STATIC_CHECKS if isinstance(estimator, cls)]
        if subclass:
            hint = f" It subclasses {subclass[0]}, but a subclass may change the objective: use {subclass[0]} itself."
        else:
            hint = f" For {name}, {_ALTERNATIVES[name]}." if name in _ALTERNATIVES else ""
        raise TypeError(
            f"{where}{name} is not supported.{hint} Supported estimators: {SUPPORTED_ESTIMATORS}; each may be "
            "the last step of a Pipeline, wrapped in FrozenEstimator, or the estimator of a GridSearchCV, "
            "RandomizedSearchCV, HalvingGridSearchCV or HalvingRandomSearchCV (refit=True)."
        )
    try:
        checker(estimator, smoothing)
    except ValueError as error:
        if not where:
            raise
        raise ValueError(f"{where}{error}") from None


def convergence_advice(model):
    """How to refit ``model`` closer to a stationary point, at a sane cost, family by family.

    A smaller ``tol`` alone is not always the remedy: some solvers stop on a criterion
    ``tol`` does not control (scipy's L-BFGS-B ``ftol`` inside MLPs and ``HuberRegressor``),
    stochastic solvers never settle, and a tiny ``tol`` can cost minutes (``SVC``, whose hinge
    fit is not checked for stationarity anyway). Measured ``relative_gradient_norm_`` (fit
    time) on breast cancer (569 × 30, standardised), diabetes (442 × 10) and synthetic counts
    (500 × 10), default → advised:

    ============================  ==================  =========================================
    estimator                     default             advised
    ============================  ==================  =========================================
    LogisticRegression (lbfgs)    0.75 (0.6 s)        newton-cholesky, tol=1e-10: 4e-9 (0.04 s)
    LogisticRegression liblinear  0.05                tol=1e-10: 1e-6 (3 ms)
    LogisticRegressionCV          0.36 (13 s)         newton-cholesky, tol=1e-10: 1.5e-7 (0.6 s)
    Ridge(solver="sag")           1.5e-3              tol=1e-10: 2e-9; "cholesky": 2e-13
    LinearSVC (squared hinge)     9e-3                dual=False, tol=1e-10: 1.5e-7 (2 ms)
    Poisson / Gamma / Tweedie     1e-3 / 0.035 / 4e-3 newton-cholesky, tol=1e-10: < 1e-11
    SGDClassifier(log_loss)       170                 tol=None, max_iter=1e4: 1.1 (batch model)
    SGDRegressor                  21                  tol=None, max_iter=1e4: 0.32 (batch model)
    HuberRegressor                9.5e-4              tol=1e-10: 9.5e-4 (ftol-bound)
    MLP lbfgs relu                26-60               no setting helps (kinks)
    MLP lbfgs tanh, tol=1e-10     0.04-0.44           refine_mlp: 4e-10 to 2e-9 (2-7 s)
    ============================  ==================  =========================================
    """
    name = type(model).__name__
    solver = getattr(model, "solver", None)
    if isinstance(model, LogisticRegressionCV | LogisticRegression):
        separable = (
            " If the classes are separable and the model unpenalised (C=np.inf), the fit runs off to infinity: "
            "use a finite C."
        )
        if solver == "liblinear":  # another solver would not penalise the intercept: another model
            return "Refit with tol=1e-10 (liblinear then reaches ~1e-6 in milliseconds)." + separable
        return (
            f"Refit with a smaller tol and Newton steps, {name}(solver='newton-cholesky', tol=1e-10): they "
            "reach ~1e-8 in well under a second for up to a few thousand features (lbfgs with tol=1e-10, "
            "max_iter=10000 is slower and stops near 1e-4; for very wide or sparse data use it)." + separable
        )
    if isinstance(model, Ridge | RidgeClassifier):
        return (
            f"{name}(solver={solver!r}) is iterative: refit with solver='cholesky' (exact, for up to a few "
            "thousand features) or with tol=1e-10."
        )
    if isinstance(model, PoissonRegressor | GammaRegressor | TweedieRegressor):
        return f"Refit with {name}(solver='newton-cholesky', tol=1e-10) (reaches ~1e-12, no slower than lbfgs)."
    if isinstance(model, LinearSVC):
        return (
            "Refit with LinearSVC(dual=False, tol=1e-10): liblinear's primal Newton solver reaches ~1e-6 in "
            "milliseconds (the dual solver needs tol=1e-10 and a large max_iter)."
        )
    if isinstance(model, SGDClassifier | SGDRegressor):
        batch = (
            "LogisticRegression(C=1 / (n_samples * alpha)) for loss='log_loss'"
            if isinstance(model, SGDClassifier)
            else "Ridge(alpha=n_samples * alpha) for loss='squared_error'"
        )
        return (
            f"{name} stops near, not at, a minimum (stochastic steps; ~0.3 to 1 times a row's gradient even with "
            f"tol=None and max_iter=10000). For influence, fit the batch model with the same objective: {batch}; "
            "for other losses, tol=None with a larger max_iter gets closer."
        )
    if isinstance(model, MLPClassifier | MLPRegressor):
        if model.activation == "relu":
            return (
                "With activation='relu' the objective has kinks where a hidden unit's input crosses 0 and the "
                "minimum usually sits on one: no setting makes the fit stationary. Use activation='tanh' or "
                "'logistic' with solver='lbfgs', then sklearn_influence.refine_mlp(model, X, y)."
            )
        first = "Fit with solver='lbfgs', then refine" if solver != "lbfgs" else "Refine"
        return (
            f"{first} the fit with sklearn_influence.refine_mlp(model, X, y) (Newton-CG on the same objective, to "
            "~1e-9 in seconds for small networks) and wrap the result in FrozenEstimator. A smaller tol, larger "
            "max_iter or max_fun do not help: scikit-learn's lbfgs stops once the mean loss decreases by less "
            "than scipy's fixed ftol (2.2e-9), which no MLP parameter sets."
        )
    if isinstance(model, HuberRegressor):
        return (
            "HuberRegressor's L-BFGS stops once its objective decreases by less than scipy's fixed relative ftol "
            "(2.2e-9), which tol does not set: ~1e-3 is what it reaches (a larger tol or max_iter does not "
            "help). Estimates carry that relative error."
        )
    if isinstance(model, SmoothHingeClassifier):
        return "Refit with a smaller tol or a larger max_iter; a larger temperature makes the Newton fit easier."
    return "Refit the estimator with a smaller tol (e.g. tol=1e-10) and a larger max_iter."
