"""Mislabel ranking and the training-set attack, against scikit-learn refits and hand counts."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import sklearn_loss, tight_logistic
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sklearn_influence import (
    InfluenceEstimator,
    mislabel_detection_curve,
    rank_mislabel_candidates,
    training_set_attack,
)


def test_training_loss_ranking_follows_scikit_learns_probabilities(binary_data):
    X, y, _, _ = binary_data
    estimator = tight_logistic()
    inf = InfluenceEstimator(estimator).fit(X, y)
    by_hand = sklearn_loss(clone(estimator).fit(X, y), X, y)
    ranking = rank_mislabel_candidates(inf, by="training_loss")
    assert np.all(np.diff(by_hand[ranking]) <= 1e-12)
    assert sorted(ranking) == list(range(len(y)))
    with pytest.raises(ValueError, match="by must be one of"):
        rank_mislabel_candidates(inf, by="margin")


def test_self_influence_ranking_finds_flipped_labels(binary_data):
    X, y, _, _ = binary_data
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), size=20, replace=False)
    noisy = y.copy()
    noisy[flipped] = 1 - noisy[flipped]
    inf = InfluenceEstimator(tight_logistic()).fit(X, noisy)
    is_flipped = np.isin(np.arange(len(y)), flipped)
    found = mislabel_detection_curve(rank_mislabel_candidates(inf), is_flipped, [0.1])
    random_found = mislabel_detection_curve(rng.permutation(len(y)), is_flipped, [0.1])
    assert found[0] >= 0.5 > random_found[0] + 0.2  # at random, 10 % checked finds about 10 %


def test_detection_curve_counts_by_hand():
    ranking = np.array([3, 0, 4, 1, 2])
    is_mislabeled = np.array([False, True, False, True, False])  # rows 1 and 3
    found = mislabel_detection_curve(ranking, is_mislabeled, [0, 0.2, 0.6, 0.8, 1])
    np.testing.assert_allclose(found, [0, 0.5, 0.5, 1, 1])
    with pytest.raises(ValueError, match="fractions must lie in"):
        mislabel_detection_curve(ranking, is_mislabeled, [1.5])
    with pytest.raises(ValueError, match="fractions must lie in"):
        mislabel_detection_curve(ranking, is_mislabeled, [np.nan])
    with pytest.raises(ValueError, match="must be a permutation"):
        mislabel_detection_curve([0, 0, 0, 0, 0], is_mislabeled, [0.5])
    with pytest.raises(ValueError, match="same length"):
        mislabel_detection_curve(ranking, is_mislabeled[:4], [0.5])
    with pytest.raises(ValueError, match="nothing to find"):
        mislabel_detection_curve(ranking, np.zeros(5, dtype=bool), [0.5])


@pytest.fixture(scope="module")
def attack_case(binary_data):
    """A correctly classified test point with a small margin, and the fitted model."""
    X, y, Xq, yq = binary_data
    estimator = tight_logistic(C=1.0)
    inf = InfluenceEstimator(estimator).fit(X, y)
    margin = inf.decision_function(Xq) * np.where(yq == 1, 1, -1)
    j = np.flatnonzero(margin > 0)[np.argmin(margin[margin > 0])]
    return X, y, Xq[j : j + 1], yq[j : j + 1], estimator, inf


@pytest.mark.parametrize("target_class", [0, 1])
def test_one_attack_step_moves_loss_and_margin_as_perturbation_influence_predicts(binary_data, target_class):
    X, y, Xq, yq = binary_data
    estimator = tight_logistic(C=1.0)
    inf = InfluenceEstimator(estimator).fit(X, y)
    j = np.flatnonzero(yq == target_class)[0]
    Xt, yt = Xq[j : j + 1], yq[j : j + 1]
    X_before = X.copy()
    result = training_set_attack(inf, X, y, Xt, yt, epsilon=0.05, n_rows=3, max_steps=1)
    np.testing.assert_array_equal(X, X_before)  # the caller's array is untouched
    assert result.n_steps == 1 and result.rows.shape == (3,)
    # ground truth: scikit-learn's own refit on the perturbed rows
    base, refit = clone(estimator).fit(X, y), clone(estimator).fit(result.X, y)
    actual = sklearn_loss(refit, Xt, yt).mean() - sklearn_loss(base, Xt, yt).mean()
    predicted = result.history["predicted_target_loss"][1] - result.history["target_loss"][0]
    assert actual > 0 and predicted == pytest.approx(actual, rel=0.05)
    assert result.history["target_loss"][1] == pytest.approx(sklearn_loss(refit, Xt, yt).mean(), rel=1e-6)
    # the margin: decision function signed towards the true class, lowered as predicted
    sign = 1 if target_class == 1 else -1
    margins = sign * np.r_[base.decision_function(Xt), refit.decision_function(Xt)]
    np.testing.assert_allclose(result.history["target_margin"], margins, rtol=1e-6)
    predicted_margin = result.history["predicted_target_margin"][1] - margins[0]
    assert margins[1] < margins[0] and predicted_margin == pytest.approx(margins[1] - margins[0], rel=0.05)
    np.testing.assert_allclose(np.abs(result.X_rows - X[result.rows]), 0.05 / 4)  # one sign step of ε/4
    others = np.setdiff1d(np.arange(len(y)), result.rows)
    np.testing.assert_array_equal(result.X[others], X[others])


def test_attack_stays_in_the_box_and_flips_the_target(attack_case):
    X, y, Xt, yt, estimator, inf = attack_case
    result = training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, n_rows=5, max_steps=15, step_size=0.5)
    assert result.success
    refit = clone(estimator).fit(result.X, y)
    assert refit.predict(Xt)[0] != yt[0]  # scikit-learn agrees the prediction flipped
    assert np.max(np.abs(result.X_rows - X[result.rows])) <= 1.0 + 1e-12
    history = result.history
    assert len(history["target_loss"]) == result.n_steps + 1 and history["accepted"][0]
    assert np.all(np.diff(history["target_loss"][history["accepted"]]) > 0)  # kept steps raise the loss
    assert result.history["misclassified"][-1] == 1 and result.history["misclassified"][0] == 0

    low, high = X[:2].min(axis=0) - 0.2, X[:2].max(axis=0) + 0.2
    bounded = training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, indices=[0, 1], max_steps=3, bounds=(low, high))
    np.testing.assert_array_equal(bounded.rows, [0, 1])
    assert np.all((bounded.X_rows >= low - 1e-12) & (bounded.X_rows <= high + 1e-12))
    assert np.any(bounded.X_rows == low) or np.any(bounded.X_rows == high)  # the bounds were active
    with pytest.raises(ValueError, match="must contain the attacked rows"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, indices=[0, 1], bounds=(-0.1, 0.1))


def test_attack_bad_input(attack_case):
    X, y, Xt, yt, estimator, inf = attack_case
    with pytest.raises(ValueError, match="epsilon must be a finite float or an array of 8"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=[1.0, 2.0])
    with pytest.raises(ValueError, match="epsilon must be a finite float"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=np.nan)
    with pytest.raises(ValueError, match="epsilon must be non-negative with at least one positive"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=0.0)
    with pytest.raises(ValueError, match="step_size must be non-negative with at least one positive"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, step_size=0)
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, max_steps=0)
    with pytest.raises(ValueError, match="n_rows must be an integer"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, n_rows=0)
    with pytest.raises(ValueError, match="each once"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, indices=[3, 3])
    with pytest.raises(ValueError, match="each once"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, indices=[])
    with pytest.raises(ValueError, match="bounds must be a pair"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, bounds=5.0)
    with pytest.raises(ValueError, match="X must be the training data"):
        training_set_attack(inf, X[:-1], y[:-1], Xt, yt, epsilon=1.0)
    with pytest.raises(ValueError, match="sample_weight differs from the weights"):
        training_set_attack(inf, X, y, Xt, yt, epsilon=1.0, sample_weight=np.arange(len(y)) % 3 + 1.0)
    piped = InfluenceEstimator(make_pipeline(StandardScaler(), tight_logistic())).fit(X, y)
    with pytest.raises(ValueError, match="pipeline with transformers"):
        training_set_attack(piped, X, y, Xt, yt, epsilon=1.0)


def test_an_overshooting_step_is_undone_and_halved(binary_data):
    X, y, Xq, yq = binary_data
    estimator = tight_logistic(C=1.0)
    inf = InfluenceEstimator(estimator).fit(X, y)
    # a huge step: the first one overshoots (the refitted target loss falls)
    result = training_set_attack(inf, X, y, Xq[6:7], yq[6:7], epsilon=100, step_size=50, n_rows=1, max_steps=3)
    history = result.history
    assert list(history["accepted"][:3]) == [True, False, True]
    np.testing.assert_allclose(history["max_abs_change"][1:3], [50, 25])  # the retry starts from x⁰ with α/2
    rejected = clone(estimator).fit(X, y)  # the rejected loss is scikit-learn's on the overshooting data
    bad = X.copy()
    bad[result.rows] += 50 * np.sign(inf.perturbation_influence(Xq[6:7], yq[6:7], indices=result.rows)[0])
    assert history["target_loss"][1] == pytest.approx(sklearn_loss(clone(estimator).fit(bad, y), Xq[6:7], yq[6:7])[0])
    assert history["target_loss"][1] < sklearn_loss(rejected, Xq[6:7], yq[6:7])[0]


def test_attack_with_class_and_sample_weights_predicts_the_weighted_refit(binary_data):
    X, y, Xq, yq = binary_data
    estimator = tight_logistic(C=1.0, class_weight={0: 3.0, 1: 1.0})
    weights = 1.0 + (np.arange(len(y)) % 3)
    inf = InfluenceEstimator(estimator).fit(X, y, sample_weight=weights)
    Xt, yt = Xq[:2], yq[:2].reshape(-1, 1)  # two targets, labels as a column
    result = training_set_attack(inf, X, y, Xt, yt, epsilon=0.05, n_rows=3, max_steps=1, sample_weight=weights)
    base = clone(estimator).fit(X, y, sample_weight=weights)
    refit = clone(estimator).fit(result.X, y, sample_weight=weights)
    actual = sklearn_loss(refit, Xt, yt.ravel()).mean() - sklearn_loss(base, Xt, yt.ravel()).mean()
    predicted = result.history["predicted_target_loss"][1] - result.history["target_loss"][0]
    assert predicted == pytest.approx(actual, rel=0.05)
    assert result.history["misclassified"][0] == np.mean(base.predict(Xt) != yt.ravel())


def test_attack_keeps_dataframe_labels_and_fixed_features(binary_data):
    X, y, Xq, yq = binary_data
    columns = [f"f{c}" for c in range(X.shape[1])]
    frame = pd.DataFrame(X, index=[f"row_{i}" for i in range(len(X))], columns=columns)
    inf = InfluenceEstimator(tight_logistic()).fit(frame, y)
    epsilon = np.r_[0.0, np.full(X.shape[1] - 1, 0.2)]  # feature 0 may not move
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fitted without feature names" warnings from the refits
        result = training_set_attack(inf, frame, y, pd.DataFrame(Xq[:1], columns=columns), yq[:1], epsilon=epsilon)
    assert list(result.X.index) == list(frame.index) and list(result.X.columns) == columns
    assert list(result.row_labels) == [f"row_{i}" for i in result.rows]
    np.testing.assert_array_equal(result.X_rows[:, 0], X[result.rows, 0])
    assert np.any(result.X_rows[:, 1:] != X[result.rows, 1:])
    assert list(result.estimator.feature_names_in_) == columns


def test_attack_on_a_target_with_a_flat_loss_warns(binary_data):
    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(LinearSVC(C=1.0, tol=1e-12, max_iter=100_000)).fit(X, y)  # squared hinge
    margins = inf.decision_function(Xq) * np.where(yq == 1, 1, -1)
    j = np.argmax(margins)  # beyond the margin: the squared hinge is exactly flat there
    assert margins[j] > 1.5
    with pytest.warns(UserWarning, match="I_pert,loss is zero"):
        result = training_set_attack(inf, X, y, Xq[j : j + 1], yq[j : j + 1], epsilon=1.0, n_rows=2)
    assert result.n_steps == 0 and not result.success


def test_attack_on_a_multiclass_model_runs_without_margins(multiclass_data):
    X, y, Xq, yq = multiclass_data
    inf = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y)
    result = training_set_attack(inf, X, y, Xq[:1], yq[:1], epsilon=0.1, n_rows=2, max_steps=2)
    assert np.isnan(result.history["target_margin"]).all()
    refit = tight_logistic(C=0.5).fit(result.X, y)
    assert result.history["target_loss"][-1] == pytest.approx(sklearn_loss(refit, Xq[:1], yq[:1])[0], rel=1e-6)


def test_attack_on_a_regressor_raises_the_squared_error(regression_data):
    X, Y, Xq, Yq = regression_data
    inf = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, Y[:, 0])
    result = training_set_attack(inf, X, Y[:, 0], Xq[:1], Yq[:1, 0], epsilon=0.5, max_steps=3)
    assert not result.success and np.isnan(result.history["misclassified"]).all()
    assert np.isnan(result.history["target_margin"]).all()
    refit = Ridge(alpha=1.0).fit(result.X, Y[:, 0])
    assert result.history["target_loss"][-1] == pytest.approx((refit.predict(Xq[:1])[0] - Yq[0, 0]) ** 2)
    assert result.history["target_loss"][-1] > result.history["target_loss"][0]
