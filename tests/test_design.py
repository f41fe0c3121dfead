"""LinearDesign: every product equals the same product with an explicit [X, 1] matrix."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context

from sklearn_influence._models._design import LinearDesign, row_chunks


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_products_match_explicit_design(fit_intercept, sparse, rng):
    X = rng.normal(size=(23, 4)) * (rng.random((23, 4)) < 0.5)
    explicit = np.c_[X, np.ones(23)] if fit_intercept else X
    design = LinearDesign(sp.csr_matrix(X) if sparse else X, fit_intercept)
    V = rng.normal(size=(3, explicit.shape[1]))
    A = rng.normal(size=(23, 2))
    w = rng.uniform(0, 2, 23)
    np.testing.assert_allclose(design.dot(V), explicit @ V.T)
    np.testing.assert_allclose(design.dot_transposed(V), V @ explicit.T)
    into = np.full((3, 23), np.nan)  # written in place, whatever it held
    design.dot_transposed(V, out=into)
    np.testing.assert_allclose(into, V @ explicit.T)
    if not sparse:  # float32 X: the product in float32
        narrow = LinearDesign(X.astype(np.float32), fit_intercept).dot_transposed(V)
        assert narrow.dtype == np.float32
        np.testing.assert_allclose(narrow, V @ explicit.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(design.tdot(A), (explicit.T @ A).T)
    with config_context(working_memory=0.0005):  # several chunks
        np.testing.assert_allclose(design.sandwich(w), explicit.T @ (explicit * w[:, None]))
        np.testing.assert_allclose(design.squared_column_sums(w), (explicit**2).T @ w)
    signed = rng.normal(size=23)  # off-diagonal multinomial blocks, non-convex losses: a general product
    np.testing.assert_allclose(design.sandwich(signed), explicit.T @ (explicit * signed[:, None]), atol=1e-12)
    np.testing.assert_allclose(design.squared_row_norms(), (explicit**2).sum(axis=1))
    np.testing.assert_allclose(design.dense(), explicit)
    np.testing.assert_allclose(design.take([3, 1]).dense(), explicit[[3, 1]])


def test_row_chunks_cover_rows_once():
    with config_context(working_memory=0.001):
        chunks = list(row_chunks(1000, 100))
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate([np.arange(1000)[c] for c in chunks]), np.arange(1000))
    assert list(row_chunks(0, 100)) == []


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_stays_float32_and_agrees_with_float64(sparse):
    """float32 X is only upcast chunk by chunk, never as a whole; the result-sized influence product runs in
    float32 and agrees with the float64 computation to float32 precision; solves stay float64."""
    import tracemalloc

    from sklearn_influence import InfluenceEstimator

    rng = np.random.default_rng(0)
    X64 = rng.standard_normal((8010, 200)) * (rng.random((8010, 200)) < (0.05 if sparse else 1.0))
    y = (X64 @ rng.standard_normal(200) / 5 + rng.standard_normal(8010) > 0).astype(int)
    X64, y, Xq, yq = X64[:8000], y[:8000], X64[8000:], y[8000:]
    X32 = X64.astype(np.float32)
    make = sp.csr_matrix if sparse else np.asarray
    from conftest import tight_logistic

    model = tight_logistic(C=0.5).fit(X64, y)
    from sklearn.frozen import FrozenEstimator

    wide = InfluenceEstimator(FrozenEstimator(model)).fit(make(X64), y)
    tracemalloc.start()
    with config_context(working_memory=1):  # float64 chunks of at most 1 MiB
        narrow = InfluenceEstimator(FrozenEstimator(model)).fit(make(X32), y)
        result = narrow.influence(Xq.astype(np.float32), yq)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert narrow._design.X.dtype == np.float32 and result.dtype == np.float32
    if not sparse:
        assert peak < X64.nbytes  # no float64 copy of X
    expected = wide.influence(Xq, yq)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(narrow.self_influence(), wide.self_influence(), rtol=1e-5)
    np.testing.assert_allclose(
        narrow.leave_one_out(Xq, yq, method="newton", indices=np.arange(50)),
        wide.leave_one_out(Xq, yq, method="newton", indices=np.arange(50)),
        rtol=1e-4,
        atol=1e-9,
    )
