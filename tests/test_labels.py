"""Labelled results: set_output / the global config, selection by label, parameter names.

Labels are checked against what pandas and scikit-learn say directly (the DataFrame's own
index, ``get_feature_names_out``, ``coef_``), and the value under a label against refits
that drop the row *by label* (``X.drop(index=label)``), so a label on the wrong row fails.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor, LinearRegression, LogisticRegression, Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_influence import (
    InfluenceEstimator,
    mislabel_detection_curve,
    rank_mislabel_candidates,
    validate_leave_one_out,
)

SEED = 0


def _regression_frame(index):
    rng = np.random.default_rng(SEED)
    n = len(index)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["dose", "age", "weight"], index=index)
    y = pd.Series(X.to_numpy() @ [1.0, -2.0, 0.5] + rng.normal(scale=0.5, size=n), index=index, name="y")
    return X, y


STRING_INDEX = [f"patient_{i}" for i in range(25)]
INTEGER_INDEX = list(range(10, 35))  # integers that are not positions: 10 is position 0
QUERY_INDEX = ["q_a", "q_b", "q_c"]


def _queries():
    rng = np.random.default_rng(SEED + 1)
    Xq = pd.DataFrame(rng.normal(size=(3, 3)), columns=["dose", "age", "weight"], index=QUERY_INDEX)
    return Xq, pd.Series(Xq.to_numpy() @ [1.0, -2.0, 0.5], index=QUERY_INDEX)


def _squared_loss(model, Xq, yq):
    return (np.asarray(yq) - model.predict(Xq)) ** 2


@pytest.mark.parametrize("index", [STRING_INDEX, INTEGER_INDEX], ids=["string-index", "integer-index"])
def test_labelled_values_are_refits_without_the_labelled_row(index):
    # Ridge's Newton leave-one-out is exact: the value under label i must be the refit without label i
    X, y = _regression_frame(index)
    Xq, yq = _queries()
    ridge = Ridge(alpha=0.3, solver="cholesky")
    inf = InfluenceEstimator(ridge).set_output(transform="pandas").fit(X, y)
    loo = inf.leave_one_out(Xq, yq, method="newton")
    params = inf.leave_one_out_params(method="newton")
    assert isinstance(loo, pd.DataFrame) and isinstance(params, pd.DataFrame)
    assert list(loo.index) == QUERY_INDEX and list(loo.columns) == list(X.index)
    assert list(params.index) == list(X.index)
    assert list(params.columns) == ["dose", "age", "weight", "intercept"]
    base = clone(ridge).fit(X, y)
    for label in [index[0], index[7], index[-1]]:
        refit = clone(ridge).fit(X.drop(index=label), y.drop(index=label))
        change = _squared_loss(refit, Xq, yq) - _squared_loss(base, Xq, yq)
        np.testing.assert_allclose(loo[label].to_numpy(), change, rtol=1e-8, atol=1e-12)
        for feature in ["dose", "age", "weight"]:
            after = pd.Series(refit.coef_, index=refit.feature_names_in_)[feature]
            before = pd.Series(base.coef_, index=base.feature_names_in_)[feature]
            assert params.loc[label, feature] == pytest.approx(after - before, rel=1e-8, abs=1e-12)
        assert params.loc[label, "intercept"] == pytest.approx(refit.intercept_ - base.intercept_, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("index", [STRING_INDEX, INTEGER_INDEX], ids=["string-index", "integer-index"])
def test_labels_follow_the_rows_when_the_frame_is_reordered(index):
    # the same row under the same label, whatever its position in the training frame
    X, y = _regression_frame(index)
    Xq, yq = _queries()
    order = np.random.default_rng(SEED).permutation(len(X))
    results = []
    for frame, target in ((X, y), (X.iloc[order], y.iloc[order])):
        inf = InfluenceEstimator(LinearRegression()).set_output(transform="pandas").fit(frame, target)
        results.append((inf.self_influence(), inf.influence(Xq, yq), inf.influence_params(), inf.leave_one_out(Xq, yq)))
    for first, reordered in zip(*results):
        first, reordered = pd.DataFrame(first), pd.DataFrame(reordered)
        assert not reordered.index.equals(first.index) or not reordered.columns.equals(first.columns)
        pd.testing.assert_frame_equal(
            first.sort_index(axis=0).sort_index(axis=1),
            reordered.sort_index(axis=0).sort_index(axis=1),
            rtol=1e-8,
            atol=1e-10,
        )


def test_default_output_is_unchanged_arrays_and_the_switch_only_adds_labels():
    X, y = _regression_frame(STRING_INDEX)
    Xq, yq = _queries()
    plain = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    labelled = clone(plain).set_output(transform="pandas").fit(X, y)
    calls = {
        "influence": lambda inf: inf.influence(Xq, yq, indices=[3, 1]),
        "leave_one_out": lambda inf: inf.leave_one_out(Xq, yq, indices=[3, 1]),
        "leave_one_out_newton": lambda inf: inf.leave_one_out(Xq, yq, method="newton"),
        "self_influence": lambda inf: inf.self_influence(indices=[3, 1]),
        "influence_params": lambda inf: inf.influence_params(),
        "leave_one_out_params": lambda inf: inf.leave_one_out_params(method="newton", indices=[3, 1]),
    }
    for name, call in calls.items():
        array, frame = call(plain), call(labelled)
        assert type(array) is np.ndarray, name
        assert isinstance(frame, pd.DataFrame | pd.Series), name
        np.testing.assert_array_equal(frame.to_numpy(), array, err_msg=name)
    # indices stay positions: position 3 is the fourth row, whatever its label
    assert list(labelled.self_influence(indices=[3, 1]).index) == [X.index[3], X.index[1]]
    assert labelled.self_influence().name == "self_influence"
    # three axes stay an array
    assert type(labelled.perturbation_influence(Xq, yq, indices=[0])) is np.ndarray
    assert type(plain.top_influences(Xq, yq, k=2)).__name__ == "Bunch"
    assert "harmful_labels" not in plain.top_influences(Xq, yq, k=2)


def test_global_config_and_set_output_semantics():
    X, y = _regression_frame(INTEGER_INDEX)
    inf = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    assert type(inf.self_influence()) is np.ndarray
    with sklearn.config_context(transform_output="pandas"):
        assert list(inf.self_influence().index) == INTEGER_INDEX
        # the estimator's own setting wins over the global one
        assert type(inf.set_output(transform="default").self_influence()) is np.ndarray
    assert inf.set_output(transform=None) is inf  # None leaves the setting as it was
    assert type(inf.self_influence()) is np.ndarray
    inf.set_output(transform="pandas")
    assert isinstance(inf.self_influence(), pd.Series)
    # clone keeps the setting, as for scikit-learn's transformers
    assert isinstance(clone(inf).fit(X, y).self_influence(), pd.Series)
    with pytest.raises(ValueError, match="transform='polars' is not supported"):
        inf.set_output(transform="polars")
    with pytest.raises(ValueError, match="transform must be one of"):
        inf.set_output(transform="arrow")
    unconfigured = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    with sklearn.config_context(transform_output="polars"):
        with pytest.raises(ValueError, match=r"set_output\(transform='default'\)"):
            unconfigured.self_influence()
        assert isinstance(inf.self_influence(), pd.Series)  # configured: the global setting does not apply


def test_numpy_inputs_are_labelled_by_position():
    X, y = _regression_frame(STRING_INDEX)
    Xq, yq = _queries()
    inf = InfluenceEstimator(Ridge(alpha=0.3)).set_output(transform="pandas").fit(X.to_numpy(), y.to_numpy())
    assert inf.training_index_ is None
    result = inf.influence(Xq.to_numpy(), yq.to_numpy(), indices=[4, 2])
    assert list(result.index) == [0, 1, 2] and list(result.columns) == [4, 2]
    assert list(inf.influence_params().columns) == ["x0", "x1", "x2", "intercept"]
    np.testing.assert_array_equal(inf.training_positions([4, 2]), [4, 2])
    # a query given as a list of lists: positions (a list's .index is a method, not labels)
    values = inf.influence(Xq.to_numpy().tolist(), yq.tolist())
    assert list(values.index) == [0, 1, 2]
    wide = inf.to_frame(values.to_numpy(), Xq.to_numpy().tolist())
    assert list(wide.index) == [0, 1, 2]
    with pytest.raises(ValueError, match="has 2 rows but the result has 3"):
        inf.to_frame(values.to_numpy(), Xq.iloc[:2])
    # training rows given as a list of lists: positions too (training_index_ was list.index)
    listed = InfluenceEstimator(Ridge(alpha=0.3)).fit(X.to_numpy().tolist(), y.tolist())
    assert listed.training_index_ is None
    assert list(listed.summary_frame().index) == list(range(len(X)))


def test_selecting_rows_by_label_never_confuses_labels_and_positions():
    X, y = _regression_frame(INTEGER_INDEX)
    Xq, yq = _queries()
    inf = InfluenceEstimator(Ridge(alpha=0.3)).set_output(transform="pandas").fit(X, y)
    by_hand = [list(X.index).index(label) for label in (12, 10, 34)]
    np.testing.assert_array_equal(inf.training_positions([12, 10, 34]), by_hand)
    np.testing.assert_array_equal(inf.training_positions(12), [2])
    assert inf.training_positions([]).shape == (0,)
    selected = inf.leave_one_out(Xq, yq, indices=inf.training_positions([12, 10]))
    assert list(selected.columns) == [12, 10]
    np.testing.assert_array_equal(selected.to_numpy(), inf.leave_one_out(Xq, yq)[[12, 10]].to_numpy())
    # indices are positions: position 12 is label 22
    assert list(inf.self_influence(indices=[12]).index) == [22]
    # a pandas Index holds labels: refused rather than read as positions
    with pytest.raises(ValueError, match="indices are training-row positions"):
        inf.self_influence(indices=X.index[:3])
    with pytest.raises(ValueError, match="indices are training-row positions"):
        inf.to_frame(inf.self_influence().to_numpy()[:3], indices=pd.Index([10, 11, 12]))
    # a boolean mask aligned by label, in another order than the training rows
    mask = X["dose"] > 0
    shuffled = mask.iloc[::-1]
    np.testing.assert_array_equal(inf.training_positions(shuffled), np.flatnonzero(mask.to_numpy()))
    np.testing.assert_array_equal(inf.training_positions(mask), np.flatnonzero(mask.to_numpy()))
    assert list(inf.self_influence(indices=mask).index) == list(X.index[mask.to_numpy()])  # same order: fine
    with pytest.raises(ValueError, match="boolean Series whose index differs"):
        inf.self_influence(indices=shuffled)
    with pytest.raises(ValueError, match="indexed by exactly the training labels"):
        inf.training_positions(mask.iloc[:5])
    with pytest.raises(ValueError, match="boolean array without labels"):
        inf.training_positions(mask.to_numpy())
    with pytest.raises(ValueError, match=r"2 of the labels are not training labels, e.g. \[0, 9\]"):
        inf.training_positions([0, 10, 9])
    with pytest.raises(ValueError, match="not training labels"):
        inf.training_positions(["10"])  # a string is not the integer label
    # a Series of positions (a ranking) counts by its values
    ranking = rank_mislabel_candidates(inf)
    np.testing.assert_array_equal(inf.self_influence(indices=ranking[:3]).index, ranking.index[:3])


def test_duplicate_and_multiindex_labels():
    X, y = _regression_frame(["a", "b", "a"] + [f"r{i}" for i in range(22)])
    inf = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    with pytest.raises(ValueError, match=r"labels \['a'\] each name several training rows"):
        inf.training_positions(["r3", "a"])
    np.testing.assert_array_equal(inf.training_positions(["r3", "b"]), [6, 1])  # unique labels still work
    X, y = _regression_frame(pd.MultiIndex.from_product([["x", "y", "z", "w", "v"], [1, 2, 3, 4, 5]]))
    inf = InfluenceEstimator(Ridge(alpha=0.3)).set_output(transform="pandas").fit(X, y)
    np.testing.assert_array_equal(inf.training_positions([("y", 2), ("x", 5)]), [6, 4])
    assert inf.self_influence(indices=[6]).index[0] == ("y", 2)
    long = inf.to_frame(inf.self_influence(indices=[6, 4]).to_numpy(), indices=[6, 4], layout="long")
    assert long["train"].tolist() == [("y", 2), ("x", 5)]


def test_top_influences_and_mislabel_ranking_carry_labels():
    X, y = _regression_frame(INTEGER_INDEX)
    Xq, yq = _queries()
    inf = InfluenceEstimator(Ridge(alpha=0.3)).set_output(transform="pandas").fit(X, y)
    top = inf.top_influences(Xq, yq, k=4)
    full = inf.influence(Xq, yq)
    assert type(top.harmful_indices) is np.ndarray  # positions stay positions
    for side, sign in (("harmful", -1), ("helpful", 1)):
        labels = top[f"{side}_labels"]
        assert list(labels.index) == QUERY_INDEX and labels.shape == (3, 4)
        for j, query in enumerate(QUERY_INDEX):
            assert list(labels.loc[query]) == [X.index[p] for p in top[f"{side}_indices"][j]]
            # the chunked top-k agrees with the full labelled matrix, label by label
            assert list(labels.loc[query]) == list(full.loc[query].sort_values(key=lambda v: sign * v).index[:4])
    ranking = rank_mislabel_candidates(inf, by="training_loss")
    plain = clone(inf).set_output(transform="default").fit(X, y)
    positions = rank_mislabel_candidates(plain, by="training_loss")
    assert type(positions) is np.ndarray
    np.testing.assert_array_equal(ranking.to_numpy(), positions)
    assert list(ranking.index) == [X.index[p] for p in positions]
    residual = (y - Ridge(alpha=0.3).fit(X, y).predict(X)) ** 2
    assert list(ranking.index[:5]) == list(residual.sort_values(ascending=False, kind="stable").index[:5])
    is_flipped = np.zeros(len(X), dtype=bool)
    is_flipped[positions[:2]] = True
    np.testing.assert_array_equal(mislabel_detection_curve(ranking, is_flipped, [0.08]), [1.0])


def test_parameter_names_multiclass_binary_and_other_layouts():
    iris = load_iris(as_frame=True)
    X, y = iris.data.iloc[::3], iris.target_names[iris.target][::3]
    model = LogisticRegression(tol=1e-10, max_iter=2000)
    inf = InfluenceEstimator(model).set_output(transform="pandas").fit(X, y)
    features, classes = list(X.columns), ["setosa", "versicolor", "virginica"]
    expected = [f"{f}[{c}]" for c in classes for f in features] + [f"intercept[{c}]" for c in classes]
    assert list(inf.param_names_) == expected
    fitted = inf.estimator_
    named = pd.Series(inf.params_, index=inf.param_names_)
    assert named["petal width (cm)[virginica]"] == fitted.coef_[2, 3]
    assert named["intercept[versicolor]"] == fitted.intercept_[1]
    assert list(inf.influence_params(indices=[0]).columns) == expected
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
    inf = InfluenceEstimator(make_pipeline(preprocess, Ridge(alpha=0.3))).set_output(transform="pandas").fit(X, y)
    by_hand = list(clone(preprocess).fit(X).get_feature_names_out())
    assert by_hand[-3:] == ["cat__color_blue", "cat__color_green", "cat__color_red"]
    assert list(inf.param_names_) == by_hand + ["intercept"]
    ridge = inf.estimator_[-1]
    named = pd.Series(inf.params_, index=inf.param_names_)
    assert named["cat__color_red"] == ridge.coef_[by_hand.index("cat__color_red")]
    result = inf.influence_params(indices=[1])
    assert list(result.columns) == by_hand + ["intercept"] and list(result.index) == ["patient_1"]


def test_labels_survive_the_wrapper_inside_an_outer_pipeline():
    X, y = _regression_frame(INTEGER_INDEX)
    Xq, yq = _queries()
    pipe = make_pipeline(StandardScaler(), InfluenceEstimator(Ridge(alpha=0.3, solver="cholesky")))
    pipe.set_output(transform="pandas").fit(X, y)
    inf = pipe[-1]
    # the transformers pass DataFrames, so the wrapper sees the user's own index and column names
    assert list(inf.training_index_) == INTEGER_INDEX and list(inf.param_names_) == list(X.columns) + ["intercept"]
    # Pipeline.set_output configures the steps that transform; the wrapper has its own switch
    assert type(inf.influence(pipe[:-1].transform(Xq), yq)) is np.ndarray
    with sklearn.config_context(transform_output="pandas"):
        by_global = inf.leave_one_out(pipe[:-1].transform(Xq), yq, method="newton")
    loo = inf.set_output(transform="pandas").leave_one_out(pipe[:-1].transform(Xq), yq, method="newton")
    for result in (by_global, loo):
        assert list(result.index) == QUERY_INDEX and list(result.columns) == INTEGER_INDEX
    # the value under a label is the refit of the last step on the fixed features without that label
    Z, Zq = pipe[:-1].transform(X), pipe[:-1].transform(Xq)
    base = Ridge(alpha=0.3, solver="cholesky").fit(Z, y)
    for label in (10, 22):
        refit = Ridge(alpha=0.3, solver="cholesky").fit(Z.drop(index=label), y.drop(index=label))
        change = _squared_loss(refit, Zq, yq) - _squared_loss(base, Zq, yq)
        np.testing.assert_allclose(loo[label].to_numpy(), change, rtol=1e-8, atol=1e-12)
    # without pandas output the transformers return arrays: the index is lost, rows are positions
    plain = make_pipeline(StandardScaler(), InfluenceEstimator(Ridge(alpha=0.3))).fit(X, y)
    assert plain[-1].training_index_ is None


def test_internal_callers_get_arrays_under_pandas_output():
    X, y = _regression_frame(INTEGER_INDEX)
    Xq, yq = _queries()
    model = LogisticRegression(tol=1e-10, max_iter=2000)
    labels = pd.Series(np.where(y > y.median(), "high", "low"), index=X.index)
    plain = InfluenceEstimator(model).fit(X, labels)
    labelled = clone(plain).set_output(transform="pandas").fit(X, labels)
    query_labels = pd.Series(["high", "low", "high"], index=QUERY_INDEX)
    # validate_leave_one_out indexes its results by position: integer labels 10.. must not be read as positions
    checks = [
        validate_leave_one_out(inf, X, labels, Xq, query_labels, n_top=4, n_random=2, random_state=0)
        for inf in (plain, labelled)
    ]
    np.testing.assert_array_equal(checks[0].rows, checks[1].rows)
    np.testing.assert_allclose(checks[0].predicted, checks[1].predicted)
    pd.testing.assert_frame_equal(plain.summary_frame(Xq, query_labels), labelled.summary_frame(Xq, query_labels))
    # an error inside a labelled method does not leave the output switched to arrays
    with pytest.raises(ValueError):
        labelled.influence(Xq, ["high", "low", "unseen"])
    assert isinstance(labelled.influence(Xq, query_labels), pd.DataFrame)
