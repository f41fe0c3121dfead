"""Inverse-Hessian solvers: an exact Cholesky factorisation, and matrix-free CG.

A solver is built once in ``fit`` and then applies ``H⁻¹`` to stacks of right-hand sides
of shape ``(r, n_outputs, n_columns)`` (the internal parameter layout). When the
objective is *separable*, ``H = I ⊗ H₀`` and only ``H₀`` is factorised or iterated on;
every output's block is then one more right-hand side.

Both solvers also give the quadratic forms ``M_i = U_iᵀ H⁻¹ U_i`` with
``U_i = I ⊗ x̃_i`` (``M_i[k, l] = x̃_iᵀ (H⁻¹)_{kl} x̃_i``): the leverages that
self-influence and the Newton leave-one-out step need.
"""

import warnings

import numpy as np
from scipy.linalg import LinAlgError, cholesky, lapack, solve_triangular
from scipy.sparse.linalg import LinearOperator, cg
from sklearn.exceptions import ConvergenceWarning

#: Reciprocal condition number below which the Hessian is treated as singular.
SINGULAR_RCOND = 1e-12

_SINGULAR_REMEDY = (
    "Influence needs an invertible Hessian. Set damping > 0 in InfluenceEstimator, use a "
    "finite C / a positive alpha in the estimator, or remove duplicated or constant features."
)


class _Solver:
    def __init__(self, n_outputs, n_columns, separable):
        self.n_outputs = n_outputs
        self.n_columns = n_columns
        self.separable = separable

    def solve(self, B):
        """``H⁻¹ B`` for ``B`` of shape (r, n_outputs, n_columns)."""
        if self.separable:
            flat = B.reshape(-1, self.n_columns)
        else:
            flat = B.reshape(B.shape[0], self.n_outputs * self.n_columns)
        return self._solve_rows(flat).reshape(B.shape)

    def solve_output_units(self, dense):
        """``H⁻¹ (e_l ⊗ x̃_j)`` for every row ``x̃_j`` of ``dense`` and every output ``l``.

        Returns shape (n, n_columns) when separable (only the block ``H₀⁻¹ x̃_j`` is
        non-zero), else (n, n_outputs[l], n_outputs[k], n_columns).
        """
        if self.separable:
            return self._solve_rows(dense)
        n, k_out = dense.shape[0], self.n_outputs
        units = np.zeros((n, k_out, k_out, self.n_columns))
        for k in range(k_out):
            units[:, k, k, :] = dense
        return self.solve(units.reshape(n * k_out, k_out, self.n_columns)).reshape(units.shape)

    def quadratic_forms(self, design):
        """``M_i`` for every row of ``design``: (n,) when separable, else (n, K, K)."""
        dense = design.dense()
        solved = self.solve_output_units(dense)
        if self.separable:
            return np.einsum("ic,ic->i", dense, solved)
        return np.einsum("ilmc,ic->ilm", solved, dense)


