"""CG on sparse, uncentred data: blocked sparse products, the preconditioner, warm starts.

Every result is checked against the exact Cholesky solver or a dense numpy formula.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import tight_logistic
from sklearn.linear_model import Ridge

from sklearn_influence import InfluenceEstimator
from sklearn_influence._models import _design
from sklearn_influence._solvers import CGSolver


@pytest.fixture(scope="module")
def counts():
    """Bag-of-words counts (all non-negative, uncentred) with a logistic target: train and query."""
    rng = np.random.default_rng(0)
    n, p = 700, 150
    X = sp.random(n + 12, p, density=0.05, random_state=0, data_rvs=lambda k: rng.poisson(1.0, k) + 1.0).tocsr()
    w = rng.normal(size=p)
    score = X @ w
    y = (rng.random(n + 12) < 1 / (1 + np.exp(-(score - score.mean())))).astype(int)
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_matmul_in_column_blocks_equals_the_dense_product(fmt, dtype, monkeypatch, rng):
    X = sp.random(40, 30, density=0.2, format=fmt, random_state=0, dtype=dtype)
    dense = rng.normal(size=(30, 17)).astype(dtype)
    monkeypatch.setattr(_design, "SPARSE_CACHE_BYTES", 3 * 30 * dense.itemsize)  # blocks of 3 columns
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_design.sparse_matmul(X, dense), X.toarray() @ dense, rtol=tol, atol=tol)
    U = rng.normal(size=(40, 9)).astype(dtype)  # the transposed product scatters into 30 rows
    np.testing.assert_allclose(_design.sparse_matmul(X.T, U), X.toarray().T @ U, rtol=tol, atol=tol)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_threaded_sparse_matmul_equals_the_dense_product(fmt, monkeypatch, rng):
    X = sp.random(60, 30, density=0.2, format=fmt, random_state=1)
    monkeypatch.setattr(_design, "_THREADED_MIN_WORK", 1)  # thread even this small product
    pools = []

    class CountingPool(_design.ThreadPoolExecutor):
        def __init__(self, workers):
            pools.append(workers)
            super().__init__(workers)

    monkeypatch.setattr(_design, "ThreadPoolExecutor", CountingPool)
    for columns in (1, 2, 7, 40):  # fewer columns than threads, one block, many blocks
        dense = rng.normal(size=(30, columns))
        np.testing.assert_allclose(_design.sparse_matmul(X, dense, n_threads=3), X.toarray() @ dense, rtol=1e-12)
    U = rng.normal(size=(60, 11))
    np.testing.assert_allclose(_design.sparse_matmul(X.T, U, n_threads=2), X.toarray().T @ U, rtol=1e-12)
    assert pools and max(pools) >= 2  # the threads were really used
    dense = rng.normal(size=(30, 11))
    target = np.empty((11, 60)).T  # a Fortran-ordered output, as dot_transposed passes it
    result = _design.sparse_matmul(X, dense, n_threads=2, out=target)
    assert result is target
    np.testing.assert_allclose(target, X.toarray() @ dense, rtol=1e-12)


def test_threaded_cg_agrees_with_exact(counts, monkeypatch):
    X, y, Xq, yq = counts
    monkeypatch.setattr(_design, "_THREADED_MIN_WORK", 1)
    exact = InfluenceEstimator(tight_logistic(C=0.1), solver="exact").fit(X.toarray(), y)
    threaded = InfluenceEstimator(tight_logistic(C=0.1), solver="cg", n_jobs=2).fit(X, y)
    assert threaded._design.n_threads == 2
    expected = exact.influence(Xq.toarray(), yq)
    np.testing.assert_allclose(threaded.influence(Xq, yq), expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())
    with pytest.raises(ValueError, match="n_jobs must be None or a non-zero integer"):
        InfluenceEstimator(tight_logistic(), n_jobs=0).fit(X, y)


def test_blocked_products_inside_cg_agree_with_exact(counts, monkeypatch):
    X, y, Xq, yq = counts
    exact = InfluenceEstimator(tight_logistic(C=0.1), solver="exact").fit(X, y)
    monkeypatch.setattr(_design, "SPARSE_CACHE_BYTES", 8 * 151 * 2)  # two right-hand sides at a time
    cg = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, y)
    expected = exact.influence(Xq, yq)
    np.testing.assert_allclose(cg.influence(Xq, yq), expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())


def _explicit_hessian(inf):
    """H = X̃ᵀ diag(p(1 − p)) X̃ + diag(1/C, ..., 1/C, 0), written out with numpy."""
    X = inf._design.X.toarray() if sp.issparse(inf._design.X) else inf._design.X
    X_tilde = np.c_[X, np.ones(len(X))]
    proba = inf.predict_proba(X)[:, 1]
    penalty = np.r_[np.full(X.shape[1], 1 / inf.estimator_.C), 0.0]
    return X_tilde.T @ (X_tilde * (proba * (1 - proba))[:, None]) + np.diag(penalty)


def test_preconditioner_matches_the_hessian_on_its_diagonal_and_intercept(counts):
    """M = T⁻ᵀ S T⁻¹ equals H on the diagonal and on the intercept's row and column, and is SPD."""
    X, y, _, _ = counts
    inf = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, y)
    H = _explicit_hessian(inf)
    d = H.shape[0]
    M = np.linalg.inv(inf._solver.precondition(np.eye(d)))
    np.testing.assert_allclose(np.diag(M), np.diag(H), rtol=1e-8)
    np.testing.assert_allclose(M[:, -1], H[:, -1], rtol=1e-8, atol=1e-10 * np.abs(H).max())
    np.testing.assert_allclose(M[-1], H[-1], rtol=1e-8, atol=1e-10 * np.abs(H).max())
    mu = H[:-1, -1] / H[-1, -1]  # the rest is μ μᵀ h_b off the diagonal
    off = ~np.eye(d - 1, dtype=bool)
    np.testing.assert_allclose(M[:-1, :-1][off], (np.outer(mu, mu) * H[-1, -1])[off], rtol=1e-8)
    assert np.linalg.eigvalsh((M + M.T) / 2).min() > 0


