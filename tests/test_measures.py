"""Influence on what the user measures (issue 16): predictions, probabilities and functionals of them.

Ground truth shares no code with the library: central finite differences in one sample weight of tightly
converged scikit-learn refits (``influence(..., measure=m)[..., i] / n = d m / d s_i``), evaluated with
scikit-learn's own ``predict``, ``predict_proba`` and ``decision_function``; and leave-one-out refits for
``leave_one_out(method="newton", measure=m)``. Callables are written with ``autograd.numpy`` in the tests and
their references with plain numpy on scikit-learn's predictions.
"""

import autograd.numpy as anp
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_influence import AutogradModel, InfluenceEstimator, SmoothHingeClassifier, refine_mlp

N = 70
ROWS = [0, 9, 33, 58]
H = 1e-4


def _sigmoid(F):
    return 1.0 / (1.0 + anp.exp(-F))


@pytest.fixture(scope="module")
def data():
    """Standardised features, binary / 3-class labels, two groups, a response and counts."""
    rng = np.random.default_rng(0)
    X, y3 = make_classification(
        N + 12, 4, n_informative=3, n_redundant=0, n_classes=3, n_clusters_per_class=1, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    yb = (X[:, 0] + 0.8 * rng.normal(size=len(X)) > 0).astype(int)
    response = X @ [1.0, -0.5, 0.3, 0.0] + 0.5 * rng.normal(size=len(X))
    Y = np.c_[response, X[:, 1] - X[:, 2] + rng.normal(size=len(X))]
    counts = rng.poisson(np.exp(0.4 * X[:, 0] - 0.3 * X[:, 1]))
    group = X[:, 3] > 0
    return dict(
        X=X[:N], Xq=X[N:], yb=yb[:N], ybq=yb[N:], y3=y3[:N], y3q=y3[N:], Y=Y[:N], response=response[:N],
        counts=counts[:N], group=group[N:],
    )  # fmt: skip


def _poisson():
    return PoissonRegressor(alpha=0.05, solver="newton-cholesky", tol=1e-12, max_iter=1000)


def _hinge():
    return SmoothHingeClassifier(C=1.0, temperature=0.1)


def _logistic(**params):
    return LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, **params)


def _weighted_derivative(model, X, y, rows, value):
    """``d value(refit) / d s_i`` by central differences of weighted refits, stacked on the last axis."""
    columns = []
    for i in rows:
        up, down = np.ones(len(X)), np.ones(len(X))
        up[i] += H
        down[i] -= H
        high = value(clone(model).fit(X, y, sample_weight=up))
        low = value(clone(model).fit(X, y, sample_weight=down))
        columns.append((np.asarray(high) - np.asarray(low)) / (2 * H))
    return np.stack(columns, axis=-1)


def _leave_one_out_refits(model, X, y, rows, value):
    """``value(refit without i) − value(fit)``, stacked on the last axis."""
    before = np.asarray(value(clone(model).fit(X, y)))
    keep = [np.arange(len(X)) != i for i in rows]
    return np.stack([np.asarray(value(clone(model).fit(X[k], y[k]))) - before for k in keep], axis=-1)


