"""Smooth-hinge SVM and hinge-type models: the classifier itself, the decoding of LinearSVC,
SGDClassifier and linear SVC, and influence against refits and weight finite differences."""

import warnings

import numpy as np
import pytest
from conftest import decoded_minimiser, pearson, refit_leave_one_out, sklearn_params, spread_rows
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_influence import InfluenceEstimator, SmoothHingeClassifier


def smooth_hinge_loss_rows(model, X, y, temperature):
    """Per-row smooth hinge from the model's own decision_function (summed over one-vs-rest outputs)."""
    scores = model.decision_function(X)
    index = np.searchsorted(model.classes_, y)
    if scores.ndim == 1:
        signs = np.where(index == 1, 1.0, -1.0)[:, None]
        scores = scores[:, None]
    else:
        signs = np.where(index[:, None] == np.arange(scores.shape[1]), 1.0, -1.0)
    return np.sum(temperature * np.logaddexp(0, (1 - signs * scores) / temperature), axis=1)


@parametrize_with_checks([SmoothHingeClassifier(), InfluenceEstimator(SmoothHingeClassifier())])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("temperature", [0.5, 0.01, 0.001])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_smooth_hinge_classifier_is_stationary(temperature, kind, binary_data, multiclass_data):
    X, y, _, _ = binary_data if kind == "binary" else multiclass_data
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        inf = InfluenceEstimator(SmoothHingeClassifier(C=0.5, temperature=temperature, class_weight="balanced"))
        inf.fit(X, y, sample_weight=weight)
    assert inf.relative_gradient_norm_ < 1e-7


def test_smooth_hinge_tends_to_the_hinge_svm(binary_data):
    X, y, _, _ = binary_data
    svm = SVC(kernel="linear", C=0.5, tol=1e-12).fit(X, y)
    errors = []
    for temperature in [0.1, 0.01, 0.001]:
        smooth = SmoothHingeClassifier(C=0.5, temperature=temperature).fit(X, y)
        errors.append(
            np.linalg.norm(sklearn_params(smooth) - sklearn_params(svm)) / np.linalg.norm(sklearn_params(svm))
        )
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-2


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_smooth_hinge_weight_derivative_equals_influence_over_n(kind, binary_data, multiclass_data):
    X, y, Xq, yq = binary_data if kind == "binary" else multiclass_data
    estimator = SmoothHingeClassifier(C=0.5, temperature=0.1)
    n = len(y)
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows, eps = np.argsort(-inf.self_influence())[[0, 5, 20]], 1e-4  # rows near the margin: non-zero gradients
    for a, i in enumerate(rows):
        fits = []
        for sign in (+1, -1):
            weight = np.ones(n)
            weight[i] += sign * eps
            fits.append(clone(estimator).fit(X, y, sample_weight=weight))
        dparams = (sklearn_params(fits[0]) - sklearn_params(fits[1])) / (2 * eps)
        dloss = (smooth_hinge_loss_rows(fits[0], Xq, yq, 0.1) - smooth_hinge_loss_rows(fits[1], Xq, yq, 0.1)) / (
            2 * eps
        )
        np.testing.assert_allclose(inf.influence_params(indices=[i])[0] / n, dparams, atol=1e-5 * np.abs(dparams).max())
        np.testing.assert_allclose(inf.influence(Xq, yq, indices=[i])[:, 0] / n, dloss, atol=1e-5 * np.abs(dloss).max())


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_smooth_hinge_newton_leave_one_out_against_refits(kind, binary_data, multiclass_data):
    X, y, Xq, yq = binary_data if kind == "binary" else multiclass_data
    # 89 rows for 3 one-vs-rest problems on the multiclass data: regularise more (at C=0.5 Pearson is 0.98)
    estimator = SmoothHingeClassifier(C=0.5 if kind == "binary" else 0.1, temperature=0.1)
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows = spread_rows(len(y))
    base = smooth_hinge_loss_rows(inf.estimator_, Xq, yq, 0.1)
    actual = np.empty((len(yq), len(rows)))
    for a, i in enumerate(rows):
        keep = np.arange(len(y)) != i
        actual[:, a] = smooth_hinge_loss_rows(clone(estimator).fit(X[keep], y[keep]), Xq, yq, 0.1) - base
    newton = inf.leave_one_out(Xq, yq, method="newton", indices=rows)
    assert pearson(newton, actual) >= 0.99
    np.testing.assert_allclose(inf.loss(Xq, yq), base, rtol=1e-10)


