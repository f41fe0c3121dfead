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
    r"""Squared error summed over outputs, scaled as the estimator's objective has it.

    .. math::
        \ell(t, f) = c \sum_k (f_k - t_k)^2

    The rule for ``c`` is the estimator's own per-sample objective term: ``c = 1`` for
    ``Ridge`` / ``LinearRegression`` (``||y − Xw − b||² + α||w||²``), ``c = ½`` for the GLMs'
    half deviance and SGD's ``squared_error``, ``c = 1/(2K)`` for ``MLPRegressor`` (halved and
    averaged over its K outputs). ``t`` has shape ``f.shape``. Written with array methods
    only, so autograd differentiates it too.

    Parameters
    ----------
    scale : float, default=1.0
        The factor ``c``.
    """

    isotropic_hessian = True

    def __init__(self, scale=1.0):
        self.scale = scale

    def loss(self, t, f):
        return self.scale * ((f - t) ** 2).sum(axis=-1)

    def gradient(self, t, f):
        return 2.0 * self.scale * (f - t)

    def hessian(self, t, f):
        return np.full(np.broadcast_shapes(np.shape(t), f.shape)[:-1], 2.0 * self.scale)


class BinomialLogLoss:
    r"""Log-loss of a binary classifier with one raw output.

    .. math::
        \ell(t, f) = \log(1 + e^{f}) - t f = -\log p_t, \qquad p = \sigma(f)

    with ``t`` in {0, 1} (1 for ``classes_[1]``). Gradient ``σ(f) - t``, Hessian
    ``σ(f)(1 - σ(f))``. ``f`` has shape ``(..., 1)``, ``t`` broadcasts against ``f[..., 0]``.
    """

    isotropic_hessian = True

    def encode(self, index):
        """Targets in {0, 1} from class indices (1 for ``classes_[1]``)."""
        return index.astype(float)

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

    def encode(self, index):
        """Targets are the class indices."""
        return index

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


def plus_minus_codes(index, n_classes, scheme="ovr"):
    """±1 codes of class indices: (n, 1) for two classes (+1 for ``classes_[1]``), else (n, K)
    one-vs-rest, or (n, K(K−1)/2) one-vs-one (+1 / −1 for the pair's first / second class, 0 otherwise)."""
    if n_classes == 2:
        return np.where(index == 1, 1.0, -1.0)[:, None]
    if scheme == "ovr":
        return np.where(index[:, None] == np.arange(n_classes), 1.0, -1.0)
    first, second = np.triu_indices(n_classes, 1)
    return (index[:, None] == first).astype(float) - (index[:, None] == second)


def sum_zero_basis(n_classes):
    """Orthonormal basis (K, K - 1) of the vectors in R^K whose entries sum to zero."""
    centering = np.eye(n_classes) - 1.0 / n_classes
    q, _ = np.linalg.qr(centering[:, : n_classes - 1])
    return q


# --- margin losses: binary classifiers scored by the margin s = y f, y in {-1, +1} ---------


class SmoothHingeMargin:
    r"""Koh & Liang's smooth hinge at temperature τ > 0.

    .. math::
        m(s) = τ \log\bigl(1 + e^{(1 - s)/τ}\bigr), \qquad
        m'(s) = -σ\bigl((1 - s)/τ\bigr), \qquad
        m''(s) = σ(u)(1 - σ(u)) / τ, \; u = (1 - s)/τ

    It tends to the hinge ``max(0, 1 - s)`` as τ → 0 (uniformly: ``0 ≤ m - hinge ≤ τ log 2``);
    its curvature concentrates on the margin ``|1 - s| ≲ τ`` with height ``1/(4τ)``.
    """

    def __init__(self, temperature):
        self.temperature = temperature

    def value(self, s):
        return self.temperature * np.logaddexp(0.0, (1.0 - s) / self.temperature)

    def first(self, s):
        return -expit((1.0 - s) / self.temperature)

    def second(self, s):
        p = expit((1.0 - s) / self.temperature)
        return p * (1.0 - p) / self.temperature


class SquaredHingeMargin:
    r"""Squared hinge ``m(s) = max(0, 1 - s)²``: once differentiable.

    ``m'(s) = -2 max(0, 1 - s)``; the generalised second derivative ``m''(s) = 2·[s < 1]``
    (the Hessian of the active rows, as used by Newton-type solvers for it).
    """

    def value(self, s):
        return np.maximum(0.0, 1.0 - s) ** 2

    def first(self, s):
        return -2.0 * np.maximum(0.0, 1.0 - s)

    def second(self, s):
        return 2.0 * (s < 1.0)


class ModifiedHuberMargin:
    r"""Modified Huber: ``max(0, 1 - s)²`` for ``s ≥ -1``, ``-4 s`` otherwise; once differentiable.

    ``m'(s) = -2 max(0, 1 - s)`` for ``s ≥ -1`` and ``-4`` below; generalised second
    derivative ``m''(s) = 2·[-1 < s < 1]``.
    """

    def value(self, s):
        return np.where(s >= -1.0, np.maximum(0.0, 1.0 - s) ** 2, -4.0 * s)

    def first(self, s):
        return np.where(s >= -1.0, -2.0 * np.maximum(0.0, 1.0 - s), -4.0)

    def second(self, s):
        return 2.0 * ((s > -1.0) & (s < 1.0))


class LogisticMargin:
    r"""Logistic loss of the margin: ``m(s) = log(1 + e^{-s})``, ``m' = -σ(-s)``, ``m'' = σ(s)σ(-s)``."""

    def value(self, s):
        return np.logaddexp(0.0, -s)

    def first(self, s):
        return -expit(-s)

    def second(self, s):
        p = expit(s)
        return p * (1.0 - p)


