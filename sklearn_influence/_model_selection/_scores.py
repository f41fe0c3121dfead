"""Per-row leave-one-out scores, for ``std_test_score`` as ``GridSearchCV(cv=LeaveOneOut())`` defines it.

``GridSearchCV(cv=LeaveOneOut())`` scores each held-out row alone: its ``std_test_score`` is the
standard deviation of the ``n`` one-row scores. For the scorers that are means of per-row terms
(whose score of the pooled leave-one-out responses is the mean of the one-row scores) the one-row
score is that term, computed here for every row at once (one scorer call per row would cost ``n``
calls per candidate). Other scorers (R², ROC AUC, F1, root mean squared error, a custom callable)
have no per-row score here: ``None``.
"""

import numpy as np
from scipy.special import xlogy
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    mean_gamma_deviance,
    mean_poisson_deviance,
    mean_squared_error,
    mean_tweedie_deviance,
)
from sklearn.metrics._scorer import _BaseScorer


def _tweedie(y, mu, power):
    """Unit Tweedie deviance of each entry (``mean_tweedie_deviance``'s terms)."""
    if power == 0:
        return (y - mu) ** 2
    if power == 1:
        return 2 * (xlogy(y, y / mu) - y + mu)
    if power == 2:
        return 2 * (np.log(mu / y) + y / mu - 1)
    y_pos = np.maximum(y, 0) if power < 1 else y
    own = y_pos ** (2 - power) / ((1 - power) * (2 - power))
    return 2 * (own - y * mu ** (1 - power) / (1 - power) + mu ** (2 - power) / (2 - power))


def _regression(term):
    """A per-row score from a per-entry term, averaged over outputs as ``multioutput="uniform_average"``."""

    def per_row(y, predicted, kwargs, classes):
        values = term(np.asarray(y, dtype=float), np.asarray(predicted, dtype=float), **kwargs)
        return values.reshape(len(values), -1).mean(axis=1)

    return per_row


def _accuracy(y, predicted, kwargs, classes):
    return (np.asarray(y) == np.asarray(predicted)).astype(float).reshape(len(predicted), -1).all(axis=1)


def _log_loss(y, proba, kwargs, classes):
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1:  # the positive class's probability
        proba = np.column_stack([1 - proba, proba])
    eps = np.finfo(proba.dtype).eps
    column = np.searchsorted(classes, y)
    if proba.shape[1] != len(classes) or np.any(classes[np.minimum(column, len(classes) - 1)] != y):
        return None
    return -np.log(np.clip(proba[np.arange(len(y)), column], eps, 1 - eps))


#: metric → (response method, keyword arguments it may carry, per-row score)
_PER_ROW = {
    mean_squared_error: ("predict", (), _regression(lambda y, p: (y - p) ** 2)),
    mean_absolute_error: ("predict", (), _regression(lambda y, p: np.abs(y - p))),
    mean_poisson_deviance: ("predict", (), _regression(lambda y, p: _tweedie(y, p, 1))),
    mean_gamma_deviance: ("predict", (), _regression(lambda y, p: _tweedie(y, p, 2))),
    mean_tweedie_deviance: ("predict", ("power",), _regression(lambda y, p, power=0.0: _tweedie(y, p, power))),
    accuracy_score: ("predict", (), _accuracy),
    log_loss: ("predict_proba", ("labels",), _log_loss),
}


def per_row_scores(scorer, responses, y):
    """The ``n`` one-row scores of ``scorer`` on the leave-one-out ``responses``, or ``None``.

    Parameters
    ----------
    scorer : callable
        The search's scorer; only scikit-learn scorers of the metrics above have per-row scores.
    responses : _FixedResponses
        The leave-one-out responses of every training row.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    """
    if not isinstance(scorer, _BaseScorer) or scorer._score_func not in _PER_ROW:
        return None
    response, allowed, per_row = _PER_ROW[scorer._score_func]
    if scorer._response_method not in (response, (response,)) or set(scorer._kwargs) - set(allowed):
        return None
    kwargs = {k: v for k, v in scorer._kwargs.items() if k != "labels"}
    classes = getattr(responses, "classes_", None) if response == "predict_proba" else None
    values = getattr(responses, response)(np.empty((len(np.asarray(y)), 0)))
    scores = per_row(np.asarray(y), values, kwargs, None if classes is None else np.asarray(classes))
    return None if scores is None else scorer._sign * np.asarray(scores, dtype=float)
