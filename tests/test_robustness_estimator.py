"""InfluenceEstimator robustness (issue 11): stale state across refits, degenerate hinge optima,
clear errors for bad input, per-estimator stationarity advice."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from sklearn_influence import InfluenceEstimator


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
