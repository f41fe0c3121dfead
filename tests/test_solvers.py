"""Solvers: exact and CG agree; singular Hessians and unconverged CG are reported with a remedy."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import pearson, tight_logistic
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge

from sklearn_influence import InfluenceEstimator


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("damping", [0.0, 0.3])
def test_exact_and_cg_agree(kind, damping, binary_data, multiclass_data, regression_data):
    X, y, Xq, yq = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    estimator = Ridge(alpha=0.5) if kind == "regression" else tight_logistic(C=0.5)
    exact = InfluenceEstimator(estimator, solver="exact", damping=damping).fit(X, y)
    cg = InfluenceEstimator(estimator, solver="cg", damping=damping).fit(X, y)
    assert (exact.solver_, cg.solver_) == ("exact", "cg")
    rows = np.arange(0, X.shape[0], 7)
    for name, args in [
        ("influence", (Xq, yq)),
        ("leave_one_out", (Xq, yq)),
        ("perturbation_influence", (Xq, yq)),
    ]:
        a = getattr(exact, name)(*args, indices=rows)
        b = getattr(cg, name)(*args, indices=rows)
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6 * np.abs(a).max())
    np.testing.assert_allclose(cg.self_influence(indices=rows), exact.self_influence(indices=rows), rtol=1e-6)
    np.testing.assert_allclose(
        cg.leave_one_out(Xq, yq, method="newton", indices=rows),
        exact.leave_one_out(Xq, yq, method="newton", indices=rows),
        rtol=1e-6,
        atol=1e-9,
    )


def test_damping_adds_identity_to_hessian(binary_data):
    X, y, Xq, yq = binary_data
    damped = InfluenceEstimator(tight_logistic(C=0.5), damping=2.0).fit(X, y)
    # H of C Σ log-loss / C + ½||w||²/C, written out with numpy: X̃ᵀ diag(p(1 − p)) X̃ + diag(1/C, ..., 1/C, 0)
    X_tilde = np.c_[X, np.ones(len(y))]
    p = damped.predict_proba(X)[:, 1]
    H = X_tilde.T @ (X_tilde * (p * (1 - p))[:, None]) + np.diag(np.r_[np.full(X.shape[1], 2.0), 0.0])
    g = (p - y)[:2, None] * X_tilde[:2]
    expected = -len(y) * np.linalg.solve(H + 2.0 * np.eye(H.shape[0]), g.T).T
    np.testing.assert_allclose(damped.influence_params(indices=[0, 1]), expected, rtol=1e-8)


def test_auto_picks_exact_for_few_parameters(binary_data):
    X, y, _, _ = binary_data
    assert InfluenceEstimator(tight_logistic()).fit(X, y).solver_ == "exact"


def test_singular_hessian_is_an_error_with_remedy(regression_data):
    X, Y, _, _ = regression_data
    X = np.c_[X, X[:, :1]]  # duplicated feature, no penalty
    with pytest.raises(ValueError, match="damping > 0"):
        InfluenceEstimator(LinearRegression()).fit(X, Y[:, 0])
    # damping makes it invertible
    InfluenceEstimator(LinearRegression(), damping=1e-3).fit(X, Y[:, 0])


def test_separable_data_without_penalty_is_an_error(rng):
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)  # perfectly separable: the unpenalised fit runs off to infinity
    with pytest.warns():  # scikit-learn and the stationarity check both complain
        with pytest.raises(ValueError, match="finite C"):
            InfluenceEstimator(tight_logistic(C=np.inf, solver="lbfgs", max_iter=2000)).fit(X, y)


def test_cg_reports_a_singular_hessian(rng):
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning):
        inf = InfluenceEstimator(tight_logistic(C=np.inf, solver="lbfgs", max_iter=2000), solver="cg").fit(X, y)
    with pytest.raises(ValueError, match="singular or not positive definite.*damping > 0"):
        inf.self_influence()


def test_cg_blocks_of_right_hand_sides_equal_one_block(binary_data):
    """Right-hand sides are solved in blocks bounded by working_memory; the blocking is invisible."""
    from sklearn import config_context

    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic(C=0.5), solver="cg").fit(X, y)
    whole = inf.influence(Xq, yq)
    with config_context(working_memory=0.01):  # a few systems per block
        assert inf._solver._block_size() < len(yq)
        np.testing.assert_allclose(inf.influence(Xq, yq), whole, rtol=1e-8, atol=1e-12 * np.abs(whole).max())


def test_unconverged_cg_warns_with_count(binary_data):
    X, y, Xq, yq = binary_data
    inf = InfluenceEstimator(tight_logistic(C=0.5), solver="cg", cg_max_iter=1).fit(X, y)
    with pytest.warns(ConvergenceWarning, match=r"for 4 of 4 systems.*cg_max_iter"):
        inf.influence(Xq[:4], yq[:4])


def test_sparse_input_stays_sparse_and_matches_dense(binary_data):
    X, y, Xq, yq = binary_data
    X = np.where(np.abs(X) > 0.8, X, 0.0)
    Xq = np.where(np.abs(Xq) > 0.8, Xq, 0.0)
    dense = InfluenceEstimator(tight_logistic(C=0.5)).fit(X, y)
    for solver in ["exact", "cg"]:
        for fmt in [sp.csr_matrix, sp.csc_matrix]:
            sparse = InfluenceEstimator(tight_logistic(C=0.5), solver=solver).fit(fmt(X), y)
            assert sp.issparse(sparse._design.X)
            np.testing.assert_allclose(sparse.influence(fmt(Xq), yq), dense.influence(Xq, yq), rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(sparse.self_influence(), dense.self_influence(), rtol=1e-6)
            np.testing.assert_allclose(
                sparse.leave_one_out(fmt(Xq), yq, method="newton"),
                dense.leave_one_out(Xq, yq, method="newton"),
                rtol=1e-6,
                atol=1e-9,
            )


@pytest.fixture(scope="module")
def digits_1_vs_7():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, [1, 7])
    X, y = X[keep] / 16.0, y[keep]
    return X[:300], y[:300], X[300:310], y[300:310]


@pytest.mark.parametrize(
    "C, settings", [(0.1, dict(lissa_scale=25.0)), (1.0, dict())], ids=["paper-settings", "auto-scale"]
)
def test_lissa_against_exact_on_digits(C, settings, digits_1_vs_7):
    """The paper's settings (scale 25, depth 5,000, 10 repeats, batch 1), and the automatic scale."""
    X, y, Xq, yq = digits_1_vs_7
    estimator = tight_logistic(C=C)
    exact = InfluenceEstimator(estimator).fit(X, y)
    lissa = InfluenceEstimator(estimator, solver="lissa", random_state=0, **settings).fit(X, y)
    assert lissa.solver_ == "lissa" and 0 <= lissa.lissa_bias_bound_ <= 1
    assert pearson(lissa.influence(Xq, yq), exact.influence(Xq, yq)) >= 0.99
    restored = pickle.loads(pickle.dumps(lissa))
    np.testing.assert_array_equal(restored.influence(Xq[:2], yq[:2]), lissa.influence(Xq[:2], yq[:2]))


