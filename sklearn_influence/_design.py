"""The design matrix ``X̃ = [X, 1]`` of a linear model, never materialised.

Every product the influence computations need goes through this class, so dense and
sparse ``X`` share one code path and the intercept column is never appended to a copy
of ``X``.
"""

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import gen_batches


class LinearDesign:
    """Design matrix ``X̃`` of shape (n_samples, n_columns), ``X̃ = [X, 1]`` with intercept.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Feature matrix. Sparse input must be CSR (row slicing) and stays sparse.
    fit_intercept : bool
        Whether a constant column of ones is appended.
    """

    def __init__(self, X, fit_intercept):
        self.X = X
        self.fit_intercept = fit_intercept

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    @property
    def n_columns(self):
        return self.X.shape[1] + int(self.fit_intercept)

    def take(self, rows):
        """Design restricted to ``rows`` (a slice or an integer array)."""
        return LinearDesign(self.X[rows], self.fit_intercept)

    def dot(self, V):
        """``X̃ Vᵀ`` for ``V`` of shape (r, n_columns); returns (n_samples, r)."""
        p = self.n_features
        out = self.X @ V[:, :p].T
        out = np.asarray(out)
        if self.fit_intercept:
            out += V[:, p]
        return out

    def tdot(self, A):
        """``X̃ᵀ A`` transposed for ``A`` of shape (n_samples, r); returns (r, n_columns)."""
        coef_part = np.asarray(self.X.T @ A).T
        if not self.fit_intercept:
            return np.ascontiguousarray(coef_part)
        return np.hstack([coef_part, A.sum(axis=0)[:, None]])

    def sandwich(self, weights):
        """``X̃ᵀ diag(weights) X̃`` of shape (n_columns, n_columns), one BLAS/sparse product."""
        X = self.X
        if sp.issparse(X):
            weighted = X.multiply(weights[:, None]).tocsr()
            xtdx = np.asarray((X.T @ weighted).todense())
            colsum = np.asarray(weighted.sum(axis=0)).ravel()
        else:
            weighted = X * weights[:, None]
            xtdx = X.T @ weighted
            colsum = weighted.sum(axis=0)
        if not self.fit_intercept:
            return xtdx
        p = X.shape[1]
        out = np.empty((p + 1, p + 1))
        out[:p, :p] = xtdx
        out[:p, p] = out[p, :p] = colsum
        out[p, p] = weights.sum()
        return out

    def squared_column_sums(self, weights):
        """``Σ_i weights_i X̃_ic²`` for every column c: the diagonal of ``sandwich(weights)``."""
        X = self.X
        squares = X.multiply(X) if sp.issparse(X) else X * X
        diag = np.asarray(squares.T @ weights).ravel()
        if self.fit_intercept:
            diag = np.append(diag, weights.sum())
        return diag

    def squared_row_norms(self):
        """``||x̃_i||²`` for every row."""
        X = self.X
        norms = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else np.einsum("ij,ij->i", X, X)
        return norms + float(self.fit_intercept)

    def dense(self):
        """``X̃`` as a dense array (only ever called on one chunk)."""
        X = self.X.toarray() if sp.issparse(self.X) else self.X
        if self.fit_intercept:
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        return np.asarray(X, dtype=float)


def row_chunks(n_rows, bytes_per_row):
    """Slices over ``n_rows`` rows bounded by scikit-learn's ``working_memory`` config."""
    budget = get_config()["working_memory"] * 2**20  # MiB
    chunk = int(budget // max(int(bytes_per_row), 1))
    return gen_batches(n_rows, min(max(chunk, 1), max(n_rows, 1)))