@pytest.mark.parametrize(
    "estimator",
    [
        LinearSVC(C=0.5, tol=1e-12, max_iter=100_000, random_state=0),
        LinearSVC(C=0.5, tol=1e-12, max_iter=100_000, intercept_scaling=3.0, class_weight="balanced", random_state=0),
        LinearSVC(C=0.5, tol=1e-12, max_iter=100_000, fit_intercept=False, random_state=0),
    ],
    ids=["default", "scaled-intercept-balanced", "no-intercept"],
)
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_linear_svc_squared_hinge_is_stationary(estimator, kind, binary_data, multiclass_data):
    X, y, _, _ = binary_data if kind == "binary" else multiclass_data
    if kind == "multiclass" and estimator.class_weight is not None:
        with pytest.raises(ValueError, match="positive rows of each one-vs-rest problem"):
            InfluenceEstimator(estimator).fit(X, y)
        return
    inf = InfluenceEstimator(estimator).fit(X, y)
    assert inf.relative_gradient_norm_ < 1e-5


def test_linear_svc_squared_hinge_leave_one_out_against_refits(binary_data):
    X, y, Xq, yq = binary_data
    estimator = LinearSVC(C=0.5, tol=1e-12, max_iter=100_000, random_state=0)
    inf = InfluenceEstimator(estimator).fit(X, y)
    rows = spread_rows(len(y))
    _, actual_params = refit_leave_one_out(estimator, X, y, Xq, yq, rows)
    assert pearson(inf.leave_one_out_params(method="newton", indices=rows), actual_params) >= 0.99


