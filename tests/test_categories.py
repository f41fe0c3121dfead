"""category_influence: what if a training row had another category? Checked against refits of the whole pipeline."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_influence import InfluenceEstimator

N = 70


@pytest.fixture(scope="module")
def survey():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {"a": rng.normal(3, 2, N), "c": rng.choice(["x", "y", "z"], N), "d": rng.normal(0, 1, N)},
        index=[f"p{i}" for i in range(N)],
    )
    y = df.a.to_numpy() * 0.5 + (df.c.to_numpy() == "x") + rng.normal(0, 1, N)
    return df, y, (y > np.median(y)).astype(int)


def _pipeline(model):
    prep = make_column_transformer((StandardScaler(), ["a", "d"]), (OneHotEncoder(), ["c"]))
    return Pipeline([("prep", prep), ("model", model)])


def _actual(pipe, X, y, loss, rows, categories, Xq, yq):
    base = loss(clone(pipe).fit(X, y), Xq, yq)
    out = np.zeros((len(yq), len(rows), len(categories)))
    for a, i in enumerate(rows):
        for c, category in enumerate(categories):
            changed = X.copy()
            changed.iloc[i, X.columns.get_loc("c")] = category
            out[:, a, c] = loss(clone(pipe).fit(changed, y), Xq, yq) - base
    return out


def test_ridge_category_changes_are_exact(survey):
    X, y, _ = survey
    pipe = _pipeline(Ridge(alpha=1.0, solver="cholesky"))
    inf = InfluenceEstimator(pipe).fit(X, y)
    rows = [3, 10, 40]
    result = inf.category_influence(X.iloc[:4], y[:4], "c", indices=rows)
    assert result.categories.tolist() == ["x", "y", "z"]
    actual = _actual(
        pipe, X, y, lambda m, Xq, yq: (yq - m.predict(Xq)) ** 2, rows, result.categories, X.iloc[:4], y[:4]
    )
    # a quadratic objective: the Newton step on the replaced row is the refit
    np.testing.assert_allclose(result.changes, actual, rtol=1e-8, atol=1e-12)
    own = X["c"].to_numpy()[rows][:, None] == result.categories[None, :]
    assert np.all(result.changes[:, own] == 0)


def test_logistic_category_changes_match_refits(survey):
    X, _, yb = survey
    pipe = _pipeline(LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12))
    inf = InfluenceEstimator(pipe).fit(X, yb)
    rows = [3, 10, 40, 55]

    def log_loss(model, Xq, yq):
        return -np.log(model.predict_proba(Xq)[np.arange(len(yq)), yq])

    result = inf.category_influence(X.iloc[:5], yb[:5], "c", indices=rows)
    actual = _actual(pipe, X, yb, log_loss, rows, result.categories, X.iloc[:5], yb[:5])
    assert np.abs(result.changes - actual).max() < 0.05 * np.abs(actual).max()
    assert np.corrcoef(result.changes.ravel(), actual.ravel())[0, 1] > 0.999


def test_category_influence_errors(survey):
    X, y, _ = survey
    with pytest.raises(ValueError, match="needs a pipeline"):
        InfluenceEstimator(Ridge()).fit(X[["a", "d"]], y).category_influence(X[["a", "d"]], y, 0)
    inf = InfluenceEstimator(_pipeline(Ridge())).fit(X, y)
    with pytest.raises(ValueError, match="column='e' is not a column"):
        inf.category_influence(X.iloc[:2], y[:2], "e")
