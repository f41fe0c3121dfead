"""Pointwise losses: value, gradient and Hessian with respect to the raw prediction.

This is the first of two layers (as in scikit-learn's ``sklearn/_loss``): a loss here
knows nothing about features or coefficients. It maps an encoded target ``t`` and a raw
prediction ``f`` (the linear predictor, one column per model output) to

* ``loss(t, f)``: the per-sample loss ℓ, shape ``f.shape[:-1]``;
* ``gradient(t, f)``: ∂ℓ/∂f, shape ``f.shape``;
* ``hessian(t, f)``: ∂²ℓ/∂f², shape ``f.shape[:-1]`` when the Hessian is a multiple of
  the identity (``isotropic_hessian``), else ``f.shape + (n_outputs,)``.

All methods broadcast ``t`` against ``f[..., 0]`` so that a query's target can be paired
with many candidate parameter vectors at once (Newton leave-one-out).
The objective layer (``_objectives``) applies the chain rule into parameter space.
"""

import numpy as np
from scipy.special import expit, logsumexp


class SquaredError:
    r"""Squared error summed over outputs.

    .. math::
        \ell(t, f) = c \sum_k (f_k - t_k)^2, \qquad c = 1 \text{ (un-halved) or } 1/2

    The un-halved form is the data term of ``Ridge`` and ``LinearRegression``
    (``||y - Xw - b||^2 + alpha ||w||^2``); the halved form is the data term of
    scikit-learn's MLP. ``t`` has shape ``f.shape``.

    Parameters
    ----------
    halved : bool, default=False
        Whether the loss carries the factor 1/2.
    """

    isotropic_hessian = True

    def __init__(self, halved=False):
        self.halved = halved

    @property
    def _factor(self):
        return 0.5 if self.halved else 1.0

    def loss(self, t, f):
        return self._factor * np.sum((f - t) ** 2, axis=-1)

    def gradient(self, t, f):
        return 2.0 * self._factor * (f - t)

    def hessian(self, t, f):
        return np.full(np.broadcast_shapes(np.shape(t), f.shape)[:-1], 2.0 * self._factor)


class BinomialLogLoss:
    r"""Log-loss of a binary classifier with one raw output.

    .. math::
        \ell(t, f) = \log(1 + e^{f}) - t f = -\log p_t, \qquad p = \sigma(f)

    with ``t`` in {0, 1} (1 for ``classes_[1]``). Gradient ``σ(f) - t``, Hessian
    ``σ(f)(1 - σ(f))``. ``f`` has shape ``(..., 1)``, ``t`` broadcasts against ``f[..., 0]``.
    """

    isotropic_hessian = True

    def loss(self, t, f):
        f = f[..., 0]
        return np.logaddexp(0.0, f) - t * f

    def gradient(self, t, f):
        return expit(f) - np.asarray(t)[..., None]

    def hessian(self, t, f):
        p = expit(f[..., 0])
        return np.broadcast_to(p * (1.0 - p), np.broadcast_shapes(np.shape(t), p.shape))


class MultinomialLogLoss:
    r"""Log-loss of a K-class softmax model, in reduced (identified) coordinates.

    The softmax is unchanged when a constant is added to all K raw outputs, so only
    K - 1 directions are identified. With ``Q`` an orthonormal basis of the vectors whose
    entries sum to zero (shape ``(K, K - 1)``), the raw prediction here is the reduced
    ``f = Qᵀ F`` with full raw prediction ``F = Q f``, and

    .. math::
        \ell(t, f) = \log \sum_k e^{F_k} - F_t, \qquad
        \nabla_f \ell = Q^\top (p - e_t), \qquad
        \nabla^2_f \ell = Q^\top (\operatorname{diag} p - p p^\top) Q,

    where ``p = softmax(F)`` and ``t`` is the class index. The reduced Hessian is
    positive definite whenever every ``p_k > 0``.

    Parameters
    ----------
    n_classes : int
        Number of classes K >= 3.
    """

    isotropic_hessian = False

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.basis = sum_zero_basis(n_classes)

    def _full(self, f):
        return f @ self.basis.T

    def loss(self, t, f):
        full = self._full(f)
        t = np.broadcast_to(t, full.shape[:-1])
        return logsumexp(full, axis=-1) - np.take_along_axis(full, t[..., None], axis=-1)[..., 0]

    def _proba(self, f):
        full = self._full(f)
        return np.exp(full - logsumexp(full, axis=-1, keepdims=True))

    def gradient(self, t, f):
        proba = self._proba(f)
        t = np.broadcast_to(t, proba.shape[:-1])
        np.put_along_axis(proba, t[..., None], np.take_along_axis(proba, t[..., None], -1) - 1.0, -1)
        return proba @ self.basis

    def hessian(self, t, f):
        proba = self._proba(f)
        reduced = proba @ self.basis
        return (
            np.einsum("...k,kl,km->...lm", proba, self.basis, self.basis)
            - reduced[..., :, None] * reduced[..., None, :]
        )


def sum_zero_basis(n_classes):
    """Orthonormal basis (K, K - 1) of the vectors in R^K whose entries sum to zero."""
    centering = np.eye(n_classes) - 1.0 / n_classes
    q, _ = np.linalg.qr(centering[:, : n_classes - 1])
    return q
