"""Search objects inside InfluenceEstimator (issue 10): the search runs in ``fit``, its refitted
``best_estimator_`` is analysed, and every unsupported wrapped estimator is refused before any fit."""

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import (
    Lasso,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeClassifier,
    RidgeCV,
)
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from sklearn_influence import InfluenceEstimator, validate_leave_one_out


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 4)) * [1.0, 10.0, 100.0, 0.1] + 3.0  # unscaled: the pipeline standardises
    y = (X[:, 0] + 0.1 * X[:, 1] + rng.standard_normal(90) > 3.0).astype(int)
    return X, y, np.linspace(0.5, 1.5, 90)


def _pipeline():
    return make_pipeline(StandardScaler(), LogisticRegression(solver="newton-cholesky", tol=1e-12))


SEARCHES = [
    GridSearchCV(_pipeline(), {"logisticregression__C": [0.01, 0.3, 3.0]}, cv=3),
    RandomizedSearchCV(_pipeline(), {"logisticregression__C": loguniform(1e-2, 1e1)}, n_iter=3, cv=3, random_state=0),
    HalvingGridSearchCV(_pipeline(), {"logisticregression__C": [0.01, 0.3, 3.0]}, cv=3, random_state=0),
]


@pytest.mark.parametrize("preprocessing", ["refit", "fixed"])
@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: type(s).__name__)
def test_search_equals_its_best_pipeline_fitted_on_its_own(search, preprocessing, data):
    X, y, weights = data
    inf = InfluenceEstimator(search, preprocessing=preprocessing).fit(X, y, sample_weight=weights)
    fitted_search = inf.estimator_
    assert hasattr(fitted_search, "best_estimator_")  # the search ran inside fit
    # independent path: the best hyper-parameters on a fresh pipeline, fitted and analysed separately
    best = clone(search.estimator).set_params(**fitted_search.best_params_)
    direct = InfluenceEstimator(best, preprocessing=preprocessing).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(inf.params_, direct.params_, rtol=1e-9)
    for method in ("influence", "leave_one_out"):
        np.testing.assert_allclose(
            getattr(inf, method)(X[:4], y[:4]), getattr(direct, method)(X[:4], y[:4]), rtol=1e-7, atol=1e-12
        )
    np.testing.assert_allclose(inf.self_influence(), direct.self_influence(), rtol=1e-7)
    # the weights reached the final model of the refitted best pipeline
    by_hand = clone(best).fit(X, y, logisticregression__sample_weight=weights)
    np.testing.assert_allclose(inf.params_[:4], by_hand[-1].coef_.ravel(), rtol=1e-9)
    # delegation goes through the search (its best estimator)
    np.testing.assert_array_equal(inf.predict(X), fitted_search.predict(X))
    np.testing.assert_allclose(inf.predict_proba(X), fitted_search.predict_proba(X))
    assert inf.score(X, y) == pytest.approx(fitted_search.score(X, y))
    np.testing.assert_array_equal(inf.classes_, [0, 1])


def test_search_validates_against_refits_with_the_best_parameters(data):
    X, y, _ = data
    inf = InfluenceEstimator(SEARCHES[0]).fit(X, y)
    result = validate_leave_one_out(inf, X, y, X[:3], y[:3], n_top=5, n_random=5, random_state=0)
    assert result["pearson"] > 0.99


def test_a_grid_over_supported_models_is_accepted(data):
    X, y, _ = data
    grid = [
        {"clf": [LogisticRegression(solver="newton-cholesky", tol=1e-12)]},
        {"clf": [RidgeClassifier()], "clf__alpha": [0.1, 1.0]},
    ]
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]), grid, cv=3)
    inf = InfluenceEstimator(search).fit(X, y)
    assert inf.influence(X[:2], y[:2]).shape == (2, len(y))


def _refuse_fit(*args, **kwargs):
    raise AssertionError("fit was called before the estimator was checked")


def _search(estimator, grid, **kwargs):
    return GridSearchCV(estimator, grid, cv=3, **kwargs)


