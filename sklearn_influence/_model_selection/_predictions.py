"""Leave-one-out predictions from one fit, paralleling :func:`sklearn.model_selection.cross_val_predict`.

For training row ``i`` the leave-one-out prediction is the model's response at row ``i``'s own
features with the parameters ``θ̂₋ᵢ`` of the refit without row ``i``:

.. math::
    \\hat f_{-i}(x_i) = f(x_i; \\hat θ_{-i}) = f(x_i; \\hat θ) + \\big(m(\\hat θ_{-i}) - m(\\hat θ)\\big)_{i},

where the change is :meth:`InfluenceEstimator.leave_one_out` with ``measure=m`` at the query
``x_i`` and removed row ``i`` (one Newton step: exact for least squares, where it equals the
closed form ``y_i - r_i / (1 - h_ii)``). Under ``preprocessing="refit"`` the row's own features
move with the transformers' statistics, as in every other leave-one-out answer.
"""

import numbers

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._estimator import InfluenceEstimator

_RESPONSES = ("predict", "predict_proba", "decision_function")
#: Training rows per call of ``leave_one_out`` (its result is chunk × chunk × outputs).
_CHUNK = 256
#: Floats per working array of the direct path (32 MB).
_FLOATS = 2**22


def _fitted_influence(estimator, X, y, sample_weight, **fit_params):
    """A fitted :class:`InfluenceEstimator`: ``estimator`` itself when it is one and fitted, else fitted here."""
    if isinstance(estimator, InfluenceEstimator):
        try:
            check_is_fitted(estimator)
        except NotFittedError:
            return estimator.fit(X, y, sample_weight=sample_weight, **fit_params)
        n_train = estimator._design.n_samples
        if _num_samples(X) != n_train:
            raise ValueError(
                f"X has {_num_samples(X)} rows but the fitted InfluenceEstimator was trained on {n_train}: "
                "leave-one-out predictions are about the training rows; pass the training X it was fitted on."
            )
        return estimator
    if y is None:
        raise ValueError(
            "y is required to fit the estimator; pass the training targets, or a fitted InfluenceEstimator."
        )
    return InfluenceEstimator(estimator).fit(X, y, sample_weight=sample_weight, **fit_params)


