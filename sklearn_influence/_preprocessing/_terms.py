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

    The entries are held in ``parts`` (``(cols, stats, vals)`` triples, as the steps produced
    them), so that composites stack and chain Jacobians without copying the per-row values;
    every operation is linear in the entries, so a pair repeated across parts is summed too.
    ``vals`` concatenates the parts on demand.
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
        self.n_rows, self.n_stats = vals.shape[0], n_stats
        self.parts = [(cols, stats, vals)] if cols.size else []

    @classmethod
    def from_parts(cls, parts, n_rows, n_stats):
        """A Jacobian over the entries of ``parts`` (no copy of their values)."""
        out = cls.__new__(cls)
        out.n_rows, out.n_stats = n_rows, n_stats
        out.parts = [part for part in parts if part[0].size]
        return out

    @classmethod
    def empty(cls, n_rows, n_stats):
        return cls.from_parts([], n_rows, n_stats)

    @classmethod
    def from_dense(cls, cols, vals):
        """From ``vals[r, j, k] = ∂V[r, cols[j]]/∂φ_k``, keeping the pairs that are not zero on every row."""
        n, k_cols, m = vals.shape
        j, k = np.nonzero(np.any(vals != 0, axis=0))
        return cls(np.asarray(cols)[j], k, vals[:, j, k], m)

    def shifted(self, col_offset=0, stat_offset=0, weight=1.0, n_stats=None):
        """The same entries with their columns and statistics offset (and values scaled by ``weight``)."""
        parts = [
            (cols + col_offset, stats + stat_offset, vals if weight == 1.0 else vals * weight)
            for cols, stats, vals in self.parts
        ]
        return Jacobian.from_parts(parts, self.n_rows, self.n_stats if n_stats is None else n_stats)

    @property
    def n_entries(self):
        return sum(cols.size for cols, _, _ in self.parts)

    @property
    def cols(self):
        return np.concatenate([cols for cols, _, _ in self.parts]) if self.parts else np.empty(0, dtype=np.intp)

    @property
    def stats(self):
        return np.concatenate([stats for _, stats, _ in self.parts]) if self.parts else np.empty(0, dtype=np.intp)

    @property
    def vals(self):
        if len(self.parts) == 1:
            return self.parts[0][2]
        return np.hstack([vals for _, _, vals in self.parts]) if self.parts else np.zeros((self.n_rows, 0))

    def to_dense(self, n_cols):
        """``(n, n_cols, n_stats)``; for small problems (PCA's inputs)."""
        out = np.zeros((self.n_rows, n_cols, self.n_stats))
        for cols, stats, vals in self.parts:
            np.add.at(out, (slice(None), cols, stats), vals)
        return out

    def moved(self, coef, rows=slice(None)):
        """``Θ ∂x̃_j/∂φ`` of shape (r, n_outputs, n_stats) for coefficients ``coef`` (n_outputs, n_columns).

        Over the training rows ``rows`` (a slice), so that callers can take it a block at a time.
        """
        k_out = coef.shape[0]
        r = len(range(*rows.indices(self.n_rows)))
        out = np.empty((r, k_out, self.n_stats))
        written = np.zeros(self.n_stats, bool)  # statistics already holding a value (the rest start at 0)
        for cols, stats, vals in self.parts:
            vals = vals[rows]
            if np.array_equal(stats, np.arange(stats[0], stats[0] + stats.size)):  # a run of statistics: a view
                run = slice(stats[0], stats[0] + stats.size)
                if not written[run].any():
                    for k in range(k_out):
                        np.multiply(vals, coef[k, cols], out=out[:, k, run])
                else:
                    out[:, :, stats[~written[run]]] = 0.0
                    for k in range(k_out):
                        out[:, k, run] += vals * coef[k, cols]
                written[run] = True
                continue
            out[:, :, ~written] = 0.0
            written[:] = True
            if np.unique(stats).size == stats.size:  # each statistic once: a plain scatter of the columns
                for k in range(k_out):
                    out[:, k, stats] += vals * coef[k, cols]
                continue
            scatter = sp.csr_matrix(
                (np.ones(stats.size), (np.arange(stats.size), stats)), shape=(stats.size, self.n_stats)
            )
            for k in range(k_out):
                out[:, k, :] += np.asarray((vals * coef[k, cols]) @ scatter)
        out[:, :, ~written] = 0.0
        return out

    def moved_by_statistic(self, coef, rows):
        """``Θ ∂x̃_j/∂φ`` laid out statistic-major, shape (n_stats, n_outputs, r), over the rows ``rows`` (a slice).

        :meth:`moved` transposed: each statistic's values over the rows are contiguous, as in
        column-major (n, n_stats) terms.
        """
        k_out = coef.shape[0]
        r = len(range(*rows.indices(self.n_rows)))
        out = np.zeros((self.n_stats, k_out, r))
        for cols, stats, vals in self.parts:
            unique = np.unique(stats).size == stats.size
            for k in range(k_out):
                by_entry = (vals[rows] * coef[k, cols]).T  # (entries, r)
                if unique:
                    out[stats, k, :] += by_entry
                else:
                    np.add.at(out[:, k, :], stats, by_entry)
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


def row_blocks(n_rows, per_row, floats=2**16):
    """Slices over ``n_rows`` rows of ``per_row`` floats each, about ``floats`` floats per block.

    Per-row work over n × (tens of statistics) arrays goes a block at a time: the block's
    temporaries stay in the caches and the allocator reuses them, where n-sized temporaries
    would each be fresh memory (page faults cost more than the arithmetic here).
    """
    step = max(256, floats // max(per_row, 1))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def take_columns(a, index):
    """``a[:, index]``; a view, not a copy, when ``index`` is a run of consecutive columns (the usual case)."""
    index = np.asarray(index)
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return a if index.size == a.shape[1] else a[:, index[0] : index[0] + index.size]
    return a[:, index]


def column_dots(a, a_cols, b, b_cols):
    """``Σ_r a[r, a_cols[e]] b[r, b_cols[e]]`` for every ``e``: shape (len(a_cols),).

    One BLAS product ``aᵀ b`` when its size is small, else one dot per pair (no copies of the columns).
    """
    a_cols, b_cols = np.asarray(a_cols, dtype=np.intp), np.asarray(b_cols, dtype=np.intp)
    if a_cols.size == 0:
        return np.zeros(0)
    if a.shape[1] * b_cols.size <= 4096:
        return (a.T @ take_columns(b, b_cols))[a_cols, np.arange(b_cols.size)]
    return np.array([a[:, i] @ b[:, j] for i, j in zip(a_cols, b_cols)])


def missing_or_none(x):
    """``np.isnan(x)``, or ``None`` when nothing is missing (the usual case: no masks to apply)."""
    missing = np.isnan(x)
    return missing if missing.any() else None


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
