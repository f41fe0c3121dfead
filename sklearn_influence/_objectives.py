"""Objectives: the only place that decodes a scikit-learn estimator's parameterisation.

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

Public parameter layout: ``np.concatenate([coef_.ravel(), intercept_.ravel()])``
(no intercept part when ``fit_intercept=False``); :meth:`LinearObjective.to_public`
maps internal arrays of shape ``(..., n_outputs, n_columns)`` to it.
"""

import inspect

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils.class_weight import compute_class_weight

from ._losses import BinomialLogLoss, MultinomialLogLoss, SquaredError

SUPPORTED_ESTIMATORS = (
    "LogisticRegression (L2 or no penalty; binary or multinomial; any solver, liblinear "
    "decoded with its penalised intercept), Ridge (scalar alpha), LinearRegression"
)


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
    """

    def __init__(self, loss, coef, penalty, fit_intercept, classes=None, basis=None):
        self.loss = loss
        self.coef = coef
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.classes = classes
        self.basis = basis

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
    def input_weights(self):
        """Coefficients on the features only, shape (n_outputs, n_features): ∂f/∂x."""
        return self.coef[:, : self.n_columns - int(self.fit_intercept)]

    # --- targets -----------------------------------------------------------------
    def encode(self, y):
        """Encode labels or responses into the loss's target; unseen classes are an error."""
        if self.classes is None:
            y = np.asarray(y, dtype=float)
            return y.reshape(y.shape[0], self.n_outputs)
        y = np.asarray(y)
        index = np.searchsorted(self.classes, y)
        index = np.clip(index, 0, len(self.classes) - 1)
        unseen = self.classes[index] != y
        if np.any(unseen):
            raise ValueError(
                f"y contains labels never seen in training: {np.unique(y[unseen]).tolist()}; "
                f"the training classes are {self.classes.tolist()}."
            )
        return index.astype(float) if isinstance(self.loss, BinomialLogLoss) else index

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
        hess = np.empty((k_out * n_col, k_out * n_col))
        for k in range(k_out):
            for m in range(k, k_out):
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
        return np.concatenate(
            [design.squared_column_sums(curvature[:, k, k]) + diag for k in range(self.n_outputs)]
        )

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


def public_params(model):
    """``concatenate([coef_.ravel(), intercept_.ravel()])`` of a fitted linear model."""
    coef = np.asarray(model.coef_, dtype=float).ravel()
    if not model.fit_intercept:
        return coef
    return np.concatenate([coef, np.atleast_1d(np.asarray(model.intercept_, dtype=float)).ravel()])


def _stack_intercept(coef, intercept, fit_intercept):
    coef = np.asarray(coef, dtype=float)
    if not fit_intercept:
        return coef
    return np.hstack([coef, np.asarray(intercept, dtype=float).reshape(-1, 1)])


# --- decoders: one per estimator family -------------------------------------------------


def _logistic_penalty_strength(model):
    """``1/C`` for an L2 penalty, 0 for none; refuses L1 and elastic-net."""
    penalty = getattr(model, "penalty", "l2")
    l1_ratio = getattr(model, "l1_ratio", None)
    C = model.C
    if penalty == "deprecated":  # scikit-learn >= 1.8 spells the penalty with l1_ratio and C
        if C == np.inf:
            return 0.0
        penalty = "l2" if l1_ratio in (0, 0.0, None) else ("l1" if l1_ratio == 1 else "elasticnet")
    if penalty is None or penalty == "none":
        return 0.0
    if penalty != "l2":
        raise ValueError(
            f"LogisticRegression with penalty={penalty!r} (l1_ratio={l1_ratio!r}) is not supported: "
            "influence functions need a twice-differentiable objective. Use an L2 penalty "
            "(l1_ratio=0) or no penalty (C=np.inf)."
        )
    return 0.0 if C == np.inf else 1.0 / C


