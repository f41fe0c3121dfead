"""validate_leave_one_out: its numbers equal a hand-written refit loop."""

import numpy as np
import pandas as pd
import pytest
from conftest import sklearn_loss, tight_logistic
from scipy.stats import spearmanr
from sklearn.base import clone

from sklearn_influence import InfluenceEstimator, validate_leave_one_out


def test_equals_a_hand_written_refit_loop(binary_data):
    X, y, Xq, yq = binary_data
    estimator = tight_logistic(C=0.5)
    inf = InfluenceEstimator(estimator).fit(X, y)
    check = validate_leave_one_out(inf, X, y, Xq, yq, n_top=8, n_random=4, random_state=0, n_jobs=2)
    predicted = inf.leave_one_out(Xq, yq, method="newton").mean(axis=0)
    np.testing.assert_array_equal(check.rows[:8], np.argsort(-np.abs(predicted))[:8])
    assert len(set(check.rows)) == 12
    base = sklearn_loss(clone(estimator).fit(X, y), Xq, yq).mean()
    by_hand = np.array(
        [
            sklearn_loss(clone(estimator).fit(np.delete(X, i, 0), np.delete(y, i)), Xq, yq).mean() - base
            for i in check.rows
        ]
    )
    np.testing.assert_allclose(check.actual, by_hand, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(check.predicted, predicted[check.rows])
    assert check.pearson == pytest.approx(np.corrcoef(check.predicted, by_hand)[0, 1])
    assert check.spearman == pytest.approx(spearmanr(check.predicted, by_hand)[0])
    assert check.slope == pytest.approx(check.predicted @ by_hand / (check.predicted @ check.predicted))
    assert check.pearson > 0.99 and check.noise_floor < 1e-8


def test_pandas_input_and_bad_arguments(binary_data):
    X, y, Xq, yq = binary_data
    frame, labels = pd.DataFrame(X), pd.Series(y)
    inf = InfluenceEstimator(tight_logistic()).fit(frame, labels)
    check = validate_leave_one_out(inf, frame, labels, pd.DataFrame(Xq), yq, n_top=3, n_random=0)
    assert check.rows.shape == (3,)
    with pytest.raises(ValueError, match="n_top must be a non-negative integer"):
        validate_leave_one_out(inf, frame, labels, Xq, yq, n_top=-1)
    with pytest.raises(ValueError, match="at least 1"):
        validate_leave_one_out(inf, frame, labels, Xq, yq, n_top=0, n_random=0)
