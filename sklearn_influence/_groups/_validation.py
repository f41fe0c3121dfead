"""validate_leave_group_out: check predicted group-removal changes against actual refits without each group."""

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import spearmanr
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._labels import plain_results
from .._progress import progress
from .._validation import (
    _check_fit_weights,
    _fitted_preprocessing,
    _fitted_smoothing,
    _refit_losses,
    _refittable,
    _training_rows_input,
    _weight_parameter,
)


@plain_results  # positions index its results: the estimator's methods must return arrays here
def validate_leave_group_out(
    influence_estimator,
    X,
    y,
    X_query,
    y_query,
    groups,
    *,
    method="newton",
    sample_weight=None,
    n_jobs=None,
    verbose=0,
):
    """Compare predicted changes of the mean query loss when each group is removed with actual refits.

    For every group ``G`` the model is refitted without its rows and the change of the mean
    query loss is measured,

    .. math::
        Δ_G = \\frac{1}{m} \\sum_j \\ell(z_j, \\hat θ_{-G}) - \\ell(z_j, \\hat θ),

    against ``leave_group_out(X_query, y_query, groups, method=method).mean(axis=0)``. The
    refit is the one :func:`validate_leave_one_out` makes (the whole pipeline under
    ``preprocessing="refit"``, the last step on the fixed features under ``"fixed"``, the
    fitted weights without the group's rows); the noise floor is ``|Δ|`` of a refit on the
    full data. Positive: removing the group raises the query loss. One refit per group:
    pass the groups you want checked (a few, or a sample of many).

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
    groups : array-like of shape (n_train,), or list or dict of arrays
        The groups, in any form :meth:`InfluenceEstimator.leave_group_out` takes.
    method : {"newton", "influence"}, default="newton"
        The approximation validated.
    sample_weight : array-like of shape (n_train,), default=None
        The weights the estimator was fitted with (required when the fit was weighted).
    n_jobs : int, default=None
        Refits run in parallel through joblib.
    verbose : int, default=0
        Report the progress of the refits.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``labels`` (the groups, in the order of the results), ``sizes`` (rows per group),
        ``predicted`` and ``actual`` (``Δ_G`` of each group), ``pearson``, ``spearman``,
        ``slope`` (least squares of actual on predicted, through the origin),
        ``median_ratio`` (median of predicted / actual), ``noise_floor`` and ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_influence import InfluenceEstimator, validate_leave_group_out
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    >>> inf = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X, y)
    >>> check = validate_leave_group_out(inf, X, y, X[:50], y[:50], np.arange(300) % 5)
    >>> check.labels, bool(check.spearman > 0.8)
    ([0, 1, 2, 3, 4], True)
    """
    check_is_fitted(influence_estimator)
    influence_estimator._check_group_model(method)
    n = influence_estimator._design.n_samples
    X = _training_rows_input(X, "X", n)
    y = _training_rows_input(y, "y", n)
    _check_fit_weights(influence_estimator, y, sample_weight)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    labels, members = influence_estimator._group_members(groups)

    template = _refittable(influence_estimator.estimator_)
    prefix = influence_estimator._prefix
    if prefix is not None and _fitted_preprocessing(influence_estimator) == "fixed":
        from .._wrapped import _unwrap

        template = _unwrap(template)[1]  # the final model, refitted on the fixed features
        X, X_refit_query = prefix.transform(X), prefix.transform(X_query)
    else:
        X_refit_query = X_query
    weight_parameter = _weight_parameter(template)

    predicted = influence_estimator.leave_group_out(X_query, y_query, groups, method=method).mean(axis=0)
    base = influence_estimator.loss(X_query, y_query).mean()
    masks = []
    for rows in members:
        keep = np.ones(n, dtype=bool)
        keep[rows] = False
        masks.append(keep)
    masks.append(np.ones(n, dtype=bool))
    smoothing = _fitted_smoothing(influence_estimator)
    jobs = (
        delayed(_refit_losses)(template, X, y, weights, weight_parameter, smoothing, X_refit_query, y_query, keep)
        for keep in masks
    )
    losses = Parallel(n_jobs=n_jobs)(progress(jobs, total=len(masks), description="refits", verbose=verbose))
    actual = np.array([loss.mean() - base for loss in losses[:-1]])
    several = len(members) > 1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = predicted / actual
    return Bunch(
        labels=labels,
        sizes=np.array([rows.size for rows in members]),
        predicted=predicted,
        actual=actual,
        pearson=float(np.corrcoef(predicted, actual)[0, 1]) if several else np.nan,
        spearman=float(spearmanr(predicted, actual)[0]) if several else np.nan,
        slope=float(predicted @ actual / (predicted @ predicted)) if np.any(predicted) else np.nan,
        median_ratio=float(np.median(ratios[np.isfinite(ratios)])) if np.any(np.isfinite(ratios)) else np.nan,
        noise_floor=abs(losses[-1].mean() - base),
        method=method,
    )