def _class_weights(model, y, sample_weight):
    if model.class_weight is None:
        return sample_weight
    kwargs = {}
    if "sample_weight" in inspect.signature(compute_class_weight).parameters:
        kwargs["sample_weight"] = sample_weight
    per_class = compute_class_weight(model.class_weight, classes=model.classes_, y=y, **kwargs)
    index = np.searchsorted(model.classes_, y)
    return sample_weight * per_class[index]


def _decode_logistic(model, y, sample_weight):
    strength = _logistic_penalty_strength(model)
    classes = model.classes_
    n_classes = len(classes)
    if model.solver == "liblinear" and n_classes > 2:
        raise ValueError(
            "LogisticRegression(solver='liblinear') with more than two classes fits one-vs-rest "
            "models, which is not supported; use solver='lbfgs' (multinomial)."
        )
    if n_classes > 2 and getattr(model, "multi_class", "auto") == "ovr":
        raise ValueError(
            "LogisticRegression(multi_class='ovr') is not supported; use the multinomial "
            "model (multi_class='multinomial' or the default)."
        )
    coef = _stack_intercept(model.coef_, model.intercept_, model.fit_intercept)
    n_columns = coef.shape[1]
    penalty = np.full(n_columns, strength)
    if model.fit_intercept:
        # liblinear penalises the intercept: it fits w_b on a constant feature
        # intercept_scaling, so b = intercept_scaling * w_b and ½ w_b²/C = ½ b²/(C s_b²).
        penalty[-1] = strength / model.intercept_scaling**2 if model.solver == "liblinear" else 0.0
    if n_classes == 2:
        loss, basis = BinomialLogLoss(), None
    else:
        loss = MultinomialLogLoss(n_classes)
        basis = loss.basis
        coef = basis.T @ coef
    objective = LinearObjective(loss, coef, penalty, model.fit_intercept, classes=classes, basis=basis)
    return objective, _class_weights(model, y, sample_weight)


def _decode_least_squares(model, y, sample_weight):
    alpha = float(getattr(model, "alpha", 0.0)) if np.ndim(getattr(model, "alpha", 0.0)) == 0 else None
    if alpha is None:
        raise ValueError(
            f"Ridge with a per-target alpha (alpha={model.alpha!r}) is not supported; "
            "use a scalar alpha."
        )
    if getattr(model, "positive", False):
        raise ValueError(
            f"{type(model).__name__}(positive=True) is a constrained fit and is not supported."
        )
    n_outputs = 1 if np.ndim(model.coef_) == 1 else model.coef_.shape[0]
    coef = np.asarray(model.coef_, dtype=float).reshape(n_outputs, -1)
    coef = _stack_intercept(coef, np.ravel(model.intercept_), model.fit_intercept)
    penalty = np.full(coef.shape[1], 2.0 * alpha)  # alpha ||w||² = ½ (2 alpha) ||w||²
    if model.fit_intercept:
        penalty[-1] = 0.0
    return LinearObjective(SquaredError(), coef, penalty, model.fit_intercept), sample_weight


_DECODERS = {
    LogisticRegression: _decode_logistic,
    Ridge: _decode_least_squares,
    LinearRegression: _decode_least_squares,
}


def objective_from_estimator(model, y, sample_weight):
    """Decode a fitted estimator into its :class:`LinearObjective` and effective weights.

    Parameters
    ----------
    model : fitted estimator
        The final model (already unwrapped from ``Pipeline`` / ``FrozenEstimator``).
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Training targets, as passed to ``fit``.
    sample_weight : ndarray of shape (n_samples,)
        Training sample weights (ones when none were given).

    Returns
    -------
    objective : LinearObjective
    sample_weight : ndarray of shape (n_samples,)
        ``s_i`` of the sum form, with ``class_weight`` folded in.
    """
    decoder = _DECODERS.get(type(model))
    if decoder is None:
        raise TypeError(
            f"{type(model).__name__} is not supported. Supported estimators: {SUPPORTED_ESTIMATORS}; "
            "each may be the last step of a Pipeline or wrapped in FrozenEstimator."
        )
    return decoder(model, y, sample_weight)
