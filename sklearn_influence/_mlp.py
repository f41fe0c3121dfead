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

import autograd.numpy as anp
import numpy as np
from autograd import grad
from autograd.scipy.special import expit, logsumexp

from ._losses import BinomialLogLoss, SquaredError

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
