"""The exact solver: a Cholesky factorisation of the Jacobi-equilibrated Hessian."""

import numpy as np
from scipy.linalg import LinAlgError, cholesky, eigvalsh, lapack, solve_triangular

from ._base import _SINGULAR_REMEDY, SINGULAR_RCOND, _Solver


class ExactSolver(_Solver):
    """Cholesky factorisation of the Jacobi-equilibrated ``H`` (``H₀`` when separable), computed once.

    With ``D = diag(H)``, the factorised matrix is

    .. math::
        E = D^{-1/2} H D^{-1/2} = L L^\\top, \\qquad
        H^{-1} b = D^{-1/2} L^{-\\top} L^{-1} D^{-1/2} b,

    which has a unit diagonal whatever the features' units. Rescaling a feature by ``k``
    rescales a row and a column of ``H`` and leaves ``E`` unchanged, so both the
    singularity check (on the reciprocal condition number of ``E``) and the accuracy of
    the solves are independent of the features' scales: a feature in the thousands or
    scaled by 1e±6 is handled as well as a standardised one (Cholesky of ``E`` is backward
    stable, and the diagonal scaling is exact up to one rounding per entry). By van der
    Sluis' theorem ``cond(E)`` is within a factor ``d`` of the best condition number any
    diagonal rescaling can reach, so a singular ``E`` is a property of the problem, not of
    its units.

    Parameters
    ----------
    hessian : ndarray of shape (d, d)
        Symmetric Hessian (damping already added).
    n_outputs, n_columns : int
        Internal parameter layout.
    separable : bool
        Whether ``hessian`` is the shared block ``H₀`` of ``H = I ⊗ H₀``.
    damping : float, default=0.0
        The damping already in ``hessian`` (named in the error messages).
    intercept : bool, default=False
        Whether the last column of every output is an intercept (used to tell a feature
        that is nearly collinear with the intercept from other singular cases).
    n_rows : int, default=None
        Training rows with a non-zero weight (used to diagnose too few rows).
    convex : bool, default=None
        Whether the model's objective is convex (a linear model with a convex loss).
        ``False`` or ``None``: a Hessian with a negative eigenvalue is reported as the
        fitted parameters of a non-convex model (e.g. a neural network) needing damping.

    Attributes
    ----------
    rcond : float
        Reciprocal condition number (1-norm, LAPACK's estimate) of ``E``.

    Raises
    ------
    ValueError
        If ``H`` is not positive definite, or ``E`` is singular to working precision
        (``rcond < SINGULAR_RCOND``); the message names the likely cause (too few rows,
        zero weights, a feature nearly constant against the intercept, collinear features,
        a non-convex model) and its remedy.
    """

    def __init__(
        self, hessian, n_outputs, n_columns, separable, damping=0.0, *, intercept=False, n_rows=None, convex=None
    ):
        super().__init__(n_outputs, n_columns, separable)
        self.damping, self.intercept, self.n_rows, self.convex = damping, intercept, n_rows, convex
        hessian = np.asarray(hessian, dtype=float)
        if not np.all(np.isfinite(hessian)):
            raise ValueError(
                "The Hessian of the training objective contains NaN or infinity: the fitted parameters or the "
                "training data are not finite (check X, y, sample_weight and the fitted model's coef_)."
            )
        diagonal = np.diag(hessian)
        if np.any(diagonal <= 0):
            raise ValueError(self._not_positive_definite(hessian))
        self.scale = 1.0 / np.sqrt(diagonal)
        equilibrated = hessian * self.scale[:, None]
        equilibrated *= self.scale
        norm = np.abs(equilibrated).sum(axis=0).max()
        try:
            self.lower = cholesky(equilibrated, lower=True, overwrite_a=True, check_finite=False)
        except LinAlgError:
            raise ValueError(self._not_positive_definite(hessian)) from None
        rcond, _ = lapack.dpocon(self.lower, norm, uplo="L")
        self.rcond = rcond
        if rcond < SINGULAR_RCOND:
            raise ValueError(
                "The Hessian of the training objective is singular to working precision (reciprocal condition "
                f"number {rcond:.1e} < {SINGULAR_RCOND:.0e}, measured after scaling it to a unit diagonal, so "
                f"rescaling features does not change it). {self._singular_cause(hessian)}"
            )

    # --- diagnosis of a singular or indefinite Hessian -----------------------------
    def _not_positive_definite(self, hessian):
        values = eigvalsh(hessian)
        smallest, largest = values[0], max(values[-1], 0.0)
        own = smallest - self.damping  # of the Hessian without damping
        # a convex objective's Hessian is PSD: a negative eigenvalue beyond rounding means non-convexity
        if smallest >= -1e3 * np.finfo(float).eps * hessian.shape[0] * largest:
            return (
                "The Hessian of the training objective is singular: it is not positive definite to working "
                f"precision (smallest eigenvalue {own:.3g}, largest {largest - self.damping:.3g}, "
                f"damping={self.damping:g}). {self._singular_cause(hessian)}"
            )
        needed = f"damping > {-own:.3g} (e.g. damping={max(2 * -own, 1e-8):.2g})"
        if self.convex:
            advice = (
                "the objective is not convex at the fitted parameters (its loss is not convex everywhere, or the "
                f"fit stopped far from its minimum). Set {needed} to make the Hessian invertible, or fit further."
            )
        else:
            advice = (
                "the fitted parameters are not a minimum of a convex objective. A non-convex model (a neural "
                f"network) needs {needed}; a model stopped far from a minimum should also be fitted further."
            )
        return (
            f"The Hessian plus damping·I is not positive definite: the Hessian's smallest eigenvalue is {own:.3g} "
            f"and damping={self.damping:g}: {advice}"
        )

    def _singular_cause(self, hessian):
        """The likely reason for a singular Hessian, with its remedy."""
        n_params = self.n_columns
        if self.n_rows == 0:
            return (
                "All sample weights are zero, so the objective has no data term: influence is undefined. Pass a "
                "sample_weight with positive entries for the rows the model was fitted on."
            )
        if self.n_rows is not None and self.n_rows < n_params:
            per_output = "" if self.n_outputs == 1 else " per output"
            return (
                f"There are too few rows: {self.n_rows} training rows with a non-zero weight for {n_params} "
                f"parameters{per_output}, so the data determine at most {self.n_rows} directions. Use at least "
                f"{n_params} rows, a penalty on every coefficient (alpha > 0, a finite C), or damping > 0 in "
                "InfluenceEstimator."
            )
        if self.intercept and self._centred_is_regular(hessian):
            return (
                "A feature is nearly constant compared with its mean (e.g. values like 1e6 ± 1), so it is almost "
                "collinear with the intercept and its Hessian entries lose their precision to cancellation. Centre "
                "the features (StandardScaler, or subtract each column's mean) before fitting, or set damping > 0."
            )
        return _SINGULAR_REMEDY

    def _centred_is_regular(self, hessian):
        """Whether eliminating the intercepts (a Schur complement) leaves a well-conditioned Hessian."""
        d = hessian.shape[0]
        blocks = 1 if self.separable else self.n_outputs
        intercepts = np.arange(blocks) * self.n_columns + self.n_columns - 1
        features = np.setdiff1d(np.arange(d), intercepts)
        if features.size == 0:
            return False
        h_bb = hessian[np.ix_(intercepts, intercepts)]
        try:
            schur = hessian[np.ix_(features, features)] - hessian[np.ix_(features, intercepts)] @ np.linalg.solve(
                h_bb, hessian[np.ix_(intercepts, features)]
            )
            diagonal = np.diag(schur)
            if np.any(diagonal <= 0):
                return False
            scale = 1.0 / np.sqrt(diagonal)
            equilibrated = schur * scale[:, None] * scale
            lower = cholesky(equilibrated, lower=True, check_finite=False)
        except (LinAlgError, np.linalg.LinAlgError):
            return False
        rcond, _ = lapack.dpocon(lower, np.abs(equilibrated).sum(axis=0).max(), uplo="L")
        return rcond >= SINGULAR_RCOND

    # --- solves ------------------------------------------------------------------------
    def _half_solve(self, columns):
        """``L⁻¹ D^{-1/2} B`` for right-hand sides stored as the columns of ``columns``."""
        return solve_triangular(self.lower, self.scale[:, None] * columns, lower=True, check_finite=False)

    def _solve_rows(self, rows):
        half = self._half_solve(rows.T)
        return (self.scale[:, None] * solve_triangular(self.lower, half, lower=True, trans="T", check_finite=False)).T

    def quadratic_forms(self, design):
        dense = design.dense()
        if self.separable:
            half = self._half_solve(dense.T)
            return np.einsum("ci,ci->i", half, half)
        n, k_out, n_col = dense.shape[0], self.n_outputs, self.n_columns
        halves = []
        for k in range(k_out):
            rhs = np.zeros((k_out * n_col, n))
            rhs[k * n_col : (k + 1) * n_col] = dense.T
            halves.append(self._half_solve(rhs))
        halves = np.stack(halves)  # (K, d, n)
        return np.einsum("kdi,ldi->ikl", halves, halves)