def _assert_close(predicted, expected, rtol=1e-5):
    assert predicted.shape == expected.shape
    np.testing.assert_allclose(predicted, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def _gap(group):
    """Demographic-parity gap: mean P(class 1) in the group minus outside it (autograd)."""

    def gap(F):
        p = _sigmoid(F[:, 0])
        return anp.mean(p[group]) - anp.mean(p[~group])

    return gap


def _binary_cases(d):
    """(measure, y, reference on a fitted scikit-learn model) for binary logistic regression."""
    Xq, ybq, group = d["Xq"], d["ybq"], d["group"]

    def gap_reference(model):
        p = model.predict_proba(Xq)[:, 1]
        return p[group].mean() - p[~group].mean()

    return {
        "proba_of_y": ("predict_proba", ybq, lambda m: m.predict_proba(Xq)[np.arange(len(ybq)), ybq]),
        "proba_all": ("predict_proba", None, lambda m: m.predict_proba(Xq)),
        "decision": ("decision_function", None, lambda m: m.decision_function(Xq)),
        "callable_with_y": (
            lambda F, y: y * _sigmoid(F[:, 0]) + (1 - y) * _sigmoid(-F[:, 0]),
            ybq,
            lambda m: m.predict_proba(Xq)[np.arange(len(ybq)), ybq],
        ),
        "parity_gap": (_gap(group), None, gap_reference),
    }


@pytest.mark.parametrize("case", ["proba_of_y", "proba_all", "decision", "callable_with_y", "parity_gap"])
def test_binary_logistic_influence_is_the_weight_derivative_of_the_measure(data, case):
    measure, y, reference = _binary_cases(data)[case]
    model = _logistic(C=0.5)
    inf = InfluenceEstimator(model).fit(data["X"], data["yb"])
    predicted = inf.influence(data["Xq"], y, measure=measure, indices=ROWS) / N
    _assert_close(predicted, _weighted_derivative(model, data["X"], data["yb"], ROWS, reference))


def _softmax_mean(F):
    full = anp.exp(F - anp.max(F, axis=1, keepdims=True))
    return anp.mean(full[:, 2] / anp.sum(full, axis=1))


@pytest.mark.parametrize(
    "measure, with_y, reference",
    [
        ("predict_proba", True, lambda m, X, y: m.predict_proba(X)[np.arange(len(y)), y]),
        ("predict_proba", False, lambda m, X, y: m.predict_proba(X)),
        ("decision_function", False, lambda m, X, y: m.decision_function(X)),
        (_softmax_mean, False, lambda m, X, y: m.predict_proba(X)[:, 2].mean()),
    ],
    ids=["proba_of_y", "proba_all", "decision", "mean_proba_functional"],
)
def test_multinomial_influence_is_the_weight_derivative_of_the_measure(data, measure, with_y, reference):
    X, y, Xq, yq = data["X"], data["y3"], data["Xq"], data["y3q"]
    model = _logistic(C=2.0)
    inf = InfluenceEstimator(model).fit(X, y)
    predicted = inf.influence(Xq, yq if with_y else None, measure=measure, indices=ROWS) / N
    _assert_close(predicted, _weighted_derivative(model, X, y, ROWS, lambda m: reference(m, Xq, yq)))


@pytest.mark.parametrize(
    "model, target, measure, reference",
    [
        (Ridge(alpha=3.0, solver="cholesky"), "response", "predict", lambda m, X: m.predict(X)),
        (Ridge(alpha=3.0, solver="cholesky"), "Y", "predict", lambda m, X: m.predict(X)),
        (
            Ridge(alpha=3.0, solver="cholesky"),
            "response",
            lambda F: anp.mean(F[:, 0] ** 2),
            lambda m, X: np.mean(m.predict(X) ** 2),
        ),
        (_poisson(), "counts", "predict", lambda m, X: m.predict(X)),
        (_hinge(), "yb", "decision_function", lambda m, X: m.decision_function(X)),
        (_hinge(), "yb", lambda F: anp.tanh(F[:, 0]), lambda m, X: np.tanh(m.decision_function(X))),
    ],
    ids=["ridge", "ridge_two_outputs", "ridge_functional", "poisson", "smooth_hinge", "smooth_hinge_callable"],
)
def test_other_models_influence_is_the_weight_derivative_of_the_measure(data, model, target, measure, reference):
    X, y, Xq = data["X"], data[target], data["Xq"]
    inf = InfluenceEstimator(model).fit(X, y)
    predicted = inf.influence(Xq, measure=measure, indices=ROWS) / N
    expected = _weighted_derivative(model, X, y, ROWS, lambda m: reference(m, Xq))
    _assert_close(predicted, expected, rtol=1e-6 if isinstance(model, Ridge) else 1e-5)


def test_pipeline_refit_measure_is_the_derivative_of_a_weighted_whole_pipeline_refit(data):
    """Scaler + logistic under preprocessing='refit': the measure moves through the scaler's statistics too.

    The reference scales with weighted means and standard deviations written here, then fits scikit-learn's
    model with the same weights.
    """
    X, y, Xq, group = data["X"] * [1.0, 3.0, 0.5, 2.0] + [1.0, -2.0, 0.0, 4.0], data["yb"], data["Xq"], data["group"]
    Xq = Xq * [1.0, 3.0, 0.5, 2.0] + [1.0, -2.0, 0.0, 4.0]
    model = _logistic(C=0.5)
    inf = InfluenceEstimator(make_pipeline(StandardScaler(), model)).fit(X, y)

    def refit(weights):
        mean = np.average(X, axis=0, weights=weights)
        scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weights))
        fitted = clone(model).fit((X - mean) / scale, y, sample_weight=weights)
        p = fitted.predict_proba((Xq - mean) / scale)[:, 1]
        return p, p[group].mean() - p[~group].mean()

    expected = []
    for i in ROWS:
        up, down = np.ones(N), np.ones(N)
        up[i] += H
        down[i] -= H
        (p_up, gap_up), (p_down, gap_down) = refit(up), refit(down)
        expected.append(((p_up - p_down) / (2 * H), (gap_up - gap_down) / (2 * H)))
    proba = inf.influence(Xq, np.ones(len(Xq), dtype=int), measure="predict_proba", indices=ROWS) / N
    _assert_close(proba, np.stack([e[0] for e in expected], axis=-1))
    gap = inf.influence(Xq, measure=_gap(group), indices=ROWS) / N
    _assert_close(gap, np.array([e[1] for e in expected]))
    # Newton leave-one-out of the whole pipeline (the scaler refitted too)
    p_before = refit(np.ones(N))[1]
    refits = np.array([refit((np.arange(N) != i).astype(float))[1] - p_before for i in ROWS])
    newton = inf.leave_one_out(Xq, measure=_gap(group), method="newton", indices=ROWS)
    np.testing.assert_allclose(newton, refits, rtol=0.05, atol=0.02 * np.abs(refits).max())


