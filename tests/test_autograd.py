"""Differentiable models: scikit-learn's MLPs and AutogradModel, against autograd's own
Jacobians, scikit-learn's predictions, closed forms and refits."""

import warnings
from copy import deepcopy

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import jacobian
from autograd.scipy.stats import norm
from conftest import pearson, spread_rows, tight_logistic
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_influence import AutogradModel, InfluenceEstimator, flatten_mlp_params, unflatten_mlp_params
from sklearn_influence._models._mlp import MLPObjective
from sklearn_influence._solvers import ExactSolver


@pytest.fixture(scope="module")
def digits3():
    X, y = load_digits(n_class=3, return_X_y=True)
    X = X / 16.0
    return X[:240], y[:240], X[400:406], y[400:406]


def _mlp(kind, **params):
    params = {
        "hidden_layer_sizes": (6,),
        "alpha": 0.01,
        "max_iter": 3000,
        "tol": 1e-12,
        "random_state": 0,
        "solver": "lbfgs",
        **params,
    }
    return MLPRegressor(**params) if kind == "regression" else MLPClassifier(**params)


def _targets(kind, y):
    if kind == "regression":
        return np.c_[y, y**2] / 4.0
    return (y == 1).astype(int) if kind == "binary" else y


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "logistic"])
def test_mlp_losses_and_per_sample_gradients(kind, activation, digits3):
    X, y, _, _ = digits3
    t = _targets(kind, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _mlp(kind, activation=activation, max_iter=30).fit(X, t)
    network = MLPObjective(model)
    encoded = t.astype(float).reshape(len(t), -1) if kind == "regression" else t
    losses = network.losses(network.theta, X, encoded)
    if kind == "regression":  # scikit-learn's squared_loss: halved, averaged over outputs
        np.testing.assert_allclose(losses, ((model.predict(X) - encoded) ** 2).mean(axis=1) / 2, rtol=1e-10)
    else:
        np.testing.assert_allclose(losses, -np.log(model.predict_proba(X)[np.arange(len(t)), t]), rtol=1e-8, atol=1e-12)
    batched = network.per_sample_gradients(network.theta, X, encoded)
    reference = jacobian(lambda theta: network.losses(theta, X, encoded))(network.theta)
    np.testing.assert_allclose(batched, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_mlp_objective_is_decoded(kind, digits3):
    """The decoded Σ s ℓ + (α/2)||W||² divided by Σs is scikit-learn's own final objective ``loss_``
    (lbfgs stops on its function tolerance, so stationarity cannot prove it here)."""
    X, y, _, _ = digits3
    t = _targets(kind, y)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf = InfluenceEstimator(_mlp(kind, hidden_layer_sizes=(4,), alpha=0.1), damping=1e-3)
        inf.fit(X, t, sample_weight=weight)
    objective = inf._objective
    value = objective._objective(inf._weights, 0.0)(objective.theta, inf._design.X, inf._design.targets)
    np.testing.assert_allclose(value / weight.sum(), inf.estimator_.loss_, rtol=1e-9)
    n_coef = MLPObjective(inf.estimator_).n_coef
    objective.penalty_function = lambda theta: 0.1 * anp.dot(theta[:n_coef], theta[:n_coef])  # α||W||²: wrong
    wrong = objective._objective(inf._weights, 0.0)(objective.theta, inf._design.X, inf._design.targets)
    assert abs(wrong / weight.sum() - inf.estimator_.loss_) > 1e-4 * inf.estimator_.loss_


def test_mlp_layout_round_trip(digits3):
    X, y, _, _ = digits3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf = InfluenceEstimator(_mlp("multiclass", max_iter=20), damping=0.1).fit(X, y)
    model = inf.estimator_
    np.testing.assert_array_equal(inf.params_, flatten_mlp_params(model.coefs_, model.intercepts_))
    coefs, intercepts = unflatten_mlp_params(inf.influence_params(indices=[0])[0], model)
    assert [c.shape for c in coefs] == [c.shape for c in model.coefs_]
    assert [b.shape for b in intercepts] == [b.shape for b in model.intercepts_]


def test_nonconvex_hessian_error_names_smallest_eigenvalue_and_damping():
    indefinite = np.diag([2.0, 1.0, -0.5])
    with pytest.raises(ValueError, match=r"smallest eigenvalue is -0.5 and damping=0.*damping > 0.5"):
        ExactSolver(indefinite, 1, 3, True)
    with pytest.raises(ValueError, match=r"smallest eigenvalue is -0.5 and damping=0.2.*damping > 0.5"):
        ExactSolver(indefinite + 0.2 * np.eye(3), 1, 3, True, damping=0.2)


def test_mlp_damping_makes_an_indefinite_hessian_usable(digits3):
    X, y, Xq, yq = digits3
    from sklearn.frozen import FrozenEstimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        early = _mlp("multiclass", max_iter=15, alpha=1e-4).fit(X, y)  # far from a minimum: indefinite
    with pytest.raises(ValueError, match="damping >") as error:
        InfluenceEstimator(FrozenEstimator(early)).fit(X, y)
    needed = float(str(error.value).split("damping > ")[1].split(" ")[0])
    inf = InfluenceEstimator(FrozenEstimator(early), damping=2 * needed).fit(X, y)
    assert np.all(np.isfinite(inf.influence(Xq, yq)))


def test_mlp_exact_and_cg_agree(digits3):
    X, y, Xq, yq = digits3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exact = InfluenceEstimator(_mlp("multiclass"), damping=0.01, solver="exact").fit(X, y)
        cg = InfluenceEstimator(_mlp("multiclass"), damping=0.01, solver="cg").fit(X, y)
    np.testing.assert_allclose(cg.influence(Xq, yq), exact.influence(Xq, yq), rtol=1e-6, atol=1e-8)


def test_newton_is_refused_for_differentiable_models(digits3):
    X, y, Xq, yq = digits3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inf = InfluenceEstimator(_mlp("multiclass", max_iter=50), damping=0.1).fit(X, y)
    with pytest.raises(ValueError, match="method='newton' needs each row's loss Hessian.*method='influence'"):
        inf.leave_one_out(Xq, yq, method="newton")


def _logistic_loss(params, X, y):
    z = anp.dot(X, params[:-1]) + params[-1]
    return anp.logaddexp(0.0, z) - y * z


def _poisson_loss(params, X, y):
    z = anp.dot(X, params[:-1]) + params[-1]
    return anp.exp(z) - y * z


def _probit_loss(params, X, y):
    z = anp.dot(X, params[:-1]) + params[-1]
    return -(y * norm.logcdf(z) + (1 - y) * norm.logcdf(-z))


def _ridge_penalty(strength):
    return lambda params: 0.5 * strength * anp.dot(params[:-1], params[:-1])


@pytest.mark.parametrize(
    "closed_form, loss, strength, data",
    [
        (tight_logistic(C=0.5), _logistic_loss, 2.0, "binary"),
        (PoissonRegressor(alpha=0.01, solver="newton-cholesky", tol=1e-12), _poisson_loss, None, "counts"),
    ],
    ids=["logistic", "poisson"],
)
def test_autograd_model_equals_closed_form(closed_form, loss, strength, data, binary_data, regression_data):
    """The same objective through autograd and through the closed-form linear layer: both directions agree."""
    if data == "binary":
        X, y, Xq, yq = binary_data
    else:
        X, Y, Xq, Yq = regression_data
        X, Xq = X * 10, Xq * 10
        y, yq = np.round(np.exp(Y[:, 0] / 2)), np.round(np.exp(Yq[:, 0] / 2))
    closed = InfluenceEstimator(closed_form).fit(X, y)
    if strength is None:  # Poisson: (1/n) Σ ½dev + ½α||w||² → λ = α n
        strength = closed_form.alpha * len(y)
    model = AutogradModel(loss, np.zeros(X.shape[1] + 1), penalty=_ridge_penalty(strength))
    auto = InfluenceEstimator(model).fit(X, y)
    np.testing.assert_allclose(auto.params_, closed.params_, rtol=1e-6, atol=1e-8)
    # Poisson's penalty is α·Σs: up-weighting a row also adds α to it, −n α H⁻¹q with q = ∂(½||w||²)/∂θ;
    # at the optimum Σ_i g_i = −αn q, so that is minus the mean over rows of the fixed-penalty model's values
    share = (lambda v, axis: v - v.mean(axis=axis, keepdims=True)) if data == "counts" else (lambda v, axis: v)
    for name in ("influence", "perturbation_influence"):
        a, b = getattr(auto, name)(Xq, yq), getattr(closed, name)(Xq, yq)
        a = share(a, 1) if name == "influence" else a
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7 * np.abs(b).max())
    np.testing.assert_allclose(auto.self_influence(), closed.self_influence(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(share(auto.influence_params(), 0), closed.influence_params(), rtol=1e-5, atol=1e-7)


def test_autograd_probit_against_refits(binary_data):
    X, y, Xq, yq = binary_data
    X, Xq = X[:, :5], Xq[:, :5]
    model = AutogradModel(_probit_loss, np.zeros(6), penalty=_ridge_penalty(1.0))
    inf = InfluenceEstimator(model).fit(X, y)
    rows = spread_rows(len(y), 25)
    base = _probit_loss(inf.params_, Xq, yq)
    actual = np.array(
        [_probit_loss(deepcopy(model).fit(np.delete(X, i, 0), np.delete(y, i)).params_, Xq, yq) - base for i in rows]
    ).T
    assert pearson(inf.leave_one_out(Xq, yq, indices=rows), actual) >= 0.99
    # weight finite differences: d params / d s_i = influence_params / n
    i, eps = rows[3], 1e-5
    fits = [deepcopy(model).fit(X, y, sample_weight=np.where(np.arange(len(y)) == i, 1 + e, 1.0)) for e in (eps, -eps)]
    numeric = (fits[0].params_ - fits[1].params_) / (2 * eps)
    np.testing.assert_allclose(inf.influence_params(indices=[i])[0] / len(y), numeric, rtol=1e-4, atol=1e-8)


def test_differentiable_models_pickle_and_refuse_sparse_input(digits3, regression_data):
    import pickle

    import scipy.sparse as sp
    from sklearn.linear_model import HuberRegressor

    X, y, Xq, yq = digits3
    for activation in ("relu", "tanh", "identity", "logistic"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            inf = InfluenceEstimator(_mlp("multiclass", activation=activation, max_iter=20), damping=10.0).fit(X, y)
        restored = pickle.loads(pickle.dumps(inf))
        np.testing.assert_array_equal(restored.influence(Xq, yq), inf.influence(Xq, yq))
    Xr, Yr, Xrq, Yrq = regression_data
    huber = InfluenceEstimator(HuberRegressor(max_iter=1000)).fit(Xr, Yr[:, 0])
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(huber)).influence(Xrq, Yrq[:, 0]), huber.influence(Xrq, Yrq[:, 0])
    )
    with pytest.raises(TypeError, match="Sparse X is not supported for differentiable"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            InfluenceEstimator(_mlp("multiclass", max_iter=5), damping=10.0).fit(sp.csr_matrix(X), y)
