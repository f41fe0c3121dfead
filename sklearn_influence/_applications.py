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
    """Mean target loss and the fraction of targets misclassified (NaN for regressors)."""
    loss = influence_estimator.loss(X_target, y_target).mean()
    if not is_classifier(influence_estimator):
        return loss, np.nan
    return loss, float(np.mean(influence_estimator.predict(X_target) != np.asarray(y_target)))


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

    which **raises** the mean loss of the targets ``z_j``. It stops when every target is
    misclassified (classifiers), when a step no longer raises the target loss (the rows sit
    in a corner of the box) or after ``max_steps``. The labels are not changed.

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
        perturbed training set), ``success`` (every target misclassified), ``n_steps``,
        ``estimator`` (the influence estimator refitted on the perturbed data) and
        ``history``, a dict of arrays with one entry per state (the initial fit first):
        ``target_loss`` (mean over targets), ``predicted_target_loss`` (the previous
        state's loss plus the first-order change ``Σ_i (s_i/n) I_pert,loss · Δx_i``; NaN
        for the initial state), ``max_abs_change`` (``max |x_i - x_i^0|``) and
        ``misclassified`` (fraction of targets).
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
    loss, misclassified = _target_state(estimator, X_target, y_target)
    history = {"target_loss": [loss], "predicted_target_loss": [np.nan], "max_abs_change": [0.0]}
    history["misclassified"] = [misclassified]
    n_steps = 0
    for _ in progress(range(max_steps), total=max_steps, description="attack steps", verbose=verbose):
        if misclassified == 1:
            break
        slope = estimator.perturbation_influence(X_target, y_target, indices=rows).mean(axis=0)
        moved = np.clip(X_attacked[rows] + step_size * np.sign(slope), low, high)
        change = moved - X_attacked[rows]
        if not np.any(change):
            break
        predicted = loss + np.sum(weights[rows, None] / n * slope * change)
        X_attacked[rows] = moved
        estimator = clone(influence_estimator).fit(X_attacked, y, **fit_params)
        previous_loss = loss
        loss, misclassified = _target_state(estimator, X_target, y_target)
        n_steps += 1
        history["target_loss"].append(loss)
        history["predicted_target_loss"].append(predicted)
        history["max_abs_change"].append(float(np.max(np.abs(X_attacked[rows] - X_start[rows]))))
        history["misclassified"].append(misclassified)
        if loss <= previous_loss:  # at a corner of the box the sign steps only oscillate
            break
    return Bunch(
        rows=rows,
        X_rows=X_attacked[rows],
        X=X_attacked,
        success=misclassified == 1,
        n_steps=n_steps,
        estimator=estimator,
        history={key: np.asarray(value, dtype=float) for key, value in history.items()},
    )