def test_class_probabilities_sum_to_one_so_their_influences_sum_to_zero(data):
    """Σ_c p_c = 1 at every parameter: the influences on the K probabilities, and Newton's exactly evaluated
    changes, sum to zero (a pipeline under refit, DataFrame queries expanded per class); and each class's slice
    equals the measure of that class asked for through ``y``."""
    pd = pytest.importorskip("pandas")
    X, y = pd.DataFrame(data["X"] * 3.0 + 1.0), data["y3"]
    Xq = pd.DataFrame(data["Xq"] * 3.0 + 1.0, index=[f"q{i}" for i in range(len(data["Xq"]))])
    inf = InfluenceEstimator(make_pipeline(StandardScaler(), _logistic(C=2.0))).fit(X, y)
    every = inf.influence(Xq, measure="predict_proba")
    assert every.shape == (len(Xq), 3, N)
    np.testing.assert_allclose(every.sum(axis=1), 0.0, atol=1e-12 * np.abs(every).max())
    newton = inf.leave_one_out(Xq, measure="predict_proba", method="newton")
    np.testing.assert_allclose(newton.sum(axis=1), 0.0, atol=1e-12)
    for c in range(3):
        np.testing.assert_allclose(inf.influence(Xq, np.full(len(Xq), c), measure="predict_proba"), every[:, c])


def test_leave_group_out_of_a_measure_matches_group_refits(data):
    """Newton evaluates the measure exactly after one block-Newton step: exact for ridge predictions; a parity
    gap of logistic regression against group refits; first order is the sum of the rows' first-order changes."""
    X, Y, Xq, group = data["X"], data["Y"], data["Xq"], data["group"]
    sources = np.arange(N) % 7  # seven groups of 10 rows
    ridge = Ridge(alpha=3.0, solver="cholesky")
    inf = InfluenceEstimator(ridge).fit(X, Y)
    predicted = inf.leave_group_out(Xq, None, sources, measure="predict")
    before = clone(ridge).fit(X, Y).predict(Xq)
    expected = np.stack([clone(ridge).fit(X[sources != g], Y[sources != g]).predict(Xq) - before for g in range(7)], -1)
    assert predicted.shape == (len(Xq), 2, 7)
    np.testing.assert_allclose(predicted, expected, rtol=1e-8, atol=1e-10)

    y, model = data["yb"], _logistic(C=0.5)
    inf = InfluenceEstimator(model).fit(X, y)

    def gap_of(fitted):
        p = fitted.predict_proba(Xq)[:, 1]
        return p[group].mean() - p[~group].mean()

    base = gap_of(clone(model).fit(X, y))
    expected = np.array([gap_of(clone(model).fit(X[sources != g], y[sources != g])) - base for g in range(7)])
    newton = inf.leave_group_out(Xq, None, sources, measure=_gap(group))
    assert newton.shape == (7,)
    assert _pearson(newton, expected) > 0.99
    assert np.abs(newton - expected).max() < 0.1 * np.abs(expected).max()
    first_order = inf.leave_group_out(Xq, None, sources, measure=_gap(group), method="influence")
    rows = inf.leave_one_out(Xq, measure=_gap(group))
    np.testing.assert_allclose(first_order, [rows[sources == g].sum() for g in range(7)], rtol=1e-10)
    labelled = inf.set_output(transform="pandas").leave_group_out(Xq, None, sources, measure=_gap(group))
    assert list(labelled.index) == list(range(7)) and labelled.index.name == "group"


