"""Failures of one candidate of ``LeaveOneOutSearchCV``, reported as ``GridSearchCV`` reports them.

Folds whose training rows lack a class, ``error_score`` rows, and the messages and warnings of the
search's own ``InfluenceEstimator(FrozenEstimator(candidate))`` rewritten so that the wrapping is
invisible and remedies name the search's parameters.
"""

import os
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

from ._responses import _display_name

#: Directory of the package: warnings raised in it are re-emitted at the caller of ``fit``.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _folds_missing_a_class(estimator, y, folds):
    """``{fold index: missing classes}`` of the folds whose training rows lack a class; warns once if any."""
    if folds is None or not is_classifier(estimator) or np.ndim(y) != 1:
        return {}
    y = np.asarray(y)
    classes, n = np.unique(y), len(y)
    missing = {}
    for k, test in enumerate(folds):
        kept = np.ones(n, dtype=bool)
        kept[test] = False
        lacking = np.setdiff1d(classes, y[kept])
        if lacking.size:
            missing[k] = lacking
    if missing:
        described = "; ".join(f"fold {k}'s training rows hold no row of class {c.tolist()}" for k, c in missing.items())
        warnings.warn(
            f"{described}. A refit without such a fold cannot predict that class: its scores are NaN "
            "(as GridSearchCV's error_score=np.nan gives for the failed refit), and so is the mean score of "
            "every candidate. Use a splitter that keeps every class in every training part (StratifiedKFold).",
            UserWarning,
            stacklevel=3,
        )
    return missing


def _score(scorer, responses, X, y, **kwargs):
    """``scorer(responses, X, y)``; a missing response method is named on the user's estimator."""
    try:
        return scorer(responses, X, y, **kwargs)
    except AttributeError as error:
        message = str(error)
        if "_FixedResponses" not in message:
            raise
        owner = _display_name(responses.__dict__.get("fitted") and responses.fitted() or responses.source)
        raise AttributeError(
            f"The scorer {scorer!r} needs a response method that {owner} lacks: "
            + message.replace("_FixedResponses", owner)
        ) from None


#: Rewrites of messages from the search's own ``InfluenceEstimator(FrozenEstimator(candidate))``:
#: the wrapping is invisible, and remedies name the search's parameters.
_REWRITES = (
    ("FrozenEstimator → ", ""),
    ("InfluenceEstimator(..., ", "LeaveOneOutSearchCV(..., "),
    ("in InfluenceEstimator", "in LeaveOneOutSearchCV"),
)


def _clean(message):
    for old, new in _REWRITES:
        message = message.replace(old, new)
    return message


def _prefix_error(error, prefix):
    """Prefix ``error``'s message (and clean it), keeping its type and traceback."""
    if error.args and isinstance(error.args[0], str):
        error.args = (prefix + _clean(error.args[0]), *error.args[1:])


def _reemit(caught, params):
    """Re-emit the warnings caught while evaluating candidate ``params``, named after it, at the caller of ``fit``."""
    for record in caught:
        category = record.category
        message = _clean(str(record.message))
        if issubclass(category, ConvergenceWarning) or category is FitFailedWarning:
            if category is not FitFailedWarning:
                message = f"Candidate {params}: {message}"
            warnings.warn(category(message), stacklevel=3)
        elif message != str(record.message) or record.filename.startswith(_PACKAGE):
            warnings.warn(category(f"Candidate {params}: {message}"), stacklevel=3)  # the package's own
        else:
            warnings.warn_explicit(record.message, category, record.filename, record.lineno)


def _failed_row(error_score, n_splits, loo):
    """The ``cv_results_`` row of a candidate that failed: every score ``error_score``."""
    split = [error_score] * (1 if loo else n_splits)
    return {
        "fit_time": np.nan,
        "score_time": np.nan,
        "split": split,
        "score": float(error_score),
        "std": float(np.std(split)),
        "train": split,
        "max_lev": np.nan,
        "frac_high": np.nan,
        "exact": True,
    }
