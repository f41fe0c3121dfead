"""scikit-learn's multi-layer perceptrons as differentiable objectives.

scikit-learn's MLP minimises ``(1/Σs) Σ_i s_i ℓ_i + (α / (2 Σs)) Σ_l ||W_l||²`` (biases
unpenalised); in the library's sum form that is ``Σ_i s_i ℓ_i + (α/2) Σ_l ||W_l||²``. The
per-sample loss ``ℓ_i`` is the MLP's own objective term, which is also the test loss:

* binary classifier (one logistic output): ``−log p_y``;
* multiclass classifier (softmax): ``−log softmax(f)_y``;
* regressor (identity output): ``(1 / (2K)) Σ_k (y_k − f_k)²``: halved and averaged over the
  K outputs, as in scikit-learn's ``squared_loss``.

Parameters are laid out as every layer's ``coefs_`` (raveled), then every layer's
``intercepts_`` (:func:`flatten_mlp_params`, :func:`unflatten_mlp_params`).

Per-sample gradients need no loop over rows: the gradient of the summed loss with respect to
an offset added to each layer's pre-activations is, row by row, that row's backpropagated
error ``δ_l``; the row's weight gradient is then the outer product ``a_{l−1} ⊗ δ_l``.
"""

import copy
import numbers
import warnings

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian_vector_product, value_and_grad
from autograd.scipy.special import expit, logsumexp
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_is_fitted

from ._losses import BinomialLogLoss, SquaredError
from ._objectives import class_indices

_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": anp.tanh,
    "relu": lambda z: anp.maximum(z, 0.0),
}


def flatten_mlp_params(coefs, intercepts):
    """``concatenate([W.ravel() for W in coefs] + [b.ravel() for b in intercepts])``."""
    return np.concatenate([np.ravel(w) for w in coefs] + [np.ravel(b) for b in intercepts])


def unflatten_mlp_params(params, estimator):
    """Split a flat parameter vector (or a ``*_params`` row) back into ``coefs_`` and ``intercepts_``.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameters in the library's MLP layout.
    estimator : MLPClassifier or MLPRegressor
        A fitted MLP, whose ``coefs_`` give the layer shapes.

    Returns
    -------
    coefs : list of ndarray
        One ``(n_in, n_out)`` array per layer, like ``estimator.coefs_``.
    intercepts : list of ndarray
        One ``(n_out,)`` array per layer, like ``estimator.intercepts_``.

    Examples
    --------
    >>> from sklearn.neural_network import MLPRegressor
    >>> from sklearn_influence import flatten_mlp_params, unflatten_mlp_params
    >>> import numpy as np
    >>> mlp = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5).fit(np.eye(4), np.arange(4.0))
    >>> coefs, intercepts = unflatten_mlp_params(flatten_mlp_params(mlp.coefs_, mlp.intercepts_), mlp)
    >>> [c.shape for c in coefs], [b.shape for b in intercepts]
    ([(4, 3), (3, 1)], [(3,), (1,)])
    """
    shapes = [np.shape(w) for w in estimator.coefs_]
    coefs, intercepts, start = [], [], 0
    for shape in shapes:
        size = shape[0] * shape[1]
        coefs.append(params[start : start + size].reshape(shape))
        start += size
    for shape in shapes:
        intercepts.append(params[start : start + shape[1]])
        start += shape[1]
    return coefs, intercepts