class ExactSolver(_Solver):
    """Cholesky factorisation of ``H`` (``H₀`` when separable), computed once.

    Parameters
    ----------
    hessian : ndarray of shape (d, d)
        Symmetric positive definite Hessian (damping already added).
    n_outputs, n_columns : int
        Internal parameter layout.
    separable : bool
        Whether ``hessian`` is the shared block ``H₀`` of ``H = I ⊗ H₀``.

    Raises
    ------
    ValueError
        If ``hessian`` is singular or too ill-conditioned to invert reliably.
    """

    def __init__(self, hessian, n_outputs, n_columns, separable):
        super().__init__(n_outputs, n_columns, separable)
        try:
            self.lower = cholesky(hessian, lower=True, check_finite=True)
        except LinAlgError:
            raise ValueError(
                f"The Hessian of the training objective is not positive definite. {_SINGULAR_REMEDY}"
            ) from None
        rcond, _ = lapack.dpocon(self.lower, np.abs(hessian).sum(axis=0).max(), uplo="L")
        self.rcond = rcond
        if rcond < SINGULAR_RCOND:
            raise ValueError(
                f"The Hessian of the training objective is singular to working precision "
                f"(reciprocal condition number {rcond:.1e} < {SINGULAR_RCOND:.0e}). {_SINGULAR_REMEDY}"
            )

    def _solve_rows(self, rows):
        half = solve_triangular(self.lower, rows.T, lower=True, check_finite=False)
        return solve_triangular(self.lower, half, lower=True, trans="T", check_finite=False).T

    def quadratic_forms(self, design):
        dense = design.dense()
        if self.separable:
            half = solve_triangular(self.lower, dense.T, lower=True, check_finite=False)
            return np.einsum("ci,ci->i", half, half)
        n, k_out, n_col = dense.shape[0], self.n_outputs, self.n_columns
        halves = []
        for k in range(k_out):
            rhs = np.zeros((k_out * n_col, n))
            rhs[k * n_col : (k + 1) * n_col] = dense.T
            halves.append(solve_triangular(self.lower, rhs, lower=True, check_finite=False))
        halves = np.stack(halves)  # (K, d, n)
        return np.einsum("kdi,ldi->ikl", halves, halves)


class CGSolver(_Solver):
    """Conjugate gradients (``scipy.sparse.linalg.cg``) on Hessian-vector products.

    ``H`` is never formed: each product costs two passes over ``X`` (``X̃v`` and
    ``X̃ᵀu``). A Jacobi preconditioner (the diagonal of ``H``, computed once in ``fit``)
    is applied. Systems that miss ``rtol`` within ``max_iter`` iterations are counted and
    reported with a ``ConvergenceWarning``.

    Parameters
    ----------
    hessian_product : callable
        ``V -> H V`` on arrays of shape (r, n_outputs, n_columns) (``H₀ v`` on shape
        (1, 1, n_columns) when separable). Must be picklable (a bound method or a
        ``functools.partial``), so that the fitted estimator pickles.
    diagonal : ndarray
        Diagonal of ``H`` (of ``H₀`` when separable).
    n_outputs, n_columns : int
        Internal parameter layout.
    separable : bool
        Whether the operator is the shared block ``H₀``.
    rtol : float
        Relative residual tolerance of each solve.
    max_iter : int or None
        Iteration cap per solve (``None``: 10 × dimension).
    """

    def __init__(self, hessian_product, diagonal, n_outputs, n_columns, separable, rtol, max_iter):
        super().__init__(n_outputs, n_columns, separable)
        if np.any(diagonal <= 0):
            raise ValueError(
                f"The Hessian has a non-positive diagonal entry (min {diagonal.min():.3g}). "
                f"{_SINGULAR_REMEDY}"
            )
        self.hessian_product = hessian_product
        self.inverse_diagonal = 1.0 / diagonal
        self.rtol = rtol
        self.max_iter = 10 * diagonal.shape[0] if max_iter is None else max_iter

    def _matvec(self, v):
        shape = (1, 1, self.n_columns) if self.separable else (1, self.n_outputs, self.n_columns)
        return self.hessian_product(v.reshape(shape)).ravel()

    def _solve_rows(self, rows):
        dim = rows.shape[1]
        operator = LinearOperator((dim, dim), matvec=self._matvec, dtype=float)
        preconditioner = LinearOperator((dim, dim), matvec=lambda v: self.inverse_diagonal * v.ravel())
        out = np.empty_like(rows)
        failed = 0
        for j, rhs in enumerate(rows):
            if not np.any(rhs):
                out[j] = 0.0
                continue
            out[j], info = cg(
                operator, rhs, rtol=self.rtol, atol=0.0, maxiter=self.max_iter, M=preconditioner
            )
            failed += info != 0
        if failed:
            warnings.warn(
                f"Conjugate gradients did not reach cg_tol={self.rtol:g} within cg_max_iter="
                f"{self.max_iter} iterations for {failed} of {len(rows)} systems. Increase "
                "cg_max_iter, add damping, or use solver='exact' if the parameter count is small.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return out