def _pearson(a, b):
    return np.corrcoef(np.ravel(a), np.ravel(b))[0, 1]


LOO_ROWS = list(range(0, N, 3))


def test_newton_leave_one_out_of_a_prediction_is_exact_for_ridge(data):
    X, Y, Xq = data["X"], data["Y"], data["Xq"]
    model = Ridge(alpha=3.0, solver="cholesky")
    inf = InfluenceEstimator(model).fit(X, Y)
    predicted = inf.leave_one_out(Xq, measure="predict", method="newton", indices=LOO_ROWS)
    expected = _leave_one_out_refits(model, X, Y, LOO_ROWS, lambda m: m.predict(Xq))
    assert predicted.shape == (len(Xq), 2, len(LOO_ROWS))
    np.testing.assert_allclose(predicted, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "model, target, measure, reference, min_pearson, max_error",
    [
        (_logistic(C=0.5), "yb", "predict_proba", lambda m, d: m.predict_proba(d["Xq"]), 0.999, 0.1),
        (_logistic(C=0.5), "yb", "parity_gap", None, 0.999, 0.1),
        (_logistic(C=2.0), "y3", "predict_proba", lambda m, d: m.predict_proba(d["Xq"]), 0.995, 0.1),
        (_poisson(), "counts", "predict", lambda m, d: m.predict(d["Xq"]), 0.995, 0.15),
        (_hinge(), "yb", "decision_function", lambda m, d: m.decision_function(d["Xq"]), 0.98, 0.25),
    ],
    ids=["binary_proba", "binary_parity_gap", "multinomial_proba", "poisson_predict", "smooth_hinge_decision"],
)
def test_newton_leave_one_out_of_a_measure_matches_refits(
    data, model, target, measure, reference, min_pearson, max_error
):
    """Pearson correlation with leave-one-out refits, and the largest error relative to the largest change."""
    X, y, Xq = data["X"], data[target], data["Xq"]
    if measure == "parity_gap":
        group = data["group"]
        measure = _gap(group)

        def reference(m, d):
            p = m.predict_proba(Xq)[:, 1]
            return p[group].mean() - p[~group].mean()

    inf = InfluenceEstimator(model).fit(X, y)
    predicted = inf.leave_one_out(Xq, measure=measure, method="newton", indices=LOO_ROWS)
    expected = _leave_one_out_refits(model, X, y, LOO_ROWS, lambda m: reference(m, data))
    assert predicted.shape == expected.shape
    assert _pearson(predicted, expected) > min_pearson
    error = np.abs(predicted - expected).max()
    assert error < max_error * np.abs(expected).max()
    first_order = inf.leave_one_out(Xq, measure=measure, indices=LOO_ROWS)
    assert _pearson(first_order, expected) > 0.9
    # on average the Newton step with the measure evaluated exactly beats the linearisation
    assert np.abs(predicted - expected).mean() < np.abs(first_order - expected).mean()


def test_first_order_leave_one_out_and_top_influences_follow_influence(data):
    X, y, Xq, group = data["X"], data["yb"], data["Xq"], data["group"]
    weights = np.linspace(0.5, 2.0, N)
    inf = InfluenceEstimator(_logistic(C=0.5)).fit(X, y, sample_weight=weights)
    for measure in ("predict_proba", _gap(group)):
        influence = inf.influence(Xq, measure=measure)
        loo = inf.leave_one_out(Xq, measure=measure)
        np.testing.assert_allclose(loo, -influence * weights / N, rtol=1e-12, atol=1e-15)
    gap = inf.influence(Xq, measure=_gap(group))
    top = inf.top_influences(Xq, measure=_gap(group), k=5)
    np.testing.assert_array_equal(top.harmful_indices, np.argsort(-gap)[:5])
    np.testing.assert_allclose(top.harmful_values, np.sort(gap)[::-1][:5])
    np.testing.assert_array_equal(top.helpful_indices, np.argsort(gap)[:5])
    proba = inf.influence(Xq, measure="predict_proba")
    top = inf.top_influences(Xq, measure="predict_proba", k=3)
    assert top.harmful_indices.shape == (len(Xq), 2, 3)
    np.testing.assert_allclose(top.harmful_values, -np.sort(-proba, axis=-1)[..., :3])


