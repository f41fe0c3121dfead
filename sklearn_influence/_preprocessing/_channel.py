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
from scipy.linalg import blas

from ._affine_basis import AffineBasis, probes, worth_searching
from ._graph import order_statistic_transformers
from ._propagation import Propagation, runs
from ._terms import FactoredSig, Jacobian, row_blocks


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
    stored_psi, stored_delta : ndarray of shape (n_samples, n_stats)
        ``ψ`` and ``Δ`` as stored: the total terms are ``stored · M`` row by row, with
        ``propagation`` the map ``M`` (``_propagation``). Products with a small matrix read
        them through :meth:`fold` and never form the totals.
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
        n = design.n_samples
        self.stored_psi, self.stored_delta = np.empty((n, m), order="F"), np.empty((n, m), order="F")
        _, J, _, _ = node.fit_pass(X, self.stored_psi, self.stored_delta)
        self.propagation = Propagation(node.propagations())
        self.order_statistic_transformers = order_statistic_transformers(node)
        self._totals = {}  # ψ, Δ total through the prefix, formed at the first read of psi, delta
        self._bases = {"psi": None, "delta": None}  # ψ = E T + 1bᵀ, Δ likewise, with fewer columns (``_affine_basis``)
        if worth_searching(m, n):
            probe = probes(n)
            for which, stored in (("psi", self.stored_psi), ("delta", self.stored_delta)):
                basis = AffineBasis((probe.T @ stored).T, probe.sum(axis=0))
                self._bases[which] = (basis.columns(stored), basis.transform, basis.offsets) if basis.saves else None
        cross = self._cross(J, objective, design, residuals, curvature, weights)
        self.solved = solver.solve(np.ascontiguousarray(cross.transpose(2, 0, 1)))
        self.solved_public = objective.to_public(self.solved)
        self._design, self._own = design, None  # the estimator holds the design anyway

    def _cross(self, J, objective, design, residuals, curvature, weights):
        """``C = ∂²O/∂θ∂φ`` of shape (n_outputs, n_columns, n_stats) (module docstring), in one pass over the rows.

        On the way, ``Θ ∂x̃_j/∂φ`` meets ``ψ_j`` and ``Δ_j`` (the removed row's own prediction
        moving with the statistics: ``own_psi``, ``q_delta`` before their ``x̃_jᵀG`` terms).
        """
        n, m = design.n_samples, self.n_stats
        k_out, n_col, coef = objective.n_outputs, objective.n_columns, objective.input_coef
        cross = np.zeros((k_out, n_col, m))
        scaled = (weights[:, None] * residuals).T  # s_j r_j, (K, n)
        for cols, stats, vals in J.parts:
            # a part equal on every row is a broadcast view (a scaler's center): one row times the sums
            product = scaled.sum(axis=1)[:, None] * vals[0] if vals.strides[0] == 0 else scaled @ vals
            np.add.at(cross, (slice(None), cols, stats), product)
        # Parts equal on every row (a scaler's center after an imputer) move every row's prediction
        # alike: Θ ∂x̃_j/∂φ is one (K, m) matrix, and their share of C is X̃ᵀ(s A) times it
        common = np.zeros((k_out, m))
        for cols, stats, vals in (part for part in J.parts if part[2].strides[0] == 0):
            np.add.at(common, (slice(None), stats), vals[0] * coef[:, cols])
        folded = self.fold(common).T
        self._moved_psi, self._moved_delta = self.stored_psi @ folded, self.stored_delta @ folded
        by_curvature = curvature.reshape(n, -1) if common.any() else np.zeros((n, 0))  # s_j A_j, flattened
        # the per-row parts' terms a block of rows at a time, statistic-major as the terms are stored, with
        # X̃ᵀ(s A) in the same products: no n-sized temporaries, one pass over X̃
        row_parts = [part for part in J.parts if part[2].strides[0] != 0]
        reached = np.unique(np.concatenate([stats for _, stats, _ in row_parts])) if row_parts else np.empty(0, int)
        J_rows = Jacobian.from_parts(row_parts, n, m)
        width = k_out * reached.size
        pulled_sums = np.zeros((by_curvature.shape[1], n_col))
        for rows in row_blocks(n, k_out * m + by_curvature.shape[1], 2**19) if width + by_curvature.shape[1] else []:
            moved = J_rows.moved_by_statistic(coef, rows)  # Θ ∂x̃_j/∂φ, (m, K, r)
            pulled = np.empty((width + by_curvature.shape[1], moved.shape[2]))  # (·, r): X̃ᵀ reads its transpose
            if objective.separable:
                np.multiply(moved[reached], curvature[rows], out=pulled[:width].reshape(reached.size, k_out, -1))
            else:
                pulled[:width] = np.einsum("jkl,mlj->mkj", curvature[rows], moved[reached]).reshape(width, -1)
            pulled[width:] = by_curvature[rows].T
            product = design.take(rows).tdot(pulled.T)
            cross[:, :, reached] += product[:width].reshape(reached.size, k_out, n_col).transpose(1, 2, 0)
            pulled_sums += product[width:]
            if width:
                by_psi, by_delta = self._row_dots(moved, reached, rows)
                self._moved_psi[rows] += by_psi
                self._moved_delta[rows] += by_delta
        if common.any() and objective.separable:  # X̃ᵀ(s A) times common
            cross += pulled_sums[0][None, :, None] * common[:, None, :]
        elif common.any():  # Σ_j A_j[k, l] x̃_j, then times common[l]
            cross += np.einsum("kln,lm->knm", pulled_sums.reshape(k_out, k_out, n_col), common)
        return cross

    def _row_dots(self, moved, stats, rows):
        """``Σ_s moved[s, k, j] · total[j, s]`` of ``ψ`` and of ``Δ`` for the training rows ``rows`` (a slice).

        ``moved``: statistic-major (n_stats, K, r), non-zero on the statistics ``stats`` only.
        Two arrays of shape (r, K). ``total = stored · M`` is never formed: ``moved`` is carried
        back through ``M`` (``_propagation``, in place) and meets the stored terms column by
        column, over runs of statistics (views, no copies).
        """
        if not self.propagation.identity:
            moved, stats = self.propagation.left(moved), self.propagation.reached(stats)
        return [
            sum(np.einsum("mkj,mj->jk", moved[run], stored[rows, run].T) for run, _ in runs(stats))
            for stored in (self.stored_psi, self.stored_delta)
        ]

    def fold(self, W):
        """``W Mᵀ`` for ``W`` of shape (r, n_stats): ``W ψ_iᵀ = (W Mᵀ) ψ_{stored,i}ᵀ`` (``_propagation``)."""
        return W if self.propagation.identity else self.propagation.fold(np.array(W, dtype=float))

    def parameter_moves(self, rows, which="psi"):
        """``ψ_i G`` (``which="psi"``) or ``Δ_i G`` (``"delta"``) in the public layout, shape (len(rows), n_params):
        the parameters' move through the statistics, ``G = H⁻¹C`` folded into the stored terms' columns."""
        stored = self.stored_psi if which == "psi" else self.stored_delta
        return stored[rows] @ self.fold(self.solved_public.T).T

    def accumulate(self, target, folded, rows, alpha=1.0, which="psi"):
        """``target += alpha · folded · stored[rows]ᵀ`` for the stored ``ψ`` (``which="psi"``) or ``Δ`` (``"delta"``).

        ``folded`` from :meth:`fold`. The product reads the terms through their affine basis
        (``_affine_basis``) when it has fewer columns.

        One BLAS ``gemm`` into ``target`` when it is a C- or Fortran-ordered float64 array, else
        a product and an addition.
        """
        folded = np.asarray(folded, dtype=np.float64)
        stored = self.stored_psi if which == "psi" else self.stored_delta
        offsets = None
        if self._bases[which] is not None:  # ψ = E T + 1bᵀ: fewer columns
            stored, transform, offsets = self._bases[which]
            folded, offsets = folded @ transform.T, folded @ offsets
        terms = np.asfortranarray(stored[rows])  # a view for all rows; a block of rows is copied, in the caches
        gemm = blas.get_blas_funcs("gemm", dtype=np.float64)
        if target.dtype != np.float64 or target.size == 0:
            target += (alpha * folded @ terms.T).astype(target.dtype, copy=False)
        elif target.flags.c_contiguous:  # targetᵀ += α terms foldedᵀ, on the Fortran-ordered transposes
            gemm(alpha, terms, folded.T, beta=1.0, c=target.T, overwrite_c=True)
        elif target.flags.f_contiguous:
            gemm(alpha, folded, terms, beta=1.0, c=target, trans_b=True, overwrite_c=True)
        else:
            target += (alpha * folded @ terms.T).astype(target.dtype, copy=False)
        if offsets is not None and np.any(offsets):
            target += (alpha * offsets)[:, None].astype(target.dtype, copy=False)
        return target

    @property
    def psi(self):
        """``ψ_i = dφ/dt_i`` (n_samples, n_stats), total through the prefix (formed at the first read, a copy)."""
        return self._total("psi")

    @property
    def delta(self):
        """``Δ_i ≈ φ₋ᵢ − φ`` (n_samples, n_stats), total through the prefix (formed at the first read, a copy)."""
        return self._total("delta")

    def _total(self, which):
        """The total terms, formed once from the stored ones (which every product reads, and stay as they are)."""
        stored = self.stored_psi if which == "psi" else self.stored_delta
        if self.propagation.identity:
            return stored
        if which not in self._totals:
            self._totals[which] = self.propagation.total(np.array(stored, order="F"))
        return self._totals[which]

    @property
    def own_psi(self):
        """``F_j ψ_j``, shape (n_samples, n_outputs) (class docstring)."""
        return self._own_terms()[0]

    @property
    def q_delta(self):
        """``−F_j Δ_j``, shape (n_samples, n_outputs) (class docstring)."""
        return self._own_terms()[1]

    def _own_terms(self):
        """``(own_psi, q_delta)``: the ``x̃_jᵀG`` terms taken at the first read, a block of rows at a time.

        ``Σ_s (x̃_jᵀ G_s) ψ_js`` with the total ``ψ = ψ_stored M`` is ``Σ_t (x̃_jᵀ G'_t) ψ_stored,jt``
        with ``G' = M G`` (``G`` folded once along its statistics), so the stored terms are read
        as they are. ``x̃_jᵀ G'`` is formed statistic-major, as the (column-major) terms are laid out.
        """
        if self._own is None:
            own_psi, q_delta = self._moved_psi, -self._moved_delta
            n, k_out = own_psi.shape
            m, _, n_col = self.solved.shape
            folded = self.fold(self.solved.transpose(1, 2, 0).reshape(-1, m))  # (K·p, m), statistics last
            folded = np.ascontiguousarray(folded.reshape(k_out, n_col, m).transpose(2, 0, 1)).reshape(-1, n_col)
            for rows in row_blocks(n, k_out * m, 2**19):
                along = self._design.take(rows).dot_transposed(folded).reshape(m, k_out, -1)  # x̃_jᵀ G'
                own_psi[rows] -= np.einsum("mkj,jm->jk", along, self.stored_psi[rows])
                q_delta[rows] += np.einsum("mkj,jm->jk", along, self.stored_delta[rows])
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
