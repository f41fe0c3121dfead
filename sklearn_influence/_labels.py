"""Labels on results: the training rows', the queries' and the parameters' own names.

The one definition of every label the library puts on a result, shared by the labelled
output of the query methods (``set_output(transform="pandas")`` or scikit-learn's global
``set_config(transform_output="pandas")``), by ``to_frame`` / ``summary_frame`` and by
``rank_mislabel_candidates``:

- training rows: the index of the DataFrame ``X`` was fitted on (``training_index_``), else
  their positions ``0 … n-1``;
- queries: the index of the query DataFrame, else positions;
- parameters (``param_names_``): the final model's input features, per output, plus the
  intercepts, in the layout of ``params_``.

``indices=`` arguments are always *positions*; labels are mapped to positions only by
:meth:`InfluenceEstimator.training_positions`, and a pandas ``Index`` given as ``indices``
is refused, so integer labels and positions are never confused.
"""

import contextlib
import contextvars
import functools
import inspect
import sys

import numpy as np
from sklearn import get_config

_OUTPUTS = ("default", "pandas")

# True while the library computes a labelled result or calls its own public methods:
# inner calls then return plain arrays, which the library indexes by position.
_plain = contextvars.ContextVar("sklearn_influence_plain_output", default=False)


def pandas():
    """The pandas module, with an install hint when it is missing."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is in the test extras
        raise ImportError("Labelled results need pandas: pip install pandas.") from None
    return pandas


@contextlib.contextmanager
def plain_output():
    """Within the block, the query methods return plain arrays whatever the output config."""
    token = _plain.set(True)
    try:
        yield
    finally:
        _plain.reset(token)


def plain_results(function):
    """Decorator: ``function`` sees plain arrays from the query methods it calls."""

    @functools.wraps(function)
    def plain(*args, **kwargs):
        with plain_output():
            return function(*args, **kwargs)

    return plain


def check_transform(transform):
    """Validate ``set_output(transform=...)``; returns it unchanged."""
    if transform is None or transform in _OUTPUTS:
        return transform
    if transform == "polars":
        raise ValueError(
            "transform='polars' is not supported: InfluenceEstimator's labelled results are pandas objects. "
            "Use set_output(transform='pandas') for labelled results or transform='default' for arrays."
        )
    raise ValueError(f"transform must be one of {_OUTPUTS} or None; got transform={transform!r}.")


def output_is_pandas(estimator):
    """Whether ``estimator``'s results are labelled, scikit-learn's way.

    The estimator's own ``set_output(transform=...)`` wins; otherwise the global
    ``sklearn.set_config(transform_output=...)`` decides (as ``_get_output_config`` does for
    transformers).
    """
    if _plain.get():  # a call made inside the library: plain arrays
        return False
    config = getattr(estimator, "_sklearn_output_config", {})
    if "transform" in config:
        return check_transform(config["transform"]) == "pandas"
    transform = get_config()["transform_output"]
    if transform == "polars":
        raise ValueError(
            "sklearn.set_config(transform_output='polars') asks for polars containers, but InfluenceEstimator's "
            "labelled results are pandas objects: call set_output(transform='pandas') (labelled results) or "
            "set_output(transform='default') (arrays) on the InfluenceEstimator."
        )
    if transform not in _OUTPUTS:
        raise ValueError(f"transform_output must be one of {_OUTPUTS} for InfluenceEstimator; got {transform!r}.")
    if transform == "pandas":
        pandas()
    return transform == "pandas"


# --- labels of rows ---------------------------------------------------------------------


def training_labels(estimator):
    """The training rows' labels: ``training_index_``, or a ``RangeIndex`` of positions."""
    labels = estimator.training_index_
    return pandas().RangeIndex(estimator._design.n_samples) if labels is None else labels


def query_labels(X, n_queries):
    """The queries' labels: the index of a DataFrame ``X``, else a ``RangeIndex`` of positions."""
    pd = pandas()
    index = getattr(X, "index", None)  # a list's .index is a method, not labels
    if not isinstance(index, pd.Index):
        return pd.RangeIndex(n_queries)
    if len(index) != n_queries:
        raise ValueError(f"The query DataFrame has {len(index)} rows but the result has {n_queries} query rows.")
    return index


def positional_indices(estimator, indices):
    """Refuse ``indices`` that hold labels: a pandas ``Index``, or a boolean Series in another order.

    Called first by every ``indices=`` argument, which is positional. A Series of integers
    counts by its values (as numpy reads it), so a ranking from ``rank_mislabel_candidates``
    can be passed as it is.
    """
    pd = sys.modules.get("pandas")
    if pd is None:  # without pandas imported, indices cannot be a pandas object
        return indices
    if isinstance(indices, pd.Index):
        raise ValueError(
            "indices are training-row positions, but a pandas Index holds labels (with integer labels they would "
            "be silently read as positions). Select rows by label with indices=inf.training_positions(labels), or "
            "pass positions as a numpy array."
        )
    if isinstance(indices, pd.Series) and indices.dtype == bool:
        labels = training_labels(estimator)
        if len(indices) == len(labels) and not indices.index.equals(labels):
            raise ValueError(
                "indices is a boolean Series whose index differs from the training index (training_index_): read by "
                "position it would select other rows than its labels say. Use "
                "indices=inf.training_positions(mask), which aligns the mask by label."
            )
    return indices


