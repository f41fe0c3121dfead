"""Koh & Liang's use cases as functions: mislabel ranking and training-set attacks.

Validation against refits lives in ``_validation``; pictures in ``_plots``.
"""

import numbers

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch, check_array
from sklearn.utils.validation import check_is_fitted

from ._progress import progress

_RANKINGS = ("self_influence", "training_loss")
_MAX_HALVINGS = 16  # the attack gives up once its step has shrunk below step_size / 16
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


def rank_mislabel_candidates(influence_estimator, *, by="self_influence"):
    """Order the training rows for a person to check their labels, most suspicious first.

    Koh & Liang (§5.4) rank by self-influence ``n g_iᵀ H⁻¹ g_i``: the change of the row's
    own loss when it is removed, large for rows the others cannot explain. Ranking by the
    training loss ``ℓ(z_i, θ̂)`` is the usual baseline; which one finds more flipped labels
    depends on the data (see the user guide and ``examples/plot_mislabeled.py``).

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
    if by == "self_influence":
        scores = influence_estimator.self_influence()
    else:
        scores = influence_estimator._objective.loss.loss(influence_estimator._targets, influence_estimator._raw)
    return np.argsort(-scores, kind="stable")


def mislabel_detection_curve(ranking, is_mislabeled, fractions):
    """Fraction of the mislabelled rows found when the first rows of ``ranking`` are checked.

    Parameters
    ----------
    ranking : array-like of int of shape (n_train,)
        Training positions in the order they are checked.
    is_mislabeled : array-like of bool of shape (n_train,)
        The truth, known in an experiment.
    fractions : array-like of float in [0, 1]
        Fractions of the training rows checked.

    Returns
    -------
    found : ndarray of shape (len(fractions),)
        Mislabelled rows among the first ``round(fraction · n_train)`` checked, divided by
        the number of mislabelled rows.
    """
    ranking = np.asarray(ranking)
    is_mislabeled = np.asarray(is_mislabeled, dtype=bool)
    fractions = np.asarray(fractions, dtype=float)
    if ranking.shape != is_mislabeled.shape:
        raise ValueError(
            f"ranking and is_mislabeled must have the same length; got {ranking.shape[0]} and {is_mislabeled.shape[0]}."
        )
    if np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"fractions must lie in [0, 1]; got {fractions}.")
    if not is_mislabeled.any():
        raise ValueError("is_mislabeled has no True entry: there is nothing to find.")
    hits = np.concatenate([[0], np.cumsum(is_mislabeled[ranking])])
    checked = np.rint(fractions * ranking.size).astype(int)
    return hits[checked] / is_mislabeled.sum()


def _check_attack_params(epsilon, step_size, max_steps, n_features):
    epsilon = np.asarray(epsilon, dtype=float)
    if epsilon.ndim > 1 or (epsilon.ndim == 1 and epsilon.size != n_features) or np.any(epsilon < 0):
        raise ValueError(
            f"epsilon must be a non-negative float or an array of {n_features} per-feature half-widths; "
            f"got epsilon={epsilon!r}."
        )
    step_size = epsilon / 4 if step_size is None else np.asarray(step_size, dtype=float)
    if np.any(step_size <= 0):
        raise ValueError(f"step_size must be positive; got step_size={step_size!r}.")
    if not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got max_steps={max_steps!r}.")
    return epsilon, step_size


def _target_state(influence_estimator, X_target, y_target):
    """Mean target loss, fraction misclassified and, for binary linear classifiers, margins.

    The margin ``m`` is the decision function signed towards the true class; the loss slope
    ``dℓ/dm`` turns a predicted loss change into a predicted margin change. Both are NaN
    where undefined (regressors, multiclass or autograd models).
    """
    query = influence_estimator._query(X_target, y_target)
    loss = influence_estimator._objective.loss.loss(query.targets, query.raw).mean()
    if not is_classifier(influence_estimator):
        return Bunch(loss=loss, misclassified=np.nan, margins=None, slopes=None)
    misclassified = float(np.mean(influence_estimator.predict(X_target) != np.asarray(y_target)))
    objective = influence_estimator._objective
    if not objective.closed_form or objective.n_outputs != 1:
        return Bunch(loss=loss, misclassified=misclassified, margins=None, slopes=None)
    sign = np.where(np.asarray(y_target) == influence_estimator.classes_[1], 1.0, -1.0)
    # dℓ/dm = dℓ/df · sign: the slope of the loss along the margin
    return Bunch(
        loss=loss, misclassified=misclassified, margins=sign * query.raw[:, 0], slopes=sign * query.residuals[:, 0]
    )


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
        (no pipeline transformers): the attack moves the features the model sees.
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
        The weights the estimator was fitted with.
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
    from ._estimator import _unwrap

    if isinstance(influence_estimator.estimator, FrozenEstimator):
        raise ValueError("training_set_attack refits clone(estimator), but a FrozenEstimator cannot be refitted.")
    if _unwrap(influence_estimator.estimator_)[0] is not None:
        raise ValueError(
            "training_set_attack moves the features the final model sees, but the estimator is a pipeline "
            "with transformers: transform X yourself and wrap the final model."
        )
    X_start = check_array(X, dtype=np.float64, input_name="X")  # a copy when X is not float64
    X_attacked = np.array(X_start, copy=True)
    n, n_features = X_attacked.shape
    epsilon, step_size = _check_attack_params(epsilon, step_size, max_steps, n_features)
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    fit_params = {} if sample_weight is None else {"sample_weight": weights}

    if indices is None:
        if not isinstance(n_rows, numbers.Integral) or not 1 <= n_rows <= n:
            raise ValueError(f"n_rows must be an integer in [1, {n}]; got n_rows={n_rows!r}.")
        strength = np.abs(influence_estimator.perturbation_influence(X_target, y_target).sum(axis=0)).sum(axis=1)
        rows = np.argsort(-strength * weights, kind="stable")[:n_rows]
    else:
        rows = influence_estimator._training_rows(indices)
    low, high = X_start[rows] - epsilon, X_start[rows] + epsilon
    if bounds is not None:
        if np.any(X_start[rows] < bounds[0]) or np.any(X_start[rows] > bounds[1]):
            raise ValueError(f"bounds={bounds!r} must contain the attacked rows' original features.")
        low, high = np.maximum(low, bounds[0]), np.minimum(high, bounds[1])

    estimator = influence_estimator
    state = _target_state(estimator, X_target, y_target)
    history = {key: [] for key in _HISTORY}
    _record(history, state, np.nan, np.nan, 0.0, True)
    alpha, n_steps = step_size, 0
    for _ in progress(range(max_steps), total=max_steps, description="attack steps", verbose=verbose):
        if state.misclassified == 1 or np.all(alpha < step_size / _MAX_HALVINGS):
            break
        slopes = estimator.perturbation_influence(X_target, y_target, indices=rows)
        moved = np.clip(X_attacked[rows] + alpha * np.sign(slopes.mean(axis=0)), low, high)
        change = moved - X_attacked[rows]
        if not np.any(change):  # every attacked feature sits on the side of the box it wants
            break
        loss_changes = np.einsum("jic,ic->j", slopes, weights[rows, None] / n * change)
        candidate = X_attacked.copy()
        candidate[rows] = moved
        refit = clone(influence_estimator).fit(candidate, y, **fit_params)
        candidate_state = _target_state(refit, X_target, y_target)
        n_steps += 1
        accepted = candidate_state.loss > state.loss
        predicted_margin = np.nan
        if state.margins is not None:
            with np.errstate(divide="ignore", invalid="ignore"):  # a flat loss (dℓ/df = 0) predicts nothing
                predicted_margin = np.mean(state.margins + loss_changes / state.slopes)
        change_size = float(np.max(np.abs(moved - X_start[rows])))
        _record(history, candidate_state, state.loss + loss_changes.mean(), predicted_margin, change_size, accepted)
        if accepted:
            X_attacked, estimator, state = candidate, refit, candidate_state
        else:  # overshot: the linearisation no longer holds at this step length
            alpha = alpha / 2
    return Bunch(
        rows=rows,
        X_rows=X_attacked[rows],
        X=X_attacked,
        success=state.misclassified == 1,
        n_steps=n_steps,
        estimator=estimator,
        history={key: np.asarray(value, dtype=bool if key == "accepted" else float) for key, value in history.items()},
    )
