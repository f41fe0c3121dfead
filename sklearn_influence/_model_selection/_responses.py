"""``_FixedResponses``: the fitted candidate as a scorer sees it, its responses replaced by held-out ones.

A scorer of :class:`LeaveOneOutSearchCV` is called on this stand-in instead of on a refit: its
``predict`` / ``predict_proba`` / ``predict_log_proba`` / ``decision_function`` return the
leave-one-out (or held-out-fold) responses of the rows it stands for, its ``score`` is the
candidate's default score of those responses (accuracy for classifiers, R² for regressors, as
``ClassifierMixin.score`` / ``RegressorMixin.score`` compute it on a refit's held-out predictions),
and every other attribute (``coef_``, ``named_steps``, ...) is the candidate's fitted on all the rows.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples

#: Methods answered from the held-out responses, never from the fit on all the rows.
_RESPONSE_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "score")


class _FixedResponses(BaseEstimator):
    """An estimator-like object whose responses are given (leave-one-out or held-out-fold ones).

    Parameters
    ----------
    source : estimator
        Whose response methods exist (the fitted candidate's ``InfluenceEstimator``, or the
        unfitted estimator on the ridge path).
    compute : callable
        ``compute(name)`` → the stored responses ``name`` of the rows this stands for
        (``X`` is only counted).
    estimator_type : {"classifier", "regressor"}
        Given once, not read from ``source``'s tags at every scorer call.
    classes : ndarray or None
        ``classes_``; ``None``: ``source.classes_``.
    fitted : callable or None
        ``fitted()`` → the candidate fitted on all the rows (possibly fitted at the first call);
        other attribute reads are delegated to it.
    """

    def __init__(self, source, compute, estimator_type, classes=None, fitted=None):
        self.source = source
        self.compute = compute
        self.estimator_type = estimator_type
        self.classes = classes
        self.fitted = fitted

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = self.estimator_type
        return tags

    def __getattr__(self, name):
        # only reached when normal lookup fails (fitted attributes, or a response method the model lacks)
        if name.startswith("__") or name in ("source", "compute", "estimator_type", "classes", "fitted"):
            raise AttributeError(name)
        fitted = self.__dict__.get("fitted")
        model = None if fitted is None else fitted()
        owner = _display_name(model if model is not None else self.__dict__.get("source"))
        if name in _RESPONSE_METHODS or model is None:
            raise AttributeError(f"{owner} has no attribute {name!r}.")
        try:
            return getattr(model, name)
        except AttributeError:
            raise AttributeError(f"{owner} (the candidate fitted on all the rows) has no attribute {name!r}.") from None

    @property
    def classes_(self):
        return self.source.classes_ if self.classes is None else self.classes

    def _get(self, name, X):
        values = self.compute(name)
        if _num_samples(X) != values.shape[0]:
            raise ValueError(f"expected the {values.shape[0]} rows these responses stand for; got {_num_samples(X)}.")
        return values

    def predict(self, X):
        return self._get("predict", X)

    @available_if(lambda self: hasattr(self.source, "predict_proba"))
    def predict_proba(self, X):
        return self._get("predict_proba", X)

    @available_if(lambda self: hasattr(self.source, "predict_proba"))
    def predict_log_proba(self, X):
        """``log`` of the held-out ``predict_proba``, as the supported models define it."""
        return np.log(self._get("predict_proba", X))

    @available_if(lambda self: hasattr(self.source, "decision_function"))
    def decision_function(self, X):
        return self._get("decision_function", X)

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier) or R² (regressor) of the held-out ``predict`` against ``y``."""
        metric = accuracy_score if self.estimator_type == "classifier" else r2_score
        return float(metric(y, self.predict(X), sample_weight=sample_weight))


def _display_name(estimator):
    """The user's estimator's class name (through the search's own ``FrozenEstimator`` and ``InfluenceEstimator``)."""
    while hasattr(estimator, "estimator") and type(estimator).__name__ in ("InfluenceEstimator", "FrozenEstimator"):
        estimator = estimator.estimator
    return type(estimator).__name__