class MLPObjective:
    """Forward pass, per-sample losses and per-sample gradients of a fitted scikit-learn MLP.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The fitted network.
    """

    def __init__(self, estimator):
        output = estimator.out_activation_
        if output not in ("logistic", "softmax", "identity"):
            raise ValueError(f"MLP output activation {output!r} is not supported.")
        if output == "logistic" and len(getattr(estimator, "classes_", [])) != 2:
            raise ValueError("Multi-label MLPClassifier (several logistic outputs) is not supported.")
        if getattr(estimator, "loss", "squared_error") not in ("squared_error", "log_loss"):
            raise ValueError(f"MLPRegressor(loss={estimator.loss!r}) is not supported; use loss='squared_error'.")
        self.output = output
        self.shapes = [np.shape(w) for w in estimator.coefs_]
        self.activation = estimator.activation  # a name, so that the objective pickles
        self.n_coef = sum(a * b for a, b in self.shapes)
        self.alpha = float(estimator.alpha)
        self.theta = flatten_mlp_params(estimator.coefs_, estimator.intercepts_).astype(float)

    def _layers(self, theta):
        layers, start = [], 0
        for n_in, n_out in self.shapes:
            layers.append([anp.reshape(theta[start : start + n_in * n_out], (n_in, n_out))])
            start += n_in * n_out
        for layer, (_, n_out) in zip(layers, self.shapes):
            layer.append(theta[start : start + n_out])
            start += n_out
        return layers

    def _forward(self, theta, X, offsets=None):
        """Output pre-activations and the inputs of every layer."""
        inputs, a = [], X
        layers = self._layers(theta)
        for index, (weights, bias) in enumerate(layers):
            inputs.append(a)
            z = anp.dot(a, weights) + bias
            if offsets is not None:
                z = z + offsets[index]
            a = _ACTIVATIONS[self.activation](z) if index < len(layers) - 1 else z
        return a, inputs

    def _output_losses(self, raw, targets):
        if self.output == "logistic":
            return BinomialLogLoss().loss(targets, raw)
        if self.output == "softmax":
            onehot = np.eye(raw.shape[1])[targets]
            return logsumexp(raw, axis=1) - anp.sum(raw * onehot, axis=1)
        return SquaredError(scale=1.0 / (2.0 * raw.shape[1])).loss(targets, raw)

    def losses(self, theta, X, targets):
        """Per-sample losses ``ℓ_i`` of shape (n,)."""
        return self._output_losses(self._forward(theta, X)[0], targets)

    def penalty(self, theta):
        """``(α/2) Σ_l ||W_l||²``: the coefficients come first in the layout, the biases are free."""
        return 0.5 * self.alpha * anp.dot(theta[: self.n_coef], theta[: self.n_coef])

    def per_sample_gradients(self, theta, X, targets):
        """Rows ``∇_θ ℓ_i`` (n, n_params) from backpropagated errors, no loop over rows."""
        offsets = [np.zeros((X.shape[0], n_out)) for _, n_out in self.shapes]

        def total(offsets):
            return anp.sum(self._output_losses(self._forward(theta, X, offsets)[0], targets))

        deltas = grad(total)(offsets)
        inputs = self._forward(theta, X)[1]
        blocks = [np.einsum("ni,nj->nij", a, d).reshape(X.shape[0], -1) for a, d in zip(inputs, deltas)]
        return np.hstack(blocks + list(deltas))