@pytest.mark.parametrize("loss", ["log_loss", "modified_huber", "squared_hinge"])
def test_sgd_minimises_the_decoded_objective(loss, binary_data):
    """Averaged SGD lands within its own noise (~1 %) of the decoded objective's minimiser;
    reading the penalty without the factor n would put it 30× further away."""
    X, y, _, _ = binary_data
    sgd = SGDClassifier(
        loss=loss,
        alpha=0.01,
        max_iter=5000,
        tol=None,
        learning_rate="constant",
        eta0=1e-3,
        average=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf = InfluenceEstimator(sgd).fit(X, y)
    fitted = inf._objective.coef.ravel()
    optimum = decoded_minimiser(inf)
    assert np.linalg.norm(fitted - optimum) < 0.03 * np.linalg.norm(optimum)
    inf._objective.penalty = inf._objective.penalty / len(y)  # the wrong reading: λ = alpha
    wrong = decoded_minimiser(inf)
    assert np.linalg.norm(fitted - wrong) > 10 * np.linalg.norm(fitted - optimum)


def hinge_kkt_residual(inf, tolerance=1e-5):
    """Largest relative violation of the hinge objective's optimality condition at the fit.

    ``0 ∈ ∂O(θ̂)`` for ``O = Σ s_i max(0, 1 − t_i f_i) + ½ Σ λ_c θ_c²`` means
    ``λ ∘ θ̂ = Σ_i s_i α_i t_i x̃_i`` with ``α_i = 1`` inside the margin, 0 outside and
    ``α_i ∈ [0, 1]`` on it: the free α are found by bounded least squares.
    """
    from scipy.optimize import lsq_linear

    objective, X_tilde = inf._objective, inf._design.dense()
    margins = inf._targets * inf._raw
    worst = 0.0
    for k in range(objective.n_outputs):
        t, s = inf._targets[:, k], margins[:, k]
        rows = t != 0
        columns = (inf._weights * t)[:, None] * X_tilde  # s_i t_i x̃_i
        target = objective.penalty * objective.coef[k]
        inside = rows & (s < 1 - tolerance)
        on_margin = rows & (np.abs(s - 1) <= tolerance)
        rhs = target - columns[inside].sum(axis=0)
        if on_margin.any():
            rhs = rhs - columns[on_margin].T @ lsq_linear(columns[on_margin].T, rhs, bounds=(0, 1)).x
        worst = max(worst, np.linalg.norm(rhs) / np.linalg.norm(target))
    return worst


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("model", ["LinearSVC", "SVC"])
def test_hinge_models_satisfy_the_decoded_optimality_conditions(model, kind, binary_data, multiclass_data):
    """The decoded hinge objective (penalty, liblinear's intercept penalty, one-vs-rest or
    one-vs-one targets) is the one the fit minimises: its KKT conditions hold at the fit."""
    X, y, _, _ = binary_data if kind == "binary" else multiclass_data
    estimator = (
        LinearSVC(loss="hinge", C=0.5, tol=1e-12, max_iter=1_000_000, random_state=0, intercept_scaling=2.0)
        if model == "LinearSVC"
        else SVC(kernel="linear", C=0.5, tol=1e-12)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf = InfluenceEstimator(estimator, smoothing=0.01).fit(X, y)
    assert hinge_kkt_residual(inf) < 1e-4
    inf._objective.penalty = 2 * inf._objective.penalty  # a decoding mistake is detected
    assert hinge_kkt_residual(inf) > 1e-2


def test_svc_one_vs_one_signs(multiclass_data):
    X, y, Xq, yq = multiclass_data
    inf = InfluenceEstimator(SVC(kernel="linear", C=0.5), smoothing=0.01).fit(X, y)
    # the model is accurate, so its own training rows sit on the right side of most pairwise margins
    assert inf.loss(X, y).mean() < 0.5
    assert inf.influence(Xq, yq).shape == (len(yq), len(y))


def test_smoothing_overrides_the_temperature(binary_data):
    X, y, Xq, yq = binary_data
    model = SmoothHingeClassifier(C=0.5, temperature=0.05).fit(X, y)
    same = InfluenceEstimator(SmoothHingeClassifier(C=0.5, temperature=0.05)).fit(X, y)
    from sklearn.frozen import FrozenEstimator

    other = InfluenceEstimator(FrozenEstimator(model), smoothing=0.5).fit(X, y)
    np.testing.assert_allclose(other.loss(Xq, yq), smooth_hinge_loss_rows(model, Xq, yq, 0.5), rtol=1e-12)
    assert not np.allclose(other.influence(Xq, yq), same.influence(Xq, yq))


def test_kernel_svm_through_nystroem_pipeline(binary_data):
    """The paper's RBF SVM: a Nystroem feature map (held fixed) and a smooth-hinge SVM, wrapped whole."""
    X, y, Xq, yq = binary_data
    pipe = make_pipeline(
        Nystroem(kernel="rbf", gamma=0.1, n_components=60, random_state=0),
        SmoothHingeClassifier(C=0.5, temperature=0.1),
    )
    inf = InfluenceEstimator(pipe, preprocessing="fixed").fit(X, y)  # the kernel map is part of the data
    features = inf.estimator_[0].transform(X)
    rows = spread_rows(len(y), 20)
    base = smooth_hinge_loss_rows(inf.estimator_[-1], inf.estimator_[0].transform(Xq), yq, 0.1)
    actual = np.empty((len(yq), len(rows)))
    for a, i in enumerate(rows):
        keep = np.arange(len(y)) != i
        refit = SmoothHingeClassifier(C=0.5, temperature=0.1).fit(features[keep], y[keep])
        actual[:, a] = smooth_hinge_loss_rows(refit, inf.estimator_[0].transform(Xq), yq, 0.1) - base
    assert pearson(inf.leave_one_out(Xq, yq, method="newton", indices=rows), actual) >= 0.99


@pytest.mark.parametrize(
    "estimator, params, match",
    [
        (LinearSVC(loss="hinge"), {}, r"hinge loss.*Set smoothing to a temperature > 0"),
        (SGDClassifier(), {}, r"hinge loss.*Set smoothing"),
        (SVC(kernel="linear"), {}, r"hinge loss.*Set smoothing"),
        (LinearSVC(loss="hinge"), {"smoothing": 0.0}, r"smoothing must be None or a temperature > 0.*smoothing=0.0"),
        (LinearSVC(loss="hinge"), {"smoothing": -0.1}, r"smoothing must be None or a temperature > 0"),
        (LinearSVC(multi_class="crammer_singer"), {}, "crammer_singer"),
        (LinearSVC(penalty="l1", dual=False), {}, "penalty='l1'"),
        (SGDClassifier(loss="log_loss", penalty="elasticnet"), {}, "penalty='elasticnet'"),
        (SGDClassifier(loss="perceptron"), {}, "loss='perceptron'"),
        (SVC(kernel="rbf"), {"smoothing": 0.1}, r"Nystroem"),
        (LinearSVC(), {"smoothing": 0.1}, "applies to hinge losses only"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_bad_hinge_configurations(estimator, params, match, binary_data):
    X, y, _, _ = binary_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match):
            InfluenceEstimator(estimator, **params).fit(X, y)


@pytest.mark.parametrize("params", [dict(temperature=0.0), dict(temperature=-1.0), dict(C=0), dict(max_iter=0)])
def test_smooth_hinge_classifier_bad_parameters(params, binary_data):
    X, y, _, _ = binary_data
    with pytest.raises(ValueError, match=f"{list(params)[0]} must be"):
        SmoothHingeClassifier(**params).fit(X, y)


def test_unseen_query_label_is_an_error(binary_data):
    X, y, Xq, _ = binary_data
    inf = InfluenceEstimator(SmoothHingeClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="never seen in training"):
        inf.influence(Xq[:1], [5])
