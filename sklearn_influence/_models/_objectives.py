"""Objectives: the sum-form training objective of a linear model and its derivatives.

A fitted linear model minimises, over its coefficient matrix ``Θ`` (one row per
identified output, the intercept as last column),

.. math::
    O(Θ) = \\sum_i s_i \\, \\ell(t_i, Θ \\tilde x_i) + \\tfrac12 \\sum_{k,c} λ_c Θ_{kc}^2,
    \\qquad \\tilde x_i = [x_i, 1],

with ``s_i`` the sample weight (class weights folded in) and ``λ_c`` the penalty of
column ``c`` (0 for an unpenalised intercept). scikit-learn often rescales this objective
by a positive constant; that does not move the optimum, and every quantity of the
library is defined from this sum form (design contract §1).

Chain rule into parameter space (second layer, as in ``sklearn.linear_model._linear_loss``):

* per-sample gradient ``g_i = r_i ⊗ x̃_i`` with ``r_i = ∂ℓ/∂f`` (never materialised for
  all rows: products go through :class:`~sklearn_influence._design.LinearDesign`);
* Hessian ``H = Σ_i s_i A_i ⊗ x̃_i x̃_iᵀ + diag(λ)`` with ``A_i = ∂²ℓ/∂f²``. When
  ``A_i = a_i I`` (binary logistic, squared error) ``H = I ⊗ H₀`` is *separable* and
  only the ``(p+1) × (p+1)`` block ``H₀ = X̃ᵀ diag(s a) X̃ + diag(λ)`` is formed.

Which estimator minimises which objective is decoded in ``_decoding``, and only there.

Public parameter layout: ``np.concatenate([coef_.ravel(), intercept_.ravel()])``
(no intercept part when ``fit_intercept=False``); :meth:`LinearObjective.to_public`
maps internal arrays of shape ``(..., n_outputs, n_columns)`` to it.
"""

import inspect

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from ._design import LinearDesign


