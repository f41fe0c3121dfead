"""LinearDesign: every product equals the same product with an explicit [X, 1] matrix."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context

from sklearn_influence._design import LinearDesign, row_chunks


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
    np.testing.assert_allclose(design.tdot(A), (explicit.T @ A).T)
    with config_context(working_memory=0.0005):  # several chunks
        np.testing.assert_allclose(design.sandwich(w), explicit.T @ (explicit * w[:, None]))
        np.testing.assert_allclose(design.squared_column_sums(w), (explicit**2).T @ w)
    np.testing.assert_allclose(design.squared_row_norms(), (explicit**2).sum(axis=1))
    np.testing.assert_allclose(design.dense(), explicit)
    np.testing.assert_allclose(design.take([3, 1]).dense(), explicit[[3, 1]])


def test_row_chunks_cover_rows_once():
    with config_context(working_memory=0.001):
        chunks = list(row_chunks(1000, 100))
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate([np.arange(1000)[c] for c in chunks]), np.arange(1000))
    assert list(row_chunks(0, 100)) == []
