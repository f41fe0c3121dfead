"""Transformers that learn a basis from the data: ``PCA`` (components) and ``SplineTransformer`` (knots)."""

import numpy as np

from ._leaves import _extreme_removal, _Leaf, _order_statistic_removal
from ._terms import Elementwise, FactoredSig, Full, Jacobian, Sig, numeric


class PCALeaf(_Leaf):
    """``PCA``: ``z_a = (x − μ)ᵀ v_a / s_a`` (``s_a = √λ_a`` when whitening, else 1).

    Statistics: the mean ``μ``, the kept components ``v_a`` and (whitening) their variances
    ``λ_a``, eigenpairs of ``Σ = X̄ᵀX̄/(n − 1)``. With ``p_i = Vᵀ(x_i − μ)`` in the full
    eigenbasis, first-order perturbation of a symmetric eigenproblem gives

    .. math::
        ∂Σ/∂t_i = \\frac{x̄_i x̄_i^\\top − Σ}{n − 1}, \\qquad
        ∂v_a = \\sum_{b ≠ a} v_b \\frac{v_b^\\top ∂Σ\\, v_a}{λ_a − λ_b}, \\qquad ∂λ_a = v_a^\\top ∂Σ\\, v_a,

    and removing row ``i`` changes ``Σ`` by ``(Σ − n x̄_i x̄_iᵀ/(n − 1))/(n − 2)`` (exact),
    carried to ``v_a``, ``λ_a`` to first order. The components' dependence on the input
    values is kept factored (:class:`FactoredSig`).
    """

    def __init__(self, transformer):
        super().__init__(transformer)
        self.mean = transformer.mean_
        self.components = transformer.components_  # (k, d), scikit-learn's signs
        self.whiten = transformer.whiten
        self.variances = transformer.explained_variance_
        k, d = self.components.shape
        self.k, self.d = k, d
        self.n_stats = d + k * d + (k if self.whiten else 0)

    def _basis(self, x):
        """Full eigenbasis ``V`` (d, d), kept components first, and eigenvalues ``λ`` of the covariance."""
        centred = x - self.mean
        cov = centred.T @ centred / (x.shape[0] - 1)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        # the kept components with scikit-learn's signs, the complement from eigh
        vectors[:, : self.k] = self.components.T
        values[: self.k] = self.variances
        return vectors, values

    def _eigen_derivatives(self, S, values):
        """``(∂v_a, ∂λ_a)`` for symmetric changes ``S`` of Σ in eigen-coordinates, shape (..., d, d)."""
        k = self.k
        gaps = values[None, :k] - values[:, None]  # [b, a] = λ_a − λ_b
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(np.abs(gaps) > 1e-12 * np.abs(values).max(), 1.0 / gaps, 0.0)
        weights[np.arange(k), np.arange(k)] = 0.0
        coords = S[..., :, :k] * weights  # (..., b, a)
        return coords, np.diagonal(S[..., :k, :k], axis1=-2, axis2=-1)

    def _stats_from(self, dmu, coords, dlam, vectors):
        """Stack ``(∂μ, ∂v_a = V coords_a, ∂λ)`` into rows of the statistics' layout."""
        dv = np.einsum("db,...ba->...ad", vectors, coords)  # (..., k, d)
        parts = [dmu, dv.reshape(*dv.shape[:-2], self.k * self.d)]
        if self.whiten:
            parts.append(dlam)
        return np.concatenate(parts, axis=-1)

    def fit_terms(self, U):
        x = numeric(U)
        n = x.shape[0]
        vectors, values = self._basis(x)
        p = (x - self.mean) @ vectors  # (n, d) eigen-coordinates
        outer = p[:, :, None] * p[:, None, :]  # x̄ x̄ᵀ in eigen-coordinates, (n, d, d)
        cov = np.diag(values)
        coords, dlam = self._eigen_derivatives((outer - cov) / (n - 1), values)
        psi = self._stats_from((x - self.mean) / n, coords, dlam, vectors)
        coords, dlam = self._eigen_derivatives((cov - n * outer / (n - 1)) / (n - 2), values)
        delta = self._stats_from(-(x - self.mean) / (n - 1), coords, dlam, vectors)

        def contract(J, n_stats):
            L = np.zeros((n_stats, J.n_stats))
            if J.cols.size == 0:
                return L
            moved = J.to_dense(self.d)  # ∂U_j/∂φ_prev
            dmu = moved.mean(axis=0)  # (d, m_prev)
            # ∂Σ = Σ_j (x̄_j dU_jᵀ + dU_j x̄_jᵀ)/(n − 1), in eigen-coordinates
            half = np.einsum("jb,jcm,ca->mba", p, moved, vectors) / (n - 1)
            coords, dlam = self._eigen_derivatives(half + half.transpose(0, 2, 1), values)
            return self._stats_from(dmu.T, coords, dlam, vectors).T

        return psi, delta, FactoredSig(contract)

    def forward(self, U, need_input_jacobian=True, need_output=True):
        V = self.transform(U) if need_output else None
        x = numeric(U)
        n = x.shape[0]
        scale = np.sqrt(self.variances) if self.whiten else np.ones(self.k)
        centred = x - self.mean
        vals = np.zeros((n, self.k, self.n_stats))
        vals[:, :, : self.d] = -(self.components / scale[:, None])[None]
        for a in range(self.k):
            vals[:, a, self.d + a * self.d : self.d + (a + 1) * self.d] = centred / scale[a]
        if self.whiten:
            z = centred @ self.components.T / scale
            vals[:, np.arange(self.k), self.d + self.k * self.d + np.arange(self.k)] = -z / (2 * self.variances)
        jac = Jacobian.from_dense(np.arange(self.k), vals)
        if not need_input_jacobian:
            return V, jac, None
        return V, jac, Full(np.broadcast_to(self.components / scale[:, None], (n, self.k, self.d)).copy())


