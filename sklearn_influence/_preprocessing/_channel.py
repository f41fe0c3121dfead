"""The second channel: a training row moves the model through the transformers' statistics.

With statistics ``φ`` (``_graph``), the fitted parameters satisfy
``∇_θ O(θ̂, φ(t); s) = 0``, where ``s`` are the model's weights and ``t`` the transformers'
(1 per row). Up-weighting row ``i`` everywhere (``s_i`` and ``t_i`` by ``ε``) gives

.. math::
    \\frac{dθ̂}{dε} = -H^{-1}\\bigl(g_i + C\\, ψ_i\\bigr), \\qquad
    C = \\frac{∂^2 O}{∂θ\\, ∂φ} = \\sum_j s_j \\Bigl[r_j ⊗ \\frac{∂\\tilde x_j}{∂φ}
        + A_j \\Bigl(Θ \\frac{∂\\tilde x_j}{∂φ}\\Bigr) ⊗ \\tilde x_j\\Bigr],

with ``ψ_i = dφ/dt_i`` (total, through every step of the prefix). ``G = H⁻¹C`` is solved
once in ``fit`` (one system per statistic). A query's loss moves through ``θ`` and through
its own features:

.. math::
    \\frac{dℓ_q}{dε} = -g_q^\\top H^{-1} g_i + W_q ψ_i, \\qquad
    W_q = r_q^\\top V_q, \\quad V_q = Θ\\frac{∂\\tilde x_q}{∂φ} - \\tilde x_q^\\top G,

``V_q`` being the change of the query's raw prediction per unit change of ``φ`` once the
model has followed. Removing row ``i`` changes the statistics by ``Δ_i = φ₋ᵢ − φ`` (exact
per step, ``_leaves``), and one Newton step on the objective without the row, at the new
statistics, is

.. math::
    θ̂_{-i} - θ̂ ≈ (H - s_i ∇^2 ℓ_i)^{-1}(s_i g_i - C Δ_i)
        = H^{-1}(c_i ⊗ \\tilde x_i) - G Δ_i,\\qquad
    c_i = s_i (I - s_i A_i M_i)^{-1}(r_i - A_i q_i), \\quad q_i = -V_i Δ_i

(Woodbury, as without transformers). The step starts from the parameters that keep every
training prediction where it was under the new statistics, ``θ̃ = θ̂ + RΔ_i`` with
``x̃_jᵀ R = −Θ ∂x̃_j/∂φ`` (exact for scalers, whose moves an intercept and a rescaling of the
coefficients undo), so the objective is linearised in ``φ`` where it is nearly linear: the
removed row's residual is then taken at its moved prediction, ``q_i = x̃_iᵀ(G + R)Δ_i =
−V_iΔ_i``, and ``RΔ_i`` cancels from the step. The query's raw prediction then moves by
``x̃_qᵀ(θ̂₋ᵢ − θ̂) + Θ (∂x̃_q/∂φ) Δ_i``. The terms left out (the change of ``H`` with ``φ``,
the query features' curvature in ``φ``) are second order in ``1/n``.
"""

import numpy as np

from ._terms import FactoredSig, row_blocks