def refine_mlp(estimator, X, y, sample_weight=None, *, tol=1e-8, max_iter=200):
    """Carry a fitted MLP's training on to a stationary point of its own objective.

    scikit-learn fits ``solver="lbfgs"`` MLPs with scipy's L-BFGS-B, which stops once the
    mean loss decreases by less than a fixed ``ftol ≈ 2.2e-9`` (relative to ``max(|loss|, 1)``)
    between iterations. No MLP parameter sets it, so ``tol``, ``max_iter`` and ``max_fun``
    cannot push the fit further, and the gradient left behind is often larger than a
    typical training row's: influence estimates, which assume a stationary point, are then
    off by more than a row's effect. This function continues from the fitted weights with
    trust-region Newton-CG (``scipy.optimize.minimize(method="trust-ncg")``, exact
    Hessian-vector products through autograd) on the same objective,

    .. math::
        \\frac{1}{\\sum_i s_i} \\Bigl(\\sum_i s_i \\ell_i(θ) + \\tfrac{α}{2} \\sum_l \\|W_l\\|^2\\Bigr),

    until ``||∇O(θ)|| <= tol · mean_i s_i ||∇ℓ_i(θ)||`` in the sum form ``O`` (the
    ``relative_gradient_norm_`` that :class:`InfluenceEstimator` reports). It needs a smooth
    network: with ``activation="relu"`` the objective has kinks where a hidden unit's input
    crosses 0, the minimum usually sits on one, and no stationary point exists (use
    ``"tanh"`` or ``"logistic"``).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted network (any solver). It is not modified.
    X : array-like of shape (n_samples, n_features)
        The training data it was fitted on.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The training targets.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights it was fitted with.
    tol : float, default=1e-8
        Target relative gradient norm.
    max_iter : int, default=200
        Newton iterations.

    Returns
    -------
    refined : MLPClassifier or MLPRegressor
        A copy of ``estimator`` with refined ``coefs_``, ``intercepts_`` and ``loss_``; wrap
        it in :class:`~sklearn.frozen.FrozenEstimator` for :class:`InfluenceEstimator`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.neural_network import MLPRegressor
    >>> from sklearn_influence import InfluenceEstimator, refine_mlp
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 3)); y = np.tanh(X[:, 0]) + 0.1 * rng.standard_normal(100)
    >>> mlp = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=1.0, random_state=0)
    >>> mlp = mlp.fit(X, y)
    >>> inf = InfluenceEstimator(FrozenEstimator(refine_mlp(mlp, X, y)), damping=1e-6).fit(X, y)
    >>> bool(inf.relative_gradient_norm_ < 1e-8)
    True
    """
    check_is_fitted(estimator, "coefs_")
    if not (isinstance(tol, numbers.Real) and tol > 0):
        raise ValueError(f"tol must be a number > 0; got tol={tol!r}.")
    if not (isinstance(max_iter, numbers.Integral) and max_iter > 0):
        raise ValueError(f"max_iter must be a positive integer; got max_iter={max_iter!r}.")
    network = MLPObjective(estimator)
    X = check_array(X, dtype=np.float64)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        targets = np.asarray(y, dtype=float).reshape(X.shape[0], network.shapes[-1][1])
    else:
        targets = class_indices(classes, y)
    weights = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if weights.shape != (X.shape[0],) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"sample_weight must be {X.shape[0]} finite, non-negative numbers; got shape {weights.shape}.")
    total = weights.sum()

    def objective(theta):
        return (anp.dot(weights, network.losses(theta, X, targets)) + network.penalty(theta)) / total

    def typical_row_gradient(theta):
        norms = weights * np.linalg.norm(network.per_sample_gradients(theta, X, targets), axis=1)
        return norms[norms > 0].mean() if np.any(norms > 0) else 1.0

    # stop on the sum form's gradient relative to a row's: ||∇O|| / Σs in the mean form used here
    gtol = tol * typical_row_gradient(network.theta) / total
    result = minimize(
        value_and_grad(objective),
        network.theta,
        jac=True,
        hessp=hessian_vector_product(objective),
        method="trust-ncg",
        options={"gtol": gtol, "maxiter": max_iter},
    )
    refined = copy.deepcopy(estimator)
    refined.coefs_, refined.intercepts_ = unflatten_mlp_params(result.x, estimator)
    refined.loss_ = float(result.fun)
    relative = np.linalg.norm(result.jac) * total / typical_row_gradient(result.x)
    if relative > tol:
        hint = (
            " With activation='relu' the objective has kinks and no stationary point: use 'tanh' or 'logistic'."
            if network.activation == "relu"
            else " Raise max_iter, or alpha if the network fits its training data exactly (the objective is then flat)."
        )
        warnings.warn(
            f"refine_mlp stopped at a relative gradient norm of {relative:.1e}, above tol={tol:g} "
            f"({result.message}).{hint}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return refined