class SplineLeaf(_Leaf):
    """``SplineTransformer``: B-spline bases on knots placed from the data.

    Statistics: the base knots of every feature (``n_knots`` each). ``knots="uniform"``
    spreads them evenly between the feature's minimum and maximum (order statistics:
    ``psi = 0``, removing the unique extreme moves them); ``"quantile"`` puts them at
    percentiles (``psi = 0``, removal as for :class:`RobustScalerLeaf`). The bases'
    derivatives in the knots and in ``x`` are central differences of the transformer
    rebuilt by scikit-learn on the moved knots (so its knot extension and extrapolation are
    its own).
    """

    order_statistics = True  # knots at the extremes or at percentiles

    def __init__(self, transformer):
        super().__init__(transformer)
        degree = transformer.degree
        self.knots = np.stack([spline.t[degree : len(spline.t) - degree] for spline in transformer.bsplines_], axis=1)
        if transformer.extrapolation == "periodic":
            raise TypeError("preprocessing='refit' does not follow SplineTransformer(extrapolation='periodic').")
        self.n_knots, self.d = self.knots.shape
        self.n_stats = self.n_knots * self.d
        self.per_feature = transformer.n_features_out_ // self.d

    def _rebuilt(self, knots):
        from sklearn.base import clone

        return clone(self.transformer).set_params(knots=knots).fit(knots)

    def fit_terms(self, U):
        x = numeric(U)
        n = x.shape[0]
        psi, delta, sig = np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats))
        positions = np.linspace(0.0, 1.0, self.n_knots)
        quantile = isinstance(self.transformer.knots, str) and self.transformer.knots == "quantile"
        for c in range(self.d):
            stats = slice(c * self.n_knots, (c + 1) * self.n_knots)
            if quantile:
                for k, q in enumerate(100 * positions):
                    delta[:, stats.start + k], sig[:, stats.start + k] = _order_statistic_removal(x[:, c], q)
            elif isinstance(self.transformer.knots, str):
                d_low, g_low = _extreme_removal(x[:, c], largest=False)
                d_high, g_high = _extreme_removal(x[:, c], largest=True)
                delta[:, stats] = np.outer(d_low, 1 - positions) + np.outer(d_high, positions)
                sig[:, stats] = np.outer(g_low, 1 - positions) + np.outer(g_high, positions)
            # knots given as an array are not statistics: they stay
        cols = np.repeat(np.arange(self.d), self.n_knots)
        return psi, delta, Sig(np.arange(self.n_stats), cols, sig)

    def forward(self, U, need_input_jacobian=True, need_output=True):
        V = self.transform(U) if need_output else None
        x = numeric(U)
        n = x.shape[0]
        out_cols = np.arange(self.d * self.per_feature)
        vals = np.zeros((n, out_cols.size, self.n_stats))
        if not isinstance(self.transformer.knots, str):
            jac = Jacobian.empty(n, self.n_stats)
        else:
            span = np.abs(self.knots).max() + 1.0
            for c in range(self.d):
                block = slice(c * self.per_feature, (c + 1) * self.per_feature)
                for k in range(self.n_knots):
                    step = 1e-6 * span
                    up, down = self.knots.copy(), self.knots.copy()
                    up[k, c] += step
                    down[k, c] -= step
                    diff = numeric(self._rebuilt(up).transform(x)) - numeric(self._rebuilt(down).transform(x))
                    vals[:, block, c * self.n_knots + k] = diff[:, block] / (2 * step)
            jac = Jacobian.from_dense(out_cols, vals)
        if not need_input_jacobian:
            return V, jac, None
        step = 1e-6 * np.maximum(1.0, np.abs(x))
        same = self._rebuilt(self.knots)  # takes plain arrays whatever the fit saw
        diff = numeric(same.transform(x + step)) - numeric(same.transform(x - step))
        src = np.repeat(np.arange(self.d), self.per_feature)
        return V, jac, Elementwise(src, diff / (2 * step[:, src]))