class MarginLoss:
    r"""Sum of independent binary margin losses, one per output (binary, one-vs-rest, one-vs-one).

    .. math::
        \ell(t, f) = \sum_k t_k^2 \, m(t_k f_k), \qquad
        \partial \ell / \partial f_k = t_k m'(t_k f_k), \qquad
        \partial^2 \ell / \partial f_k^2 = t_k^2 m''(t_k f_k)

    with targets ``t_k`` in {-1, +1}, or 0 where row and output are unrelated (a
    one-vs-one classifier that never sees the row's class). The Hessian is diagonal:
    a scalar per row for one output, else ``(n, K, K)``.

    Parameters
    ----------
    margin : margin function
        ``SmoothHingeMargin``, ``SquaredHingeMargin``, ``ModifiedHuberMargin`` or
        ``LogisticMargin``.
    n_classes : int
        Number of classes.
    scheme : {"ovr", "ovo"}
        How classes map to outputs: one output for two classes (+1 for ``classes_[1]``);
        otherwise one per class ("ovr": +1 for that class, -1 for the others) or one per
        pair ``(i, j)``, ``i < j`` ("ovo": +1 for class i, -1 for class j, 0 for the rest).
    """

    def __init__(self, margin, n_classes, scheme="ovr"):
        self.margin = margin
        self.n_classes = n_classes
        self.scheme = scheme
        self.isotropic_hessian = n_classes == 2

    def encode(self, index):
        """Targets of shape (n, n_outputs) from class indices."""
        return plus_minus_codes(index, self.n_classes, self.scheme)

    def loss(self, t, f):
        return np.sum(t * t * self.margin.value(t * f), axis=-1)

    def gradient(self, t, f):
        return t * self.margin.first(t * f)

    def hessian(self, t, f):
        diag = t * t * self.margin.second(t * f)
        if self.isotropic_hessian:
            return diag[..., 0]
        return diag[..., :, None] * np.eye(diag.shape[-1])


class HalfTweedieLoss:
    r"""Half the Tweedie deviance with a log link, ``μ = e^f`` (Poisson for p = 1, Gamma for p = 2).

    .. math::
        \ell(y, f) = \frac{y^{2-p}}{(1-p)(2-p)} - \frac{y μ^{1-p}}{1-p} + \frac{μ^{2-p}}{2-p},
        \qquad \partial_f \ell = μ^{2-p} - y μ^{1-p},
        \qquad \partial_f^2 \ell = (2-p) μ^{2-p} - (1-p) y μ^{1-p}

    with the limits ``y log(y/μ) − y + μ`` (p = 1) and ``log(μ/y) + y/μ − 1`` (p = 2): zero at
    ``μ = y``. This is the data term of scikit-learn's ``PoissonRegressor``,
    ``GammaRegressor`` and ``TweedieRegressor(link="log")``.

    Parameters
    ----------
    power : float
        Tweedie power p ≥ 1.
    """

    isotropic_hessian = True

    def __init__(self, power):
        self.power = power

    def check_targets(self, y):
        """Raise unless ``y`` lies in the family's domain (y ≥ 0 for 1 ≤ p < 2, y > 0 for p ≥ 2)."""
        bad = (y <= 0) if self.power >= 2 else (y < 0)
        if np.any(bad):
            domain = "y > 0" if self.power >= 2 else "y >= 0"
            raise ValueError(
                f"Tweedie power={self.power:g} needs {domain}; got values {np.unique(y[bad])[:5].tolist()}."
            )

    def loss(self, t, f):
        y, f, p = t[..., 0], f[..., 0], self.power
        mu = np.exp(f)
        if p == 1:
            return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - y + mu
        if p == 2:
            return f - np.log(y) + y / mu - 1.0
        return y ** (2 - p) / ((1 - p) * (2 - p)) - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p)

    def gradient(self, t, f):
        p = self.power
        return np.exp((2 - p) * f) - t * np.exp((1 - p) * f)

    def hessian(self, t, f):
        p, y, f = self.power, t[..., 0], f[..., 0]
        return (2 - p) * np.exp((2 - p) * f) - (1 - p) * y * np.exp((1 - p) * f)


class HuberResidualLoss:
    r"""scikit-learn's SGD Huber loss of the residual ``r = y − f``: once differentiable.

    ``ℓ = ½ r²`` for ``|r| ≤ ε``, ``ε |r| − ½ ε²`` beyond; ``∂_f ℓ = −clip(r, −ε, ε)``;
    generalised second derivative ``[|r| ≤ ε]``.
    """

    isotropic_hessian = True

    def __init__(self, epsilon):
        self.epsilon = epsilon

    def loss(self, t, f):
        r = np.abs(t - f)[..., 0]
        return np.where(r <= self.epsilon, 0.5 * r**2, self.epsilon * r - 0.5 * self.epsilon**2)

    def gradient(self, t, f):
        return -np.clip(t - f, -self.epsilon, self.epsilon)

    def hessian(self, t, f):
        return (np.abs(t - f)[..., 0] <= self.epsilon).astype(float)


class SquaredEpsilonInsensitiveLoss:
    r"""``ℓ = max(0, |y − f| − ε)²``: once differentiable; generalised second derivative ``2·[|r| > ε]``."""

    isotropic_hessian = True

    def __init__(self, epsilon):
        self.epsilon = epsilon

    def loss(self, t, f):
        return np.maximum(0.0, np.abs(t - f)[..., 0] - self.epsilon) ** 2

    def gradient(self, t, f):
        r = t - f
        return -2.0 * np.sign(r) * np.maximum(0.0, np.abs(r) - self.epsilon)

    def hessian(self, t, f):
        return 2.0 * (np.abs(t - f)[..., 0] > self.epsilon)
