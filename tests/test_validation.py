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


def test_summary_frame_and_labelled_results(regression_data):
    X, Y, Xq, Yq = regression_data
    names = [f"patient_{i}" for i in range(len(X))]
    frame = pd.DataFrame(X, index=names)
    query = pd.DataFrame(Xq, index=[f"query_{j}" for j in range(len(Xq))])
    from sklearn.linear_model import Ridge

    inf = InfluenceEstimator(Ridge(alpha=0.5)).fit(frame, Y[:, 0])
    summary = inf.summary_frame(query, Yq[:, 0])
    assert list(summary.index) == names
    assert list(summary.columns) == ["self_influence", "training_loss", "leverage", "loo_mean_query_loss"]
    # leverage is the classic ridge hat value h_ii = x̃ᵢᵀ (X̃ᵀX̃ + αJ)⁻¹ x̃ᵢ
    Xt = np.c_[X, np.ones(len(X))]
    J = np.diag(np.r_[np.ones(X.shape[1]), 0.0])
    hat = np.einsum("ij,ji->i", Xt, np.linalg.solve(Xt.T @ Xt + 0.5 * J, Xt.T))
    np.testing.assert_allclose(summary["leverage"], hat, rtol=1e-9)
    np.testing.assert_allclose(summary["training_loss"], (Y[:, 0] - inf.predict(frame)) ** 2, rtol=1e-9)
    np.testing.assert_allclose(summary["self_influence"], inf.self_influence())
    np.testing.assert_allclose(
        summary["loo_mean_query_loss"], inf.leave_one_out(query, Yq[:, 0], method="newton").mean(axis=0)
    )
    labelled = inf.to_frame(inf.influence(query, Yq[:, 0], indices=[3, 7]), query, indices=[3, 7])
    assert list(labelled.index) == list(query.index) and list(labelled.columns) == ["patient_3", "patient_7"]
    long = inf.to_frame(labelled.to_numpy(), query, indices=[3, 7], layout="long")
    assert list(long.columns) == ["query", "train", "value"] and len(long) == 2 * len(query)
    for _, row in long.iterrows():
        assert row["value"] == labelled.loc[row["query"], row["train"]]
    series = inf.to_frame(inf.self_influence())
    assert list(series.index) == names
    assert inf.to_frame(inf.self_influence(), layout="long")["train"].tolist() == names
    with pytest.raises(ValueError, match="layout must be"):
        inf.to_frame(inf.self_influence(), layout="tidy")
    with pytest.raises(ValueError, match="result must have shape"):
        inf.to_frame(inf.perturbation_influence(query, Yq[:, 0], indices=[3, 7]), query, indices=[3, 7])
    # by hand: row (query j, train i) of the long frame holds influence[j, i], NaN kept
    values = np.array([[1.0, np.nan], [3.0, 4.0]])
    long_by_hand = inf.to_frame(values, query.iloc[:2], indices=[3, 7], layout="long")
    assert long_by_hand["query"].tolist() == ["query_0", "query_0", "query_1", "query_1"]
    assert long_by_hand["train"].tolist() == ["patient_3", "patient_7", "patient_3", "patient_7"]
    np.testing.assert_array_equal(long_by_hand["value"], [1.0, np.nan, 3.0, 4.0])
    plain = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, Y[:, 0])
    assert list(plain.summary_frame().index) == list(range(len(X)))


def test_leave_one_out_display(binary_data):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_influence import LeaveOneOutDisplay

    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    display = LeaveOneOutDisplay.from_estimator(inf, X, y, Xq, yq, n_top=6, n_random=2, random_state=0)
    check = validate_leave_one_out(inf, X, y, Xq, yq, n_top=6, n_random=2, random_state=0)
    np.testing.assert_allclose(display.scatter_.get_offsets(), np.c_[check.actual, check.predicted])
    assert "Pearson" in display.ax_.get_title() and display.figure_ is display.ax_.figure
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert LeaveOneOutDisplay(predicted=[1.0, 2.0], actual=[1.1, 1.9]).plot(ax=ax).ax_ is ax
    plt.close("all")


def test_validation_keeps_smoothing_weights_and_refits_frozen_models(binary_data):
    from sklearn.frozen import FrozenEstimator
    from sklearn.svm import LinearSVC

    X, y, Xq, yq = binary_data
    svm = LinearSVC(loss="hinge", C=0.1, tol=1e-10, max_iter=100_000, random_state=0)
    inf = InfluenceEstimator(svm, smoothing=0.1).fit(X, y)
    check = validate_leave_one_out(inf, X, y, Xq, yq, n_top=4, n_random=0)
    assert np.all(np.isfinite(check.actual))
    weight = np.linspace(0.5, 2.0, len(y))
    weighted = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y, sample_weight=weight)
    check = validate_leave_one_out(weighted, X, y, Xq, yq, n_top=5, n_random=0, sample_weight=weight)
    assert check.pearson > 0.99 and check.noise_floor < 1e-8
    # a frozen model is refitted as a clone of the model it freezes (by hand in test_robustness_validation)
    frozen = InfluenceEstimator(FrozenEstimator(tight_logistic().fit(X, y))).fit(X, y)
    check = validate_leave_one_out(frozen, X, y, Xq, yq, n_top=3, n_random=0)
    assert check.pearson > 0.99 and check.noise_floor < 1e-8