def training_positions(estimator, labels):
    """Positions of the training rows named by ``labels`` (see ``InfluenceEstimator.training_positions``)."""
    pd = pandas()
    index = training_labels(estimator)
    if isinstance(labels, pd.Series) and labels.dtype == bool:
        if labels.index.has_duplicates or not labels.index.sort_values().equals(index.sort_values()):
            raise ValueError(
                "A boolean mask given as labels must be a Series indexed by exactly the training labels "
                f"(training_index_, {len(index)} rows), each once; got a Series of {len(labels)} rows with other "
                "labels."
            )
        if index.has_duplicates:
            raise ValueError("A boolean mask cannot be aligned by label: the training index has duplicate labels.")
        return np.flatnonzero(labels.reindex(index).to_numpy())
    if isinstance(labels, np.ndarray) and labels.dtype == bool:
        raise ValueError(
            "labels is a boolean array without labels: pass it as indices= directly (a mask by position), or as a "
            "boolean Series indexed by the training labels."
        )
    if not pd.api.types.is_list_like(labels):
        labels = [labels]
    wanted = labels if isinstance(labels, pd.Index) else pd.Index(list(labels))
    if len(wanted) == 0:
        return np.empty(0, dtype=np.intp)
    if index.has_duplicates:
        repeated = wanted[wanted.isin(index[index.duplicated()])]
        if len(repeated):
            raise ValueError(
                f"labels {list(repeated[:5])} each name several training rows (the training index has duplicates): "
                "select these rows by position with indices= instead."
            )
        positions = index.get_indexer_non_unique(wanted)[0]
    else:
        positions = index.get_indexer(wanted)
    missing = positions < 0
    if missing.any():
        unknown = list(wanted[missing][:5])
        raise ValueError(
            f"{int(missing.sum())} of the labels are not training labels, e.g. {unknown}. Training labels are "
            "the index of the DataFrame X was fitted on (training_index_), or positions 0 … n-1 for arrays; to "
            "select by position pass indices= directly."
        )
    return positions.astype(np.intp)


# --- names of parameters -----------------------------------------------------------------


def _unique(name, taken):
    while name in taken:
        name += "_"
    return name


def input_feature_names(prefix, model, n_features):
    """Names of the features the final model sees, as strings.

    The transformer prefix's ``get_feature_names_out()`` when it has one, else the model's
    ``feature_names_in_``, else scikit-learn's ``x0, x1, …``.
    """
    if prefix is not None:
        try:
            names = prefix.get_feature_names_out()
        except (AttributeError, ValueError, TypeError):  # a step without feature names
            names = None
        if names is not None and len(names) == n_features:
            return [str(name) for name in names]
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == n_features:
        return [str(name) for name in names]
    return [f"x{i}" for i in range(n_features)]


def _output_labels(model, n_outputs):
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) == n_outputs:
        return [str(label) for label in classes]
    return [str(k) for k in range(n_outputs)]


def parameter_names(prefix, model, n_params):
    """Names of the entries of ``params_`` (and of every ``*_params`` column).

    Linear models: ``concatenate([coef_.ravel(), intercept_.ravel()])`` named
    ``feature`` and ``intercept`` for one output, ``feature[output]`` and
    ``intercept[output]`` for several (the output is the class label when ``coef_`` has one
    row per class, else its position); ``HuberRegressor`` adds ``scale``. MLPs:
    ``coefs_l[i, j]`` (``i`` the feature name in the first layer) then ``intercepts_l[j]``.
    ``AutogradModel``: ``params_[i]``. A name that would repeat a feature's gets ``_``
    appended.
    """
    from ._models._custom import AutogradModel
    from ._models._decoding import _fits_intercept

    if isinstance(model, AutogradModel) or not (hasattr(model, "coef_") or hasattr(model, "coefs_")):
        return [f"params_[{i}]" for i in range(n_params)]
    if hasattr(model, "coefs_"):  # an MLP: every layer's coefs_, then every layer's intercepts_
        coefs = model.coefs_
        features = input_feature_names(prefix, model, coefs[0].shape[0])
        names = []
        for layer, weights in enumerate(coefs):
            inputs = features if layer == 0 else range(weights.shape[0])
            names += [f"coefs_{layer}[{i}, {j}]" for i in inputs for j in range(weights.shape[1])]
        names += [f"intercepts_{layer}[{j}]" for layer, weights in enumerate(coefs) for j in range(weights.shape[1])]
    else:
        shape = model.coef_.shape
        features = input_feature_names(prefix, model, shape[-1])
        n_outputs = 1 if len(shape) == 1 else shape[0]
        outputs = [None] if n_outputs == 1 else _output_labels(model, n_outputs)
        taken = set(features)
        intercept = _unique("intercept", taken)
        names = [name if k is None else f"{name}[{k}]" for k in outputs for name in features]
        if _fits_intercept(model):
            names += [intercept if k is None else f"{intercept}[{k}]" for k in outputs]
        if hasattr(model, "scale_") and hasattr(model, "epsilon"):  # HuberRegressor's scale is a parameter
            names.append(_unique("scale", taken | {intercept}))
    if len(names) != n_params:  # an unforeseen layout: positions rather than wrong names
        return [f"params_[{i}]" for i in range(n_params)]
    return names


