"""Displays draw what the numbers say: bars, images and curves against direct computations."""

import numpy as np
import pandas as pd
import pytest
from conftest import tight_logistic

from sklearn_influence import InfluenceEstimator, MislabelCurveDisplay, TopInfluencesDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_top_influences_bars_are_the_extremes_of_influence(binary_data):
    X, y, Xq, yq = binary_data
    names = [f"row_{i}" for i in range(len(X))]
    inf = InfluenceEstimator(tight_logistic()).fit(pd.DataFrame(X, index=names), y)
    display = TopInfluencesDisplay.from_estimator(inf, Xq[:1], yq[:1], k=3)
    assert list(display.ax_.patches) == list(display.bars_.patches)
    influence = inf.influence(Xq[:1], yq[:1])[0]
    order = np.argsort(influence)
    heights = [patch.get_width() for patch in display.ax_.patches]
    extremes = np.r_[order[:3], order[-3:]]  # bottom to top: most helpful ... most harmful
    np.testing.assert_allclose(heights, influence[extremes], rtol=1e-10)
    labels = [tick.get_text() for tick in display.ax_.get_yticklabels()]
    assert labels == [names[i] for i in extremes]
    with pytest.raises(ValueError, match="exactly one query row; got 2"):
        TopInfluencesDisplay.from_estimator(inf, Xq[:2].tolist(), yq[:2])
    with pytest.raises(ValueError, match="needs the training images"):
        display.plot(kind="images")
    with pytest.raises(ValueError, match="kind must be"):
        display.plot(kind="pie")


def test_top_influences_image_grid(binary_data):
    X, y, Xq, yq = binary_data  # 8 features drawn as 2 × 4 "images"
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    display = TopInfluencesDisplay.from_estimator(
        inf, Xq[:1], yq[:1], k=2, images=X.reshape(-1, 2, 4), query_image=Xq[0].reshape(2, 4), kind="images"
    )
    assert display.ax_.shape == (2, 3) and display.images_[1, 1] is display.ax_[1, 1].images[0]
    np.testing.assert_array_equal(display.ax_[1, 1].images[0].get_array(), X[display.harmful_indices[0]].reshape(2, 4))
    np.testing.assert_array_equal(display.ax_[0, 0].images[0].get_array(), Xq[0].reshape(2, 4))
    with pytest.raises(ValueError, match="shape \\(2, 3\\)"):
        display.plot(plt.subplots(1, 3)[1], kind="images")


def test_mislabel_curve_matches_a_hand_count():
    truth = np.array([True, False, True, False, False, False, False, False, False, False])
    good = np.array([0, 2, 1, 3, 4, 5, 6, 7, 8, 9])  # both flips first
    bad = good[::-1]
    display = MislabelCurveDisplay.from_rankings(
        {"good": [good, bad], "bad": [bad, bad]}, [truth, truth], fractions=[0.1, 0.2, 1.0]
    )
    means = {name: line.lines[0].get_ydata() for name, line in display.lines_.items()}
    np.testing.assert_allclose(means["good"], [0.25, 0.5, 1.0])  # mean of (0.5, 1, 1) and (0, 0, 1)
    np.testing.assert_allclose(means["bad"], [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="one truth per run"):
        MislabelCurveDisplay.from_rankings({"good": [good, bad]}, truth)
    # one run given as plain lists is one run, not many
    single = MislabelCurveDisplay.from_rankings({"good": good.tolist()}, truth.tolist(), fractions=[0.1, 0.2])
    np.testing.assert_allclose(single.found["good"], [[0.5, 1.0]])


def test_mislabel_curve_from_estimator_with_one_score(binary_data):
    X, y, _, _ = binary_data
    noisy = y.copy()
    noisy[:20] = 1 - noisy[:20]
    inf = InfluenceEstimator(tight_logistic()).fit(X, noisy)
    display = MislabelCurveDisplay.from_estimator(inf, np.arange(len(y)) < 20, by="training_loss")
    assert list(display.lines_) == ["training_loss"]


def test_top_influences_display_takes_a_measure(binary_data):
    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    display = TopInfluencesDisplay.from_estimator(inf, Xq[:1], None, k=3, measure="decision_function")
    top = inf.top_influences(Xq[:1], None, k=3, measure="decision_function")
    np.testing.assert_array_equal(display.harmful_indices, top.harmful_indices[0])
    assert "decision_function" in display.ax_.get_xlabel()
    with pytest.raises(ValueError, match="one value per query"):
        TopInfluencesDisplay.from_estimator(inf, Xq[:1], None, measure="predict_proba")


def test_leave_one_out_display_labels_its_measure(binary_data):
    from sklearn_influence import LeaveOneOutDisplay

    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic()).fit(X, y)
    display = LeaveOneOutDisplay.from_estimator(inf, X, y, Xq, yq, n_top=3, n_random=2, measure="predict_proba")
    assert display.measure == "predict_proba" and "predict_proba" in display.ax_.get_xlabel()
