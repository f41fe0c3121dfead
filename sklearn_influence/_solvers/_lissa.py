"""LiSSA (Agarwal et al., 2017), the stochastic inverse-Hessian estimator of Koh & Liang: the solver and its fit.

``fit_lissa`` chooses the scale, bounds the truncation bias and measures the noise once in
``InfluenceEstimator.fit``; :class:`LissaSolver` applies the series.
"""

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._progress import progress
from ._base import _Solver

#: ``lissa_error_`` or ``lissa_bias_bound_`` above which ``fit`` warns.
LISSA_RTOL = 1e-2


def fit_lissa(params, objective, design, curvature, residuals):
    """The :class:`LissaSolver` for a fitted objective, its bias bound and its measured noise.

    ``params`` holds the ``lissa_*``, ``damping``, ``random_state`` and ``verbose`` settings
    (the estimator). Returns ``(solver, lissa_bias_bound_, lissa_error_)``.
    """
    if not objective.closed_form:
        raise ValueError("solver='lissa' is implemented for linear models; use 'exact' or 'cg'.")
    for name in ("lissa_depth", "lissa_repeats", "lissa_batch_size"):
        value = getattr(params, name)
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {name}={value!r}.")
    dimension = objective.n_columns * (1 if objective.separable else objective.n_outputs)
    shape = (1, 1, objective.n_columns) if objective.separable else (1, objective.n_outputs, objective.n_columns)
    largest, smallest = mean_hessian_extremes(
        lambda v: objective.hessian_product(design, curvature, v.reshape(shape), damping=params.damping),
        dimension,
        design.n_samples,
    )
    # each step uses a Hessian estimated on a few rows: the scale must dominate those too
    row_curvature = curvature if objective.separable else np.trace(curvature, axis1=1, axis2=2)
    regulariser = (np.max(objective.penalty) + params.damping) / design.n_samples
    sampled = float(np.max(row_curvature * design.squared_row_norms())) + regulariser
    needed = max(largest, sampled)
    scale = 1.25 * needed if params.lissa_scale is None else params.lissa_scale
    if not (isinstance(scale, numbers.Real) and scale > 0):
        raise ValueError(f"lissa_scale must be None or a number > 0; got lissa_scale={params.lissa_scale!r}.")
    if scale <= needed:
        warnings.warn(
            f"LiSSA assumes lissa_scale above the largest eigenvalue of the mean Hessian H/n ({largest:.3g}) "
            f"and of its one-row estimates (up to {sampled:.3g}); with lissa_scale={scale:g} the series "
            f"can diverge. Set lissa_scale >= {1.25 * needed:.3g} (or None to choose it).",
            ConvergenceWarning,
            stacklevel=5,
        )
    smallest = max(smallest, (np.min(objective.penalty) + params.damping) / design.n_samples)  # H ⪰ diag(λ)
    bias_bound = lissa_bias_bound(smallest, largest, scale, params.lissa_depth)
    solver = LissaSolver(
        objective,
        design,
        curvature,
        params.damping,
        scale,
        params.lissa_depth,
        params.lissa_repeats,
        params.lissa_batch_size,
        params.random_state,
        params.verbose,
    )
    # the noise, measured on a few training gradients (the right-hand sides influence solves)
    rows = np.unique(np.linspace(0, design.n_samples - 1, min(8, design.n_samples)).astype(int))
    probes = residuals[rows][:, :, None] * design.take(rows).dense()[:, None, :]
    errors = solver.solve_with_error(probes[np.linalg.norm(probes, axis=(1, 2)) > 0], repeats=4)[1]
    error = float(np.sqrt(np.mean(errors**2))) if errors.size else 0.0
    if not error <= LISSA_RTOL or bias_bound > LISSA_RTOL:
        rate = 1.0 - smallest / scale
        depth = int(np.ceil(np.log(LISSA_RTOL) / np.log(rate))) if 0 < rate < 1 else None
        noise = (
            f"off by about {error:.1e} relative (lissa_error_: the standard error of the mean of "
            f"lissa_repeats={params.lissa_repeats} repeats, from their spread on training gradients)"
            if params.lissa_repeats > 1
            else "off by an amount lissa_repeats=1 cannot measure (lissa_error_ is NaN: use 2 or more)"
        )
        warnings.warn(
            f"LiSSA's estimates of H⁻¹v are {noise}, plus up to {bias_bound:.1e} "
            f"(lissa_bias_bound_) from truncating the series at lissa_depth={params.lissa_depth}. For errors "
            f"below {LISSA_RTOL:g}: increase lissa_repeats (the noise falls like 1/sqrt(repeats)) or "
            "lissa_batch_size (less noise per step)"
            + (f", and lissa_depth to at least {depth} for the bias" if depth and depth > params.lissa_depth else "")
            + "; or use solver='exact' or 'cg', which are exact to working precision / to cg_tol.",
            ConvergenceWarning,
            stacklevel=5,
        )
    return solver, bias_bound, error


