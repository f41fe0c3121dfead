"""validate_leave_one_out: check an InfluenceEstimator's predictions against actual refits.

Also the checks shared with the other functions that refit (``training_set_attack``): the
refittable model rebuilt from the fitted state, and the sample weights checked against the fit.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.stats import spearmanr
from sklearn import get_config
from sklearn.base import clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import _num_samples, check_array, check_is_fitted, column_or_1d

from ._labels import plain_results
from ._progress import progress
from ._quantities._measures import is_loss

_METHODS = ("auto", "influence", "newton")
_PREPROCESSING = ("refit", "fixed")


def _refittable(fitted):
    """An unfitted estimator with the hyper-parameters of the fitted ``estimator_``.

    Built from the fitted state, never from the (mutable) ``estimator`` parameter. A
    ``FrozenEstimator`` is replaced by a clone of the model it freezes and a search object
    (``GridSearchCV``, ...) by a clone of its ``best_estimator_``, wherever they stand as the
    final model: the refit is the one the influence quantities describe, "the same model with
    the same hyper-parameters, fitted on other data". Frozen transformers inside a pipeline
    stay frozen (their fit does nothing: they are part of the data).
    """
    if isinstance(fitted, FrozenEstimator):
        return _refittable(fitted.estimator)
    best = getattr(fitted, "best_estimator_", None)
    if best is not None:
        return _refittable(best)
    if isinstance(fitted, Pipeline):
        template = clone(fitted)
        name, last = fitted.steps[-1]
        return template.set_params(**{name: _refittable(last)})
    return clone(fitted)


def _weight_parameter(estimator):
    """Name under which ``fit`` passes sample weights, as ``InfluenceEstimator.fit`` routes them.

    A ``Pipeline`` without metadata routing takes ``<last step>__sample_weight`` (nested
    pipelines: the path to the final model); otherwise ``sample_weight``.
    """
    if isinstance(estimator, Pipeline) and not get_config()["enable_metadata_routing"]:
        name, last = estimator.steps[-1]
        return f"{name}__{_weight_parameter(last)}"
    return "sample_weight"


def _fitted_smoothing(influence_estimator):
    """The smooth hinge temperature the fitted objective uses (``None`` for other losses)."""
    from ._models._losses import SmoothHingeMargin

    margin = getattr(influence_estimator._objective.loss, "margin", None)
    return margin.temperature if isinstance(margin, SmoothHingeMargin) else None


def _fitted_preprocessing(influence_estimator):
    """``"refit"`` or ``"fixed"``: the pipeline semantics the estimator was fitted with."""
    value = getattr(influence_estimator, "preprocessing_", None)
    if value is None:
        value = getattr(influence_estimator, "preprocessing", "refit")
    if value not in _PREPROCESSING:
        raise ValueError(f"preprocessing must be one of {_PREPROCESSING}; got preprocessing={value!r}.")
    return value


def _check_fit_weights(influence_estimator, y, sample_weight):
    """The ``s_i`` of the fitted objective (``class_weight`` folded in), checked against ``sample_weight``.

    Every function that refits must minimise the objective that was fitted: the fitted
    weights divided by the given ones must be 1, or, when the model has a ``class_weight``,
    constant within each class (the class weight). ``sample_weight=None`` stands for unit
    weights, so a weighted fit refuses it (refitting unweighted would validate another
    model). ``y`` must have one label per training row.
    """
    fitted = influence_estimator._weights
    if sample_weight is None:
        given = np.ones(fitted.shape[0])
    else:
        given = np.asarray(sample_weight, dtype=float)
        if given.shape != fitted.shape:
            raise ValueError(
                f"sample_weight must have shape {fitted.shape}, one weight per training row; got shape {given.shape}."
            )
        if not np.all(np.isfinite(given)) or np.any(given < 0):
            raise ValueError("sample_weight must contain finite, non-negative numbers, as passed to fit.")
    from ._wrapped import _unwrap

    model = _unwrap(_refittable(influence_estimator.estimator_))[1]
    consistent = np.array_equal(given == 0, fitted == 0)
    positive = given > 0
    ratio = fitted[positive] / given[positive]
    if is_classifier(model) and getattr(model, "class_weight", None) is not None:
        # the fitted s_i carry the class weight: a constant factor within each class
        labels = np.asarray(y)
        labels = labels.ravel() if labels.ndim == 2 and labels.shape[1] == 1 else labels
        groups = np.unique(labels, axis=0 if labels.ndim == 2 else None, return_inverse=True)[1].reshape(-1)
        for group in np.unique(groups[positive]):
            share = ratio[groups[positive] == group]
            consistent &= bool(np.ptp(share) <= 1e-10 * np.max(share))
    else:
        consistent &= bool(np.all(np.abs(ratio - 1.0) <= 1e-10))
    if not consistent:
        hint = " The estimator was fitted with sample weights: pass them." if sample_weight is None else ""
        raise ValueError(
            "sample_weight differs from the weights the estimator was fitted with: pass the same sample_weight "
            f"as to fit, so that every refit minimises the same objective.{hint}"
        )
    return fitted


def _training_rows_input(values, name, n_train):
    """``X`` or ``y`` as given, checked to hold one entry per training row; lists become arrays."""
    if not (hasattr(values, "iloc") or sp.issparse(values) or isinstance(values, np.ndarray)):
        try:
            values = np.asarray(values)
        except ValueError as error:  # a ragged list
            raise ValueError(f"{name} must be array-like with one entry per training row; {error}") from None
    if values.ndim == 0:
        raise ValueError(f"{name} must be array-like with one entry per training row; got {name}={values!r}.")
    n_rows = _num_samples(values)
    if n_rows != n_train:
        raise ValueError(
            f"{name} must be the training data the estimator was fitted on, with {n_train} rows; got {n_rows} "
            f"rows ({name} of shape {values.shape}). Pass the same {name} as to fit."
        )
    return values


def _take(values, rows):
    return values.iloc[rows] if hasattr(values, "iloc") else values[rows]


def _refit_losses(template, X, y, weights, weight_parameter, smoothing, X_query, y_query, keep, measure="loss"):
    """Per-sample query losses of ``clone(template)`` refitted on the rows ``keep``.

    The loss is the one the influence estimator uses (its smoothing included), read from
    the refitted model's decoded objective: no Hessian is formed for a refit. The queries
    go through the refitted model's own transformers (none when ``template`` is the final
    model of fixed features, and ``X_query`` is already transformed).
    """
    from ._models._decoding import objective_from_estimator
    from ._wrapped import _unwrap

    rows = np.flatnonzero(keep)
    y_rows = _take(y, rows)
    fit_params = {} if weights is None else {weight_parameter: weights[rows]}
    refit = clone(template).fit(_take(X, rows), y_rows, **fit_params)
    prefix, model = _unwrap(refit)
    y_rows = column_or_1d(y_rows) if is_classifier(model) else np.asarray(y_rows)
    objective, _ = objective_from_estimator(
        model, y_rows, np.ones(rows.size) if weights is None else weights[rows], smoothing
    )
    Xq = check_array(X_query if prefix is None else prefix.transform(X_query), accept_sparse="csr", dtype=np.float64)
    if not is_loss(measure):  # what the user measures, at the refitted model's predictions
        from ._quantities._measures import measure_query

        def labels(values, n_rows):
            return column_or_1d(values) if objective.classes is not None else np.asarray(values)

        return np.atleast_1d(measure_query(measure, objective, Xq, y_query, None, labels)[0].before)
    y_query = np.asarray(y_query)
    if objective.classes is not None and y_query.ndim == 2 and y_query.shape[1] == 1:
        y_query = y_query.ravel()
    targets = objective.encode(y_query)
    return objective.loss.loss(targets, objective.raw(objective.design(Xq, targets)))


@plain_results  # positions index its results: the estimator's methods must return arrays here
def validate_leave_one_out(
    influence_estimator,
    X,
    y,
    X_query,
    y_query,
    *,
    n_top=20,
    n_random=10,
    method="auto",
    random_state=None,
    sample_weight=None,
    n_jobs=None,
    verbose=0,
    measure="loss",
):
    """Compare predicted leave-one-out changes of the query losses with actual refits.

    Following Koh & Liang, the rows removed are the ``n_top`` training rows with the
    largest predicted effect on the mean query loss plus ``n_random`` rows at random. For
    each, the model is refitted without the row and the change of the mean query loss is
    measured,

    .. math::
        Δ_i = \\frac{1}{m} \\sum_j \\ell(z_j, \\hat θ_{-i}) - \\ell(z_j, \\hat θ),

    against the prediction ``leave_one_out(X_query, y_query, method=method).mean(axis=0)``.
    The noise floor is ``|Δ|`` of a refit on the full data: how much the optimiser alone moves
    the query loss (differences below it cannot be resolved). Positive: removing the row
    raises the query loss.

    The refit is the one the estimator's quantities describe, rebuilt from its fitted
    state (``estimator_``; parameters set after ``fit`` play no part):

    - a plain model: a clone of the fitted model; a ``FrozenEstimator`` is refitted as a
      clone of the model it freezes, a search object (``GridSearchCV``, ...) as a clone of
      its ``best_estimator_`` (the best hyper-parameters, no new search);
    - a pipeline under ``preprocessing="refit"``: a clone of the **whole** pipeline on
      ``X`` without row ``i`` (the transformers' statistics move too);
    - a pipeline under ``preprocessing="fixed"``: a clone of the last step on the fixed
      features ``prefix.transform(X)`` without row ``i``, the queries transformed by the
      same fitted transformers.

    Sample weights reach the refit the way ``fit`` passed them (``<last step>__sample_weight``
    for a pipeline unless metadata routing is enabled).

    Parameters
    ----------
    influence_estimator : InfluenceEstimator
        Fitted on ``X``, ``y`` (with ``sample_weight``).
    X : {array-like, sparse matrix, DataFrame} of shape (n_train, n_features)
        The training data it was fitted on (raw columns for a pipeline).
    y : array-like of shape (n_train,) or (n_train, n_outputs)
        The training targets it was fitted on.
    X_query, y_query : array-like
        Query points and their labels.
    n_top : int, default=20
        Rows with the largest predicted ``|Δ|``.
    n_random : int, default=10
        Further rows drawn at random from the rest.
    method : {"auto", "influence", "newton"}, default="auto"
        The approximation validated. ``"auto"`` is ``"newton"`` where it is available
        (models whose per-row loss Hessian is in closed form: the linear models and GLMs)
        and ``"influence"`` otherwise (MLPs, :class:`AutogradModel`).
    random_state : int, RandomState instance or None, default=None
        Seed of the random rows.
    sample_weight : array-like of shape (n_train,), default=None
        The weights the estimator was fitted with: each refit gets them without its row.
        Required when the fit was weighted (``class_weight`` alone needs none): anything
        else than the fitted weights is an error, since the refits would then minimise
        another objective.
    n_jobs : int, default=None
        Refits run in parallel through joblib.
    verbose : int, default=0
        Report the progress of the refits.
    measure : str or callable, default="loss"
        What is compared at the queries (see :meth:`InfluenceEstimator.leave_one_out`): the
        mean over the queries (and components) of the measure's predicted change against its
        change in each refit, the measure computed from the refitted model's own predictions.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``rows`` (training positions), ``predicted`` and ``actual`` (Δ of each row),
        ``pearson``, ``spearman``, ``slope`` (least squares of actual on predicted, through
        the origin), ``noise_floor`` and ``method`` (the approximation used).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_influence import InfluenceEstimator, validate_leave_one_out
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :5]
    >>> inf = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X[:300], y[:300])
    >>> check = validate_leave_one_out(inf, X[:300], y[:300], X[300:350], y[300:350], random_state=0)
    >>> check.method, bool(check.pearson > 0.99)
    ('newton', True)
    """
    check_is_fitted(influence_estimator)
    for name, value in (("n_top", n_top), ("n_random", n_random)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {name}={value!r}.")
    if n_top + n_random == 0:
        raise ValueError("n_top + n_random must be at least 1.")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got method={method!r}.")
    if method == "auto":
        method = "newton" if influence_estimator._objective.closed_form else "influence"
    n = influence_estimator._design.n_samples
    X = _training_rows_input(X, "X", n)
    y = _training_rows_input(y, "y", n)
    _check_fit_weights(influence_estimator, y, sample_weight)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)

    template = _refittable(influence_estimator.estimator_)
    prefix = influence_estimator._prefix
    if prefix is not None and _fitted_preprocessing(influence_estimator) == "fixed":
        from ._wrapped import _unwrap

        template = _unwrap(template)[1]  # the final model, refitted on the fixed features
        X, X_refit_query = prefix.transform(X), prefix.transform(X_query)
    else:
        X_refit_query = X_query
    weight_parameter = _weight_parameter(template)

    changes = influence_estimator.leave_one_out(X_query, y_query, measure=measure, method=method)
    if np.ndim(changes) == 3:
        raise ValueError(
            f"validate_leave_one_out compares one value per query; measure={measure!r} gives several (every class's "
            "probability, every output): pass y_query to choose one, or a callable returning one value per query."
        )
    predicted_all = np.asarray(changes).reshape(-1, n).mean(axis=0)  # mean over queries (and components)
    top = np.argsort(-np.abs(predicted_all))[: min(n_top, n)]
    rest = np.setdiff1d(np.arange(n), top)
    rng = check_random_state(random_state)
    extra = rng.choice(rest, size=min(n_random, rest.size), replace=False) if rest.size else rest
    rows = np.concatenate([top, extra]).astype(np.intp)

    if is_loss(measure):
        base = influence_estimator.loss(X_query, y_query).mean()
    else:
        base = np.mean(influence_estimator._query(X_query, y_query, measure).measure.before)
    masks = [np.arange(n) != i for i in rows] + [np.ones(n, dtype=bool)]
    smoothing = _fitted_smoothing(influence_estimator)
    jobs = (
        delayed(_refit_losses)(
            template, X, y, weights, weight_parameter, smoothing, X_refit_query, y_query, keep, measure
        )
        for keep in masks
    )
    losses = Parallel(n_jobs=n_jobs)(progress(jobs, total=len(masks), description="refits", verbose=verbose))
    actual = np.array([loss.mean() - base for loss in losses[:-1]])
    noise_floor = abs(losses[-1].mean() - base)
    predicted = predicted_all[rows]
    pearson = float(np.corrcoef(predicted, actual)[0, 1]) if rows.size > 1 else np.nan
    spearman = float(spearmanr(predicted, actual)[0]) if rows.size > 1 else np.nan
    slope = float(predicted @ actual / (predicted @ predicted)) if np.any(predicted) else np.nan
    return Bunch(
        rows=rows,
        predicted=predicted,
        actual=actual,
        pearson=pearson,
        spearman=spearman,
        slope=slope,
        noise_floor=noise_floor,
        method=method,
    )
