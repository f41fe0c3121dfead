"""perturbation_influence(space="raw"): derivatives in the raw columns a pipeline was fitted on.

Ground truth shares no code with the library: central finite differences of refits in one
raw value ``x_ic`` of the training DataFrame, with scikit-learn's own transformers and
models (``"refit"``: ``clone(pipeline)`` on the perturbed frame; ``"fixed"``: the last step
refitted on ``fixed_prefix.transform(perturbed frame)``), and the query loss computed by
hand from scikit-learn's predictions.
"""

import numpy as np
import pytest
from conftest import mixed_table
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, QuantileTransformer, StandardScaler

from sklearn_influence import InfluenceEstimator

N = 60
COLUMNS = ["a", "b", "c", "d"]  # c is categorical
STEP = 1e-4  # relative to the column's spread: FD truncation ~STEP², rounding ~1e-16/STEP


@pytest.fixture(scope="module")
def frame():
    return mixed_table(N, seed=7, missing=0.15, d_effect=0.5)


def _pipeline(model):
    prefix = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), ["a", "b", "d"]),
        (OneHotEncoder(handle_unknown="ignore"), ["c"]),
    )
    return Pipeline([("prep", prefix), ("model", model)])


MODELS = {
    "ridge": lambda: Ridge(alpha=2.0, solver="cholesky"),
    "logistic": lambda: LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000),
}


def _loss(model, Z, y):
    """Per-row loss by hand: un-halved squared error, or −log p of the true class."""
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(Z)
        return -np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)])
    return (y - model.predict(Z)) ** 2


def _refit_loss(pipeline, fitted, preprocessing, X, y, Xq, yq, weight):
    if preprocessing == "refit":
        refit = clone(pipeline).fit(X, y, model__sample_weight=weight)
        return _loss(refit, Xq, yq)
    prefix = fitted[:-1]  # the transformers fitted on the unperturbed frame
    model = clone(pipeline[-1]).fit(prefix.transform(X), y, sample_weight=weight)
    return _loss(model, prefix.transform(Xq), yq)


def _finite_difference(pipeline, fitted, preprocessing, X, y, Xq, yq, weight, row, column):
    h = STEP * np.nanstd(X[column].to_numpy())
    losses = []
    for sign in (1.0, -1.0):
        moved = X.copy()
        moved.iloc[row, moved.columns.get_loc(column)] += sign * h
        losses.append(_refit_loss(pipeline, fitted, preprocessing, moved, y, Xq, yq, weight))
    return (losses[0] - losses[1]) / (2 * h)


@pytest.mark.parametrize("preprocessing", ["refit", "fixed"])
@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_raw_columns_match_finite_differences_of_refits(frame, kind, preprocessing, weighted):
    df, y_reg, y_bin = frame
    y = y_reg if kind == "ridge" else y_bin
    X, Xq, yq = df.iloc[:50], df.iloc[50:], y[50:]
    y = y[:50]
    weight = np.random.default_rng(3).uniform(0.5, 2.0, 50) if weighted else np.ones(50)
    pipeline = _pipeline(MODELS[kind]())
    inf = InfluenceEstimator(pipeline, preprocessing=preprocessing).fit(X, y, sample_weight=weight)
    rows = np.array([1, 4, 9])
    ours = inf.perturbation_influence(Xq, yq, indices=rows)
    assert ours.shape == (len(Xq), len(rows), len(COLUMNS))
    n = len(y)
    checked = 0
    for k, row in enumerate(rows):
        for c, column in enumerate(COLUMNS):
            if column == "c":
                assert np.all(np.isnan(ours[:, k, c]))  # categorical: no derivative
                continue
            if np.isnan(X[column].iloc[row]):
                assert np.all(np.isnan(ours[:, k, c]))  # missing: no value to move
                continue
            expected = _finite_difference(pipeline, inf.estimator_, preprocessing, X, y, Xq, yq, weight, row, column)
            np.testing.assert_allclose(
                ours[:, k, c] * weight[row] / n, expected, rtol=1e-5, atol=1e-7 * np.max(np.abs(expected))
            )
            checked += 1
    assert checked >= 6


def test_refit_differs_from_fixed_through_the_statistics(frame):
    """The statistics term is not negligible here: "fixed" is off the whole-pipeline refit."""
    df, y, _ = frame
    X, Xq, yq = df.iloc[:50], df.iloc[50:], y[50:]
    pipeline = _pipeline(MODELS["ridge"]())
    refit = InfluenceEstimator(pipeline).fit(X, y[:50]).perturbation_influence(Xq, yq, indices=[1])
    fixed = (
        InfluenceEstimator(pipeline, preprocessing="fixed").fit(X, y[:50]).perturbation_influence(Xq, yq, indices=[1])
    )
    expected = _finite_difference(pipeline, None, "refit", X, y[:50], Xq, yq, np.ones(50), 1, "d")
    err_refit = np.max(np.abs(refit[:, 0, 3] / 50 - expected))
    err_fixed = np.max(np.abs(fixed[:, 0, 3] / 50 - expected))
    assert err_fixed > 1e3 * err_refit, (err_fixed, err_refit)