class LissaSolver(_Solver):
    """LiSSA: the stochastic Neumann-series estimator of Agarwal et al. (2017) used by Koh & Liang.

    On the *mean* objective's Hessian ``H̄ = H/n`` (the paper's scale), each repeat runs

    .. math::
        h_0 = v, \\qquad h_t = v + \\bigl(I - \\tilde H_t / \\text{scale}\\bigr) h_{t-1},
        \\qquad \\bar H^{-1} v \\approx h_T / \\text{scale},

    where ``H̃_t`` is ``H̄`` estimated on ``batch_size`` training rows drawn at random; the
    repeats are averaged and ``H⁻¹ v = H̄⁻¹ v / n``. All right-hand sides share the draws and
    are iterated together.

    **Error.** The draws are independent of ``h_{t−1}``, so ``E[h_T] / scale =
    Σ_{t ≤ T} (I − H̄/scale)^t v / scale``, which differs from ``H̄⁻¹ v`` by
    ``(I − H̄/scale)^{T+1} H̄⁻¹ v``: the truncation bias is at most
    ``ρ^T`` relative to ``H̄⁻¹ v``, ``ρ = max(|1 − λ_min/scale|, |1 − λ_max/scale|)``
    (``1 − λ_min/scale`` when ``scale ≥ λ_max``), with ``λ`` the extreme eigenvalues of
    ``H̄`` including penalty and damping (see :func:`lissa_bias_bound`). On top of it each
    estimate carries the noise of its draws, which the bias says nothing about: with one
    row per step it is often several per cent. :meth:`solve_with_error` measures it by the
    spread between repeats (the standard error of their mean).

    Parameters
    ----------
    objective : LinearObjective
        Supplies the Hessian-vector product restricted to a batch of rows.
    design : LinearDesign
        The training rows.
    curvature : ndarray
        ``s_i A_i`` of every training row.
    damping : float
        Added to the Hessian.
    scale, depth, repeats, batch_size : float, int, int, int
        The estimator's settings.
    random_state : int, RandomState instance or None
        Seed of the row draws: an int is the seed itself; otherwise one seed is drawn here, so that
        every solve repeats the same draws.
    verbose : int, default=0
        Report progress over the repeats.
    """

    def __init__(
        self, objective, design, curvature, damping, scale, depth, repeats, batch_size, random_state, verbose=0
    ):
        super().__init__(objective.n_outputs, objective.n_columns, objective.separable)
        self.verbose = verbose
        self.objective, self.design, self.curvature, self.damping = objective, design, curvature, damping
        self.n_samples = design.n_samples
        self.scale, self.depth, self.repeats, self.batch_size = scale, depth, repeats, batch_size
        # one seed drawn at fit: every solve repeats the same draws, whatever the queries and their order,
        # and a RandomState instance is read once, not consumed query after query
        if isinstance(random_state, numbers.Integral):
            self.seed = int(random_state)
        else:
            self.seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))

    def hessian_product(self, rows, factor, V):
        """The full Hessian estimated on ``rows``: data part × ``factor``, plus penalty and damping."""
        return self.objective.hessian_product(
            self.design.take(rows), self.curvature[rows] * factor, V, damping=self.damping
        )

    def _solve_rows(self, rows):
        return self._repeated(rows)[0]

    def _repeated(self, rows, repeats=None):
        """Mean over ``repeats`` (default: all) repeats of ``H⁻¹ v`` per row of ``rows``, and one repeat's variance."""
        repeats = self.repeats if repeats is None else repeats
        shape = self._operator_shape
        rng = np.random.RandomState(self.seed)
        n, factor = self.n_samples, self.n_samples / self.batch_size
        mean, spread = np.zeros_like(rows), np.zeros_like(rows)  # Welford: running mean, sum of squared deviations
        for count in progress(range(1, repeats + 1), total=repeats, description="LiSSA repeats", verbose=self.verbose):
            h = rows.copy()
            for _ in range(self.depth):
                batch = rng.randint(0, n, self.batch_size)
                product = self.hessian_product(batch, factor, h.reshape(shape)).reshape(h.shape) / n
                h = rows + h - product / self.scale
            estimate = h / (self.scale * n)
            deviation = estimate - mean
            mean += deviation / count
            spread += deviation * (estimate - mean)
        return mean, spread / max(repeats - 1, 1)

    def solve_with_error(self, B, repeats=None):
        """LiSSA's ``H⁻¹ B`` and the relative standard error of the estimate :meth:`solve` returns.

        The repeats are independent and identically distributed, so the variance ``Var_c`` of
        one repeat, estimated from the spread of the first ``repeats`` of them, gives the
        standard error of the mean of all ``self.repeats``: ``(Σ_c Var_c / self.repeats)^{1/2}
        / ||mean||``.

        Parameters
        ----------
        B : ndarray of shape (r, n_outputs, n_columns)
            Right-hand sides.
        repeats : int, default=None
            How many repeats to run for the estimate (at least 2; ``None``: all of them).

        Returns
        -------
        solution : ndarray of shape (r, n_outputs, n_columns)
            The mean of the repeats run (with all of them, what :meth:`solve` returns for
            the same ``random_state``).
        relative_error : ndarray of shape (r,)
            The relative standard error of :meth:`solve`'s solution (NaN with a single
            repeat): the typical relative size of its noise, which the truncation bias
            comes on top of.
        """
        sample_repeats = min(self.repeats if repeats is None else repeats, self.repeats)
        mean, variance = self._repeated(self._flat(B), sample_repeats)
        mean, variance = mean.reshape(B.shape[0], -1), variance.reshape(B.shape[0], -1)
        error = np.sqrt(variance.sum(axis=1) / self.repeats) / np.linalg.norm(mean, axis=1)
        if sample_repeats < 2:
            error[:] = np.nan
        return mean.reshape(B.shape), error


