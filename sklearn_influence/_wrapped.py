"""Reading the wrapped estimator: through FrozenEstimator, search objects and pipelines.

``InfluenceEstimator`` wraps what the user wraps; these functions find the final model,
the transformer prefix before it, the ``fit`` parameter that carries sample weights to it,
and the tags a meta-estimator acting as it should report.
"""

from copy import deepcopy

from sklearn import get_config
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from ._models._support import _is_search


def inner_estimator_tags(tags, estimator):
    """``tags`` of a meta-estimator acting as ``estimator`` does: a classifier or a regressor, sparse input or not."""
    inner = get_tags(estimator)
    tags.estimator_type = inner.estimator_type
    tags.classifier_tags = deepcopy(inner.classifier_tags)
    tags.regressor_tags = deepcopy(inner.regressor_tags)
    tags.target_tags = deepcopy(inner.target_tags)
    tags.input_tags.sparse = inner.input_tags.sparse
    return tags


def _unfitted_prefix(estimator):
    """The transformer steps of a pipeline, read from its parameters before any fit; ``None`` if none.

    Looks through ``FrozenEstimator`` and search objects (``GridSearchCV`` …), so that an
    unsupported transformer is refused before a possibly long fit.
    """
    if (
        isinstance(estimator, FrozenEstimator)
        or hasattr(estimator, "param_grid")
        or hasattr(estimator, "param_distributions")
    ):
        return _unfitted_prefix(estimator.estimator)
    if isinstance(estimator, Pipeline) and len(estimator) > 1:
        inner = _unfitted_prefix(estimator.steps[-1][1])
        steps = estimator.steps[:-1] + ([("inner", inner)] if inner is not None else [])
        return Pipeline(steps)
    return None


def _sample_weight_key(estimator):
    """The ``fit`` parameter that carries sample weights to the final model (through pipelines and searches)."""
    if get_config()["enable_metadata_routing"]:
        return "sample_weight"
    if _is_search(estimator):  # a search passes its fit parameters on to its estimator's fit
        return _sample_weight_key(estimator.estimator)
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        return f"{name}__{_sample_weight_key(last)}"
    return "sample_weight"


def _unwrap(estimator):
    """Split a fitted estimator into (fixed transformer prefix or None, final model)."""
    if isinstance(estimator, FrozenEstimator):
        return _unwrap(estimator.estimator)
    if _is_search(estimator) and hasattr(estimator, "best_estimator_"):  # the refitted best candidate
        return _unwrap(estimator.best_estimator_)
    if not isinstance(estimator, Pipeline):
        return None, estimator
    inner_prefix, model = _unwrap(estimator[-1])
    prefix = estimator[:-1] if len(estimator) > 1 else None
    if prefix is None or inner_prefix is None:
        return (inner_prefix if prefix is None else prefix), model
    return Pipeline([("outer", prefix), ("inner", inner_prefix)]), model