class LinearObjective:
    """The sum-form objective of a fitted linear model, in identified coordinates.

    Parameters
    ----------
    loss : pointwise loss
        One of the classes of ``sklearn_influence._losses``.
    coef : ndarray of shape (n_outputs, n_columns)
        Fitted coefficients in identified coordinates, intercept last.
    penalty : ndarray of shape (n_columns,)
        L2 penalty strength ``λ_c`` of each column (same for every output).
    fit_intercept : bool
        Whether the last column is an intercept.
    classes : ndarray or None
        Class labels for classifiers (targets are encoded with them).
    basis : ndarray of shape (n_public_outputs, n_outputs) or None
        Maps identified outputs back to scikit-learn's outputs (multinomial only).
    matches_training_loss : bool, default=True
        False when the loss is a smoothed stand-in for the one the model was trained on
        (Koh & Liang's protocol for the hinge): the fit is then not a stationary point of
        this objective, by design.
    penalty_shares : ndarray of shape (n_samples,) or None, default=None
        When the estimator scales its penalty with the data (GLMs: ``α·Σs``; SGD: ``α·n``),
        the share ``c_i`` of the penalty strength that leaves with row ``i``:
        ``penalty = (Σ_i c_i) · mask`` on the penalised columns. A refit without row ``i``
        has the weaker penalty, so leave-one-out removes ``c_i · ½||θ||²_mask`` too.
    """

    #: ``solver="auto"`` factorises exactly up to this many (internal) parameters.
    auto_exact_max_params = 3000
    #: Per-row curvature in closed form: Newton leave-one-out, LiSSA and probes are available.
    closed_form = True

    def __init__(
        self,
        loss,
        coef,
        penalty,
        fit_intercept,
        classes=None,
        basis=None,
        matches_training_loss=True,
        penalty_shares=None,
    ):
        self.loss = loss
        self.penalty_shares = penalty_shares
        self.coef = coef
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.classes = classes
        self.basis = basis
        self.matches_training_loss = matches_training_loss

    @property
    def n_outputs(self):
        return self.coef.shape[0]

    @property
    def n_columns(self):
        return self.coef.shape[1]

    @property
    def separable(self):
        """Whether ``H = I ⊗ H₀`` (the pointwise Hessian is a multiple of the identity)."""
        return self.loss.isotropic_hessian

    @property
    def input_coef(self):
        """Coefficients on the features only, shape (n_outputs, n_features): ∂f/∂x."""
        return self.coef[:, : self.n_columns - int(self.fit_intercept)]

    # --- targets -----------------------------------------------------------------
    def encode(self, y):
        """Encode labels or responses into the loss's target; unseen classes are an error."""
        if self.classes is None:
            y = np.asarray(y, dtype=float)
            if y.size != y.shape[0] * self.n_outputs:
                raise ValueError(
                    f"y must have shape (n_samples, {self.n_outputs}) for a model with {self.n_outputs} "
                    f"output(s); got shape {y.shape}."
                )
            if hasattr(self.loss, "check_targets"):
                self.loss.check_targets(y)
            return y.reshape(y.shape[0], self.n_outputs)
        index = class_indices(self.classes, y)
        return self.loss.encode(index)

    def design(self, X, targets):
        """The rows the engine works with: ``X̃ = [X, 1]`` (the targets enter through the residuals)."""
        return LinearDesign(X, self.fit_intercept)

    # --- pointwise quantities ---------------------------------------------------------
    def raw(self, design):
        """Raw predictions ``f_i = Θ x̃_i`` of shape (n_samples, n_outputs)."""
        return design.dot(self.coef)

    def curvature_weights(self, targets, raw, sample_weight):
        """``s_i A_i``: shape (n,) when separable, else (n, n_outputs, n_outputs)."""
        curvature = self.loss.hessian(targets, raw)
        if self.separable:
            return sample_weight * curvature
        return sample_weight[:, None, None] * curvature

    # --- objective, gradient, Hessian ----------------------------------------------
    def value(self, design, targets, sample_weight):
        """``O(Θ) = Σ_i s_i ℓ(t_i, f_i) + ½ Σ_c λ_c ||Θ_{:,c}||²``."""
        data = sample_weight @ self.loss.loss(targets, self.raw(design))
        return data + 0.5 * np.sum(self.penalty * self.coef**2)

    def gradient(self, design, targets, sample_weight, residuals=None):
        """``∇O(Θ) = Σ_i s_i r_i ⊗ x̃_i + λ ∘ Θ`` of shape (n_outputs, n_columns).

        ``residuals`` (``r_i = ∂ℓ/∂f`` at the current ``Θ``) are recomputed when not given.
        """
        if residuals is None:
            residuals = self.loss.gradient(targets, self.raw(design))
        return design.tdot(sample_weight[:, None] * residuals) + self.penalty * self.coef

    def hessian(self, design, curvature, damping=0.0):
        """Dense Hessian plus ``damping·I``.

        Returns ``H₀`` of shape (n_columns, n_columns) when separable, else the full
        ``H`` of shape (n_outputs * n_columns,) * 2 in output-major order.
        """
        diag = self.penalty + damping
        if self.separable:
            hess = design.sandwich(curvature)
            hess[np.diag_indices_from(hess)] += diag
            return hess
        k_out, n_col = self.n_outputs, self.n_columns
        hess = np.zeros((k_out * n_col, k_out * n_col))
        for k in range(k_out):
            for m in range(k, k_out):
                if m != k and not np.any(curvature[:, k, m]):
                    continue  # independent outputs (one-vs-rest, one-vs-one): a zero block
                block = design.sandwich(curvature[:, k, m])
                hess[k * n_col : (k + 1) * n_col, m * n_col : (m + 1) * n_col] = block
                hess[m * n_col : (m + 1) * n_col, k * n_col : (k + 1) * n_col] = block.T
        hess[np.diag_indices_from(hess)] += np.tile(diag, k_out)
        return hess

    def hessian_diagonal(self, design, curvature, damping=0.0):
        """Diagonal of ``H`` (or ``H₀``), for a Jacobi preconditioner."""
        diag = self.penalty + damping
        if self.separable:
            return design.squared_column_sums(curvature) + diag
        return np.concatenate([design.squared_column_sums(curvature[:, k, k]) + diag for k in range(self.n_outputs)])

    def hessian_product(self, design, curvature, V, damping=0.0):
        """Matrix-free ``H V`` for ``V`` of shape (r, n_outputs, n_columns) (H never formed)."""
        r, k_out, n_col = V.shape
        direction = design.dot(V.reshape(r * k_out, n_col)).reshape(-1, r, k_out)
        if self.separable:
            direction *= curvature[:, None, None]
        else:
            direction = np.einsum("nkl,nrl->nrk", curvature, direction)
        out = design.tdot(direction.reshape(-1, r * k_out)).reshape(r, k_out, n_col)
        return out + (self.penalty + damping) * V

    # --- layout ------------------------------------------------------------------------
    def penalty_share_gradient(self):
        """``∂(½||θ||²_mask)/∂θ``: the penalised columns of ``Θ`` (the direction a share pulls)."""
        return np.where(self.penalty > 0, self.coef, 0.0)

    def to_public(self, V):
        """Map ``(..., n_outputs, n_columns)`` to the public layout ``(..., n_params)``."""
        if self.basis is not None:
            V = np.einsum("kl,...lc->...kc", self.basis, V)
        lead = V.shape[:-2]
        n_features = self.n_columns - int(self.fit_intercept)
        coef = V[..., :n_features].reshape(*lead, -1)
        if not self.fit_intercept:
            return coef
        return np.concatenate([coef, V[..., n_features]], axis=-1)


def class_indices(classes, y):
    """Positions of the labels ``y`` in the sorted ``classes``; unseen labels are an error."""
    y = np.asarray(y)
    try:
        index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        unseen = classes[index] != y
    except TypeError:  # labels of another type than the classes: none of them was seen
        raise ValueError(
            f"y contains labels never seen in training (types {sorted({type(v).__name__ for v in y})}); "
            f"the training classes are {classes.tolist()}."
        ) from None
    if np.any(unseen):
        raise ValueError(
            f"y contains labels never seen in training: {np.unique(y[unseen]).tolist()}; "
            f"the training classes are {classes.tolist()}."
        )
    return index


def class_weighted(class_weight, classes, y, sample_weight):
    """``s_i`` with ``class_weight`` folded in, computed as scikit-learn's linear models do."""
    if class_weight is None:
        return sample_weight
    kwargs = {}
    if "sample_weight" in inspect.signature(compute_class_weight).parameters:
        kwargs["sample_weight"] = sample_weight
    per_class = compute_class_weight(class_weight, classes=classes, y=y, **kwargs)
    return sample_weight * per_class[np.searchsorted(classes, y)]
