"""AutogradModel: bring any differentiable model, written as a per-sample loss."""

import numbers

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

#: Up to this many parameters the fit uses the exact Hessian (trust region); beyond, L-BFGS.
EXACT_HESSIAN_MAX_PARAMS = 500


class AutogradModel(BaseEstimator):
    """A model defined by its per-sample loss, fitted by minimising the weighted sum.

    The fitted parameters minimise

    .. math::
        O(θ) = \\sum_i s_i \\, \\ell(θ; x_i, y_i) + Ω(θ),

    with ``ℓ`` and ``Ω`` written with ``autograd.numpy`` so that gradients and Hessians are
    exact. Wrapped in :class:`InfluenceEstimator` it gets every first-order quantity
    (``influence``, ``self_influence``, ``influence_params``, ``leave_one_out`` and
    ``leave_one_out_params`` with ``method="influence"``, ``perturbation_influence``); the
    per-sample loss is also the test loss. A model fitted elsewhere comes in as
    ``FrozenEstimator(AutogradModel(loss, params).fit(X, y))`` with ``max_iter=0``.

    Parameters
    ----------
    loss : callable
        ``loss(params, X, y) -> ndarray of shape (n_samples,)``: the per-sample losses,
        vectorised over rows, written with ``autograd.numpy``.
    init_params : array-like of shape (n_params,)
        Starting point of the fit (the fitted parameters when ``max_iter=0``).
    penalty : callable, default=None
        ``penalty(params) -> float``, written with ``autograd.numpy``.
    max_iter : int, default=1000
        Iterations of the optimiser; 0 keeps ``init_params`` as they are.
    tol : float, default=1e-10
        Gradient tolerance of the optimiser.

    Attributes
    ----------
    params_ : ndarray of shape (n_params,)
        Fitted parameters.
    n_features_in_ : int
        Number of features seen during ``fit``.

    Examples
    --------
    A probit model, written by hand:

    >>> import autograd.numpy as anp
    >>> from autograd.scipy.stats import norm
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_influence import AutogradModel, InfluenceEstimator
    >>> def probit_loss(params, X, y):
    ...     z = anp.dot(X, params[:-1]) + params[-1]
    ...     return -(y * norm.logcdf(z) + (1 - y) * norm.logcdf(-z))
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :5]
    >>> model = AutogradModel(probit_loss, anp.zeros(6), penalty=lambda p: 0.5 * anp.dot(p[:-1], p[:-1]))
    >>> inf = InfluenceEstimator(model).fit(X, y)
    >>> inf.influence(X[:3], y[:3]).shape
    (3, 569)
    """

    def __init__(self, loss, init_params, *, penalty=None, max_iter=1000, tol=1e-10):
        self.loss = loss
        self.init_params = init_params
        self.penalty = penalty
        self.max_iter = max_iter
        self.tol = tol

    def objective(self, params, X, y, sample_weight):
        """``Σ_i s_i ℓ(θ; x_i, y_i) + Ω(θ)``."""
        value = anp.dot(sample_weight, self.loss(params, X, y))
        return value if self.penalty is None else value + self.penalty(params)

    def fit(self, X, y, sample_weight=None):
        """Minimise the weighted sum of per-sample losses plus the penalty.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, passed to ``loss`` as they are.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights ``s_i``.

        Returns
        -------
        self : AutogradModel
            Fitted model.
        """
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer; got max_iter={self.max_iter!r}.")
        X = validate_data(self, X, dtype=np.float64)
        y = _check_targets(y, X.shape[0])
        weights = _check_weights(sample_weight, X.shape[0])
        start = _check_init_params(self.init_params)
        self._check_loss(start, X, y)
        if self.max_iter == 0:
            self.params_ = start
            return self
        objective = lambda params: self.objective(params, X, y, weights)  # noqa: E731
        exact = start.size <= EXACT_HESSIAN_MAX_PARAMS
        result = minimize(
            objective,
            start,
            jac=grad(objective),
            hess=hessian(objective) if exact else None,
            method="trust-exact" if exact else "L-BFGS-B",
            options={"gtol": self.tol, "maxiter": self.max_iter},
        )
        self.params_ = result.x
        self.n_iter_ = result.nit
        return self

    def _check_loss(self, params, X, y):
        """``loss`` and ``penalty`` at ``params``: one finite value per row, a finite scalar; clear errors."""
        n = X.shape[0]
        try:
            values = np.asarray(self.loss(params, X, y), dtype=float)
        except Exception as error:
            raise ValueError(
                f"loss(init_params, X, y) failed with {type(error).__name__}: {error}. Check that init_params has "
                f"as many entries as the loss uses (got {params.size}) and that y is what the loss expects."
            ) from error
        if values.shape != (n,):
            summed = " (it looks like a sum or mean over rows)" if values.size == 1 else ""
            raise ValueError(
                f"loss must return one loss per row, an array of shape ({n},); got shape {values.shape}{summed}. "
                "Return the per-sample losses: AutogradModel sums them with the sample weights itself."
            )
        if not np.all(np.isfinite(values)):
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(
                f"loss(init_params, X, y) is not finite for {int(np.sum(~np.isfinite(values)))} rows "
                f"(row {row}: {values[row]}): start from init_params where every row's loss is finite."
            )
        if self.penalty is not None:
            value = np.asarray(self.penalty(params), dtype=float)
            if value.shape != () or not np.isfinite(value):
                raise ValueError(
                    f"penalty(init_params) must return one finite number; got {value!r} of shape {value.shape}."
                )


def _check_targets(y, n_samples):
    """``y`` as an array with one entry per row, finite when numeric."""
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n_samples:
        raise ValueError(f"y must have one entry per row of X ({n_samples} rows); got y of shape {y.shape}.")
    if y.dtype.kind in "biufc" and not np.all(np.isfinite(y)):
        raise ValueError(
            f"y contains {int(np.sum(~np.isfinite(y)))} NaN or infinite values: AutogradModel needs finite "
            "targets (drop or impute those rows)."
        )
    return y


def _check_weights(sample_weight, n_samples):
    """Sample weights: shape (n_samples,), finite and non-negative, not all zero."""
    if sample_weight is None:
        return np.ones(n_samples)
    weights = np.asarray(sample_weight, dtype=float)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per row of X; got shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            f"sample_weight must contain finite, non-negative numbers; got {int(np.sum(~(weights >= 0)))} "
            "that are negative, NaN or infinite."
        )
    if not weights.any():
        raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
    return weights


def _check_init_params(init_params):
    """``init_params`` as a flat float array of finite numbers."""
    try:
        start = np.asarray(init_params, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(
            f"init_params must be an array of numbers (the flat parameter vector the loss reads); got {init_params!r}."
        ) from None
    if start.size == 0 or not np.all(np.isfinite(start)):
        problem = (
            "it is empty" if start.size == 0 else f"{int(np.sum(~np.isfinite(start)))} entries are NaN or infinite"
        )
        raise ValueError(
            f"init_params must be a non-empty array of finite numbers (the flat parameter vector the loss reads); "
            f"{problem}."
        )
    return start
