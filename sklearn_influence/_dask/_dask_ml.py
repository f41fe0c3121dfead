"""dask-ml's generalised linear models decoded into the sum-form objective they minimise.

``dask_ml.linear_model.LogisticRegression``, ``LinearRegression`` and ``PoissonRegression``
hand their fit to ``dask_glm.algorithms`` (read from dask-ml 2025.1 / dask-glm 0.4 source):

* the intercept is a column of ones appended to ``X`` (``add_intercept``), so it is a
  coefficient like any other and **is penalised**;
* the data term is a sum, not a mean: ``families.Logistic`` ``Σ log(1 + e^f) − y f``
  (the log-loss, ``y ∈ {0, 1}``), ``families.Normal`` ``Σ (y − f)²`` (un-halved),
  ``families.Poisson`` ``Σ e^f − y f`` (the half Poisson deviance up to a constant);
* the penalty is ``λ · ½||γ||²`` (``regularizers.L2``) with ``λ = lamduh = 1/C``, for the
  solvers that take a regularizer (``admm``, ``lbfgs``, ``proximal_grad``); ``newton`` and
  ``gradient_descent`` drop it (``_GLM._get_solver_kwargs``), whatever ``C``;
* by default (``solver_kwargs={"normalize": True}``) the solvers fit ``γ`` on standardised
  columns ``(x − m)/σ`` (population ``σ``; ``m = 0`` without an intercept) and map back to
  ``β = A γ``, so the penalty on the reported ``β`` is ``½ λ ||A⁻¹ β||²``: a full quadratic,
  not a diagonal. :class:`QuadraticPenaltyObjective` carries it.

No sample weights (dask-ml's ``fit`` takes none) and no classes other than ``{0, 1}``
(dask-ml's ``LogisticRegression`` is binary).

A refit without a row would also recompute ``m`` and ``σ``; every quantity here holds them
fixed (the penalty's own change is of order ``λ/n`` of the row's effect).
"""

import numpy as np

from .._models._losses import BinomialLogLoss, HalfTweedieLoss, SquaredError
from .._models._objectives import LinearObjective

_FAMILIES = {
    "LogisticRegression": lambda: BinomialLogLoss(),
    "LinearRegression": lambda: SquaredError(),
    "PoissonRegression": lambda: HalfTweedieLoss(1.0),
}
_UNPENALISED_SOLVERS = ("newton", "gradient_descent")


def is_dask_ml_glm(model):
    """Whether ``model`` is one of dask-ml's GLMs (without importing dask-ml)."""
    return type(model).__module__.startswith("dask_ml.") and type(model).__name__ in _FAMILIES


class QuadraticPenaltyObjective(LinearObjective):
    """A :class:`LinearObjective` whose penalty is ``½ θᵀ P θ`` for a full matrix ``P`` (one output).

    ``penalty`` (the diagonal strengths) is zero; ``penalty_matrix`` holds ``P``, which
    the value, the gradient and the Hessian add.
    """

    def __init__(self, loss, coef, penalty_matrix, fit_intercept, classes=None):
        super().__init__(loss, coef, np.zeros(coef.shape[1]), fit_intercept, classes=classes)
        self.penalty_matrix = penalty_matrix

    def value(self, design, targets, sample_weight):
        return super().value(design, targets, sample_weight) + 0.5 * float(
            self.coef[0] @ self.penalty_matrix @ self.coef[0]
        )

    def gradient(self, design, targets, sample_weight, residuals=None):
        return super().gradient(design, targets, sample_weight, residuals) + self.coef @ self.penalty_matrix

    def hessian(self, design, curvature, damping=0.0):
        return super().hessian(design, curvature, damping) + self.penalty_matrix

    def hessian_diagonal(self, design, curvature, damping=0.0):
        return super().hessian_diagonal(design, curvature, damping) + np.diag(self.penalty_matrix)

    def hessian_product(self, design, curvature, V, damping=0.0):
        return super().hessian_product(design, curvature, V, damping) + V @ self.penalty_matrix


def _standardisation(X, fit_intercept):
    """``A`` with ``β = A γ``: dask-glm's ``normalize`` map from standardised to reported coefficients.

    As ``dask_glm.utils.normalize``: on the columns ``[X, 1]`` (with an intercept), ``σ`` is
    the population standard deviation and ``m`` the mean; the one constant column gets
    ``m = 0, σ = 1``; without a constant column ``m = 0``. Then
    ``β = (γ − e_c (m/σ)ᵀ γ) / σ`` for the constant column ``c``.
    """
    import dask
    import dask.array as da

    if fit_intercept:
        X = da.concatenate([X, da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1), dtype=X.dtype)], axis=1)
    mean, std = dask.compute(X.mean(axis=0), X.std(axis=0))
    mean, std = np.array(mean, dtype=float), np.array(std, dtype=float)
    constant = np.flatnonzero(std == 0)
    if len(constant) > 1:
        raise ValueError("dask-ml's fit refuses several constant columns (its 'Multiple constant columns detected!').")
    mean[constant], std[constant] = 0.0, 1.0
    if len(constant) == 0:
        mean[:] = 0.0
    A = np.eye(len(std))
    if len(constant):
        A[constant[0]] -= mean / std
    return A / std[:, None]


def decode_dask_ml(model, X):
    """The :class:`LinearObjective` of a fitted dask-ml GLM (see the module docstring).

    Parameters
    ----------
    model : dask_ml.linear_model.LogisticRegression, LinearRegression or PoissonRegression
        Fitted.
    X : dask.array.Array of shape (n_samples, n_features)
        Its training data (for the standardisation statistics of ``normalize=True``).

    Returns
    -------
    objective : LinearObjective or QuadraticPenaltyObjective
    """
    kwargs = model._get_solver_kwargs()
    name = type(model).__name__
    strength = 0.0 if model.solver in _UNPENALISED_SOLVERS else float(kwargs.get("lamduh", 0.0))
    regularizer = kwargs.get("regularizer") if strength else None
    regularizer_name = getattr(regularizer, "name", regularizer)
    if regularizer_name not in (None, "l2"):
        raise ValueError(
            f"dask-ml {name}(penalty={model.penalty!r}) is not supported: influence functions need a twice-"
            "differentiable objective. Use penalty='l2' (or a solver without a penalty: 'newton')."
        )
    if regularizer is None:
        strength = 0.0
    coef = np.asarray(model.coef_, dtype=float).reshape(1, -1)
    if model.fit_intercept:
        coef = np.hstack([coef, [[float(np.ravel(model.intercept_)[0])]]])
    if not np.all(np.isfinite(coef)):
        raise ValueError(
            f"The fitted dask-ml {name} has parameters that are NaN or infinite: nothing to differentiate."
        )
    loss = _FAMILIES[name]()
    classes = np.array([0, 1]) if name == "LogisticRegression" else None
    if strength == 0.0 or not kwargs.get("normalize", True):
        penalty = np.full(coef.shape[1], strength)  # the intercept column is penalised like the others
        return LinearObjective(loss, coef, penalty, model.fit_intercept, classes=classes)
    inverse = np.linalg.inv(_standardisation(X, model.fit_intercept))  # γ = A⁻¹ β
    return QuadraticPenaltyObjective(loss, coef, strength * inverse.T @ inverse, model.fit_intercept, classes=classes)
