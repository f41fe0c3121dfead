"""class_weight="balanced": a refit without a row re-derives every row's class weight."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from sklearn_influence import InfluenceEstimator

N = 150


@pytest.fixture(scope="module")
def balanced():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 3))
    y = (X[:, 0] + 0.8 * rng.standard_normal(N) > 0.7).astype(int)  # about 1 positive in 4
    model = LogisticRegression(class_weight="balanced", solver="newton-cholesky", tol=1e-12)
    rows = np.arange(0, N, 10)
    refits = [clone(model).fit(np.delete(X, i, 0), np.delete(y, i)) for i in rows]
    return X, y, model, rows, refits


def _log_loss(model, X, y):
    return -np.log(model.predict_proba(X)[np.arange(len(y)), y])


def test_newton_leave_one_out_follows_the_reweighting(balanced):
    X, y, model, rows, refits = balanced
    inf = InfluenceEstimator(model).fit(X, y)
    Xq, yq = X[:5], y[:5]
    actual = np.array([_log_loss(m, Xq, yq) for m in refits]).T - _log_loss(inf.estimator_, Xq, yq)[:, None]
    predicted = inf.leave_one_out(Xq, yq, method="newton", indices=rows)
    assert np.abs(predicted - actual).max() < 0.08 * np.abs(actual).max()  # 20-110 % with the weights held fixed
    params = np.array([np.r_[m.coef_.ravel(), m.intercept_] for m in refits]) - inf.params_
    predicted = inf.leave_one_out_params(method="newton", indices=rows)
    assert np.abs(predicted - params).max() < 0.08 * np.abs(params).max()


def test_first_order_says_it_holds_the_weights_fixed(balanced):
    X, y, model, rows, _ = balanced
    inf = InfluenceEstimator(model).fit(X, y)
    with pytest.warns(UserWarning, match="class_weight='balanced' is recomputed"):
        inf.leave_one_out(X[:2], y[:2], method="influence", indices=rows)


def test_refit_pipeline_holds_the_weights_fixed_and_says_so(balanced):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, model, rows, _ = balanced
    inf = InfluenceEstimator(make_pipeline(StandardScaler(), model)).fit(X, y)
    with pytest.warns(UserWarning, match="not followed together with a pipeline's statistics"):
        out = inf.leave_one_out(X[:2], y[:2], method="newton", indices=rows)
    assert np.all(np.isfinite(out))


def test_pandas_output_through_the_group_route(balanced):
    X, y, model, rows, _ = balanced
    inf = InfluenceEstimator(model).fit(X, y).set_output(transform="pandas")
    plain = InfluenceEstimator(model).fit(X, y).leave_one_out(X[:3], None, measure="predict_proba", method="newton")
    labelled = inf.leave_one_out(X[:3], None, measure="predict_proba", method="newton")
    np.testing.assert_allclose(labelled.to_numpy(), plain.reshape(labelled.shape))