def lissa_bias_bound(smallest, largest, scale, depth):
    """``ρ^depth`` with ``ρ = max(|1 − λ_min/scale|, |1 − λ_max/scale|)``: LiSSA's relative truncation bias.

    ``λ_min``, ``λ_max`` are the extreme eigenvalues of the mean Hessian ``H/n`` the recursion
    iterates on (penalty and damping included). ``inf`` when the series diverges (``ρ > 1``).
    """
    rho = max(abs(1.0 - max(smallest, 0.0) / scale), abs(1.0 - largest / scale))
    if rho >= 1.0:
        return 1.0 if rho == 1.0 else np.inf
    return float(np.exp(depth * np.log(rho))) if rho > 0 else 0.0


def mean_hessian_extremes(hessian_product, dimension, n_samples):
    """Largest and smallest eigenvalues of ``H/n`` by Lanczos on Hessian-vector products."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    operator = LinearOperator(
        (dimension, dimension), matvec=lambda v: hessian_product(np.asarray(v).reshape(1, -1)).ravel() / n_samples
    )
    if dimension < 3:  # Lanczos needs room: form the small matrix
        matrix = np.column_stack([operator.matvec(e) for e in np.eye(dimension)])
        values = np.linalg.eigvalsh((matrix + matrix.T) / 2)
        return values[-1], values[0]
    largest = eigsh(operator, k=1, which="LA", tol=1e-4, return_eigenvectors=False)[0]
    try:
        smallest = eigsh(operator, k=1, which="SA", tol=1e-4, maxiter=20 * dimension, return_eigenvectors=False)[0]
    except ArpackNoConvergence:
        smallest = 0.0  # no estimate: no bound on the bias (a Ritz value would overestimate λ_min)
    return largest, smallest
