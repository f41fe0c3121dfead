"""Differentiable models through autograd: per-sample gradients as design rows.

A linear model's per-sample gradient factorises as ``g_i = r_i ⊗ x̃_i``, and the influence
engine (``_quantities``, ``_solvers``) only ever touches the training rows through that
factorisation. Any differentiable model fits the same mould with ``x̃_i := g_i`` and unit
residuals ``r_i := 1``: :class:`GradientDesign` computes the rows of the per-sample gradient
matrix chunk by chunk, and :class:`AutogradObjective` supplies the objective's gradient and
Hessian through autograd. Every first-order quantity then comes from the same code as for
linear models. The Newton leave-one-out step needs a per-sample Hessian of low rank, which
only the linear models have in closed form.
"""

import autograd.numpy as anp
import numpy as np
import scipy.sparse as sp
from autograd import grad, hessian

from ._design import row_chunks
from ._objectives import class_indices

_NEWTON_UNAVAILABLE = (
    "method='newton' needs each row's loss Hessian in closed form, which only the linear models "
    "have; for this model use method='influence'."
)


class GradientDesign:
    """The per-sample gradient matrix ``G`` (n_samples, n_params), computed chunk by chunk.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Inputs.
    targets : ndarray
        Encoded targets, one per row.
    objective : AutogradObjective
        Supplies ``per_sample_gradients(X, targets)``.
    """

    fit_intercept = False
    dtype = np.float64

    def __init__(self, X, targets, objective):
        self.X = X
        self.targets = targets
        self.objective = objective

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    @property
    def n_columns(self):
        return self.objective.n_columns

    def take(self, rows):
        return GradientDesign(self.X[rows], self.targets[rows], self.objective)

    def dense(self):
        """``G`` for these rows: one gradient per row (only ever called on one chunk)."""
        return self.objective.per_sample_gradients(self.X, self.targets)

    def dot(self, V):
        return self.dense() @ V.T

    def dot_transposed(self, V, out=None):
        return np.matmul(V, self.dense().T, out=out)

    def squared_row_norms(self):
        norms = np.empty(self.n_samples)
        for rows in row_chunks(self.n_samples, 8 * self.n_columns):
            gradients = self.take(rows).dense()
            norms[rows] = np.einsum("ij,ij->i", gradients, gradients)
        return norms


class PerSampleLoss:
    """The loss layer of an autograd model: its "raw prediction" is the per-sample loss itself.

    With ``x̃_i = g_i`` the residual is 1 for every row; the loss value is carried as the
    raw prediction so that ``loss(X, y)`` reads it back.
    """

    isotropic_hessian = True

    def loss(self, t, raw):
        return raw[..., 0]

    def gradient(self, t, raw):
        return np.ones_like(raw)

    def hessian(self, t, raw):
        raise ValueError(_NEWTON_UNAVAILABLE)


