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
        y = np.asarray(y)
        weights = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        start = np.asarray(self.init_params, dtype=float).ravel()
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