UNSUPPORTED = [
    ("forest", lambda: RandomForestClassifier(), TypeError, "RandomForestClassifier is not supported"),
    ("lasso", lambda: Lasso(), TypeError, "For Lasso, an L1 penalty is not differentiable: use Ridge"),
    (
        "pipeline-forest",
        lambda: make_pipeline(StandardScaler(), RandomForestClassifier()),
        TypeError,
        "Pipeline step 'randomforestclassifier' → RandomForestClassifier is not supported",
    ),
    (
        "search-forest",
        lambda: _search(RandomForestClassifier(), {"max_depth": [2, 3]}),
        TypeError,
        "GridSearchCV → RandomForestClassifier is not supported",
    ),
    (
        "search-refit-false",
        lambda: _search(_pipeline(), {"logisticregression__C": [1.0]}, refit=False),
        ValueError,
        r"GridSearchCV\(refit=False\).*use refit=True",
    ),
    (
        "search-l1-candidate",
        lambda: _search(
            _pipeline(), {"logisticregression__l1_ratio": [0.0, 1.0], "logisticregression__solver": ["saga"]}
        ),
        ValueError,
        r"candidate .*l1_ratio.*: 1\.0.*penalty='l1'",
    ),
    (
        "search-swaps-in-forest",
        lambda: _search(_pipeline(), {"logisticregression": [LogisticRegression(), RandomForestClassifier()]}),
        TypeError,
        "RandomForestClassifier is not supported",
    ),
    (
        "randomized-forest",
        lambda: RandomizedSearchCV(RandomForestClassifier(), {"max_depth": [2, 3]}, n_iter=2),
        TypeError,
        "RandomizedSearchCV → RandomForestClassifier",
    ),
    (
        "halving-forest",
        lambda: HalvingGridSearchCV(RandomForestClassifier(), {"max_depth": [2, 3]}),
        TypeError,
        "HalvingGridSearchCV → RandomForestClassifier",
    ),
    ("rbf-svc", lambda: SVC(kernel="rbf"), ValueError, r"SVC\(kernel='rbf'\) is not supported directly"),
    ("hinge-without-smoothing", lambda: LinearSVC(loss="hinge"), ValueError, "Set smoothing"),
    ("ridgecv-per-target", lambda: RidgeCV(alpha_per_target=True), ValueError, "alpha_per_target"),
    ("logisticcv-no-refit", lambda: LogisticRegressionCV(refit=False), ValueError, r"refit=False"),
    ("l1-logistic", lambda: LogisticRegression(l1_ratio=1.0, solver="saga"), ValueError, "penalty='l1'"),
    ("positive-ridge", lambda: Ridge(positive=True), ValueError, r"positive=True\) is a constrained fit"),
    ("pipeline-passthrough", lambda: make_pipeline(StandardScaler(), "passthrough"), TypeError, "no model"),
]


@pytest.mark.parametrize("make, error, match", [case[1:] for case in UNSUPPORTED], ids=[c[0] for c in UNSUPPORTED])
def test_unsupported_estimators_are_refused_before_any_fit(make, error, match, data, monkeypatch):
    X, y, _ = data
    estimator = make()
    for cls in (
        Pipeline,
        GridSearchCV,
        RandomizedSearchCV,
        HalvingGridSearchCV,
        StandardScaler,
        RandomForestClassifier,
        Lasso,
        LogisticRegression,
        LogisticRegressionCV,
        Ridge,
        RidgeCV,
        SVC,
        LinearSVC,
    ):
        monkeypatch.setattr(cls, "fit", _refuse_fit)
    monkeypatch.setattr(StandardScaler, "fit_transform", _refuse_fit)
    with pytest.raises(error, match=match) as raised:
        InfluenceEstimator(estimator).fit(X, y)
    if error is TypeError:  # the message lists what is supported
        assert "Supported estimators: LogisticRegression" in str(raised.value)


def test_a_subclass_of_a_supported_model_is_refused_by_name(data):
    X, y, _ = data

    class MyRidge(Ridge):
        fits = 0

        def fit(self, X, y, sample_weight=None):
            type(self).fits += 1
            return super().fit(X, y, sample_weight)

    with pytest.raises(TypeError, match="It subclasses Ridge.*use Ridge itself"):
        InfluenceEstimator(MyRidge()).fit(X, y.astype(float))
    assert MyRidge.fits == 0
