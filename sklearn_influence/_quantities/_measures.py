"""Measures: what the influence quantities are about at the query points (issue 16).

Every query quantity of :class:`InfluenceEstimator` touches the query only through

* ``r_q = ∂m/∂f``, the derivative of the measured value in the model's raw prediction
  ``f_q`` (first order: the query gradient is ``g_q = r_q ⊗ x̃_q``, and under
  ``preprocessing="refit"`` the statistics channel's ``W_q = r_qᵀ V_q``), and
* ``m(f)`` itself, evaluated exactly at moved raw predictions (Newton leave-one-out).

The default measure is the loss, ``m = ℓ(t_q, f_q)`` and ``r_q = ∂ℓ/∂f``. Any other
differentiable function of the raw predictions takes its place:

* a **per-query measure** ``m(f_q)`` (a prediction, a probability, a decision value): one
  value per query row, and row ``q``'s value depends on row ``q`` only;
* a **functional** ``M(F)`` of the whole query set (a mean validation metric, a difference
  between groups): one number, whose query gradient is ``Σ_q ∂M/∂f_q ⊗ x̃_q``. Every
  first-order quantity is linear in the ``r_q``, so it is the per-query answer with
  ``r_q = ∂M/∂f_q`` summed over the queries.

Built-in measures are functions of the public raw prediction ``F`` (the decision function:
``F = f Bᵀ`` for the multinomial model's identified coordinates ``f``, else ``F = f``),
differentiated by autograd; so are callables.
"""

import autograd.numpy as anp
import numpy as np
from autograd import elementwise_grad, grad
from autograd.scipy.special import logsumexp
from sklearn.utils import _safe_indexing

from .._models._losses import BinomialLogLoss, HalfTweedieLoss, MarginLoss, MultinomialLogLoss
from .._models._objectives import class_indices

MEASURES = ("loss", "predict", "predict_proba", "decision_function")


class LossMeasure:
    """``m = ℓ(t_q, f_q)``: today's quantities, computed by exactly today's operations."""

    functional = False
    rows = None  # the queries as given, one result row each

    def __init__(self, loss, targets, raw):
        self.loss = loss
        self.targets = targets
        self.before = loss.loss(targets, raw)
        self.residuals = loss.gradient(targets, raw)

    def change(self, moved):
        """``m(t_q, f_q + δ_qi) − m(t_q, f_q)`` for moved raw predictions of shape (n_q, r, K)."""
        return self.loss.loss(np.expand_dims(self.targets, 1), moved) - self.before[:, None]

    def finish(self, out):
        return out


class _Measure:
    """A measure other than the loss, resolved on one query set.

    Parameters
    ----------
    function : callable
        ``function(f) -> values``: ``f`` the identified raw predictions of the query rows,
        shape (n_rows, K); one value per row, or one number (a functional). Written with
        ``autograd.numpy``, which differentiates it.
    raw : ndarray of shape (n_rows, K)
        Raw predictions of the (possibly expanded) query rows.
    functional : bool
        Whether ``function`` returns one number for the whole query set.
    components : int or None
        Number of values per query (a vector measure expanded into ``components``
        consecutive rows per query), or None.
    rows : ndarray of int or None
        Query position of each expanded row; None when not expanded.
    per_row_call : callable or None
        ``per_row_call(moved) -> (n_rows, r)``: the per-row measure at moved raw predictions
        of shape (n_rows, r, K) (Newton leave-one-out); unused by a functional.
    """

    def __init__(self, function, raw, functional, components=None, rows=None, per_row_call=None):
        self.function = function
        self.functional = functional
        self.components = components
        self.rows = rows
        self.per_row_call = per_row_call
        self.before = function(raw)
        if functional:
            self.residuals = np.asarray(grad(function)(raw), dtype=float)
        else:
            self.residuals = np.asarray(elementwise_grad(function)(raw), dtype=float)
        if not np.all(np.isfinite(self.residuals)):
            raise ValueError(
                "The measure's derivative in the raw predictions is not finite at some query rows; "
                "influence needs a measure differentiable at the model's predictions."
            )

    def change(self, moved):
        """``m(f + δ_i) − m(f)`` for moved raw predictions of shape (n_q, r, K): (n_q, r) or (1, r)."""
        if self.functional:
            after = np.array([self.function(moved[:, i, :]) for i in range(moved.shape[1])])
            return (after - self.before)[None, :]
        return self.per_row_call(moved) - self.before[:, None]

    def finish(self, out):
        """The result's public shape: (n_q, ...), (n_q, components, ...) or (...) for a functional."""
        if self.functional:
            return out[0]
        if self.components is not None:
            return out.reshape(-1, self.components, *out.shape[1:])
        return out


def _public(objective):
    """``f ↦ F``: identified raw predictions to the decision function's columns."""
    basis = objective.basis
    if basis is None:
        return lambda f: f
    return lambda f: anp.matmul(f, basis.T)


def _n_public(objective):
    return objective.n_outputs if objective.basis is None else objective.basis.shape[0]


def _column(F, onehot):
    return anp.sum(F * onehot, axis=-1)