def test_model_space_is_the_final_models_features(frame):
    """space="model" differentiates the transformed features: FD of the last step refitted on them."""
    df, y, _ = frame
    X, Xq, yq = df.iloc[:50], df.iloc[50:], y[50:]
    inf = InfluenceEstimator(_pipeline(MODELS["ridge"]()), preprocessing="fixed").fit(X, y[:50])
    ours = inf.perturbation_influence(Xq, yq, indices=[2], space="model")
    prefix = inf.estimator_[:-1]
    Z, Zq = prefix.transform(X), prefix.transform(Xq)
    assert ours.shape == (len(Xq), 1, Z.shape[1])
    for f in (0, 2, 4):
        losses = []
        for sign in (1.0, -1.0):
            moved = Z.copy()
            moved[2, f] += sign * 1e-4
            model = Ridge(alpha=2.0, solver="cholesky").fit(moved, y[:50])
            losses.append(_loss(model, Zq, yq))
        np.testing.assert_allclose(ours[:, 0, f] / 50, (losses[0] - losses[1]) / 2e-4, rtol=1e-5, atol=1e-10)


def test_zero_weight_rows_are_nan_under_refit(frame):
    df, y, _ = frame
    X, Xq, yq = df.iloc[:50], df.iloc[50:], y[50:]
    weight = np.ones(50)
    weight[3] = 0.0
    inf = InfluenceEstimator(_pipeline(MODELS["ridge"]())).fit(X, y[:50], sample_weight=weight)
    ours = inf.perturbation_influence(Xq, yq, indices=[3, 5])
    assert np.all(np.isnan(ours[:, 0]))
    assert np.all(np.isfinite(ours[:, 1, [COLUMNS.index(c) for c in "ad" if not np.isnan(X[c].iloc[5])]]))
    # why NaN: the refit's derivative is not zero, so no finite entry times s_i/n = 0 gives it
    pipeline = _pipeline(MODELS["ridge"]())
    through_statistics = _finite_difference(pipeline, None, "refit", X, y[:50], Xq, yq, weight, 3, "d")
    assert np.max(np.abs(through_statistics)) > 1e-4
    # under "fixed" the row moves nothing: entry × 0 = 0 is the derivative, and the entries are finite
    fixed = InfluenceEstimator(pipeline, preprocessing="fixed").fit(X, y[:50], sample_weight=weight)
    assert np.all(np.isfinite(fixed.perturbation_influence(Xq, yq, indices=[3])[:, 0, 3]))
    unmoved = _finite_difference(pipeline, fixed.estimator_, "fixed", X, y[:50], Xq, yq, weight, 3, "d")
    np.testing.assert_allclose(unmoved, 0.0, atol=1e-9)


def test_space_is_validated_and_plain_models_agree(frame):
    df, y, _ = frame
    inf = InfluenceEstimator(_pipeline(MODELS["ridge"]())).fit(df.iloc[:50], y[:50])
    with pytest.raises(ValueError, match=r"space must be 'raw' or 'model'; got space='features'"):
        inf.perturbation_influence(df.iloc[50:], y[50:], indices=[0], space="features")
    Z = df[["a", "b", "d"]].fillna(0.0).to_numpy()
    plain = InfluenceEstimator(Ridge(alpha=2.0, solver="cholesky")).fit(Z[:50], y[:50])
    np.testing.assert_array_equal(
        plain.perturbation_influence(Z[50:], y[50:], indices=[0, 1]),
        plain.perturbation_influence(Z[50:], y[50:], indices=[0, 1], space="model"),
    )


@pytest.mark.parametrize("preprocessing", ["refit", "fixed"])
def test_dense_input_jacobian_on_an_array(frame, preprocessing):
    """PolynomialFeatures after imputation and scaling (a full input Jacobian), on a numpy array."""
    df, y, _ = frame
    values = df[["a", "b", "d"]].to_numpy()
    X, Xq, yq, y = values[:50], values[50:], y[50:], y[:50]
    pipeline = make_pipeline(SimpleImputer(), StandardScaler(), PolynomialFeatures(2), Ridge(solver="cholesky"))
    inf = InfluenceEstimator(pipeline, preprocessing=preprocessing).fit(X, y)
    rows = [r for r in range(50) if not np.isnan(X[r]).any()][:2]
    ours = inf.perturbation_influence(Xq, yq, indices=rows)
    assert ours.shape == (len(Xq), 2, 3)
    for k, row in enumerate(rows):
        for c in range(3):
            h = STEP * np.nanstd(X[:, c])
            losses = []
            for sign in (1.0, -1.0):
                moved = X.copy()
                moved[row, c] += sign * h
                if preprocessing == "refit":
                    losses.append(_loss(clone(pipeline).fit(moved, y), Xq, yq))
                else:
                    prefix = inf.estimator_[:-1]
                    model = clone(pipeline[-1]).fit(prefix.transform(moved), y)
                    losses.append(_loss(model, prefix.transform(Xq), yq))
            expected = (losses[0] - losses[1]) / (2 * h)
            np.testing.assert_allclose(ours[:, k, c] / 50, expected, rtol=1e-5, atol=1e-7 * np.max(np.abs(expected)))


def test_raw_space_refuses_a_transformer_without_derivatives(frame):
    df, y, _ = frame
    values = df[["d"]].to_numpy()
    pipeline = make_pipeline(QuantileTransformer(n_quantiles=20), Ridge())
    inf = InfluenceEstimator(pipeline, preprocessing="fixed").fit(values[:50], y[:50])
    with pytest.raises(ValueError, match=r"space='raw'.*QuantileTransformer.*Use space='model'"):
        inf.perturbation_influence(values[50:], y[50:], indices=[0])
    assert inf.perturbation_influence(values[50:], y[50:], indices=[0], space="model").shape == (10, 1, 1)