def loo_response(inf, X, response="predict", *, method="newton", indices=None, quad=None):
    """Leave-one-out responses of a fitted :class:`InfluenceEstimator` at its training rows.

    Parameters
    ----------
    inf : InfluenceEstimator
        Fitted on ``X``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data ``inf`` was fitted on (raw feature space for a pipeline).
    response : {"predict", "predict_proba", "decision_function"}, default="predict"
        The response: for a classifier ``"predict"`` is the class of the largest
        leave-one-out decision function (or probability).
    method : {"newton", "influence"}, default="newton"
        Approximation of each refit (see :meth:`InfluenceEstimator.leave_one_out`).
    indices : array-like of int, default=None
        Training rows to answer for; ``None``: all.
    quad : ndarray of shape (n_samples,) or (n_samples, n_outputs, n_outputs), default=None
        The solver's quadratic forms ``M_i`` of every training row when the caller has them
        (a search reads them for its leverage too); computed here otherwise.

    Returns
    -------
    responses : ndarray of shape (n_selected,) or (n_selected, n_outputs)
        As the fitted model's own ``response`` returns them.
    """
    if response not in _RESPONSES:
        raise ValueError(f"response must be one of {_RESPONSES}; got response={response!r}.")
    check_is_fitted(inf)
    n = inf._design.n_samples
    if _num_samples(X) != n:
        raise ValueError(
            f"X has {_num_samples(X)} rows; the InfluenceEstimator was fitted on {n}: pass its training X."
        )
    rows = np.arange(n) if indices is None else np.arange(n)[np.asarray(indices)]
    classifier = is_classifier(inf.estimator_)
    if response == "predict" and classifier:
        inner = "decision_function" if hasattr(inf, "decision_function") else "predict_proba"
        scores = loo_response(inf, X, inner, method=method, indices=rows, quad=quad)
        classes = inf.classes_
        if scores.ndim == 1:
            return classes[(scores > 0).astype(int)]
        return classes[np.argmax(scores, axis=1)]
    if not hasattr(inf, response):
        raise ValueError(f"{type(inf.estimator_).__name__} has no {response}; use one of the responses it has.")
    # the row's own raw shift x̃_iᵀ(θ̂₋ᵢ − θ̂) = M_i c_i directly, where nothing but the model moves
    direct = (
        method == "newton"
        and inf._channel is None
        and inf._penalty_shares is None
        and not inf._balanced_reweighting(method)
    )
    shift = inf._stationary_shift() if direct else None
    objective = inf._objective
    # direct: a few (rows, K, K, columns) arrays per chunk; otherwise (rows, rows, K) blocks
    step = max(_CHUNK, _FLOATS // (objective.n_outputs**2 * objective.n_columns)) if direct else _CHUNK
    out = None
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        Xc = X if len(chunk) == n and start == 0 and indices is None else _safe_indexing(X, chunk)
        base = np.asarray(getattr(inf, response)(Xc), dtype=float)
        if direct:
            known = None if quad is None else quad[chunk]
            values = _direct_response(inf, Xc, chunk, response, shift, known).reshape(base.shape)
        else:
            change = np.asarray(inf.leave_one_out(Xc, measure=response, method=method, indices=chunk))
            diagonal = change[np.arange(len(chunk)), ..., np.arange(len(chunk))]  # query i, removed row i
            values = base + diagonal.reshape(base.shape)
        if out is None:
            out = np.empty((len(rows),) + values.shape[1:])
        out[start : start + len(chunk)] = values
    return out


def _direct_response(inf, Xc, chunk, response, shift, quad=None):
    """``m(f_i + M_i c_i)``: the Newton step's raw shift at the removed row itself (no ``n × n`` products).

    ``M_i = Ũ_iᵀ H⁻¹ Ũ_i`` (the solver's quadratic forms) and ``c_i`` the Newton coefficients, so
    ``θ̂₋ᵢ − θ̂ = H⁻¹(c_i ⊗ x̃_i)`` moves row ``i``'s raw prediction by ``M_i c_i``.
    """
    if quad is None:
        quad = inf._solver.quadratic_forms(inf._design.take(chunk))
    coef = inf._newton_coefficients(chunk, shift, quad)
    if inf._objective.separable:
        delta = quad[:, None] * coef
    else:
        delta = np.einsum("ikl,il->ik", quad, coef)
    moved = inf._raw[chunk] + delta
    measure = inf._query(Xc, None, response).measure
    if measure.rows is not None:  # one line per (row, component)
        moved = moved[measure.rows]
    values = np.asarray(measure.per_row_call(moved[:, None, :]), dtype=float)
    return measure.finish(values)[..., 0]


def _public(response, estimator, X, y, sample_weight, method, fit_params):
    if not isinstance(method, str) or method not in ("newton", "influence"):
        raise ValueError(f"method must be 'newton' or 'influence'; got method={method!r}.")
    inf = _fitted_influence(estimator, X, y, sample_weight, **fit_params)
    return loo_response(inf, X, response, method=method)


def loo_predict(estimator, X, y=None, *, sample_weight=None, method="newton", **fit_params):
    """Leave-one-out predictions of every training row from one fit.

    For row ``i``: ``predict`` of the model refitted without row ``i``, at ``x_i``,
    ``f(x_i; θ̂₋ᵢ)``, from one Newton step from the full fit (exact for least squares, where
    it is ``y_i − e_i/(1 − h_ii)``, ``RidgeCV``'s leave-one-out). The one-fit counterpart of
    ``cross_val_predict(estimator, X, y, cv=LeaveOneOut())``.

    Parameters
    ----------
    estimator : estimator or InfluenceEstimator
        A supported model (wrapped in ``InfluenceEstimator`` and fitted on ``X, y``), an
        unfitted ``InfluenceEstimator`` (fitted here), or a fitted one (then ``X`` must be
        its training data and ``y`` is not used).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        Training targets (not used for a fitted ``InfluenceEstimator``).
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to ``fit``.
    method : {"newton", "influence"}, default="newton"
        Approximation of each refit.
    **fit_params : dict
        Further parameters of ``fit``.

    Returns
    -------
    predictions : ndarray of shape (n_samples,) or (n_samples, n_outputs)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn_influence import loo_predict
    >>> X = np.arange(20.0).reshape(10, 2); y = X[:, 0] + np.sin(X[:, 1])
    >>> loo_predict(Ridge(alpha=1.0), X, y).shape
    (10,)
    """
    return _public("predict", estimator, X, y, sample_weight, method, fit_params)


def loo_predict_proba(estimator, X, y=None, *, sample_weight=None, method="newton", **fit_params):
    """Leave-one-out class probabilities of every training row from one fit.

    ``predict_proba`` of the model refitted without row ``i``, at ``x_i`` (one Newton step);
    see :func:`loo_predict` for the parameters.

    Returns
    -------
    probabilities : ndarray of shape (n_samples, n_classes)
    """
    return _public("predict_proba", estimator, X, y, sample_weight, method, fit_params)


def loo_decision_function(estimator, X, y=None, *, sample_weight=None, method="newton", **fit_params):
    """Leave-one-out decision function of every training row from one fit.

    ``decision_function`` of the model refitted without row ``i``, at ``x_i`` (one Newton
    step; exact for ``RidgeClassifier``); see :func:`loo_predict` for the parameters.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
    """
    return _public("decision_function", estimator, X, y, sample_weight, method, fit_params)


def _check_confidence(confidence_level):
    if not (isinstance(confidence_level, numbers.Real) and 0 < confidence_level < 1):
        raise ValueError(f"confidence_level must be a number in (0, 1); got confidence_level={confidence_level!r}.")


_INTERVAL_METHODS = ("jackknife+", "jackknife", "jackknife-minmax")


def loo_predict_interval(
    estimator,
    X,
    X_train,
    y_train=None,
    *,
    confidence_level=0.9,
    method="jackknife+",
    sample_weight=None,
    approximation="newton",
):
    """Jackknife+ (or jackknife, jackknife-minmax) prediction intervals of a regressor from one fit.

    With the leave-one-out models ``μ̂₋ᵢ`` (one Newton step each, exact for least squares),
    their residuals ``R_i = |y_i − μ̂₋ᵢ(x_i)|`` and ``α = 1 − confidence_level``
    (Barber, Candès, Ramdas & Tibshirani, 2021):

    .. math::
        \\text{jackknife+}: \\big[\\hat q^-_{α}\\{μ̂_{-i}(x) − R_i\\},\\;
        \\hat q^+_{α}\\{μ̂_{-i}(x) + R_i\\}\\big]

    where ``q̂⁺`` is the ``⌈(1 − α)(n + 1)⌉``-th smallest value and ``q̂⁻`` the
    ``⌊α(n + 1)⌋``-th smallest (``±∞`` when that rank falls outside ``1..n``).
    ``"jackknife"``: ``μ̂(x) ∓ q̂⁺\\{R_i\\}``; ``"jackknife-minmax"``:
    ``[min_i μ̂₋ᵢ(x) − q̂⁺\\{R_i\\}, max_i μ̂₋ᵢ(x) + q̂⁺\\{R_i\\}]``.

    Parameters
    ----------
    estimator : regressor or InfluenceEstimator
        As in :func:`loo_predict` (fitted on ``X_train, y_train`` unless already fitted).
    X : {array-like, sparse matrix} of shape (n_queries, n_features)
        Points to predict.
    X_train : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y_train : array-like of shape (n_samples,)
        Training targets (required: the residuals need them).
    confidence_level : float, default=0.9
        ``1 − α``, in (0, 1).
    method : {"jackknife+", "jackknife", "jackknife-minmax"}, default="jackknife+"
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to ``fit``.
    approximation : {"newton", "influence"}, default="newton"
        Approximation of each leave-one-out refit.

    Returns
    -------
    intervals : ndarray of shape (n_queries, 2)
        Lower and upper bounds.
    """
    _check_confidence(confidence_level)
    if method not in _INTERVAL_METHODS:
        raise ValueError(f"method must be one of {_INTERVAL_METHODS}; got method={method!r}.")
    if y_train is None:
        raise ValueError("y_train is required: the leave-one-out residuals |y_i − μ̂₋ᵢ(x_i)| need the training targets.")
    inf = _fitted_influence(estimator, X_train, y_train, sample_weight)
    if is_classifier(inf.estimator_):
        raise ValueError("prediction intervals are for regressors; got a classifier.")
    y_train = np.asarray(y_train, dtype=float)
    if y_train.ndim != 1:
        raise ValueError(f"y_train must be one-dimensional (one output); got shape {y_train.shape}.")
    residuals = np.abs(y_train - loo_response(inf, X_train, "predict", method=approximation))
    n = residuals.size
    alpha = 1.0 - confidence_level
    upper_rank = int(np.ceil((1 - alpha) * (n + 1)))  # 1-based ranks
    lower_rank = int(np.floor(alpha * (n + 1)))
    n_queries = _num_samples(X)
    out = np.empty((n_queries, 2))
    if method == "jackknife":
        q = np.inf if upper_rank > n else np.sort(residuals)[upper_rank - 1]
        centre = np.asarray(inf.predict(X), dtype=float)
        out[:, 0], out[:, 1] = centre - q, centre + q
        return out
    q = np.inf if upper_rank > n else np.sort(residuals)[upper_rank - 1]
    for start in range(0, n_queries, _CHUNK):
        part = np.arange(start, min(start + _CHUNK, n_queries))
        Xq = _safe_indexing(X, part)
        moved = np.asarray(inf.predict(Xq), dtype=float)[:, None] + np.asarray(
            inf.leave_one_out(Xq, measure="predict", method=approximation)
        )  # (queries, n): μ̂₋ᵢ(x)
        if method == "jackknife-minmax":
            out[part, 0], out[part, 1] = moved.min(axis=1) - q, moved.max(axis=1) + q
            continue
        lows, highs = moved - residuals, moved + residuals
        out[part, 0] = -np.inf if lower_rank < 1 else np.partition(lows, lower_rank - 1, axis=1)[:, lower_rank - 1]
        out[part, 1] = np.inf if upper_rank > n else np.partition(highs, upper_rank - 1, axis=1)[:, upper_rank - 1]
    return out