def _built_in(name, objective, y, n_rows):
    """``(per-row function of (F, onehot), n_components, selected components or None)``."""
    loss, classifier = objective.loss, objective.classes is not None
    n_public = _n_public(objective)
    if name in ("predict", "decision_function"):
        if y is not None:
            raise ValueError(
                f"measure={name!r} does not use labels: pass y=None (the measure is the model's "
                f"{'prediction' if name == 'predict' else 'decision function'} itself)."
            )
        if name == "predict":
            if classifier:
                raise ValueError(
                    "measure='predict' is for regressors: a classifier's predicted label is piecewise constant, "
                    "with no derivative. Use measure='predict_proba' or measure='decision_function'."
                )
            link = anp.exp if isinstance(loss, HalfTweedieLoss) else (lambda value: value)
            return (lambda F, onehot: link(_column(F, onehot))), n_public, None
        if isinstance(loss, MarginLoss) and loss.scheme == "ovo":
            raise ValueError(
                "measure='decision_function' needs one raw output per class (or one for two classes); this "
                "one-vs-one model has one per pair of classes. Use measure='loss' or a callable on the pair outputs."
            )
        return _column, n_public, None
    # predict_proba
    if not isinstance(loss, BinomialLogLoss | MultinomialLogLoss):
        what = "a regressor" if not classifier else f"a classifier trained with {type(loss).__name__}"
        raise ValueError(
            f"measure='predict_proba' needs a probabilistic (log-loss) classifier such as LogisticRegression; "
            f"this is {what}. Use measure='decision_function' (classifiers) or measure='predict' (regressors)."
        )
    if isinstance(loss, BinomialLogLoss):

        def proba(F, onehot):  # p_c = σ((2c − 1) F): onehot[..., 1] − onehot[..., 0] is ±1
            sign = onehot[..., 1] - onehot[..., 0]
            return 1.0 / (1.0 + anp.exp(-sign * F[..., 0]))

    else:

        def proba(F, onehot):
            return anp.exp(_column(F, onehot) - logsumexp(F, axis=-1))

    n_classes = len(objective.classes)
    selected = None if y is None else class_indices(objective.classes, np.asarray(y).reshape(n_rows, -1)[:, 0])
    return proba, n_classes, selected


def is_loss(measure):
    """Whether ``measure`` is the default, the loss (a callable is never compared with a string)."""
    return isinstance(measure, str) and measure == "loss"


def collapse(query, values):
    """A functional's query gradient is the sum of the per-query ones: sum what is linear in ``r_q``."""
    if query.measure is not None and query.measure.functional:
        return values.sum(axis=0, keepdims=True)
    return values


def measure_query(measure, objective, Xt, y, inputs, check_labels):
    """``(measure object, design, raw, inputs)`` of a query set for a measure other than the loss.

    ``Xt`` are the model's features of the raw query rows ``inputs``; ``check_labels(y, n)``
    validates class labels (``predict_proba``). A callable's ``y`` is passed as given.
    """
    network = getattr(objective, "network", None)
    if not objective.closed_form and network is None:
        raise ValueError(
            f"measure={measure!r} needs the model's raw predictions, which this differentiable model (an "
            "AutogradModel or HuberRegressor: only its per-sample loss is known) does not have; only "
            "measure='loss' is available for it."
        )
    n_rows = Xt.shape[0]
    if y is not None:
        if isinstance(measure, str) and measure == "predict_proba":
            y = check_labels(y, n_rows)
        elif np.ndim(y) == 0 or np.shape(y)[0] != n_rows:
            raise ValueError(
                f"y must hold one entry per query row ({n_rows}) for measure={measure!r}; got shape {np.shape(y)}."
            )
    if network is None:
        design = objective.design(Xt, None)
        return resolve_measure(measure, objective, objective.raw(design), y, inputs, design)
    design = objective.design(Xt, None)  # refuses sparse input
    raw = np.asarray(network._forward(objective.theta, design.X)[0], dtype=float)
    outputs = _NetworkOutputs(network, objective)
    measured, rows, raw, inputs = resolve_measure(measure, outputs, raw, y, inputs, _Rows(design.X))
    gradients = _network_gradients(network, objective.theta, rows.X, measured.residuals)
    measured.residuals = np.ones((len(gradients), 1))
    return measured, _Rows(gradients), raw, inputs


class _Rows:
    """Rows of an array, as a design: a network's query inputs, then its query gradients ``∂m_q/∂θ``.

    As the gradient rows of an autograd model (``GradientDesign``), with residual 1.
    """

    fit_intercept = False
    dtype = np.float64

    def __init__(self, X):
        self.X = X

    @property
    def n_samples(self):
        return self.X.shape[0]

    def take(self, rows):
        return _Rows(self.X[rows])

    def dense(self):
        return self.X

    def dot(self, V):
        return self.X @ V.T


class _NetworkOutputs:
    """A scikit-learn MLP's output layer, seen as the pointwise loss the built-in measures read."""

    basis = None

    def __init__(self, network, objective):
        self.classes = objective.classes
        self.n_outputs = network.shapes[-1][1]
        self.loss = {"logistic": BinomialLogLoss, "softmax": MultinomialLogLoss}.get(network.output, _Identity)(
            *([self.n_outputs] if network.output == "softmax" else [])
        )