def test_preconditioner_cuts_iterations_on_uncentred_counts(counts):
    """The intercept-eliminating preconditioner against plain Jacobi, same operator, same answers."""
    X, y, Xq, yq = counts
    inf = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, y)
    solver = inf._solver
    jacobi = CGSolver(
        solver.hessian_product, np.diag(_explicit_hessian(inf)), 1, X.shape[1] + 1, True, X.shape[0], 1e-10, None
    )
    assert solver.coupling is not None and jacobi.coupling is None
    rhs = inf._gradients(*_query(inf, Xq, yq))
    H = _explicit_hessian(inf)
    expected = np.linalg.solve(H, rhs[:, 0].T).T
    for cg in (solver, jacobi):
        cg._recycled = None
        np.testing.assert_allclose(cg.solve(rhs)[:, 0], expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())
    assert solver.n_iter_ < jacobi.n_iter_


def _query(inf, Xq, yq):
    query = inf._query(Xq, yq)
    return query.design, query.residuals


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_uncentred_data_cg_agrees_with_exact(kind, binary_data, multiclass_data, regression_data):
    """Shifted features (means far from zero) with an intercept: every output's intercept is eliminated."""
    X, y, Xq, yq = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}[kind]
    X, Xq = X + 5.0, Xq + 5.0
    estimator = Ridge(alpha=0.5) if kind == "regression" else tight_logistic(C=0.5)
    exact = InfluenceEstimator(estimator, solver="exact").fit(X, y)
    cg = InfluenceEstimator(estimator, solver="cg").fit(X, y)
    a = exact.influence(Xq, yq)
    np.testing.assert_allclose(cg.influence(Xq, yq), a, rtol=1e-6, atol=1e-7 * np.abs(a).max())
    np.testing.assert_allclose(cg.self_influence(indices=range(0, len(X), 9)), exact.self_influence()[::9], rtol=1e-6)


def test_no_intercept_is_plain_jacobi(counts):
    X, y, Xq, yq = counts
    cg = InfluenceEstimator(tight_logistic(C=0.1, fit_intercept=False), solver="cg").fit(X, y)
    exact = InfluenceEstimator(tight_logistic(C=0.1, fit_intercept=False), solver="exact").fit(X, y)
    assert cg._solver.coupling is None
    a = exact.influence(Xq, yq)
    np.testing.assert_allclose(cg.influence(Xq, yq), a, rtol=1e-6, atol=1e-8 * np.abs(a).max())


def test_initial_guess_converges_to_the_exact_solution(counts, rng):
    X, y, Xq, yq = counts
    inf = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, y)
    H = _explicit_hessian(inf)
    B = rng.normal(size=(5, 1, H.shape[0]))
    expected = np.linalg.solve(H, B[:, 0].T).T
    far = inf._solver.solve(B, x0=rng.normal(size=B.shape) * 100)
    np.testing.assert_allclose(far[:, 0], expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())
    # from the exact answer: one Hessian product (the residual), no iteration
    inf._solver.solve(B, x0=expected[:, None])
    assert inf._solver.n_iter_ == 1


