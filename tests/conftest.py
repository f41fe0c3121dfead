"""Shared data sets, tightly converged estimators and the leave-one-out refit oracle."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

SEED = 0


def tight_logistic(**params):
    """LogisticRegression converged to machine precision (the refit oracle's model)."""
    params.setdefault("solver", "newton-cholesky")
    params.setdefault("tol", 1e-12)
    params.setdefault("max_iter", 10_000)
    return LogisticRegression(**params)


@pytest.fixture(scope="session")
def binary_data():
    """Breast cancer, standardised, 8 features: (X_train, y_train, X_test, y_test)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :8]
    return X[:400], y[:400], X[400:410], y[400:410]


@pytest.fixture(scope="session")
def multiclass_data():
    """Wine, standardised, 3 classes: (X_train, y_train, X_test, y_test)."""
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :6]
    return X[::2], y[::2], X[1::2][:8], y[1::2][:8]


@pytest.fixture(scope="session")
def regression_data():
    """Diabetes with three targets: (X_train, Y_train, X_test, Y_test)."""
    X, y = load_diabetes(return_X_y=True)
    Y = np.c_[y / 100.0, np.sqrt(y) / 5.0, 3.0 * X[:, 0]]
    return X[:150], Y[:150], X[300:308], Y[300:308]


def sklearn_loss(model, X, y):
    """Per-sample loss from scikit-learn's own predictions (shares no code with the library)."""
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        return -np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)])
    residual = np.reshape(y, (len(y), -1)) - np.reshape(model.predict(X), (len(y), -1))
    return np.sum(residual**2, axis=1)


def sklearn_params(model):
    coef = np.ravel(model.coef_)
    return np.concatenate([coef, np.ravel(model.intercept_)]) if getattr(model, "fit_intercept", True) else coef


def refit_leave_one_out(estimator, X, y, X_query, y_query, rows, sample_weight=None):
    """Actual leave-one-out: refit ``clone(estimator)`` without each row.

    Returns (loss change of each query, parameter change), shapes (n_query, n_rows) and
    (n_rows, n_params), "after minus before". Uses only scikit-learn.
    """
    base = clone(estimator).fit(X, y, sample_weight=sample_weight)
    base_loss, base_params = sklearn_loss(base, X_query, y_query), sklearn_params(base)
    losses = np.empty((len(y_query), len(rows)))
    params = np.empty((len(rows), base_params.size))
    for a, i in enumerate(rows):
        keep = np.arange(X.shape[0]) != i
        weight = None if sample_weight is None else sample_weight[keep]
        refit = clone(estimator).fit(X[keep], y[keep], sample_weight=weight)
        losses[:, a] = sklearn_loss(refit, X_query, y_query) - base_loss
        params[a] = sklearn_params(refit) - base_params
    return losses, params


def spread_rows(n_rows, count=40):
    """``count`` training rows spread evenly over ``n_rows`` (the rows removed one at a time)."""
    return np.arange(0, n_rows, max(n_rows // count, 1))[:count]


def pearson(a, b):
    return np.corrcoef(np.ravel(a), np.ravel(b))[0, 1]


@pytest.fixture
def rng():
    return np.random.default_rng(SEED)


def decoded_minimiser(inf):
    """Minimise the decoded objective from the fitted parameters (scipy L-BFGS, tight)."""
    objective, design = inf._objective, inf._design
    start = objective.coef.copy()

    def value_and_gradient(v):
        objective.coef = v.reshape(start.shape)
        return objective.value(design, inf._targets, inf._weights), objective.gradient(
            design, inf._targets, inf._weights
        ).ravel()

    result = minimize(
        value_and_gradient,
        start.ravel(),
        jac=True,
        method="L-BFGS-B",
        options=dict(gtol=1e-12, ftol=1e-16, maxiter=10_000),
    )
    objective.coef = start
    return result.x


def mixed_table(n, seed, missing, d_effect=0.0):
    """A mixed-type frame: numeric ``a``, ``b`` with a fraction ``missing`` of NaN, categorical ``c``, numeric ``d``.

    Returns ``(frame, y, y_binary)`` with ``y`` linear in the observed values plus noise.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(3, 2, n),
            "b": rng.gamma(2, 3, n),
            "c": rng.choice(["x", "y", "z"], n),
            "d": rng.normal(0, 1, n),
        },
        index=[f"r{i}" for i in range(n)],
    )
    df.loc[rng.random(n) < missing, "a"] = np.nan
    df.loc[rng.random(n) < missing, "b"] = np.nan
    signal = np.nan_to_num(df.a.to_numpy()) * 0.5 - 0.3 * np.nan_to_num(df.b.to_numpy()) + (df.c.to_numpy() == "x")
    y = signal + d_effect * df.d.to_numpy() + rng.normal(0, 1, n)
    return df, y, (y > np.median(y)).astype(int)