class _Identity:
    """An identity output layer (``MLPRegressor``): the prediction is the raw output."""


def _network_gradients(network, theta, X, residuals):
    """``∂(r_q · F_q)/∂θ`` for every row ``q``: (n, n_params), backpropagated without a loop over rows."""
    offsets = [np.zeros((X.shape[0], n_out)) for _, n_out in network.shapes]

    def total(offsets):
        return anp.sum(residuals * network._forward(theta, X, offsets)[0])

    deltas = grad(total)(offsets)
    inputs = network._forward(theta, X)[1]
    blocks = [np.einsum("ni,nj->nij", a, d).reshape(X.shape[0], -1) for a, d in zip(inputs, deltas)]
    return np.hstack(blocks + list(deltas))


def resolve_measure(measure, objective, raw, y, inputs, design):
    """Resolve ``measure`` on a query set; returns ``(measure object, design, raw, inputs)``.

    Vector measures (several values per query: ``predict_proba`` without ``y``, a
    multi-output prediction or decision function) expand each query into consecutive rows,
    one per component; the design, raw predictions and raw inputs are expanded alike.
    ``y`` has been checked for its row count (or is None).
    """
    n_rows = raw.shape[0]
    public = _public(objective)
    if callable(measure):
        return _callable(measure, public, raw, y), design, raw, inputs
    if not isinstance(measure, str) or measure not in MEASURES:
        raise ValueError(
            f"measure must be one of {MEASURES} or a callable written with autograd.numpy; got measure={measure!r}."
        )
    per_row, n_components, selected = _built_in(measure, objective, y, n_rows)
    if selected is not None or n_components == 1:  # one value per query
        components = np.zeros(n_rows, dtype=np.intp) if selected is None else selected
        expanded, rows = None, None
    else:
        rows = np.repeat(np.arange(n_rows), n_components)
        components = np.tile(np.arange(n_components), n_rows)
        expanded, design, raw = n_components, design.take(rows), raw[rows]
        inputs = _safe_indexing(inputs, rows) if inputs is not None else None
    width = max(n_components, _n_public(objective))
    onehot = np.eye(width)[components]

    def function(f):  # f: (n, K) or (n, r, K); each line of f belongs to one expanded query row
        hot = onehot if f.ndim == 2 else onehot[:, None, :]
        return per_row(public(f), hot)

    return _Measure(function, raw, False, expanded, rows, per_row_call=function), design, raw, inputs


def _callable(measure, public, raw, y):
    """A user's measure ``measure(F[, y])``: per query (shape (n_q,)) or a functional (a number)."""
    n_rows = raw.shape[0]
    labels = None if y is None else np.asarray(y)

    def call(f, labels=labels):
        return measure(public(f)) if labels is None else measure(public(f), labels)

    try:
        value = np.asarray(call(raw), dtype=float)
    except Exception as error:  # the user's code: say which call failed
        raise ValueError(
            f"measure={measure!r} failed on the raw predictions of shape {public(raw).shape}: {error}"
        ) from error
    if value.ndim == 0:
        functional = True
    elif value.shape == (n_rows,):
        functional = False
    else:
        raise ValueError(
            f"A callable measure must return one value per query row, shape ({n_rows},), or a single number "
            f"(a functional of the whole query set); measure={measure!r} returned shape {value.shape}."
        )
    if not np.all(np.isfinite(value)):
        raise ValueError(f"measure={measure!r} returned non-finite values at the fitted model's predictions.")
    if not functional and n_rows > 1:  # one value per query must come from that query's predictions alone
        nudged = np.array(raw, dtype=float, copy=True)
        nudged[0] += 1e-3 * (1.0 + np.abs(nudged[0]))
        others = np.asarray(call(nudged), dtype=float)[1:] - value[1:]
        if np.any(np.abs(others) > 1e-10 * (1.0 + np.abs(value[1:]))):
            raise ValueError(
                f"measure={measure!r} returns one value per query, but query 0's predictions move the values of "
                "other queries: a per-query measure must be computed row by row (each value from its own row of "
                "F). For a quantity of the whole query set (a mean, a gap between groups), return a single number."
            )

    def values(f):
        return call(f)

    def per_row_call(moved):  # (n_q, r, K): one call on the n_q·r lines, labels repeated alike
        n_q, r = moved.shape[:2]
        flat = moved.reshape(n_q * r, moved.shape[-1])
        repeated = None if labels is None else np.repeat(labels, r, axis=0)
        return np.asarray(call(flat, repeated), dtype=float).reshape(n_q, r)

    try:
        return _Measure(values, raw, functional, per_row_call=per_row_call)
    except (TypeError, ValueError, AttributeError) as error:
        if "not finite" in str(error):
            raise
        raise TypeError(
            f"measure={measure!r} could not be differentiated by autograd ({type(error).__name__}: {error}). "
            "Write it with autograd.numpy (import autograd.numpy as anp) instead of numpy, without in-place "
            "assignment."
        ) from error