# --- labelled results --------------------------------------------------------------------


def query_index(estimator, X, shape):
    """Row labels of a result of leading ``shape``: queries, or (query, class/output) for a vector measure."""
    pd = pandas()
    queries = query_labels(X, shape[0])
    if len(shape) == 1:
        return queries
    classes = getattr(estimator, "classes_", None)
    outputs = pd.Index(classes, name="class") if classes is not None and len(classes) == shape[1] else None
    return pd.MultiIndex.from_product([queries, pd.RangeIndex(shape[1], name="output") if outputs is None else outputs])


def _label_query_train(estimator, result, X, indices, name):
    rows = estimator._training_rows(indices)
    columns = training_labels(estimator).take(rows)
    if result.ndim == 1:  # a functional of the whole query set (a callable measure): one value per training row
        return pandas().Series(result, index=columns, name=name, copy=False)
    index = query_index(estimator, X, result.shape[:-1])
    return pandas().DataFrame(result.reshape(len(index), -1), index=index, columns=columns, copy=False)


def _label_train(estimator, result, X, indices, name):
    rows = estimator._training_rows(indices)
    return pandas().Series(result, index=training_labels(estimator).take(rows), name=name, copy=False)


def _label_train_params(estimator, result, X, indices, name):
    pd = pandas()
    rows = estimator._training_rows(indices)
    columns = pd.Index(estimator.param_names_, name="param")
    return pd.DataFrame(result, index=training_labels(estimator).take(rows), columns=columns, copy=False)


def _label_top(estimator, result, X, indices, name):
    pd = pandas()
    labels = training_labels(estimator)
    for side in ("harmful", "helpful"):
        positions = result[f"{side}_indices"]
        names = np.asarray(labels.take(positions.ravel()), dtype=object).reshape(positions.shape)
        ranks = pd.RangeIndex(positions.shape[-1], name="rank")
        if positions.ndim == 1:  # a functional of the whole query set
            result[f"{side}_labels"] = pd.Series(names, index=ranks, name=f"{side}_labels")
            continue
        index = query_index(estimator, X, positions.shape[:-1])
        result[f"{side}_labels"] = pd.DataFrame(names.reshape(len(index), -1), index=index, columns=ranks)
    return result


_LABELLERS = {
    "query_train": _label_query_train,
    "train": _label_train,
    "train_params": _label_train_params,
    "top": _label_top,
}


def labelled(kind):
    """Decorator of a query method: label its result when pandas output is on.

    ``kind`` says what the result's axes are: ``"query_train"`` (queries × training rows),
    ``"train"`` (one value per training row), ``"train_params"`` (training rows ×
    parameters) or ``"top"`` (the ``top_influences`` Bunch). The method runs with
    :func:`plain_output`, so public methods it calls return arrays; the labels come from its
    own ``X`` and ``indices`` arguments.
    """
    if kind not in _LABELLERS:
        raise ValueError(f"kind must be one of {sorted(_LABELLERS)}; got kind={kind!r}.")

    def decorate(method):
        signature = inspect.signature(method)

        @functools.wraps(method)
        def labelled_method(self, *args, **kwargs):
            if _plain.get():
                return method(self, *args, **kwargs)
            on = output_is_pandas(self)
            with plain_output():
                result = method(self, *args, **kwargs)
            if not on:
                return result
            arguments = signature.bind(self, *args, **kwargs).arguments
            return _LABELLERS[kind](self, result, arguments.get("X"), arguments.get("indices"), method.__name__)

        return labelled_method

    return decorate


def labelled_ranking(function):
    """Decorator of ``rank_mislabel_candidates``: with pandas output, the positions as a Series.

    The Series holds the positions (so ``np.asarray`` of it is the plain ranking) and is
    indexed by the training labels in ranking order.
    """

    @functools.wraps(function)
    def ranking(influence_estimator, *args, **kwargs):
        if _plain.get():
            return function(influence_estimator, *args, **kwargs)
        on = output_is_pandas(influence_estimator)
        with plain_output():
            positions = function(influence_estimator, *args, **kwargs)
        if not on:
            return positions
        labels = training_labels(influence_estimator).take(positions)
        return pandas().Series(positions, index=labels, name="position", copy=False)

    return ranking
