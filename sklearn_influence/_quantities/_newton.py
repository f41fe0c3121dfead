"""The Newton leave-one-out step: ``(H − s_i ∇²ℓ_i)⁻¹ s_i g_i`` by Woodbury, never refactorising ``H``.

Shared by :meth:`~InfluenceEstimator.leave_one_out` and
:meth:`~InfluenceEstimator.leave_one_out_params` (``method="newton"``): the per-row
coefficients ``c_i`` of the step ``H⁻¹(c_i ⊗ x̃_i)``, the quadratic forms free of
cancellation near leverage 1, and the correction for a fit that stopped short of its
optimum.
"""

import warnings

import numpy as np

from .._models._design import LinearDesign, row_chunks

#: ``1 − s_i a_i h_i`` below which the Newton step recomputes it without cancellation.
NEAR_LEVERAGE_ONE = 1e-3


class NewtonStepMixin:
    """Newton-step coefficients of :class:`InfluenceEstimator`; see :meth:`_newton_coefficients`."""

    def _stationary_shift(self):
        """``H⁻¹ ∇O(θ̂)`` in the internal layout, or None when the fit is by design not stationary.

        ``θ̂ − H⁻¹∇O(θ̂)`` is the Newton estimate of the exact minimiser the fit stopped
        short of. A row of leverage near 1 amplifies what is left of the gradient by
        ``1/(1 − s_i a_i h_i)`` (up to 1e12): the Newton step removes it (see
        :meth:`_newton_coefficients`).
        """
        objective = self._objective
        if not objective.matches_training_loss:  # a smoothed stand-in: θ̂ is the hinge model's
            return None
        gradient = objective.gradient(self._design, self._targets, self._weights, self._residuals)
        return self._solver.solve(gradient[None])[0]

    def _reduced_forms(self, rows):
        """``N_i = W_iᵀ (H − s_i A_i ⊗ x̃_i x̃_iᵀ) W_i`` with ``W_i = H⁻¹ U_i``, free of cancellation.

        ``N_i = M_i (I − s_i A_i M_i)``, so ``1 − s_i a_i h_i = N_i / h_i`` (separable) and
        ``I − s_i A_i M_i = M_i⁻¹ N_i``; computed as ``Σ_{j≠i} (U_jᵀW_i)ᵀ s_j A_j (U_jᵀW_i) + W_iᵀ Λ W_i``,
        a sum of non-negative terms for a convex loss, where ``1 − h`` itself loses every digit
        that ``h`` shares with 1. Costs ``O(n p K²)`` per row: only for rows of leverage near 1.

        Returns ``(N, M, error)``: shapes (r,) or (r, K, K), and an estimate of the error of
        ``N``: the rounding of the dot products ``x̃_jᵀ W_i`` (``ε |x̃_j|ᵀ |W_i|`` each, first
        order), plus ``ρᵀ H⁻¹ ρ`` for the solve's residual ``ρ = U_i − H Ŵ_i``, the second-order
        term through which the solve's error enters (the first-order term cancels:
        ``H₋ᵢ W_i = U_i (I − s_i A_i M_i)``) and all there is when ``H₋ᵢ`` is singular.
        """
        objective, design = self._objective, self._design
        positions = np.arange(design.n_samples)[rows]
        dense = design.take(positions).dense()
        solved = self._solver.solve_output_units(dense)
        diag = objective.penalty + self._damping
        k_out, n_col = objective.n_outputs, objective.n_columns
        flat = solved.reshape(-1, n_col)
        across = design.dot(flat).reshape(design.n_samples, len(positions), -1)
        across[positions, np.arange(len(positions))] = 0.0  # j ≠ i: the row's own term is left out
        bound = np.empty(across.shape)  # |x̃_j|ᵀ |W_i|: the scale of each dot product's rounding
        for part in row_chunks(design.n_samples, 8 * (flat.shape[0] + n_col)):
            block = design.take(part)
            magnitudes = LinearDesign(abs(block.X), block.fit_intercept)
            bound[part] = magnitudes.dot(np.abs(flat)).reshape(bound[part].shape)
        operator = (-1, 1, n_col) if objective.separable else (-1, k_out, n_col)
        units = np.zeros((len(positions), k_out, k_out, n_col))  # U_i e_l: x̃_i in output l
        units[:, np.arange(k_out), np.arange(k_out)] = dense[:, None, :]
        product = objective.hessian_product(design, self._curvature, flat.reshape(operator), self._damping)
        residual = (dense if objective.separable else units.reshape(flat.shape)) - product.reshape(flat.shape)
        solve_error = np.einsum("rc,rc->r", residual, self._solver.solve(residual.reshape(operator)).reshape(-1, n_col))
        eps = np.finfo(float).eps
        if objective.separable:
            across, bound = across[:, :, 0], bound[:, :, 0]  # x̃_jᵀ u_i
            N = np.einsum("j,ji,ji->i", self._curvature, across, across) + (solved**2) @ diag
            M = np.einsum("ic,ic->i", dense, solved)
            rounding = 2 * eps * np.einsum("j,ji,ji->i", np.abs(self._curvature), np.abs(across), bound)
            return N, M, rounding + np.abs(solve_error)
        shape = (design.n_samples, len(positions), k_out, k_out)
        across, bound = across.reshape(shape), bound.reshape(shape)  # [j, i, l, k] = x̃_jᵀ W_i[l, k]
        N = np.einsum("jilk,jkq,jimq->ilm", across, self._curvature, across)
        N += np.einsum("ilkc,c,imkc->ilm", solved, diag, solved)
        M = np.einsum("ilmc,ic->ilm", solved, dense)
        size = np.linalg.norm(self._curvature, axis=(1, 2))
        rounding = 2 * eps * k_out * np.einsum("j,jilk,jilk->i", size, np.abs(across), bound)
        return N, M, rounding + np.abs(solve_error).reshape(len(positions), k_out).sum(axis=1)

    def _newton_coefficients(self, rows, shift=False, quad=None):
        """``c_i = s_i (I − s_i A_i M_i)⁻¹ r̃_i``: the Woodbury form of the Newton step.

        ``θ̂₋ᵢ − θ̂ ≈ (H − s_i ∇²ℓ_i)⁻¹ s_i g_i = H⁻¹ (c_i ⊗ x̃_i)``, with ``A_i = ∂²ℓ/∂f²``
        and ``M_i`` the quadratic forms of the solver. When the row also carries a share
        ``κ_i`` of the penalty (GLMs, SGD), the step gains ``κ_i H⁻¹q`` and the residual
        ``r_i + κ_i A_i U_iᵀH⁻¹q`` (first order in the share's own curvature).

        ``θ̂₋ᵢ − θ̂`` is the difference of one Newton step on each objective, with and without
        row ``i``, from the fitted ``θ̂``: the fit's leftover gradient ``∇O(θ̂)`` (``shift`` =
        ``H⁻¹∇O(θ̂)``, from :meth:`_stationary_shift`; computed here when ``False``) then
        cancels but for ``r̃_i = r_i − A_i U_iᵀ H⁻¹∇O(θ̂)``, the residual at the minimiser,
        which matters near leverage 1, where ``1/(1 − s_i a_i h_i)`` amplifies it. There
        ``1 − s_i a_i h_i`` is also recomputed without cancellation (:meth:`_reduced_forms`).
        Rows whose removal leaves a Hessian singular to working precision get NaN and a
        warning.
        """
        design = self._design.take(rows)
        quad = self._solver.quadratic_forms(design) if quad is None else quad  # given: the caller's M_i of rows
        curvature = self._objective.loss.hessian(self._targets[rows], self._raw[rows])
        s, r = self._weights[rows], self._residuals[rows]
        if shift is False:
            shift = self._stationary_shift()
        if shift is not None:  # the residual at the minimiser θ̂ − H⁻¹∇O(θ̂), to first order
            along = design.dot(shift)
            separable = self._objective.separable
            r = r - (curvature[:, None] * along if separable else np.einsum("ikl,il->ik", curvature, along))
        if self._channel is not None:  # the statistics move too: r_i − A_i q_i, q_i = U_iᵀ G Δ_i
            moved = self._channel.q_delta[rows]
            separable = self._objective.separable
            r = r - (curvature[:, None] * moved if separable else np.einsum("ikl,il->ik", curvature, moved))
        if self._penalty_shares is not None:  # the row also takes its share c_i of the penalty
            along = design.dot(self._share_solution)  # x̃_iᵀ (H⁻¹q)_k
            pulled = (
                curvature[:, None] * along if self._objective.separable else np.einsum("ikl,il->ik", curvature, along)
            )
            r = r + self._penalty_shares[rows][:, None] * pulled
        if self._objective.separable:
            remaining = 1.0 - s * curvature * quad
            near = np.flatnonzero(remaining < NEAR_LEVERAGE_ONE)
            relative_error = np.zeros(remaining.shape)
            for part in row_chunks(len(near), 8 * self._design.n_samples):
                N, M, rounding = self._reduced_forms(np.arange(self._design.n_samples)[rows][near[part]])
                remaining[near[part]] = N / M
                relative_error[near[part]] = np.divide(rounding, N, out=np.full(N.shape, np.inf), where=N > 0)
            undefined = ~(relative_error < 0.1)
            coef = (s / np.where(undefined, np.nan, remaining))[:, None] * r
        else:
            k_out = r.shape[1]
            system = np.eye(k_out) - s[:, None, None] * np.einsum("ikl,ilm->ikm", curvature, quad)
            near = np.flatnonzero(np.linalg.eigvals(system).real.min(axis=1) < NEAR_LEVERAGE_ONE)
            relative_error = np.zeros(len(s))
            for part in row_chunks(len(near), 8 * self._design.n_samples * k_out**2):
                N, M, rounding = self._reduced_forms(np.arange(self._design.n_samples)[rows][near[part]])
                system[near[part]] = np.linalg.solve(M, N)
                smallest = np.linalg.eigvalsh(N)[:, 0]
                relative_error[near[part]] = np.divide(
                    rounding, smallest, out=np.full(smallest.shape, np.inf), where=smallest > 0
                )
            undefined = ~(relative_error < 0.1)
            system[undefined] = np.eye(k_out)
            coef = np.linalg.solve(system, (s[:, None] * r)[..., None])[..., 0]
            coef[undefined] = np.nan
        if np.any(undefined):
            warnings.warn(
                f"Removing training rows {np.arange(self._design.n_samples)[rows][undefined][:10].tolist()} "
                f"(of {undefined.sum()}) leaves a "
                "singular Hessian (leverage ≥ 1); their Newton leave-one-out estimate is NaN. Add "
                "damping or regularisation, or use method='influence'.",
                RuntimeWarning,
                stacklevel=3,
            )
        uncertain = (relative_error > 1e-6) & ~undefined
        if np.any(uncertain):
            warnings.warn(
                f"Removing training rows {np.arange(self._design.n_samples)[rows][uncertain][:10].tolist()} "
                f"(of {uncertain.sum()}) leaves a Hessian so nearly singular (leverage 1 to rounding) that "
                f"their Newton leave-one-out estimates carry an estimated relative error up to "
                f"{relative_error[uncertain].max():.0e}. Add damping or regularisation, or use method='influence'.",
                RuntimeWarning,
                stacklevel=3,
            )
        return coef
