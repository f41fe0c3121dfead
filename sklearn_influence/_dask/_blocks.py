"""One row block of a Dask-fitted estimator, and the small state every block task shares.

A block task receives the numpy or scipy.sparse rows of one chunk of ``X`` (with their
labels, weights and penalty shares) and the fitted state, and rebuilds that block's
quantities with the same objective and design classes as the numpy path
(``objective.design``, ``objective.raw``, ``loss.gradient``, ``curvature_weights``), so
the mathematics is written once. Recomputing ``f_i = Θ x̃_i`` in every task costs one
product with the block, less than moving the residuals over the network.

The small matrices (the solver's factor, the solved query gradients ``V = H⁻¹ g_q``, ...)
enter the graph once, as the single chunk of an object array (:func:`shared`), and every
block task refers to that one key: the graph grows with the number of row blocks.
"""

import uuid

import numpy as np
import scipy.sparse as sp

from .._quantities._newton import NewtonStepMixin


class FittedState:
    """What every block task needs of a Dask fit: small, pickled once per graph.

    Parameters
    ----------
    objective : LinearObjective
        The decoded sum-form objective (penalty included).
    solver : ExactSolver
        The factorised Hessian.
    n_samples : int
        Training rows ``n`` (the factor of ``−n g_jᵀ H⁻¹ g_i``).
    damping : float
        The damping ``H`` was built with.
    stationary_shift : ndarray of shape (n_outputs, n_columns) or None
        ``H⁻¹ ∇O(θ̂)`` (see ``NewtonStepMixin._stationary_shift``).
    share_solution : ndarray of shape (n_outputs, n_columns) or None
        ``H⁻¹ q`` for a data-scaled penalty (GLMs, SGD), else None.
    """

    def __init__(self, objective, solver, n_samples, damping, stationary_shift, share_solution):
        self.objective = objective
        self.solver = solver
        self.n_samples = n_samples
        self.damping = damping
        self.stationary_shift = stationary_shift
        self.share_solution = share_solution


def model_rows(X):
    """A block of ``X`` as the model sees it: float64 or float32, dense or CSR; finite."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        values = X.data
    else:
        X = np.asarray(X)
        values = X
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
        values = X.data if sp.issparse(X) else X
    if not np.all(np.isfinite(values)):
        raise ValueError("X contains NaN or infinity (in a row block of the Dask array).")
    return X


def checked_weights(weights):
    """A block of sample weights, refused unless finite and non-negative."""
    weights = np.asarray(weights, dtype=float)
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ValueError(
            f"sample_weight must contain finite, non-negative numbers; got {int(bad.sum())} that are not in a row "
            f"block, e.g. {weights[np.flatnonzero(bad)[0]]:g}. A weight of 0 removes a row."
        )
    return weights


class BlockRows(NewtonStepMixin):
    """The fitted quantities of one row block, with the attributes the numpy path's helpers read.

    Its ``_newton_coefficients`` is the numpy path's (``NewtonStepMixin``). Only the
    recomputation of ``1 − s_i a_i h_i`` for rows of leverage near 1
    (:meth:`_reduced_forms`), which needs every other training row, is replaced by the
    plain value with its rounding error: such rows get the same NaN or accuracy warning
    as in the numpy path when cancellation matters (warnings raised on a distributed
    worker go to its log, and name positions within the block).
    """

    def __init__(self, fitted, X, y, weights, shares=None):
        objective = fitted.objective
        self._objective, self._solver, self._damping = objective, fitted.solver, fitted.damping
        self._share_solution = fitted.share_solution
        self._channel = None
        self._targets = objective.encode(np.asarray(y))
        self._design = objective.design(model_rows(X), self._targets)
        self._raw = objective.raw(self._design)
        self._residuals = objective.loss.gradient(self._targets, self._raw)
        self._weights = checked_weights(weights)
        self._curvature = objective.curvature_weights(self._targets, self._raw, self._weights)
        self._penalty_shares = None if shares is None else np.asarray(shares, dtype=float)

    @property
    def dtype(self):
        """float32 for float32 ``X``, else float64: the dtype of result-sized products."""
        return self._design.dtype

    def unit_shares(self):
        """``κ_i = c_i / s_i`` (0 where ``s_i = 0``), or None: as ``InfluenceQuantitiesMixin._unit_shares``."""
        if self._penalty_shares is None:
            return None
        s, c = self._weights, self._penalty_shares
        return np.divide(c, s, out=np.zeros(c.shape), where=s > 0)

    def gradients(self, coefficients):
        """``c_i ⊗ x̃_i`` of shape (b, n_outputs, n_columns), as ``InfluenceQuantitiesMixin._gradients``."""
        return coefficients[:, :, None] * self._design.dense()[:, None, :]

    def _reduced_forms(self, rows):
        """``(N, M, rounding)`` for rows of leverage near 1, from this block alone.

        ``N = M (I − s A M)`` computed directly, with the rounding of that difference as its
        error, so that ``_newton_coefficients`` flags the rows where cancellation matters
        instead of returning a silently wrong step.
        """
        design = self._design.take(rows)
        M = self._solver.quadratic_forms(design)
        curvature = self._objective.loss.hessian(self._targets[rows], self._raw[rows])
        s = self._weights[rows]
        eps = np.finfo(float).eps
        if self._objective.separable:
            pulled = s * curvature * M
            return M * (1.0 - pulled), M, 4 * eps * M * np.maximum(1.0, np.abs(pulled))
        pulled = s[:, None, None] * np.einsum("ikl,ilm->ikm", curvature, M)
        N = M - np.einsum("ikl,ilm->ikm", M, pulled)
        N = 0.5 * (N + np.swapaxes(N, 1, 2))
        size = np.linalg.norm(M, axis=(1, 2)) * np.maximum(1.0, np.linalg.norm(pulled, axis=(1, 2)))
        return N, M, 4 * eps * M.shape[1] * size


def shared(value, label):
    """``value`` as the single chunk of a 1-element object Dask array: one graph key for every task.

    Pass it to :func:`dask.array.blockwise` with an index of its own (contracted): every
    block task then receives the same one-element array, ``[value]``.
    """
    import dask.array as da

    holder = np.empty(1, dtype=object)
    holder[0] = value
    return da.from_array(holder, chunks=1, name=f"sklearn-influence-{label}-{uuid.uuid4().hex}")
