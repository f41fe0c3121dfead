"""Koh & Liang's use cases as functions: mislabel ranking and training-set attacks.

Validation against refits lives in ``_validation``; pictures in ``_plots``.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import Bunch, check_array
from sklearn.utils.validation import check_is_fitted

from ._dask._dispatch import fitted_on_dask
from ._labels import labelled_ranking
from ._progress import progress
from ._validation import _check_fit_weights, _fitted_smoothing, _refittable, _training_rows_input

_RANKINGS = ("self_influence", "training_loss")
_SMALLEST_STEP = 1 / 16  # the attack gives up once its step has shrunk below this fraction of step_size
_HISTORY = (
    "target_loss",
    "predicted_target_loss",
    "target_margin",
    "predicted_target_margin",
    "max_abs_change",
    "misclassified",
    "accepted",
)


def _record(history, state, predicted_loss, predicted_margin, max_abs_change, accepted):
    margin = np.nan if state.margins is None else state.margins.mean()
    values = (state.loss, predicted_loss, margin, predicted_margin, max_abs_change, state.misclassified, accepted)
    for key, value in zip(_HISTORY, values):
        history[key].append(value)


@labelled_ranking
def rank_mislabel_candidates(influence_estimator, *, by="self_influence"):
    """Order the training rows for a person to check their labels, most suspicious first.

    Koh & Liang (§5.4) rank by self-influence,

    .. math::
        \\mathrm{score}_i = n \\, g_i^\\top H^{-1} g_i
            = \\frac{n}{s_i} \\big(\\ell(z_i, \\hat θ_{-i}) - \\ell(z_i, \\hat θ)\\big)_{\\text{first order}},

    the rise of the row's own loss when it is removed, scaled: large for rows the others
    cannot explain. Ranking by the training loss ``ℓ(z_i, θ̂)`` is the usual baseline; which
    one finds more flipped labels depends on the data (see the user guide,
    ``examples/plot_mislabeled.py`` and ``benchmarks/bench_cleanlab.py``).

    Parameters
    ----------
    influence_estimator : InfluenceEstimator
        Fitted on the training data to be checked.
    by : {"self_influence", "training_loss"}, default="self_influence"
        The score; larger is more suspicious.

    Returns
    -------
    ranking : ndarray of shape (n_train,)
        Training positions, most suspicious first (ties keep their order). Label them with
        ``influence_estimator.training_index_[ranking]`` when fitted on a DataFrame.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_influence import InfluenceEstimator, rank_mislabel_candidates
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X, y = scale(X)[:200], y[:200].copy()
    >>> y[:10] = 1 - y[:10]  # ten flipped labels
    >>> inf = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X, y)
    >>> ranking = rank_mislabel_candidates(inf)
    >>> int((ranking[:20] < 10).sum())  # flips among the first 10 % checked
    8
    """
    check_is_fitted(influence_estimator)
    if by not in _RANKINGS:
        raise ValueError(f"by must be one of {_RANKINGS}; got by={by!r}.")
    if fitted_on_dask(influence_estimator):  # a lazy Dask array, merged from the blocks' sorted scores
        from ._dask._reductions import rank_mislabel_candidates as rank_dask

        return rank_dask(influence_estimator, by)
    if by == "self_influence":
        scores = influence_estimator.self_influence()
    else:
        scores = influence_estimator._objective.loss.loss(influence_estimator._targets, influence_estimator._raw)
    return np.argsort(-scores, kind="stable")


def mislabel_detection_curve(ranking, is_mislabeled, fractions):
    """Fraction of the mislabelled rows found when the first rows of ``ranking`` are checked.

    .. math::
        \\mathrm{found}(f) = \\frac{\\#\\{\\text{mislabelled rows among the first }
            \\mathrm{round}(f \\, n) \\text{ of the ranking}\\}}{\\#\\{\\text{mislabelled rows}\\}}

    Parameters
    ----------
    ranking : array-like of int of shape (n_train,)
        A permutation of the training positions, in the order they are checked.
    is_mislabeled : array-like of bool of shape (n_train,)
        The truth, known in an experiment.
    fractions : array-like of float in [0, 1]
        Fractions of the training rows checked.

    Returns
    -------
    found : ndarray of shape (len(fractions),)
        Fraction of the mislabelled rows found at each budget.

    Examples
    --------
    >>> from sklearn_influence import mislabel_detection_curve
    >>> mislabel_detection_curve([3, 0, 4, 1, 2], [False, True, False, True, False], [0.2, 0.8])
    array([0.5, 1. ])
    """
    ranking = np.asarray(ranking)
    is_mislabeled = np.asarray(is_mislabeled, dtype=bool)
    fractions = np.asarray(fractions, dtype=float)
    if is_mislabeled.ndim != 1 or ranking.shape != is_mislabeled.shape:
        raise ValueError(
            "ranking and is_mislabeled must be 1-d and of the same length; got shapes "
            f"{ranking.shape} and {is_mislabeled.shape}."
        )
    if ranking.size and not np.issubdtype(ranking.dtype, np.integer):
        raise ValueError(
            f"ranking must hold integer training positions (a permutation of 0, ..., {ranking.size - 1}, as "
            f"rank_mislabel_candidates returns); got an array of dtype {ranking.dtype}. Rank scores first, "
            "e.g. np.argsort(-scores)."
        )
    if not np.array_equal(np.sort(ranking), np.arange(ranking.size)):
        raise ValueError("ranking must be a permutation of the training positions 0, ..., n_train - 1.")
    if not np.all(np.isfinite(fractions)) or np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"fractions must lie in [0, 1]; got {fractions}.")
    if not is_mislabeled.any():
        raise ValueError("is_mislabeled has no True entry: there is nothing to find.")
    hits = np.concatenate([[0], np.cumsum(is_mislabeled[ranking])])
    checked = np.rint(fractions * ranking.size).astype(int)
    return hits[checked] / is_mislabeled.sum()


def _check_attack_params(epsilon, step_size, max_steps, n_features):
    """Per-feature box half-widths and step lengths; a zero keeps a feature fixed."""
    checked = {}
    for name, value in (
        ("epsilon", epsilon),
        ("step_size", np.asarray(epsilon) / 4 if step_size is None else step_size),
    ):
        array = np.asarray(value, dtype=float)
        if array.ndim > 1 or (array.ndim == 1 and array.size != n_features) or not np.all(np.isfinite(array)):
            raise ValueError(
                f"{name} must be a finite float or an array of {n_features} per-feature values; got {name}={value!r}."
            )
        if np.any(array < 0) or not np.any(array > 0):
            raise ValueError(
                f"{name} must be non-negative with at least one positive entry (zero keeps a feature fixed); "
                f"got {name}={value!r}."
            )
        checked[name] = np.broadcast_to(array, (n_features,))
    if not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got max_steps={max_steps!r}.")
    return checked["epsilon"], checked["step_size"] * (checked["epsilon"] > 0)


def _check_bounds(bounds, original):
    if bounds is None:
        return -np.inf, np.inf
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise ValueError(f"bounds must be a pair (low, high) of floats, arrays or None; got bounds={bounds!r}.")
    low, high = (np.asarray(-np.inf if b is None else b, dtype=float) for b in bounds)
    if np.any(original < low) or np.any(original > high):
        raise ValueError(f"bounds={bounds!r} must contain the attacked rows' original features.")
    return low, high


def _target_state(influence_estimator, X_target, y_target):
    """Mean target loss, fraction misclassified and, for binary linear classifiers, margins.

    The margin ``m`` is the decision function signed towards the true class; the loss slope
    ``dℓ/dm`` turns a predicted loss change into a predicted margin change. Both are NaN
    where undefined (regressors, multiclass or autograd models).
    """
    query = influence_estimator._query(X_target, y_target)
    objective = influence_estimator._objective
    loss = objective.loss.loss(query.targets, query.raw).mean()
    if not is_classifier(influence_estimator.estimator_):
        return Bunch(loss=loss, misclassified=np.nan, margins=None, slopes=None)
    misclassified = float(np.mean(influence_estimator.predict(X_target) != y_target))
    if not objective.closed_form or objective.n_outputs != 1:
        return Bunch(loss=loss, misclassified=misclassified, margins=None, slopes=None)
    sign = np.where(y_target == influence_estimator.classes_[1], 1.0, -1.0)
    # dℓ/dm = dℓ/df · sign: the slope of the loss along the margin
    return Bunch(
        loss=loss, misclassified=misclassified, margins=sign * query.raw[:, 0], slopes=sign * query.residuals[:, 0]
    )


def _predicted_margin(state, loss_changes):
    """Mean over targets of ``m_j + Δℓ_j / (dℓ/dm_j)``, skipping targets whose loss is flat."""
    if state.margins is None:
        return np.nan
    usable = state.slopes != 0
    if not usable.any():
        return np.nan
    return float(np.mean(state.margins[usable] + loss_changes[usable] / state.slopes[usable]))


def training_set_attack(
    influence_estimator,
    X,
    y,
    X_target,
    y_target,
    *,
    epsilon,
    indices=None,
    n_rows=1,
    step_size=None,
    max_steps=20,
    bounds=None,
    sample_weight=None,
    verbose=0,
):
    """Perturb a few training rows, inside a box, until the targets' predictions flip.

    Koh & Liang's training-set attack (§5.2): iterated sign steps along
    ``I_pert,loss``, the derivative of the target loss with respect to the training
    features, with a refit after every step,

    .. math::
        x_i \\leftarrow \\Pi_{|x_i - x_i^0| \\le ε}\\Big(x_i + α \\,
            \\mathrm{sign} \\sum_j \\mathcal{I}_{\\mathrm{pert,loss}}(z_i, z_j)\\Big),

    which **raises** the mean loss of the targets ``z_j``. A step that does not raise the
    refitted target loss is rejected and the step length halved. The attack stops when
    every target is misclassified (classifiers), after ``max_steps`` refits, or when the
    step has shrunk below ``step_size / 16`` or moves nothing (the rows sit in a corner of
    the box). The labels are not changed.

    Parameters
    ----------
    influence_estimator : InfluenceEstimator
        Fitted on ``X``, ``y`` (with ``sample_weight``). Its model must see ``X`` itself
        (no pipeline transformers): the attack moves the features the model sees. Each
        step refits it with the model and settings it was fitted with (a
        ``FrozenEstimator`` as a clone of the model it freezes); ``estimator`` set after
        ``fit`` plays no part.
    X : array-like of shape (n_train, n_features)
        The training features (dense); not modified.
    y : array-like of shape (n_train,)
        The training labels.
    X_target, y_target : array-like
        The test rows to attack and their true labels.
    epsilon : float or array-like of shape (n_features,)
        Half-width of the box around each attacked row, in the features' units.
    indices : array-like of int, default=None
        Training rows to perturb; ``None``: the ``n_rows`` rows whose one sign step would
        move the target loss most (largest ``‖Σ_j I_pert,loss(z_i, z_j)‖₁``).
    n_rows : int, default=1
        Rows chosen when ``indices`` is ``None``.
    step_size : float or array-like of shape (n_features,), default=None
        The sign-step length α; ``None``: ``epsilon / 4``.
    max_steps : int, default=20
        Refits at most.
    bounds : tuple (low, high) of floats or arrays, default=None
        Valid range of the features (for example ``(0, 16)`` for digits' pixels).
    sample_weight : array-like of shape (n_train,), default=None
        The weights the estimator was fitted with, required when the fit was weighted
        (``class_weight`` alone needs none); other weights are an error.
    verbose : int, default=0
        Report progress over the steps.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``rows`` (attacked positions), ``X_rows`` (their perturbed features), ``X`` (the
        perturbed training set), ``success`` (every target misclassified), ``n_steps``
        (refits), ``estimator`` (the influence estimator refitted on the perturbed data)
        and ``history``, a dict of arrays with one entry per refit, the initial fit first:
        ``target_loss`` (mean over targets), ``predicted_target_loss`` (the last accepted
        loss plus the first-order change ``Σ_i (s_i/n) I_pert,loss · Δx_i``; NaN for the
        initial fit), ``target_margin`` (mean decision function signed towards the true
        class) and ``predicted_target_margin`` (its first-order prediction from the same
        ``I_pert,loss``, through ``Δm_j = Δℓ_j / (dℓ/dm_j)``) for binary linear
        classifiers (NaN otherwise), ``max_abs_change`` (``max |x_i - x_i^0|``),
        ``misclassified`` (fraction of targets) and ``accepted`` (the step raised the loss
        and was kept).
    """
    check_is_fitted(influence_estimator)
    if influence_estimator._prefix is not None:
        raise ValueError(
            "training_set_attack moves the features the final model sees, but the estimator is a pipeline "
            "with transformers: transform X yourself and wrap the final model."
        )
    X_start = check_array(X, dtype=np.float64, input_name="X")  # a copy when X is not float64
    n, n_features = X_start.shape
    fitted_shape = (influence_estimator._design.n_samples, influence_estimator.n_features_in_)
    if (n, n_features) != fitted_shape:
        raise ValueError(
            f"X must be the training data the estimator was fitted on, of shape {fitted_shape}; "
            f"got shape {X_start.shape}."
        )
    y_target = np.asarray(y_target)
    if is_classifier(influence_estimator.estimator_) and y_target.ndim == 2 and y_target.shape[1] == 1:
        y_target = y_target.ravel()
    epsilon, step_size = _check_attack_params(epsilon, step_size, max_steps, n_features)
    weights = _check_fit_weights(influence_estimator, _training_rows_input(y, "y", n), sample_weight)
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
    # refits rebuilt from the fitted state: parameters set after fit play no part
    template = clone(influence_estimator).set_params(
        estimator=_refittable(influence_estimator.estimator_), smoothing=_fitted_smoothing(influence_estimator)
    )

    def as_input(array):  # refits see what the caller gave: a DataFrame keeps its labels
        if hasattr(X, "columns"):
            return X.__class__(array, index=X.index, columns=X.columns)
        return array

    if indices is None:
        if not isinstance(n_rows, numbers.Integral) or not 1 <= n_rows <= n:
            raise ValueError(f"n_rows must be an integer in [1, {n}]; got n_rows={n_rows!r}.")
        pert = influence_estimator.perturbation_influence(X_target, y_target).sum(axis=0)
        strength = weights * (np.abs(pert) @ step_size)  # the first-order gain of one sign step
        rows = np.argsort(-strength, kind="stable")[:n_rows]
    else:
        rows = influence_estimator._training_rows(indices)
        if rows.size == 0 or np.unique(rows).size != rows.size:
            raise ValueError(f"indices must select at least one training row, each once; got indices={indices!r}.")
    low, high = _check_bounds(bounds, X_start[rows])
    low, high = np.maximum(X_start[rows] - epsilon, low), np.minimum(X_start[rows] + epsilon, high)

    X_attacked, estimator = X_start.copy(), influence_estimator
    state = _target_state(estimator, X_target, y_target)
    history = {key: [] for key in _HISTORY}
    _record(history, state, np.nan, np.nan, 0.0, True)
    shrink, n_steps = 1.0, 0
    for _ in progress(range(max_steps), total=max_steps, description="attack steps", verbose=verbose):
        if state.misclassified == 1 or shrink < _SMALLEST_STEP:
            break
        slopes = estimator.perturbation_influence(X_target, y_target, indices=rows)
        if not np.any(slopes[:, :, step_size > 0]):
            warnings.warn(
                "I_pert,loss is zero for the attacked rows: the targets' loss does not depend on them (for "
                "example a target beyond the margin of a smooth hinge, or rows outside it). Attack other rows "
                "or targets.",
                UserWarning,
                stacklevel=2,
            )
            break
        moved = np.clip(X_attacked[rows] + shrink * step_size * np.sign(slopes.mean(axis=0)), low, high)
        change = moved - X_attacked[rows]
        if not np.any(change):  # every attacked feature sits on the side of the box it wants
            break
        loss_changes = np.einsum("jic,ic->j", slopes, weights[rows, None] / n * change)
        candidate = X_attacked.copy()
        candidate[rows] = moved
        refit = clone(template).fit(as_input(candidate), y, **fit_params)
        candidate_state = _target_state(refit, X_target, y_target)
        n_steps += 1
        accepted = candidate_state.loss > state.loss
        change_size = float(np.max(np.abs(moved - X_start[rows])))
        predicted = (state.loss + loss_changes.mean(), _predicted_margin(state, loss_changes))
        _record(history, candidate_state, *predicted, change_size, accepted)
        if accepted:
            X_attacked, estimator, state = candidate, refit, candidate_state
        else:  # overshot: the linearisation no longer holds at this step length
            shrink /= 2
    labels = influence_estimator.training_index_
    return Bunch(
        rows=rows,
        row_labels=None if labels is None else labels[rows],
        X_rows=X_attacked[rows],
        X=as_input(X_attacked),
        success=state.misclassified == 1,
        n_steps=n_steps,
        estimator=estimator,
        history={key: np.asarray(value, dtype=bool if key == "accepted" else float) for key, value in history.items()},
    )
