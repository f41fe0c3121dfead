"""Exact leave-one-out of ``Ridge`` along a grid of ``alpha`` from one singular value decomposition.

For weighted ridge with an unpenalised intercept, ``min Σ s_i (y_i − x_iᵀw − b)² + α||w||²``,
centre with the weighted means (``X_c = X − x̄``, ``y_c = y − ȳ``, ``x̄ = Σ s_i x_i / Σ s_i``)
and decompose ``S^{1/2} X_c = U Σ Vᵀ`` once. With ``Q = X_c V`` and ``λ = σ²``, every ``α`` costs
``O(n r)`` (``r = min(n, p)``):

.. math::
    \\hat y_i = ȳ + Q_i \\, \\mathrm{diag}\\big(1/(λ + α)\\big) \\, Qᵀ S y_c, \\qquad
    h_i = s_i \\Big(\\frac{1}{Σ_j s_j} + \\sum_k \\frac{Q_{ik}^2}{λ_k + α}\\Big), \\qquad
    \\hat y_{-i}(x_i) = y_i − \\frac{y_i − \\hat y_i}{1 − h_i},

the exact leave-one-out prediction (Sherman–Morrison; without an intercept drop ``x̄``, ``ȳ``
and ``1/Σ s_j``): ``RidgeCV``'s efficient leave-one-out, here for every candidate of a search
whose grid varies only ``alpha``. ``RidgeClassifier`` is the same ridge on the ±1 indicator
columns of the classes (its ``class_weight`` folded into ``s``): the leave-one-out decision
function is that prediction, its class the largest column (binary: the sign).
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_array

#: Smallest ``(λ_min + α) / (λ_max + α)`` taken on this path; below it, the general path's checks apply.
_MIN_RECIPROCAL_CONDITION = 1e-10
#: Largest leverage taken on this path; above it ``1 − h_i`` would lose digits (the general path recomputes it).
_MAX_LEVERAGE = 0.99


class RidgeAlphaPath:
    """Leave-one-out predictions and leverages of ``Ridge`` for any ``alpha``, from one decomposition.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
    weights : ndarray of shape (n_samples,)
        Checked sample weights (ones when none were given).
    fit_intercept : bool
    """

    classes_ = None  # the classes of a RidgeClassifier path

    def __init__(self, X, y, weights, fit_intercept):
        self.y = y
        targets = y.reshape(len(y), -1)
        self.weights = weights
        if fit_intercept:
            total = weights.sum()
            x_mean, self.y_mean = weights @ X / total, weights @ targets / total
            X, targets = X - x_mean, targets - self.y_mean
            self.base_leverage = weights / total
        else:
            self.y_mean, self.base_leverage = np.zeros(targets.shape[1]), np.zeros(len(y))
        _, singular, right = np.linalg.svd(np.sqrt(weights)[:, None] * X, full_matrices=False)
        self.eigenvalues = singular**2
        self.projected = X @ right.T  # Q = X_c V
        self.squared = self.projected**2
        self.moment = self.projected.T @ (weights[:, None] * targets)  # Qᵀ S y_c

    def usable(self, alpha):
        """Whether ``alpha`` is well conditioned enough for this path."""
        largest = self.eigenvalues.max(initial=0.0) + alpha
        smallest = (self.eigenvalues.min(initial=0.0) if self.eigenvalues.size else 0.0) + alpha
        return alpha > 0 and smallest > _MIN_RECIPROCAL_CONDITION * largest

    def leave_one_out(self, alpha):
        """``(predictions, leverage)`` for ``alpha``, or ``None`` when some ``h_i`` is too close to 1."""
        shrink = 1.0 / (self.eigenvalues + alpha)
        leverage = self.base_leverage + self.weights * (self.squared @ shrink)
        if leverage.max() > _MAX_LEVERAGE:
            return None
        fitted = self.y_mean + self.projected @ (shrink[:, None] * self.moment)
        targets = self.y.reshape(fitted.shape)
        predictions = targets - (targets - fitted) / (1.0 - leverage)[:, None]
        return predictions.reshape(self.y.shape), leverage

    def responses(self, predictions):
        """``{response name: values}`` of the leave-one-out predictions (a classifier's decision and class)."""
        if self.classes_ is None:
            return {"predict": predictions}
        if predictions.shape[1] == 1:  # binary: one ±1 column, the positive class's
            decision = predictions[:, 0]
            return {"decision_function": decision, "predict": self.classes_[(decision > 0).astype(int)]}
        return {"decision_function": predictions, "predict": self.classes_[np.argmax(predictions, axis=1)]}


def ridge_alpha_path(estimator, candidates, X, y, weights, fit_params):
    """A :class:`RidgeAlphaPath` when every candidate is a plain dense ``Ridge`` (or ``RidgeClassifier``)
    differing only in ``alpha``.

    ``None`` otherwise (another estimator or parameter, sparse ``X``, ``positive=True``, fit
    parameters, an ``alpha`` that is not a positive number, ``class_weight="balanced"`` whose
    refits re-balance, multilabel targets): the search takes the general path.
    """
    classifier = type(estimator) is RidgeClassifier
    if type(estimator) is not Ridge and not classifier:
        return None
    if fit_params or estimator.positive or sp.issparse(X) or (classifier and estimator.class_weight == "balanced"):
        return None
    if not all(set(params) <= {"alpha"} for params in candidates):
        return None
    alphas = [params.get("alpha", estimator.alpha) for params in candidates]
    if not all(isinstance(a, numbers.Real) and not isinstance(a, bool) and a > 0 for a in alphas):
        return None
    classes = None
    try:
        X = check_array(X, dtype=np.float64)
        if classifier:
            binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
            indicators = binarizer.fit_transform(y)
            if binarizer.y_type_.startswith("multilabel") or len(binarizer.classes_) < 2:
                return None
            if estimator.class_weight:
                weights = weights * compute_sample_weight(estimator.class_weight, y)
            y, classes = indicators.astype(np.float64), binarizer.classes_
        else:
            y = check_array(y, dtype=np.float64, ensure_2d=False)
    except (TypeError, ValueError):
        return None  # the general path reports it as the estimator does
    if y.ndim > 2 or y.shape[0] != X.shape[0]:
        return None
    path = RidgeAlphaPath(X, y, weights, estimator.fit_intercept)
    path.classes_ = classes
    return path
