"""The solver interface shared by the exact and the matrix-free solvers.

A solver is built once in ``fit`` and then applies ``H⁻¹`` to stacks of right-hand sides
of shape ``(r, n_outputs, n_columns)`` (the internal parameter layout). When the
objective is *separable*, ``H = I ⊗ H₀`` and only ``H₀`` is factorised or iterated on;
every output's block is then one more right-hand side.

Every solver also gives the quadratic forms ``M_i = U_iᵀ H⁻¹ U_i`` with
``U_i = I ⊗ x̃_i`` (``M_i[k, l] = x̃_iᵀ (H⁻¹)_{kl} x̃_i``): the leverages that
self-influence and the Newton leave-one-out step need.
"""

import numpy as np

#: Reciprocal condition number below which the Hessian is treated as singular.
SINGULAR_RCOND = 1e-12
#: Bound on the relative error of CG's parameter-space results above which ``fit`` warns.
CG_PARAMS_RTOL = 1e-6
#: Smallest ``cg_tol`` worth suggesting (the residual of a float64 solve stalls around here).
_SMALLEST_USEFUL_CG_TOL = 1e-14

_SINGULAR_REMEDY = (
    "Influence needs an invertible Hessian. Set damping > 0 in InfluenceEstimator, use a "
    "finite C / a positive alpha in the estimator, or remove duplicated, collinear or constant features."
)


class _Solver:
    def __init__(self, n_outputs, n_columns, separable):
        self.n_outputs = n_outputs
        self.n_columns = n_columns
        self.separable = separable

    def solve(self, B):
        """``H⁻¹ B`` for ``B`` of shape (r, n_outputs, n_columns)."""
        return self._solve_rows(self._flat(B)).reshape(B.shape)

    def _flat(self, B):
        """Right-hand sides as rows of the operator's dimension (``H₀``'s when separable)."""
        if self.separable:
            return B.reshape(-1, self.n_columns)
        return B.reshape(B.shape[0], self.n_outputs * self.n_columns)

    @property
    def _operator_shape(self):
        """Shape (-1, outputs, columns) of the blocks the Hessian product takes."""
        return (-1, 1, self.n_columns) if self.separable else (-1, self.n_outputs, self.n_columns)

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


class _NonPositiveCurvature(ValueError):
    """CG met a direction of zero or negative curvature."""
