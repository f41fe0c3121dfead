"""Matrix-free preconditioned conjugate gradients, many systems at once."""

import functools
import warnings

import numpy as np
from scipy.linalg import eigvalsh_tridiagonal
from sklearn import get_config
from sklearn.exceptions import ConvergenceWarning

from .._progress import progress
from ._base import _SINGULAR_REMEDY, _SMALLEST_USEFUL_CG_TOL, CG_PARAMS_RTOL, _NonPositiveCurvature, _Solver


class CGSolver(_Solver):
    """Preconditioned conjugate gradients on matrix-free Hessian products, many systems at once.

    ``H`` is never formed. The right-hand sides are solved together: every iteration
    applies ``H`` to the whole block of search directions with one matrix-matrix product
    (two BLAS-3 passes over ``X``, ``X̃ Vᵀ`` and ``X̃ᵀ U``), instead of one matrix-vector
    product per system; each system keeps its own step sizes, so this is exactly
    ``scipy.sparse.linalg.cg``'s recurrence run column by column. Converged systems drop
    out of the block. Blocks are sized so that the ``n × block`` temporaries stay within
    scikit-learn's ``working_memory``.

    **Preconditioner.** Jacobi (the diagonal of ``H``, computed once in ``fit``), with the
    intercept eliminated when the last column is one: writing ``h = H e_b`` for the
    intercept's column of ``H`` (one Hessian product in ``fit``) and ``μ = h_{:b} / h_b``,

    .. math::
        M = T^{-\\top} S\\, T^{-1}, \\qquad
        T = \\begin{pmatrix} I & 0 \\\\ -μ^\\top & 1 \\end{pmatrix}, \\qquad
        S = \\operatorname{diag}\\bigl(H_{jj} - h_j^2 / h_b, \\; h_b\\bigr),

    i.e. Jacobi on ``Tᵀ H T``, the Hessian in the coordinates where the features are
    centred by their curvature-weighted means (the intercept-feature block of ``Tᵀ H T`` is
    zero). ``M⁻¹ = T S⁻¹ Tᵀ`` costs O(p) per vector. Every ``S_jj`` is the Schur complement
    of a 2 × 2 principal minor of ``H``, so ``M`` is positive definite whenever ``H`` is.
    Uncentred data with an intercept (counts, one-hot, all-positive features) otherwise
    leave one large eigenvalue (the mean direction) and one small one (intercept against
    the features' mean) in the Jacobi-scaled ``H``. With several outputs each output's
    intercept is eliminated within its own block.

    **Warm starts.** :meth:`solve` accepts an initial guess ``x0``; without one, and with
    ``warm_start=True``, the solver starts from the last solved systems (``B_old`` and
    ``X_old ≈ H⁻¹ B_old``, kept while they fit in a quarter of ``working_memory``):

    .. math::
        x_0 = X_{old}\\, c, \\qquad c = \\arg\\min_c \\lVert b - B_{old}\\, c \\rVert,

    the combination whose residual would be smallest if ``X_old`` were exact: ``b`` itself
    when it was solved before, ``s·x`` for a multiple ``s·b`` (the same query points with
    other labels). The residual ``b − H x_0`` is then computed afresh (one Hessian product;
    a guess whose residual exceeds ``||b||`` is dropped for zero), so the tolerance is met
    exactly as from a cold start and the start is never worse than zero: the memory only
    changes where CG starts, never what it converges to. Asking about the same queries
    again (``influence``, then ``leave_one_out`` or ``top_influences``) costs one Hessian
    product instead of a full solve. The memory is not pickled.

    **Accuracy.** A system ``H x = b`` is solved when its residual ``r = b − H x̂`` meets
    ``rtol`` in both the Euclidean norm and the preconditioner's norm
    ``||r||_{M⁻¹} = (rᵀ M⁻¹ r)^{1/2}`` (free: ``rᵀz`` of the recurrence). The second gives
    a guarantee on the solution in the curvature-weighted norm ``||v||_M = (vᵀ M v)^{1/2}``,
    which does not depend on the units of the features:

    .. math::
        \\frac{\\lVert \\hat x - x \\rVert_M}{\\lVert x \\rVert_M}
        \\le κ \\cdot \\text{rtol}, \\qquad κ = \\operatorname{cond}(M^{-1} H),

    because ``||x̂ − x||_M ≤ ||r||_{M⁻¹} / λ_min`` and ``||b||_{M⁻¹} ≤ λ_max ||x||_M`` (the
    extreme eigenvalues of ``M⁻¹H``). Parameter-space results (``influence_params``,
    ``leave_one_out_params``, the Newton step) carry that error; loss-space results
    ``gᵀ x̂`` are usually far more accurate, since ``g`` weighs the well-determined directions.
    :meth:`estimate_condition` estimates ``κ`` in ``fit`` from the Lanczos coefficients of
    one preconditioned solve (the CG step sizes ``α_j`` and ``β_j = r_{j+1}ᵀz_{j+1} / r_jᵀz_j``
    define the tridiagonal Lanczos matrix of ``M⁻¹H``, whose extreme eigenvalues converge
    to ``M⁻¹H``'s), and warns when ``κ · rtol`` exceeds :data:`CG_PARAMS_RTOL`.

    Systems that miss ``rtol`` within ``max_iter`` iterations are counted and reported with
    a ``ConvergenceWarning``; a direction of non-positive curvature (a singular or
    indefinite Hessian) is an error naming the remedies.

    Parameters
    ----------
    hessian_product : callable
        ``V -> H V`` on arrays of shape (r, n_outputs, n_columns) (``H₀ V`` on shape
        (r, 1, n_columns) when separable). Must be picklable (a bound method or a
        ``functools.partial``), so that the fitted estimator pickles.
    diagonal : ndarray
        Diagonal of ``H`` (of ``H₀`` when separable).
    n_outputs, n_columns : int
        Internal parameter layout.
    separable : bool
        Whether the operator is the shared block ``H₀``.
    n_samples : int
        Training rows (sizes the blocks of right-hand sides).
    rtol : float
        Relative residual tolerance of each solve.
    max_iter : int or None
        Iteration cap per solve (``None``: 10 × dimension).
    intercept : bool, default=False
        Whether the last column of every output is an intercept, eliminated in the
        preconditioner.
    warm_start : bool, default=False
        Remember the last solved systems and start from them (see above).
    verbose : int, default=0
        Report progress over blocks of right-hand sides.

    Attributes
    ----------
    n_iter_ : int
        Hessian products (iterations, plus one for a warm start's residual) of the last
        :meth:`solve`, summed over its blocks of right-hand sides.
    condition_ : float or None
        ``κ = cond(M⁻¹H)`` estimated by :meth:`estimate_condition` (``None`` until it runs).
    """

    def __init__(
        self,
        hessian_product,
        diagonal,
        n_outputs,
        n_columns,
        separable,
        n_samples,
        rtol,
        max_iter,
        intercept=False,
        warm_start=False,
        verbose=0,
    ):
        super().__init__(n_outputs, n_columns, separable)
        self.verbose = verbose
        self.warm_start = warm_start
        if np.any(diagonal <= 0):
            raise ValueError(
                f"The Hessian has a non-positive diagonal entry (min {diagonal.min():.3g}). {_SINGULAR_REMEDY}"
            )
        self.hessian_product = hessian_product
        self.curvature_floor = 1e-14 * diagonal.max()
        self.n_samples = n_samples
        self.rtol = rtol
        self.max_iter = 10 * diagonal.shape[0] if max_iter is None else max_iter
        self.coupling = None
        scale = diagonal
        if intercept and n_columns > 1:
            self.coupling, scale = self._eliminate_intercept(diagonal)
        self.inverse_diagonal = 1.0 / scale
        self._recycled = None
        self.n_iter_ = 0
        self.condition_ = None

    def _eliminate_intercept(self, diagonal):
        """``μ`` of shape (k, n_columns − 1) and the diagonal of ``S`` (see the class docstring)."""
        k_out = 1 if self.separable else self.n_outputs
        units = np.zeros((k_out, k_out, self.n_columns))
        units[np.arange(k_out), np.arange(k_out), -1] = 1.0
        column = self.hessian_product(units)[np.arange(k_out), np.arange(k_out)]  # (k, n_columns): H e_b
        coupling = column[:, :-1] / column[:, -1:]
        schur = diagonal.reshape(k_out, self.n_columns).copy()
        schur[:, :-1] -= column[:, :-1] * coupling
        # a 2 × 2 Schur complement of a positive definite H is positive; keep rounding from breaking that
        schur[:, :-1] = np.maximum(schur[:, :-1], 1e-12 * diagonal.reshape(k_out, -1)[:, :-1])
        return coupling, schur.ravel()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_recycled"] = None  # a starting point for the next solve, not fitted state
        return state

    def precondition(self, residual):
        """``M⁻¹ r`` for every row of ``residual`` (flat layout)."""
        if self.coupling is None:
            return residual * self.inverse_diagonal
        shaped = residual.reshape(residual.shape[0], -1, self.n_columns)
        out = shaped.copy()
        out[:, :, :-1] -= shaped[:, :, -1:] * self.coupling  # Tᵀ r
        out *= self.inverse_diagonal.reshape(-1, self.n_columns)  # S⁻¹
        out[:, :, -1] -= np.einsum("rkc,kc->rk", out[:, :, :-1], self.coupling)  # T
        return out.reshape(residual.shape)

    def solve(self, B, x0=None):
        """``H⁻¹ B`` for ``B`` of shape (r, n_outputs, n_columns), from ``x0`` if given.

        Parameters
        ----------
        B : ndarray of shape (r, n_outputs, n_columns)
            Right-hand sides.
        x0 : ndarray of shape (r, n_outputs, n_columns), default=None
            Initial guess; ``None`` starts from zero, or, with ``warm_start=True``, from the
            projection onto the last solved systems (zero when there are none).

        Returns
        -------
        solution : ndarray of shape (r, n_outputs, n_columns)
            ``H⁻¹ B`` to the relative residual tolerance.
        """
        if x0 is None:
            return super().solve(B)
        flat = self._flat(B)
        return self._solve_rows(flat, self._flat(np.asarray(x0, dtype=float)).reshape(flat.shape)).reshape(B.shape)

    def _block_size(self):
        per_system = 8 * (
            2 * self.n_samples * (1 if self.separable else self.n_outputs) + 6 * self.inverse_diagonal.size
        )
        return max(1, int(get_config()["working_memory"] * 2**20 // per_system))

    def _recycled_guess(self, rhs):
        """``X_old c`` with ``c`` minimising ``||rhs − B_old c||`` over the last solved systems, or None."""
        if self._recycled is None or self._recycled[0].shape[1] != rhs.shape[1]:
            return None
        old_rhs, old_solution = self._recycled
        # least squares by the normal equations (BLAS-3, r_old × r_old), plus one refinement step
        values, vectors = np.linalg.eigh(old_rhs @ old_rhs.T)
        keep = values > 1e-12 * values[-1]
        if values[-1] <= 0 or not np.any(keep):
            return None
        pseudo_inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
        coef = (rhs @ old_rhs.T) @ pseudo_inverse  # (r, r_old)
        coef += ((rhs - coef @ old_rhs) @ old_rhs.T) @ pseudo_inverse
        return coef @ old_solution

    def _solve_rows(self, rows, x0=None):
        out = np.zeros_like(rows)
        block = self._block_size()
        failed = 0
        self.n_iter_ = 0
        starts = range(0, len(rows), block)
        for start in progress(starts, total=len(starts), description="CG blocks", verbose=self.verbose):
            rhs = rows[start : start + block]
            guess = self._recycled_guess(rhs) if x0 is None else x0[start : start + block]
            solution, converged = self._pcg(rhs, guess)
            out[start : start + block] = solution
            failed += np.count_nonzero(~converged)
        if failed:
            warnings.warn(
                f"Conjugate gradients did not reach cg_tol={self.rtol:g} within cg_max_iter="
                f"{self.max_iter} iterations for {failed} of {len(rows)} systems. The Hessian may be "
                "ill-conditioned (no penalty, nearly separable classes, collinear features): add damping, "
                "use a finite C, increase cg_max_iter, or use solver='exact' if the parameter count is small.",
                ConvergenceWarning,
                stacklevel=4,
            )
        if self.warm_start and 2 * rows.nbytes <= get_config()["working_memory"] * 2**20 // 4:
            self._recycled = (rows.copy(), out)
        return out

    def _product(self, rows):
        shape = self._operator_shape
        self.n_iter_ += 1
        return self.hessian_product(rows.reshape(shape)).reshape(rows.shape)

    def _pcg(self, rhs, x0=None, record=None):
        """Preconditioned CG on every row of ``rhs`` at once; (solutions, converged mask).

        ``record(alpha, beta)``, when given, sees every iteration's coefficients of the
        active systems and stops the iteration by returning True.
        """
        if x0 is None or not np.any(x0):
            solution = np.zeros_like(rhs)
            residual = rhs.copy()
        else:
            solution = np.array(x0, dtype=float)
            residual = rhs - self._product(solution)
            worse = np.linalg.norm(residual, axis=1) > np.linalg.norm(rhs, axis=1)
            solution[worse], residual[worse] = 0.0, rhs[worse]  # a guess worse than zero is dropped
        preconditioned = self.precondition(residual)
        direction = preconditioned.copy()
        rz = np.einsum("ij,ij->i", residual, preconditioned)
        target = self.rtol * np.linalg.norm(rhs, axis=1)
        # rtol in the preconditioner's norm too: the guarantee on ||x̂ − x||_M (class docstring)
        target_m = self.rtol**2 * np.einsum("ij,ij->i", rhs, self.precondition(rhs))
        active = (np.linalg.norm(residual, axis=1) > target) | (rz > target_m)
        for _ in range(self.max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            p = direction[idx]
            hp = self._product(p)
            curvature = np.einsum("ij,ij->i", p, hp)
            if np.any(curvature <= self.curvature_floor * np.einsum("ij,ij->i", p, p)):
                worst = float(np.min(curvature / np.einsum("ij,ij->i", p, p)))
                raise _NonPositiveCurvature(
                    f"Conjugate gradients met a direction of (numerically) zero or negative curvature "
                    f"(pᵀHp / pᵀp = {worst:.3g}): the Hessian is singular or not positive definite. {_SINGULAR_REMEDY}"
                )
            alpha = rz[idx] / curvature
            solution[idx] += alpha[:, None] * p
            residual[idx] -= alpha[:, None] * hp
            z = self.precondition(residual[idx])
            rz_new = np.einsum("ij,ij->i", residual[idx], z)
            direction[idx] = z + (rz_new / rz[idx])[:, None] * p
            if record is not None and record(alpha, rz_new / rz[idx]):
                break
            rz[idx] = rz_new
            active[idx] = (np.linalg.norm(residual[idx], axis=1) > target[idx]) | (rz_new > target_m[idx])
        return solution, ~active

    def _preconditioner_root(self, w):
        """``L w`` for ``M = L Lᵀ`` with ``L = T^{-⊤} S^{1/2}`` (``S^{1/2}`` alone without coupling)."""
        out = w / np.sqrt(self.inverse_diagonal)
        if self.coupling is None:
            return out
        shaped = out.reshape(out.shape[0], -1, self.n_columns)
        shaped[:, :, :-1] += shaped[:, :, -1:] * self.coupling  # T^{-⊤} = [[I, μ], [0, 1]]
        return shaped.reshape(out.shape)

    def estimate_condition(self, seed=0):
        """``κ = cond(M⁻¹H)`` from the Lanczos coefficients of one preconditioned solve.

        The right-hand side is ``b = L u`` with ``u`` standard normal and ``M = L Lᵀ``, so that
        the symmetric form of the iteration, CG on ``L⁻¹ H L⁻ᵀ``, starts from a random vector
        with a component along every eigenvector. The solve runs to ``rtol`` (capped at
        ``max_iter``) and stops early once ``κ`` exceeds ``CG_PARAMS_RTOL / 1e-14``, beyond
        which no tolerance can keep the guarantee. The extreme Ritz values lie inside the
        spectrum of ``M⁻¹H``, so the estimate never exceeds ``κ`` and is close to it once
        the solve has converged. A direction of non-positive curvature gives ``inf``.
        The memory of warm starts and ``n_iter_`` are left untouched.

        Parameters
        ----------
        seed : int, default=0
            Seed of the random right-hand side (fixed: ``fit`` is deterministic).

        Returns
        -------
        condition : float
            The estimate, also stored as ``condition_``.
        """
        n_iter = self.n_iter_
        u = np.random.default_rng(seed).standard_normal((1, self.inverse_diagonal.size))
        rhs = self._preconditioner_root(u)
        cap = CG_PARAMS_RTOL / _SMALLEST_USEFUL_CG_TOL
        alphas, betas = [], []

        def ritz_ratio():
            a, b = np.asarray(alphas), np.asarray(betas)
            diagonal = 1.0 / a
            diagonal[1:] += b[:-1] / a[:-1]
            values = eigvalsh_tridiagonal(diagonal, np.sqrt(b[:-1]) / a[:-1])
            return values[-1] / values[0] if values[0] > 0 else np.inf

        def record(alpha, beta):
            alphas.append(float(alpha[0]))
            betas.append(float(beta[0]))
            return len(alphas) % 10 == 0 and ritz_ratio() > cap  # hopeless: stop

        try:
            self._pcg(rhs, record=record)
            condition = ritz_ratio() if alphas else 1.0
        except _NonPositiveCurvature:
            condition = np.inf
        self.n_iter_ = n_iter
        self.condition_ = float(condition)
        return self.condition_


def objective_cg(objective, design, curvature, damping, **options):
    """:class:`CGSolver` on the matrix-free Hessian of a linear objective, ``curvature`` = ``s_i A_i`` per row.

    ``options`` are :class:`CGSolver`'s keyword parameters (``rtol``, ``max_iter``, ...); the
    intercept is eliminated in the preconditioner when the objective fits one.
    """
    return CGSolver(
        functools.partial(objective.hessian_product, design, curvature, damping=damping),
        objective.hessian_diagonal(design, curvature, damping),
        objective.n_outputs,
        objective.n_columns,
        objective.separable,
        design.n_samples,
        intercept=getattr(objective, "fit_intercept", False),
        **options,
    )


def checked_condition(solver, stacklevel=1):
    """``solver.estimate_condition()``, with a ``ConvergenceWarning`` when ``κ · rtol`` exceeds ``CG_PARAMS_RTOL``.

    ``stacklevel`` counts from the caller, as :func:`warnings.warn`'s does from its caller.
    """
    condition = solver.estimate_condition()
    message = cg_accuracy_message(condition, solver.rtol)
    if message is not None:
        warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel + 1)
    return condition


def cg_accuracy_message(condition, rtol):
    """The warning for a CG solver whose guarantee ``κ · rtol`` exceeds ``CG_PARAMS_RTOL``, or None."""
    bound = condition * rtol
    if bound <= CG_PARAMS_RTOL:
        return None
    if np.isfinite(condition) and CG_PARAMS_RTOL / condition >= _SMALLEST_USEFUL_CG_TOL:
        tighter = f"a smaller cg_tol (<= {CG_PARAMS_RTOL / condition:.0e}; each solve then takes longer), "
    else:
        tighter = ""
    size = f"{condition:.1e}" if np.isfinite(condition) else "infinite (a direction of zero curvature)"
    at_least = " at least" if condition > CG_PARAMS_RTOL / _SMALLEST_USEFUL_CG_TOL else ""
    return (
        f"The preconditioned Hessian's condition number is{at_least} {size}, so with cg_tol={rtol:g} the "
        f"parameter-space results of conjugate gradients (influence_params, leave_one_out_params, "
        f"leave_group_out_params, and the parameters behind method='newton') may be off by up to "
        f"{min(bound, 1.0):.1e} relative (in the curvature-weighted norm; loss-space results are usually far "
        f"more accurate). Use {tighter}solver='exact' if the parameter count allows, or damping > 0 / a "
        "stronger penalty to improve the conditioning."
    )
