"""``class_weight="balanced"`` when a group leaves: every remaining row's class weight changes.

scikit-learn's balanced weights are ``w_c = n / (C n_c)``; a refit without the group ``G``
uses ``w'_c = (n − |G|) / (C (n_c − |G ∩ c|))``, so each remaining row of class ``c`` is
re-weighted by ``ρ_c = w'_c / w_c`` — a change of order ``|G|/n`` for *every* row, not a
low-rank one. One Newton step on that objective from ``θ̂``, minus the one on the fitted
objective (what the fit left of the gradient ``γ = ∇O(θ̂)`` cancels), is

.. math::
    Δθ = H'^{-1}\\Bigl(\\sum_c ρ_c S_{G,c} + c_G q - \\sum_c (ρ_c - 1) S_c - γ\\Bigr) + H^{-1}γ,
    \\qquad H' = \\sum_c ρ_c (H_c - H_{G,c}) + Λ,

with ``S_c = Σ_{i∈c} s_i g_i`` and ``H_c`` the data Hessian of class ``c``, ``S_{G,c}`` and
``H_{G,c}`` the group's part, ``c_G q`` the group's share of a data-scaled penalty (SGD).
The exact solver forms ``H'`` from the classes' Hessians, ``O(p²K²)`` per class once and
``O(m p²K² + (pK)³)`` per group; CG solves with the matrix-free re-weighted operator.
"""

import numpy as np
import scipy.linalg

from .._models._design import LinearDesign
from .._solvers import objective_cg


def balanced_classes(influence_estimator):
    """Each training row's class index when the final model uses ``class_weight="balanced"``, else None.

    Raises ``NotImplementedError`` when the fit was weighted: the balanced weights after a
    removal need the original sample weights, which the fitted state does not keep.
    """
    from .._wrapped import _unwrap

    model = _unwrap(influence_estimator.estimator_)[1]
    if not (isinstance(getattr(model, "class_weight", None), str) and model.class_weight == "balanced"):
        return None
    n_classes = len(model.classes_)
    targets = np.asarray(influence_estimator._targets).reshape(influence_estimator._design.n_samples, -1)
    if n_classes == 2:
        classes = (targets[:, 0] > 0).astype(np.intp)
    elif targets.shape[1] == 1:
        classes = targets[:, 0].astype(np.intp)
    else:
        classes = np.argmax(targets, axis=1)
    counts = np.bincount(classes, minlength=n_classes)
    unweighted = len(classes) / (n_classes * counts[classes])
    if not np.allclose(influence_estimator._weights, unweighted, rtol=1e-10, atol=0):
        raise NotImplementedError(
            "leave_group_out follows class_weight='balanced' (whose class weights change when a group leaves) for "
            "fits without sample_weight only: with sample weights the new class weights need the original ones. "
            "Fit with class_weight=dict(zip(classes, weights)) to keep the class weights fixed, or without "
            "sample_weight."
        )
    return classes


class BalancedReweighting:
    """The per-class sums a balanced re-weighting needs, computed once per call (see the module docstring)."""

    def __init__(self, influence_estimator, classes, exact):
        inf = influence_estimator
        objective, design = inf._objective, inf._design
        self.inf, self.classes, self.exact = inf, classes, exact
        self.n_classes = int(classes.max()) + 1 if classes.size else 0
        self.counts = np.bincount(classes, minlength=self.n_classes)
        weighted = inf._weights[:, None] * inf._residuals
        self.class_gradients = np.stack(
            [design.tdot(weighted * (classes == c)[:, None]) for c in range(self.n_classes)]
        )  # S_c, (C, K, n_columns)
        gradient = objective.gradient(design, inf._targets, inf._weights, inf._residuals)
        shift = inf._stationary_shift()
        self.gradient = np.zeros_like(gradient) if shift is None else gradient  # γ, cancelled below
        self.shift = np.zeros_like(gradient) if shift is None else shift  # H⁻¹γ
        repeats = 1 if objective.separable else objective.n_outputs
        self.penalty = np.tile(objective.penalty, repeats)  # Λ without damping: what objective.hessian adds
        self.diagonal = np.tile(objective.penalty + inf._damping, repeats)  # Λ as in H
        if exact:
            self.class_hessians = np.stack(
                [self._data_hessian(design, self._masked(classes == c)) for c in range(self.n_classes)]
            )

    def _masked(self, mask):
        curvature = self.inf._curvature
        return curvature * (mask if curvature.ndim == 1 else mask[:, None, None])

    def _data_hessian(self, design, curvature):
        hessian = self.inf._objective.hessian(design, curvature)
        hessian[np.diag_indices_from(hessian)] -= self.penalty
        return hessian

    def ratios(self, rows):
        """``ρ_c = w'_c / w_c``, or None when the group takes every row of a class."""
        left = self.counts - np.bincount(self.classes[rows], minlength=self.n_classes)
        if np.any(left == 0):
            return None
        n, kept = self.classes.size, self.classes.size - rows.size
        return (kept / left) / (n / self.counts)

    def step(self, rows, dense, beta, share_gradient):
        """``(Δθ, ρ_G)`` of one group; ``ρ_G = λ_max(H⁻¹(H − H'))`` (CG: along the step); NaN when undefined."""
        inf, objective = self.inf, self.inf._objective
        k_out, n_col = objective.n_outputs, objective.n_columns
        ratios = self.ratios(rows)
        if ratios is None:
            return np.full((k_out, n_col), np.nan), np.inf
        own = ratios[self.classes[rows]]
        rhs = np.einsum("ik,ic->kc", own[:, None] * beta, dense) + share_gradient - self.gradient
        rhs -= np.einsum("c,ckq->kq", ratios - 1.0, self.class_gradients)
        group_curvature = inf._curvature[rows] * (own if inf._curvature.ndim == 1 else own[:, None, None])
        if self.exact:
            group = self._data_hessian(LinearDesign(dense, False), group_curvature)
            remaining = np.einsum("c,cij->ij", ratios, self.class_hessians) - group
            remaining[np.diag_indices_from(remaining)] += self.diagonal
            whole = self.class_hessians.sum(axis=0)
            whole[np.diag_indices_from(whole)] += self.diagonal
            factor, info = scipy.linalg.lapack.dpotrf(remaining, lower=1)
            if info != 0:
                return np.full((k_out, n_col), np.nan), np.inf
            flat = rhs.T if objective.separable else rhs.reshape(-1, 1)
            solved = scipy.linalg.cho_solve((factor, True), flat)
            step = solved.T if objective.separable else solved.reshape(k_out, n_col)
            d = len(whole)
            rho = scipy.linalg.eigh(whole - remaining, whole, eigvals_only=True, subset_by_index=[d - 1, d - 1])[0]
            return step + self.shift, rho
        per_row = ratios[self.classes]
        curvature = inf._curvature * (per_row if inf._curvature.ndim == 1 else per_row[:, None, None])
        curvature[rows] = 0.0  # the group's rows leave
        design = inf._design
        solver = objective_cg(
            objective,
            design,
            curvature,
            inf._damping,
            **inf._cg_options,
        )
        step = solver.solve(rhs[None])[0]
        before = np.vdot(step, objective.hessian_product(design, inf._curvature, step[None], inf._damping)[0])
        after = np.vdot(step, objective.hessian_product(design, curvature, step[None], inf._damping)[0])
        return step + self.shift, ((before - after) / before if before > 0 else 0.0)