@pytest.mark.parametrize("random_state", [None, np.random.RandomState(3)], ids=["None", "RandomState"])
def test_lissa_queries_do_not_depend_on_their_order(random_state, digits_1_vs_7):
    """The draws are fixed at ``fit``: a query gives the same answer alone, in a batch, or asked again."""
    X, y, Xq, yq = digits_1_vs_7
    lissa = InfluenceEstimator(
        tight_logistic(), solver="lissa", lissa_depth=200, lissa_repeats=2, random_state=random_state
    ).fit(X, y)
    batch = lissa.influence(Xq[:4], yq[:4])
    np.testing.assert_allclose(lissa.influence(Xq[2:4], yq[2:4]), batch[2:], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(lissa.influence(Xq[:2], yq[:2]), batch[:2], rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(lissa.influence(Xq[:4], yq[:4]), batch)


def test_lissa_warns_when_the_scale_is_too_small(digits_1_vs_7):
    X, y, _, _ = digits_1_vs_7
    with pytest.warns(ConvergenceWarning, match="LiSSA assumes lissa_scale above the largest eigenvalue"):
        InfluenceEstimator(tight_logistic(), solver="lissa", lissa_scale=0.1, lissa_depth=10).fit(X, y)
    with pytest.raises(ValueError, match="lissa_depth must be a positive integer"):
        InfluenceEstimator(tight_logistic(), solver="lissa", lissa_depth=0).fit(X, y)


def test_verbose_reports_progress_as_plain_lines_without_tqdm(binary_data, capsys, monkeypatch):
    import builtins

    from sklearn import config_context

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    X, y, Xq, yq = binary_data
    with config_context(working_memory=0.05):
        inf = InfluenceEstimator(tight_logistic(), solver="cg", verbose=1).fit(X, y)
        inf.self_influence()
        inf.influence(Xq, yq)
    err = capsys.readouterr().err
    assert "training rows:" in err and "CG blocks:" in err
    quiet = InfluenceEstimator(tight_logistic(), solver="cg").fit(X, y)
    quiet.self_influence()
    assert capsys.readouterr().err == ""