class StatisticsChannel:
    """Fitted state of the statistics channel, computed once in ``fit``.

    Parameters
    ----------
    node : node of ``_graph``
        The decoded transformer prefix.
    X : {array-like, DataFrame} of shape (n_samples, n_raw_features)
        The raw training data.
    objective : LinearObjective
    design : LinearDesign
        The training rows as the final model sees them.
    residuals : ndarray of shape (n_samples, n_outputs)
        ``r_i = ∂ℓ/∂f`` at the fit.
    curvature : ndarray
        ``s_i A_i``: shape (n,) when separable, else (n, K, K).
    weights : ndarray of shape (n_samples,)
        ``s_i``.
    solver : solver of ``_solvers``

    Attributes
    ----------
    psi : ndarray of shape (n_samples, n_stats)
        ``ψ_i = dφ/dt_i``, total through the prefix.
    delta : ndarray of shape (n_samples, n_stats)
        ``Δ_i ≈ φ₋ᵢ − φ``.
    solved : ndarray of shape (n_stats, n_outputs, n_columns)
        ``G = H⁻¹ C``.
    own_psi, q_delta : ndarray of shape (n_samples, n_outputs)
        ``F_j ψ_j`` and ``−F_j Δ_j`` with ``F_j = Θ ∂x̃_j/∂φ − x̃_jᵀG`` (the removed row's own
        prediction moving with the statistics, for ``self_influence`` and Newton leave-one-out).
        Their ``x̃_jᵀG`` terms, one more pass over the training design, are taken at the first
        read: ``influence`` and the parameter quantities never need them.
    """

    def __init__(self, node, X, objective, design, residuals, curvature, weights, solver):
        self.node = node
        self.n_stats = m = node.n_stats
        n, k_out, n_col = design.n_samples, objective.n_outputs, objective.n_columns
        self.psi, self.delta = np.empty((n, m)), np.empty((n, m))
        _, J, _, _ = node.fit_pass(X, self.psi, self.delta)
        coef = objective.input_coef
        cross = np.zeros((k_out, n_col, m))
        scaled = (weights[:, None] * residuals).T  # s_j r_j, (K, n)
        for cols, stats, vals in J.parts:
            # a part equal on every row is a broadcast view (a scaler's center): one row times the sums
            product = scaled.sum(axis=1)[:, None] * vals[0] if vals.strides[0] == 0 else scaled @ vals
            np.add.at(cross, (slice(None), cols, stats), product)
        # the per-row (n, K, m) terms a block of rows at a time: no n-sized temporaries; the
        # Θ ∂x̃_j/∂φ terms of own_psi and q_delta in the pass that builds C
        self._moved_psi, self._moved_delta = np.empty((n, k_out)), np.empty((n, k_out))
        for rows in row_blocks(n, k_out * m, 2**19):
            moved = J.moved(coef, rows)  # Θ ∂x̃_j/∂φ
            if objective.separable:
                pulled = curvature[rows, None, None] * moved
            else:
                pulled = np.einsum("jkl,jlm->jkm", curvature[rows], moved)
            product = design.take(rows).tdot(pulled.reshape(-1, k_out * m))
            cross += product.reshape(k_out, m, n_col).transpose(0, 2, 1)
            self._moved_psi[rows] = np.einsum("jkm,jm->jk", moved, self.psi[rows])
            self._moved_delta[rows] = np.einsum("jkm,jm->jk", moved, self.delta[rows])
        self.solved = solver.solve(np.ascontiguousarray(cross.transpose(2, 0, 1)))
        self.solved_public = objective.to_public(self.solved)
        self._design, self._own = design, None  # the estimator holds the design anyway

    @property
    def own_psi(self):
        """``F_j ψ_j``, shape (n_samples, n_outputs) (class docstring)."""
        return self._own_terms()[0]

    @property
    def q_delta(self):
        """``−F_j Δ_j``, shape (n_samples, n_outputs) (class docstring)."""
        return self._own_terms()[1]

    def _own_terms(self):
        """``(own_psi, q_delta)``: the ``x̃_jᵀG`` terms taken at the first read, a block of rows at a time."""
        if self._own is None:
            own_psi, q_delta = self._moved_psi, -self._moved_delta
            n, k_out = own_psi.shape
            for rows in row_blocks(n, k_out * self.n_stats, 2**19):
                along = self._along(self._design.take(rows))  # x̃_jᵀ G
                own_psi[rows] -= np.einsum("jkm,jm->jk", along, self.psi[rows])
                q_delta[rows] += np.einsum("jkm,jm->jk", along, self.delta[rows])
            self._own, self._moved_psi, self._moved_delta = (own_psi, q_delta), None, None
        return self._own

    def input_derivatives(self, X):
        """``∂φ/∂X[i, c]``, the statistics' derivatives in the raw training values (a ``Sig``), or ``None``.

        A pass over the raw training rows ``X`` (as in ``fit``); ``None`` when a step keeps
        them factored (``PCA``).
        """
        sig = self.node.fit_terms(X)[2]
        return None if isinstance(sig, FactoredSig) else sig

    def _along(self, design):
        """``x̃ᵀ G`` for every row of ``design``: shape (n, n_outputs, n_stats)."""
        m, k_out, n_col = self.solved.shape
        products = design.dot(self.solved.reshape(m * k_out, n_col))
        return products.reshape(-1, m, k_out).transpose(0, 2, 1)

    def query_terms(self, X, design, residuals, objective):
        """``V_q`` (n_q, K, n_stats) and ``W_q = r_qᵀ V_q`` (n_q, n_stats) of raw query rows ``X``."""
        _, J, _ = self.node.forward(X, need_input_jacobian=False, need_output=False)
        V = J.moved(objective.input_coef) - self._along(design)
        return V, np.einsum("qk,qkm->qm", residuals, V)