class AutogradObjective:
    """``O(θ) = Σ_i s_i ℓ(θ; x_i, t_i) + Ω(θ) + ½ damping ||θ||²``, differentiated by autograd.

    Parameters
    ----------
    losses : callable
        ``losses(theta, X, targets) -> (n,)`` per-sample losses, written with
        ``autograd.numpy``.
    theta : ndarray of shape (n_params,)
        Fitted parameters (already in the public layout).
    penalty : callable or None
        ``penalty(theta) -> scalar``, written with ``autograd.numpy``.
    per_sample_gradients : callable or None
        ``(theta, X, targets) -> (n, n_params)``; by default one reverse pass per row
        through ``autograd.jacobian`` (supply a batched one for speed, as the MLP does).
    classes : ndarray or None
        Class labels when the targets are labels (encoded as class indices).
    target_shape : tuple or None
        Shape numeric targets are reshaped to (e.g. ``(-1, n_outputs)``); None keeps them.
    """

    n_outputs = 1
    separable = True
    fit_intercept = False
    basis = None
    matches_training_loss = True
    #: ``solver="auto"`` factorises exactly up to this many parameters: the dense Hessian
    #: costs one autograd Hessian-vector product per parameter.
    auto_exact_max_params = 1000
    #: No per-row curvature in closed form (no Newton leave-one-out, LiSSA or probes).
    closed_form = False

    def __init__(self, losses, theta, penalty=None, per_sample_gradients=None, classes=None, target_shape=None):
        self.losses = losses
        self.target_shape = target_shape
        self.coef = np.asarray(theta, dtype=float).reshape(1, -1)
        self.penalty_function = penalty
        self._per_sample_gradients = per_sample_gradients
        self.classes = classes
        self.loss = PerSampleLoss()

    @property
    def theta(self):
        return self.coef[0]

    @property
    def n_columns(self):
        return self.coef.shape[1]

    def encode(self, y):
        if self.classes is None:
            return np.asarray(y) if self.target_shape is None else np.asarray(y, dtype=float).reshape(self.target_shape)
        return class_indices(self.classes, y)

    def design(self, X, targets):
        if sp.issparse(X):
            raise TypeError(
                "Sparse X is not supported for differentiable (autograd) models such as MLPs, "
                "HuberRegressor and AutogradModel; pass X.toarray()."
            )
        return GradientDesign(np.asarray(X, dtype=np.float64), targets, self)

    def per_sample_gradients(self, X, targets):
        if self._per_sample_gradients is not None:
            return self._per_sample_gradients(self.theta, X, targets)
        from autograd import jacobian

        return jacobian(lambda theta: self.losses(theta, X, targets))(self.theta)

    def raw(self, design):
        return np.asarray(self.losses(self.theta, design.X, design.targets), dtype=float)[:, None]

    def curvature_weights(self, targets, raw, sample_weight):
        return sample_weight  # the Hessian comes from autograd; it only needs the weights

    def _objective(self, sample_weight, damping):
        def objective(theta, X, targets):
            value = anp.dot(sample_weight, self.losses(theta, X, targets)) + 0.5 * damping * anp.dot(theta, theta)
            if self.penalty_function is not None:
                value = value + self.penalty_function(theta)
            return value

        return objective

    def gradient(self, design, targets, sample_weight, residuals=None):
        """``∇O(θ̂)`` of shape (1, n_params)."""
        return grad(self._objective(sample_weight, 0.0))(self.theta, design.X, design.targets)[None, :]

    def hessian(self, design, sample_weight, damping=0.0):
        """``∇²O(θ̂) + damping·I``, dense (one reverse-over-reverse pass per parameter)."""
        return hessian(self._objective(sample_weight, damping))(self.theta, design.X, design.targets)

    def hessian_diagonal(self, design, sample_weight, damping=0.0):
        """No cheap diagonal for a general model: CG runs unpreconditioned (ones)."""
        return np.ones(self.n_columns)

    def hessian_product(self, design, sample_weight, V, damping=0.0):
        """``(∇²O + damping·I) V`` for ``V`` of shape (r, 1, n_params): one HVP per vector."""
        gradient = grad(self._objective(sample_weight, damping))

        def directional(theta, v):
            return anp.dot(gradient(theta, design.X, design.targets), v)

        hvp = grad(directional)
        return np.stack([hvp(self.theta, v) for v in V.reshape(V.shape[0], -1)]).reshape(V.shape)

    def to_public(self, V):
        return V[..., 0, :]

    def input_gradient_products(self, X, targets, V):
        """``∇_{x_i} (v_j · ∇_θ ℓ(θ̂; x_i))`` for every row i and vector v_j: (r, n, n_features).

        Each row's loss depends on its own ``x_i`` only, so one reverse pass through
        ``v · ∇_θ Σ_i ℓ_i`` gives every row's input gradient at once.
        """

        def directional(X_rows, v):
            gradient = grad(lambda theta: anp.sum(self.losses(theta, X_rows, targets)))(self.theta)
            return anp.dot(gradient, v)

        X = np.asarray(X, dtype=float)
        return np.stack([grad(directional)(X, v) for v in V])