def test_loss_measure_is_the_default_and_a_callable_loss_agrees(data):
    """measure='loss' is the default; the log-loss written as a callable (autograd) gives the same numbers."""
    X, y, Xq, yq = data["X"], data["yb"], data["Xq"], data["ybq"]
    inf = InfluenceEstimator(_logistic(C=0.5)).fit(X, y)

    def log_loss(F, y):
        return anp.logaddexp(0.0, F[:, 0]) - y * F[:, 0]

    default = inf.influence(Xq, yq)
    np.testing.assert_array_equal(inf.influence(Xq, yq, measure="loss"), default)
    np.testing.assert_allclose(inf.influence(Xq, yq, measure=log_loss), default, rtol=1e-12, atol=1e-14)
    newton = inf.leave_one_out(Xq, yq, method="newton")
    np.testing.assert_array_equal(inf.leave_one_out(Xq, yq, measure="loss", method="newton"), newton)
    np.testing.assert_allclose(
        inf.leave_one_out(Xq, yq, measure=log_loss, method="newton"), newton, rtol=1e-10, atol=1e-14
    )


def _refined(model, X, y, sample_weight=None):
    """A scikit-learn MLP carried on to a stationary point of its weighted objective (the oracle's fit)."""
    return refine_mlp(model, X, y, sample_weight=sample_weight, tol=1e-10, max_iter=500)


@pytest.mark.parametrize(
    "kind, measure, with_y",
    [("binary", "predict_proba", False), ("multiclass", "predict_proba", True), ("regression", "predict", False),
     ("binary", "parity_gap", False)],
    ids=["binary_proba_all", "multiclass_proba_of_y", "regressor_predict", "binary_parity_gap"],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # refits stop near 1e-9; see below
def test_mlp_influence_is_the_weight_derivative_of_the_measure(data, kind, measure, with_y):
    """MLPs: ``∂m/∂F`` backpropagated through the network; weighted refits continued by ``refine_mlp``."""
    X, Xq, group = data["X"], data["Xq"], data["group"]
    y, yq = {"binary": (data["yb"], data["ybq"]), "multiclass": (data["y3"], data["y3q"])}.get(kind, (data["Y"], None))
    network = (MLPRegressor if kind == "regression" else MLPClassifier)(
        hidden_layer_sizes=(3,), activation="tanh", solver="lbfgs", alpha=1.0, max_iter=2000, random_state=0
    )
    fitted = _refined(network.fit(X, y), X, y)
    inf = InfluenceEstimator(FrozenEstimator(fitted), damping=1e-8).fit(X, y)  # softmax: output biases unidentified
    assert inf.relative_gradient_norm_ < 1e-6  # the premise of the derivative
    if measure == "parity_gap":
        measure = _gap(group)

        def reference(m):
            p = m.predict_proba(Xq)[:, 1]
            return p[group].mean() - p[~group].mean()

    elif measure == "predict":
        reference = lambda m: m.predict(Xq)  # noqa: E731
    elif with_y:
        reference = lambda m: m.predict_proba(Xq)[np.arange(len(yq)), yq]  # noqa: E731
    else:
        reference = lambda m: m.predict_proba(Xq)  # noqa: E731
    predicted = inf.influence(Xq, yq if with_y else None, measure=measure, indices=ROWS[:3]) / N
    expected = []
    step = 1e-2  # refits stop near 1e-9 relative gradient: a wider step keeps their noise below the tolerance
    for i in ROWS[:3]:
        up, down = np.ones(N), np.ones(N)
        up[i] += step
        down[i] -= step
        high, low = reference(_refined(fitted, X, y, up)), reference(_refined(fitted, X, y, down))
        expected.append((np.asarray(high) - np.asarray(low)) / (2 * step))
    _assert_close(predicted, np.stack(expected, axis=-1), rtol=1e-3)
    with pytest.raises(ValueError, match="method='newton' needs"):
        inf.leave_one_out(Xq, yq if with_y else None, measure=measure, method="newton")


def test_labelled_results_of_measures(data):
    pd = pytest.importorskip("pandas")
    X, y, Xq, group = data["X"], data["yb"], data["Xq"], data["group"]
    frame = pd.DataFrame(X, index=[f"t{i}" for i in range(N)])
    queries = pd.DataFrame(Xq, index=[f"q{i}" for i in range(len(Xq))])
    inf = InfluenceEstimator(_logistic(C=0.5)).fit(frame, y).set_output(transform="pandas")
    gap = inf.influence(queries, measure=_gap(group))
    assert isinstance(gap, pd.Series) and list(gap.index) == list(frame.index)
    proba = inf.influence(queries, measure="predict_proba")
    assert proba.shape == (2 * len(Xq), N)
    assert list(proba.index[:2]) == [("q0", 0), ("q0", 1)]
    top = inf.top_influences(queries, measure=_gap(group), k=3)
    assert list(top.harmful_labels) == [f"t{i}" for i in top.harmful_indices]
    top = inf.top_influences(queries, measure="predict_proba", k=3)
    assert top.harmful_labels.shape == (2 * len(Xq), 3)
    assert top.harmful_labels.loc[("q1", 1)].tolist() == [f"t{i}" for i in top.harmful_indices[1, 1]]


def test_measure_errors_are_clear(data):
    X, yb, Xq = data["X"], data["yb"], data["Xq"]
    classifier = InfluenceEstimator(_logistic(C=0.5)).fit(X, yb)
    regressor = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, data["response"])
    with pytest.raises(ValueError, match="y is required for measure='loss'"):
        classifier.influence(Xq)
    with pytest.raises(ValueError, match="measure must be one of"):
        classifier.influence(Xq, measure="proba")
    with pytest.raises(ValueError, match="measure='predict' is for regressors"):
        classifier.influence(Xq, measure="predict")
    with pytest.raises(ValueError, match="needs a probabilistic"):
        regressor.influence(Xq, measure="predict_proba")
    with pytest.raises(ValueError, match="does not use labels"):
        regressor.influence(Xq, data["response"][: len(Xq)], measure="predict")
    with pytest.raises(ValueError, match="never seen in training"):
        classifier.influence(Xq, np.full(len(Xq), 7), measure="predict_proba")
    with pytest.raises(ValueError, match=r"one entry per query row \(12\) for measure=.*got shape \(\)"):
        classifier.influence(Xq, 1, measure=lambda F, y: F[:, 0] * y)
    with pytest.raises(ValueError, match=r"returned shape \(12, 1\)"):
        classifier.influence(Xq, measure=lambda F: F)

    def assigned(F):  # in-place assignment: autograd cannot follow it
        out = np.zeros(len(F))
        out[:] = F[:, 0]
        return out

    with pytest.raises(TypeError, match="autograd.numpy"):
        classifier.influence(Xq, measure=assigned)

    def squared(theta, X, y):
        return (X @ theta[:-1] + theta[-1] - y) ** 2

    custom = InfluenceEstimator(AutogradModel(squared, np.zeros(5), penalty=lambda theta: anp.dot(theta, theta)))
    custom.fit(X, data["response"])
    with pytest.raises(ValueError, match="only measure='loss' is available"):
        custom.influence(Xq, measure="predict")
    X_copy = Xq.copy()
    classifier.influence(Xq, measure="predict_proba")
    np.testing.assert_array_equal(Xq, X_copy)


