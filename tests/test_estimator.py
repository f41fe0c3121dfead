"""InfluenceEstimator as a scikit-learn citizen: checks, delegation, clone, grid search,
pipelines, pickling, pandas, prefit models, and clear errors for bad input."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tight_logistic
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_influence import InfluenceEstimator

QUERY_METHODS = ["influence", "leave_one_out", "perturbation_influence", "loss"]
TRAIN_METHODS = ["self_influence", "influence_params", "leave_one_out_params"]
DELEGATED = ["predict", "predict_proba", "predict_log_proba", "decision_function", "score", "classes_"]


# Every check passes: no expected failures to list.
@parametrize_with_checks([InfluenceEstimator(LogisticRegression()), InfluenceEstimator(Ridge())])
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # default tolerances: the stationarity warning
        check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("inner", [LogisticRegression(), Ridge()], ids=lambda e: type(e).__name__)
def test_delegation_hasattr_parity(inner, binary_data):
    X, y, _, _ = binary_data
    unfitted = InfluenceEstimator(inner)
    fitted = InfluenceEstimator(inner).fit(X, y)
    fitted_inner = clone(inner).fit(X, y)
    for name in DELEGATED:
        if name != "classes_":
            assert hasattr(unfitted, name) == hasattr(inner, name), name
        assert hasattr(fitted, name) == hasattr(fitted_inner, name), name
    np.testing.assert_allclose(fitted.predict(X), fitted_inner.predict(X))
    assert fitted.score(X, y) == pytest.approx(fitted_inner.score(X, y))


def test_methods_before_fit_raise_not_fitted(binary_data):
    X, y, _, _ = binary_data
    inf = InfluenceEstimator(LogisticRegression())
    for name in QUERY_METHODS:
        with pytest.raises(NotFittedError):
            getattr(inf, name)(X, y)
    for name in TRAIN_METHODS + ["predict"]:
        with pytest.raises(NotFittedError):
            getattr(inf, name)() if name != "predict" else inf.predict(X)


def test_clone_and_get_params():
    inf = InfluenceEstimator(LogisticRegression(C=3.0), solver="cg", damping=0.1)
    params = inf.get_params()
    assert params["estimator__C"] == 3.0 and params["damping"] == 0.1
    copy = clone(inf)
    assert copy.get_params()["estimator__C"] == 3.0 and copy.estimator is not inf.estimator


def test_grid_search_over_inner_parameter(binary_data):
    X, y, _, _ = binary_data
    search = GridSearchCV(InfluenceEstimator(tight_logistic()), {"estimator__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["estimator__C"] in (0.01, 1.0)
    assert search.best_estimator_.influence(X[:2], y[:2]).shape == (2, len(y))


def test_pipeline_inside_influence_estimator_uses_fixed_transformers(binary_data):
    X, y, Xq, yq = binary_data
    raw = X * 10.0 + 3.0  # the pipeline standardises it back
    pipe = make_pipeline(StandardScaler(), tight_logistic(C=0.5))
    piped = InfluenceEstimator(pipe, preprocessing="fixed").fit(raw, y)
    scaled = StandardScaler().fit(raw)
    direct = InfluenceEstimator(tight_logistic(C=0.5)).fit(scaled.transform(raw), y)
    np.testing.assert_allclose(piped.influence(Xq * 10 + 3, yq), direct.influence(scaled.transform(Xq * 10 + 3), yq))
    np.testing.assert_allclose(piped.predict_proba(Xq * 10 + 3), direct.predict_proba(scaled.transform(Xq * 10 + 3)))


def test_pipeline_sample_weight_is_routed_to_the_model(binary_data):
    X, y, Xq, yq = binary_data
    weight = np.linspace(0.5, 2.0, len(y))
    piped = InfluenceEstimator(make_pipeline(StandardScaler(), tight_logistic()), preprocessing="fixed").fit(
        X, y, sample_weight=weight
    )
    direct = InfluenceEstimator(tight_logistic()).fit(StandardScaler().fit_transform(X), y, sample_weight=weight)
    np.testing.assert_allclose(piped.params_, direct.params_, rtol=1e-8)


def test_influence_estimator_inside_pipeline(binary_data):
    X, y, Xq, yq = binary_data
    pipe = make_pipeline(StandardScaler(), InfluenceEstimator(tight_logistic())).fit(X, y)
    assert pipe.score(Xq, yq) > 0.5
    inner = pipe[-1]
    assert inner.influence(pipe[:-1].transform(Xq), yq).shape == (len(yq), len(y))


def test_frozen_prefit_model_is_not_refitted(binary_data):
    X, y, Xq, yq = binary_data
    prefit = tight_logistic(C=0.5).fit(X, y)
    coef_before = prefit.coef_.copy()
    frozen = InfluenceEstimator(FrozenEstimator(prefit)).fit(X, y)
    assert frozen.estimator_.estimator is prefit
    np.testing.assert_array_equal(prefit.coef_, coef_before)
    fresh = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y)
    np.testing.assert_allclose(frozen.influence(Xq, yq), fresh.influence(Xq, yq))


def test_frozen_pipeline(binary_data):
    X, y, Xq, yq = binary_data
    prefit = make_pipeline(StandardScaler(), tight_logistic()).fit(X, y)
    inf = InfluenceEstimator(FrozenEstimator(prefit)).fit(X, y)
    assert inf.influence(Xq, yq).shape == (len(yq), len(y))


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_pickle_round_trip(solver, binary_data):
    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic(), solver=solver).fit(X, y)
    restored = pickle.loads(pickle.dumps(inf))
    np.testing.assert_array_equal(restored.influence(Xq, yq), inf.influence(Xq, yq))


def test_pandas_input_with_string_labels(multiclass_data):
    X, y, Xq, yq = multiclass_data
    names = np.array(["barolo", "grignolino", "barbera"])
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    query = pd.DataFrame(Xq, columns=frame.columns)
    inf = InfluenceEstimator(tight_logistic(C=0.5)).fit(frame, pd.Series(names[y]))
    numeric = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y)
    # classes are sorted alphabetically, so the coefficient rows are permuted, but the influence is the same
    np.testing.assert_allclose(inf.influence(query, names[yq]), numeric.influence(Xq, yq), rtol=1e-6, atol=1e-10)
    assert list(inf.feature_names_in_) == list(frame.columns)
    with pytest.raises(ValueError, match="never seen in training.*'nebbiolo'"):
        inf.influence(query[:1], ["nebbiolo"])


def test_caller_arrays_are_not_modified(binary_data):
    X, y, Xq, yq = binary_data
    copies = [a.copy() for a in (X, y, Xq, yq)]
    weight = np.ones(len(y))
    inf = InfluenceEstimator(tight_logistic(class_weight="balanced")).fit(X, y, sample_weight=weight)
    for name in QUERY_METHODS:
        getattr(inf, name)(Xq, yq)
    inf.leave_one_out(Xq, yq, method="newton")
    for name in TRAIN_METHODS:
        getattr(inf, name)()
    for before, after in zip(copies, (X, y, Xq, yq)):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(weight, 1.0)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(damping=-1.0), r"damping must be a finite number >= 0; got damping=-1.0"),
        (dict(damping=np.nan), r"damping must be"),
        (dict(solver="newton"), r"solver must be one of \('auto', 'exact', 'cg', 'lissa'\); got solver='newton'"),
        (dict(cg_tol=0.0), r"cg_tol must be a finite number > 0"),
        (dict(cg_max_iter=0), r"cg_max_iter must be None or a positive integer"),
    ],
)
def test_bad_constructor_parameters(params, match, binary_data):
    X, y, _, _ = binary_data
    with pytest.raises(ValueError, match=match):
        InfluenceEstimator(LogisticRegression(), **params).fit(X, y)


def test_bad_input_errors(binary_data):
    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        InfluenceEstimator(LogisticRegression()).fit(np.where(X == X[0, 0], np.nan, X), y)
    with pytest.raises(ValueError, match="NaN"):
        inf.influence(np.where(Xq == Xq[0, 0], np.nan, Xq), yq)
    with pytest.raises(ValueError, match="infinity"):
        inf.influence(np.where(Xq == Xq[0, 0], np.inf, Xq), yq)
    with pytest.raises(ValueError, match="X has 7 features, but InfluenceEstimator is expecting 8"):
        inf.influence(Xq[:, :7], yq)
    with pytest.raises(ValueError, match="inconsistent numbers of rows: 10 and 9"):
        inf.influence(Xq, yq[:9])
    with pytest.raises(ValueError, match=r"never seen in training: \[7\]"):
        inf.influence(Xq[:1], [7])
    with pytest.raises(ValueError, match="y is required"):
        inf.influence(Xq, None)
    with pytest.raises(ValueError, match=r"method must be one of \('influence', 'newton'\); got method='exact'"):
        inf.leave_one_out(Xq, yq, method="exact")
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 400\); got values from 0 to 400"):
        inf.self_influence(indices=[0, 400])
    with pytest.raises(ValueError, match="indices must be None, a 1-D array"):
        inf.self_influence(indices=[0.5])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(400,\)"):
        InfluenceEstimator(FrozenEstimator(inf.estimator_)).fit(X, y, sample_weight=np.ones(3))
    ridge = InfluenceEstimator(Ridge()).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="y contains NaN"):
        ridge.influence(Xq, np.full(len(yq), np.nan))


def test_boolean_mask_selects_rows(binary_data):
    X, y, _, _ = binary_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    mask = np.zeros(len(y), bool)
    mask[[3, 9]] = True
    np.testing.assert_array_equal(inf.self_influence(indices=mask), inf.self_influence(indices=[3, 9]))


def test_empty_indices_give_empty_results(binary_data):
    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    for indices in ([], np.array([], dtype=int), np.zeros(len(y), bool)):
        assert inf.self_influence(indices=indices).shape == (0,)
        assert inf.influence(Xq, yq, indices=indices).shape == (len(yq), 0)
        assert inf.leave_one_out_params(method="newton", indices=indices).shape == (0, inf.params_.size)


def test_query_errors_for_wrong_response_shape_and_label_type(regression_data, binary_data):
    X, Y, Xq, Yq = regression_data
    inf = InfluenceEstimator(Ridge()).fit(X, Y)
    with pytest.raises(ValueError, match=r"y must have shape \(n_samples, 3\).*got shape \(8,\)"):
        inf.influence(Xq, Yq[:, 0])
    Xb, yb, _, _ = binary_data
    names = np.array(["benign", "malignant"])[yb]
    clf = InfluenceEstimator(tight_logistic()).fit(Xb, names)
    with pytest.raises(ValueError, match="never seen in training"):
        clf.influence(Xb[:2], np.array(["benign", 1], dtype=object))


def test_pipeline_sample_weight_with_metadata_routing(binary_data):
    from sklearn import config_context

    X, y, _, _ = binary_data
    weight = np.linspace(0.5, 2.0, len(y))
    direct = InfluenceEstimator(tight_logistic()).fit(StandardScaler().fit_transform(X), y, sample_weight=weight)
    with config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        model = make_pipeline(scaler, tight_logistic().set_fit_request(sample_weight=True))
        piped = InfluenceEstimator(model).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(piped.params_, direct.params_, rtol=1e-8)
