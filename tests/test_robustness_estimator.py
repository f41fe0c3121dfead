"""InfluenceEstimator robustness (issue 11): stale state across refits, degenerate hinge optima,
clear errors for bad input, per-estimator stationarity advice."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.svm import SVC, LinearSVC

from sklearn_influence import InfluenceEstimator, SmoothHingeClassifier


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
