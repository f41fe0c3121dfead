"""Parameter names: checked against what scikit-learn says directly (coef_, get_feature_names_out)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor, LogisticRegression, Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_influence import InfluenceEstimator

SEED = 0
STRING_INDEX = [f"patient_{i}" for i in range(25)]


def _regression_frame(index):
    rng = np.random.default_rng(SEED)
    n = len(index)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["dose", "age", "weight"], index=index)
    y = pd.Series(X.to_numpy() @ [1.0, -2.0, 0.5] + rng.normal(scale=0.5, size=n), index=index, name="y")
    return X, y


def test_parameter_names_multiclass_binary_and_other_layouts():
    iris = load_iris(as_frame=True)
    X, y = iris.data.iloc[::3], iris.target_names[iris.target][::3]
    model = LogisticRegression(tol=1e-10, max_iter=2000)
    inf = InfluenceEstimator(model).fit(X, y)
    features, classes = list(X.columns), ["setosa", "versicolor", "virginica"]
    expected = [f"{f}[{c}]" for c in classes for f in features] + [f"intercept[{c}]" for c in classes]
    assert list(inf.param_names_) == expected
    fitted = inf.estimator_
    named = pd.Series(inf.params_, index=inf.param_names_)
    assert named["petal width (cm)[virginica]"] == fitted.coef_[2, 3]
    assert named["intercept[versicolor]"] == fitted.intercept_[1]
    binary = InfluenceEstimator(model).fit(X, y == "virginica")
    assert list(binary.param_names_) == features + ["intercept"]
    # several regression outputs: by position; a column named like the intercept keeps both apart
    Xr, yr = _regression_frame(STRING_INDEX)
    Xr = Xr.rename(columns={"weight": "intercept"})
    two = InfluenceEstimator(Ridge(alpha=0.3)).fit(Xr, np.c_[yr, -yr])
    assert list(two.param_names_) == [f"{f}[{k}]" for k in (0, 1) for f in Xr.columns] + [
        "intercept_[0]",
        "intercept_[1]",
    ]
    assert len(set(two.param_names_)) == two.params_.size
    huber = InfluenceEstimator(HuberRegressor(tol=1e-10, max_iter=1000)).fit(Xr, yr)
    assert list(huber.param_names_) == ["dose", "age", "intercept", "intercept_", "scale"]
    mlp = MLPRegressor(hidden_layer_sizes=(2,), solver="lbfgs", max_iter=5000, tol=1e-12, random_state=0)
    with warnings.catch_warnings():  # the names do not depend on how well the network converged
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = InfluenceEstimator(mlp, damping=10.0).fit(Xr.iloc[:, :2], yr)
    assert net.param_names_.size == net.params_.size
    assert list(net.param_names_[:4]) == ["coefs_0[dose, 0]", "coefs_0[dose, 1]", "coefs_0[age, 0]", "coefs_0[age, 1]"]
    assert list(net.param_names_[-3:]) == ["intercepts_0[0]", "intercepts_0[1]", "intercepts_1[0]"]
    with pytest.raises(AttributeError):  # NotFittedError: hasattr tells the truth before fit
        InfluenceEstimator(Ridge()).param_names_


def test_pipeline_prefix_names_come_from_get_feature_names_out():
    X, y = _regression_frame(STRING_INDEX)
    X = X.assign(color=np.random.default_rng(SEED).choice(["red", "green", "blue"], len(X)))
    preprocess = ColumnTransformer([("num", StandardScaler(), ["dose", "age"]), ("cat", OneHotEncoder(), ["color"])])
    inf = InfluenceEstimator(make_pipeline(preprocess, Ridge(alpha=0.3))).fit(X, y)
    by_hand = list(clone(preprocess).fit(X).get_feature_names_out())
    assert by_hand[-3:] == ["cat__color_blue", "cat__color_green", "cat__color_red"]
    assert list(inf.param_names_) == by_hand + ["intercept"]
    ridge = inf.estimator_[-1]
    named = pd.Series(inf.params_, index=inf.param_names_)
    assert named["cat__color_red"] == ridge.coef_[by_hand.index("cat__color_red")]