def test_a_per_query_measure_mixing_rows_is_refused(data):
    inf = InfluenceEstimator(Ridge(alpha=1.0)).fit(data["X"], data["response"])
    with pytest.raises(ValueError, match="must be computed row by row"):
        inf.influence(data["Xq"], measure=lambda F: F[:, 0] - anp.mean(F[:, 0]))
    assert inf.influence(data["Xq"], measure=lambda F: anp.mean(F[:, 0])).shape == (len(data["X"]),)  # a functional


def test_validate_leave_one_out_with_a_measure_against_refits(data):
    from sklearn_influence import validate_leave_one_out

    inf = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-12)).fit(data["X"], data["yb"])
    check = validate_leave_one_out(
        inf, data["X"], data["yb"], data["Xq"], data["ybq"], n_top=6, n_random=3, random_state=0,
        measure="predict_proba",
    )  # fmt: skip
    # actual: the probability of y from each refit's predict_proba, computed here by hand
    base = inf.predict_proba(data["Xq"])[np.arange(len(data["ybq"])), data["ybq"]].mean()
    for i, actual in zip(check.rows[:3], check.actual[:3]):
        keep = np.arange(len(data["yb"])) != i
        refit = clone(inf.estimator_).fit(data["X"][keep], data["yb"][keep])
        expected = refit.predict_proba(data["Xq"])[np.arange(len(data["ybq"])), data["ybq"]].mean() - base
        assert actual == pytest.approx(expected, rel=1e-8, abs=1e-12)
    assert check.pearson > 0.99
    with pytest.raises(ValueError, match="one value per query"):
        validate_leave_one_out(inf, data["X"], data["yb"], data["Xq"], None, measure="predict_proba")