def test_repeated_and_relabelled_queries_start_warm(counts):
    """The last solved systems are the starting point: same queries, or the same points with flipped labels."""
    X, y, Xq, yq = counts
    exact = InfluenceEstimator(tight_logistic(C=0.1), solver="exact").fit(X, y)
    cold_only = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, y)
    cold_only.influence(Xq, yq)
    cold_only.influence(Xq, yq)
    assert cold_only._solver._recycled is None and cold_only._solver.n_iter_ > 2  # off by default: no memory
    cg = InfluenceEstimator(tight_logistic(C=0.1), solver="cg", cg_warm_start=True).fit(X, y)
    first = cg.influence(Xq, yq)
    cold = cg._solver.n_iter_
    for labels in (yq, 1 - yq):
        again = cg.influence(Xq, labels)
        assert cg._solver.n_iter_ <= 2 < cold
        expected = exact.influence(Xq, labels)
        np.testing.assert_allclose(again, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())
    np.testing.assert_allclose(cg.leave_one_out(Xq, yq), exact.leave_one_out(Xq, yq), rtol=1e-6, atol=1e-12)
    # unrelated right-hand sides after the memory: still the exact answer
    np.testing.assert_allclose(cg.influence(X[:5], y[:5]), exact.influence(X[:5], y[:5]), rtol=1e-6, atol=1e-9)
    # the memory is a starting point, not fitted state: it is not pickled
    restored = pickle.loads(pickle.dumps(cg))
    assert restored._solver._recycled is None and cg._solver._recycled is not None
    np.testing.assert_allclose(restored.influence(Xq, yq), first, rtol=1e-7, atol=1e-9 * np.abs(first).max())


def test_without_warm_start_repeated_calls_are_identical(counts):
    X, y, Xq, yq = counts
    cg = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, y)
    assert np.array_equal(cg.influence(Xq, yq), cg.influence(Xq, yq))


def test_warm_start_from_a_combination_of_earlier_systems(counts):
    """b = 2 b₁ − 3 b₂ for earlier systems b₁, b₂: the guess is nearly exact; a bad guess is dropped."""
    X, y, Xq, yq = counts
    cg = InfluenceEstimator(tight_logistic(C=0.1), solver="cg", cg_warm_start=True).fit(X, y)
    H = _explicit_hessian(cg)
    B = cg._gradients(*_query(cg, Xq[:2], yq[:2]))
    cg._solver.solve(B)
    combined = 2 * B[:1] - 3 * B[1:2]
    solution = cg._solver.solve(combined)
    assert cg._solver.n_iter_ <= 3
    np.testing.assert_allclose(solution[0, 0], np.linalg.solve(H, combined[0, 0]), rtol=1e-7)
    # a guess worse than zero (residual above ||b||) is replaced by zero: still the exact answer
    bad_guess = 1e3 * np.ones_like(combined)
    np.testing.assert_allclose(
        cg._solver.solve(combined, x0=bad_guess)[0, 0], np.linalg.solve(H, combined[0, 0]), rtol=1e-7
    )


@pytest.mark.filterwarnings("ignore:Line search of Newton solver")  # scikit-learn's own fit in float32
def test_float32_sparse_cg_agrees_with_float64_exact(counts):
    X, y, Xq, yq = counts
    exact = InfluenceEstimator(tight_logistic(C=0.1), solver="exact").fit(X, y)
    cg32 = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X.astype(np.float32), y)
    result = cg32.influence(Xq.astype(np.float32), yq)
    assert result.dtype == np.float32 and cg32._design.X.dtype == np.float32
    expected = exact.influence(Xq, yq)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("kind", ["multinomial", "two-output ridge"])
def test_preconditioner_blocks_of_several_outputs(kind, counts):
    """Each output's intercept is eliminated within its own block: M matches H there, and is SPD."""
    X, y, _, _ = counts
    if kind == "multinomial":
        labels = (np.asarray(X[:, :3].sum(axis=1)).ravel() + np.arange(X.shape[0])) % 3
        inf = InfluenceEstimator(tight_logistic(C=0.1), solver="cg").fit(X, labels)
    else:
        targets = np.c_[np.asarray(X.sum(axis=1)).ravel(), y]
        inf = InfluenceEstimator(Ridge(alpha=1.0), solver="cg").fit(X.toarray(), targets)  # exact ridge fit
    solver = inf._solver
    k_out = 1 if solver.separable else solver.n_outputs
    d, c = k_out * solver.n_columns, solver.n_columns
    # H column by column from the Hessian-vector product (itself tested against finite differences)
    H = solver.hessian_product(np.eye(d).reshape(d, k_out, c)).reshape(d, d)
    M = np.linalg.inv(solver.precondition(np.eye(d)))
    np.testing.assert_allclose(np.diag(M), np.diag(H), rtol=1e-8)
    for k in range(k_out):
        block = slice(k * c, (k + 1) * c)
        intercept = (k + 1) * c - 1
        np.testing.assert_allclose(M[intercept, block], H[intercept, block], rtol=1e-8, atol=1e-10 * np.abs(H).max())
    assert np.allclose(M, M.T) and np.linalg.eigvalsh(M).min() > 0
    jacobi = 1 / np.sqrt(np.diag(H))
    plain = np.linalg.cond(H * np.outer(jacobi, jacobi))
    whitened = np.linalg.cholesky(np.linalg.inv(M))
    assert np.linalg.cond(whitened.T @ H @ whitened) < plain  # better conditioned than plain Jacobi
