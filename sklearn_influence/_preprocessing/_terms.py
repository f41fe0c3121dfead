"""The representations the statistics channel computes with.

* :class:`Jacobian`: ``∂V/∂φ`` as (column, statistic) entries with per-row values;
* :class:`Elementwise` / :class:`Full`: input Jacobians ``∂V/∂U`` (one input per output, or dense);
* :class:`Sig` / :class:`FactoredSig`: the statistics' derivatives in the input values, listed
  per (statistic, column) or kept factored.
"""

import numpy as np
import scipy.sparse as sp


class Jacobian:
    """``∂V/∂φ`` as a list of entries: ``vals[r, e] = ∂V[r, cols[e]]/∂φ_{stats[e]}``.

    Each output column moves with a few statistics only (a scaled column with its center
    and scale, an imputed one with its fill value too), so only those pairs are kept:
    memory and work are ``n × entries``, not ``n × columns × statistics``. Repeated
    ``(col, stat)`` pairs are summed.
    """

    def __init__(self, cols, stats, vals, n_stats):
        cols = np.asarray(cols, dtype=np.intp)
        stats = np.asarray(stats, dtype=np.intp)
        if cols.size:
            keys = cols * max(n_stats, 1) + stats
            unique, position = np.unique(keys, return_inverse=True)
            if unique.size < keys.size:
                merge = sp.csr_matrix((np.ones(keys.size), (np.arange(keys.size), position)))
                vals = np.asarray(vals @ merge)
                cols, stats = unique // max(n_stats, 1), unique % max(n_stats, 1)
        self.cols, self.stats, self.vals, self.n_stats = cols, stats, vals, n_stats

    @classmethod
    def empty(cls, n_rows, n_stats):
        return cls(np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.zeros((n_rows, 0)), n_stats)

    @classmethod
    def from_dense(cls, cols, vals):
        """From ``vals[r, j, k] = ∂V[r, cols[j]]/∂φ_k``, keeping the pairs that are not zero on every row."""
        n, k_cols, m = vals.shape
        j, k = np.nonzero(np.any(vals != 0, axis=0))
        return cls(np.asarray(cols)[j], k, vals[:, j, k], m)

    def to_dense(self, n_cols):
        """``(n, n_cols, n_stats)``; for small problems (PCA's inputs)."""
        out = np.zeros((self.vals.shape[0], n_cols, self.n_stats))
        np.add.at(out, (slice(None), self.cols, self.stats), self.vals)
        return out

    def scatter(self):
        """Sparse ``(entries, n_stats)`` 0/1 matrix sending each entry to its statistic."""
        e = self.cols.size
        return sp.csr_matrix((np.ones(e), (np.arange(e), self.stats)), shape=(e, self.n_stats))

    def moved(self, coef):
        """``Θ ∂x̃_j/∂φ`` of shape (n, n_outputs, n_stats) for coefficients ``coef`` (n_outputs, n_columns)."""
        n, k_out = self.vals.shape[0], coef.shape[0]
        out = np.empty((n, k_out, self.n_stats))
        scatter = self.scatter()
        for k in range(k_out):
            out[:, k, :] = np.asarray((self.vals * coef[k, self.cols]) @ scatter)
        return out


class Elementwise:
    """Input Jacobian where output column ``o`` depends on input column ``src[o]`` only (``-1``: none)."""

    def __init__(self, src, vals):
        self.src = np.asarray(src, dtype=np.intp)
        self.vals = vals


class Full:
    """Dense input Jacobian ``vals[r, o, c] = ∂V[r, o]/∂U[r, c]``."""

    def __init__(self, vals):
        self.vals = vals


class Sig:
    """``∂φ_{stat[e]}/∂U[i, col[e]] = vals[i, e]``: the statistics' derivatives in the input values."""

    def __init__(self, stat, col, vals):
        self.stat = np.asarray(stat, dtype=np.intp)
        self.col = np.asarray(col, dtype=np.intp)
        self.vals = vals

    @classmethod
    def empty(cls, n_rows):
        return cls(np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.zeros((n_rows, 0)))


def numeric(U):
    """``U`` as a dense float array, missing values (``None``, ``pd.NA``) as NaN."""
    if sp.issparse(U):
        return U.toarray().astype(float)
    if hasattr(U, "to_numpy"):
        return U.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(U, dtype=float)


class FactoredSig:
    """Statistics' input derivatives kept in factored form (too many entries to list per row).

    Only the contraction with an earlier step's Jacobian is available (``contract``); the
    derivative in individual raw values is not (``None`` where it would be listed).
    """

    def __init__(self, contract):
        self.contract = contract
