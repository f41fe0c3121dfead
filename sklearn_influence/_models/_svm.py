"""SmoothHingeClassifier: a linear SVM with Koh & Liang's smooth hinge, converged for influence."""

import numbers
import warnings

import numpy as np
from scipy.linalg import LinAlgError, LinAlgWarning, solve
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._design import LinearDesign, row_chunks
from ._losses import MarginLoss, SmoothHingeMargin
from ._objectives import LinearObjective, class_weighted

#: Rows with ``|y f(x) − 1|`` below this (or the estimator's ``tol``, up to 1e-2) are on the hinge's margin.
MARGIN_ATOL = 1e-3
#: Above this many columns the degenerate-hinge check (one Gram matrix per binary problem) is skipped.
DEGENERATE_CHECK_MAX_COLUMNS = 2000


class SmoothHingeClassifier(ClassifierMixin, BaseEstimator):
    """Linear SVM with the smooth hinge loss (Koh & Liang, 2017, §4.3).

    Minimises, for each binary problem (one for two classes; one-vs-rest otherwise),

    .. math::
        C \\sum_i s_i \\, τ \\log\\bigl(1 + e^{(1 - y_i f(x_i))/τ}\\bigr) + \\tfrac12 \\|w\\|^2,
        \\qquad f(x) = w^\\top x + b, \\; y_i \\in \\{-1, +1\\},

    with the intercept ``b`` unpenalised and ``s_i`` the sample weight (``class_weight``
    folded in). As the temperature τ → 0 the loss tends to the hinge of a linear SVM
    (``0 ≤ smooth − hinge ≤ τ log 2``) and stays twice differentiable, so influence
    functions apply exactly.

    The fit is Newton's method with a backtracking line search on the exact Hessian,
    with continuation in the temperature (τ = 1, 0.1, ... down to ``temperature``,
    each stage warm-started) because the curvature ``1/(4τ)`` concentrates on the
    margin as τ → 0: the Hessian's condition number grows like ``1/τ`` and a cold
    Newton start at small τ can stall. Iterations stop when the gradient norm falls
    below ``tol`` times its value at zero.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength (> 0).
    temperature : float, default=0.1
        Smoothing temperature τ > 0 of the hinge.
    fit_intercept : bool, default=True
        Whether to fit an unpenalised intercept.
    tol : float, default=1e-10
        Relative gradient-norm tolerance of the final Newton stage.
    max_iter : int, default=200
        Maximum Newton iterations per temperature stage.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, folded into the sample weights as in scikit-learn.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights of the binary problems.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_iter_ : int
        Total Newton iterations over all stages and binary problems.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during ``fit``, when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_influence import SmoothHingeClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = SmoothHingeClassifier(C=0.1, temperature=0.01).fit(scale(X), y)
    >>> round(clf.score(scale(X), y), 2)
    0.99
    """

    def __init__(self, C=1.0, *, temperature=0.1, fit_intercept=True, tol=1e-10, max_iter=200, class_weight=None):
        self.C = C
        self.temperature = temperature
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight

    def _check_params(self):
        for name, low in (("C", 0.0), ("temperature", 0.0), ("tol", 0.0)):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= low:
                raise ValueError(f"{name} must be a finite number > 0; got {name}={value!r}.")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer; got max_iter={self.max_iter!r}.")

    def fit(self, X, y, sample_weight=None):
        """Fit the binary problem(s) by Newton's method with temperature continuation.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights ``s_i``.

        Returns
        -------
        self : SmoothHingeClassifier
            Fitted estimator.
        """
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"SmoothHingeClassifier needs samples of at least 2 classes; got 1 class: {self.classes_[0]!r}."
            )
        if sample_weight is None:
            weights = np.ones(X.shape[0])
        else:
            weights = np.asarray(sample_weight, dtype=float)
            if weights.shape != (X.shape[0],) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
                raise ValueError(
                    f"sample_weight must be finite, non-negative and of shape ({X.shape[0]},); "
                    f"got shape {weights.shape}."
                )
            if not np.any(weights > 0):
                raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
            if len(np.unique(y[weights > 0])) < 2:
                raise ValueError(
                    "SmoothHingeClassifier needs rows of at least 2 classes with a non-zero sample_weight; "
                    f"only class {np.unique(y[weights > 0])[0]!r} has any."
                )
        weights = class_weighted(self.class_weight, self.classes_, y, weights)
        index = np.searchsorted(self.classes_, y)
        targets = MarginLoss(SmoothHingeMargin(1.0), len(self.classes_)).encode(index)
        design = LinearDesign(X, self.fit_intercept)
        coef = np.zeros((targets.shape[1], design.n_columns))
        self.n_iter_ = 0
        for k in range(targets.shape[1]):
            coef[k] = self._fit_binary(design, targets[:, [k]], weights)
        n_features = X.shape[1]
        self.coef_ = coef[:, :n_features]
        self.intercept_ = coef[:, n_features] if self.fit_intercept else np.zeros(coef.shape[0])
        return self

    def _temperatures(self):
        stages = [self.temperature]
        while stages[-1] * 10 <= 1.0:
            stages.append(stages[-1] * 10)
        return stages[::-1]

    def _fit_binary(self, design, targets, weights):
        """Newton with backtracking on one binary problem; returns its coefficient row."""
        penalty = np.full(design.n_columns, 1.0 / self.C)
        if self.fit_intercept:
            penalty[-1] = 0.0
        theta = np.zeros((1, design.n_columns))
        temperatures = self._temperatures()
        for stage, temperature in enumerate(temperatures):
            final = stage == len(temperatures) - 1
            loss = MarginLoss(SmoothHingeMargin(temperature), 2)
            at_zero = LinearObjective(loss, np.zeros_like(theta), penalty, self.fit_intercept)
            reference = np.linalg.norm(at_zero.gradient(design, targets, weights))
            objective = LinearObjective(loss, theta, penalty, self.fit_intercept)
            converged = self._newton(objective, design, targets, weights, reference * (self.tol if final else 1e-6))
            theta = objective.coef
            if final and not converged:
                warnings.warn(
                    f"SmoothHingeClassifier did not converge within max_iter={self.max_iter} Newton iterations "
                    f"at temperature={self.temperature:g}. Increase max_iter or the temperature, or scale X.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        return theta[0]

    def _newton(self, objective, design, targets, weights, threshold):
        """Damped Newton iterations in place on ``objective.coef``; True when converged.

        A step is accepted on the Armijo condition, or, once the objective's decrease is
        below its rounding error, when it reduces the gradient norm (the quadratic phase).
        """
        value = objective.value(design, targets, weights)
        gradient = objective.gradient(design, targets, weights).ravel()
        for _ in range(self.max_iter):
            if np.linalg.norm(gradient) <= threshold:
                return True
            self.n_iter_ += 1
            raw = objective.raw(design)
            hessian = objective.hessian(design, objective.curvature_weights(targets, raw, weights))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", LinAlgWarning)
                    direction = solve(hessian, gradient, assume_a="pos")
            except (LinAlgError, LinAlgWarning):  # curvature vanished along some direction: regularise
                direction = solve(hessian + 1e-8 * np.trace(hessian) * np.eye(len(gradient)), gradient)
            start, step = objective.coef.copy(), 1.0
            decrease = gradient @ direction
            while step >= 1e-10:
                objective.coef = start - step * direction
                trial = objective.value(design, targets, weights)
                if trial <= value - 1e-4 * step * decrease:
                    break
                if abs(trial - value) <= 1e-13 * abs(value):
                    trial_gradient = objective.gradient(design, targets, weights).ravel()
                    if np.linalg.norm(trial_gradient) < np.linalg.norm(gradient):
                        break
                step *= 0.5
            else:
                objective.coef = start
                return False
            value = trial
            gradient = objective.gradient(design, targets, weights).ravel()
        return np.linalg.norm(gradient) <= threshold

    def decision_function(self, X):
        """Scores ``f(x) = w·x + b``: shape (n_samples,) for two classes, else (n_samples, n_classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray
            Positive scores favour ``classes_[1]`` (two classes) or the column's class.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float64)
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Class labels: the sign of the score (two classes) or its arg-max (one-vs-rest).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def pinned_hinge_problems(design, targets, raw, weights, atol=MARGIN_ATOL):
    """Binary problems of a hinge fit whose optimum is pinned by redundant margin rows.

    At a hinge optimum the rows split into those beyond the margin (``y f > 1``, no loss),
    inside it (``y f < 1``, linear loss) and on it (``y f = 1``, the kink). When the margin
    rows ``S`` span every direction the training rows span, the fitted ``θ`` is the solution
    of the equations ``y_i x̃_iᵀθ = 1`` (i ∈ S): changing the weight of a row off the margin
    only moves the dual variables of ``S``, never ``θ``. When, moreover, removing one margin
    row keeps that span (its leverage within ``S`` is below 1, e.g. because the row is
    duplicated, as one-hot survey data makes likely), leave-one-out of *that* row does not
    move ``θ`` either. A problem is reported when ``S`` spans the data with room to spare (at
    least twice as many margin rows as directions, so that rows merely within ``atol`` of the
    margin in general position do not count) and at most half of its rows are essential
    (leverage 1): leave-one-out then leaves the hinge fit unchanged for every row but those few.

    Parameters
    ----------
    design : LinearDesign
        Training design ``X̃``.
    targets : ndarray of shape (n_samples, n_outputs)
        ±1 codes of each binary problem (0 where a row takes no part, one-vs-one).
    raw : ndarray of shape (n_samples, n_outputs)
        Decision values ``f(x_i)`` of each binary problem.
    weights : ndarray of shape (n_samples,)
        Sample weights; rows of weight 0 take no part.
    atol : float, default=1e-3
        A row is on the margin when ``|y_i f(x_i) − 1| <= atol``.

    Returns
    -------
    pinned : list of tuple
        ``(output, n_margin, n_rows, n_essential)`` for every pinned binary problem: its
        index, its rows on the margin, its rows, and the margin rows whose removal changes
        the span (the only rows whose leave-one-out can move the fit).
    """
    if design.n_columns > DEGENERATE_CHECK_MAX_COLUMNS:
        return []
    pinned = []
    for k in range(targets.shape[1]):
        rows = (weights > 0) & (targets[:, k] != 0)
        margin = (np.abs(targets[:, k] * raw[:, k] - 1.0) <= atol) & rows
        if not margin.any():
            continue
        gram = design.sandwich(rows.astype(float))
        scale = np.sqrt(np.diag(gram))
        scale[scale == 0] = 1.0
        eigenvalues = np.linalg.eigvalsh(gram / np.outer(scale, scale))
        threshold = 1e-10 * eigenvalues[-1]
        gram_margin = design.sandwich(margin.astype(float)) / np.outer(scale, scale)
        values, vectors = np.linalg.eigh(gram_margin)
        kept = values > threshold
        if kept.sum() < (eigenvalues > threshold).sum():
            continue  # some direction of the data is free of margin rows: θ moves with the weights
        # leverage of each margin row within the margin rows: ||Λ^{-1/2} Uᵀ D⁻¹ x̃_i||²
        whitening = (vectors[:, kept] / np.sqrt(values[kept])).T / scale
        on_margin = design.take(np.flatnonzero(margin))
        n_essential = 0
        for chunk in row_chunks(on_margin.n_samples, 8 * int(kept.sum())):
            coordinates = on_margin.take(chunk).dot(whitening)
            n_essential += int(np.sum(np.einsum("ij,ij->i", coordinates, coordinates) > 1.0 - 1e-6))
        n_margin = int(margin.sum())
        if n_margin >= 2 * kept.sum() and n_essential <= n_margin / 2:
            pinned.append((k, n_margin, int(rows.sum()), n_essential))
    return pinned
