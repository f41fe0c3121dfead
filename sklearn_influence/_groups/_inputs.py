"""The groups of ``leave_group_out``: labels, masks, lists or dicts of rows, turned into row positions."""

import sys

import numpy as np


def group_members(groups, n, training_index):
    """``(labels, members)``: the sorted group labels and, for each, its training-row positions.

    ``groups`` is a 1-D array-like of length ``n_train`` of labels (a pandas Series or
    one-column DataFrame too), a boolean mask of length ``n_train`` (one group, labelled
    ``True``), a dict ``{label: rows}`` or a list of row arrays (overlapping groups;
    labelled by position in the list); rows are positions or boolean masks. A Series must be
    indexed like the training DataFrame (``training_index``, None for arrays).
    """
    pd = _pandas_if_imported()
    if isinstance(groups, dict):
        return list(groups), [group_rows(rows, label, n) for label, rows in groups.items()]
    if pd is not None and isinstance(groups, pd.DataFrame):
        if groups.shape[1] != 1:
            raise ValueError(
                f"groups given as a DataFrame must have exactly one column of labels; got {groups.shape[1]} "
                f"columns {list(groups.columns)[:5]}. Pass one column, e.g. groups=df['region']."
            )
        groups = groups.iloc[:, 0]
    if pd is not None and isinstance(groups, pd.Series):
        if len(groups) == n and training_index is not None and not groups.index.equals(training_index):
            raise ValueError(
                "groups is a Series whose index differs from the training index (training_index_): read by "
                "position it would assign rows to other groups than its labels say. Pass "
                "groups.reindex(inf.training_index_) or groups.to_numpy()."
            )
        groups = groups.to_numpy()
    if isinstance(groups, list | tuple) and len(groups) and not np.isscalar(groups[0]) and groups[0] is not None:
        return list(range(len(groups))), [group_rows(rows, k, n) for k, rows in enumerate(groups)]
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"groups must be an array of one label per training row, shape ({n},), a boolean mask of shape "
            f"({n},), or a list / dict of row-position arrays; got an array of shape {labels.shape}."
        )
    if labels.dtype == bool:
        return [True], [np.flatnonzero(labels)]
    missing = pd.isna(labels) if pd is not None else _isnan(labels)
    if np.any(missing):
        raise ValueError(
            f"groups has {int(np.sum(missing))} missing labels (None or NaN), e.g. at rows "
            f"{np.flatnonzero(missing)[:5].tolist()}. Give every row a label (e.g. fill with 'unknown'), or "
            "pass the groups as a list of row-position arrays."
        )
    try:
        unique, inverse = np.unique(labels, return_inverse=True)
    except TypeError:
        raise ValueError(
            f"groups labels must be sortable, of one type; got types {sorted({type(v).__name__ for v in labels})}."
        ) from None
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    return unique.tolist(), [order[bounds[g] : bounds[g + 1]] for g in range(len(unique))]


def group_rows(rows, label, n):
    """The positions of one group's rows (positions or a boolean mask), checked, each once."""
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"The boolean mask of group {label!r} must have shape ({n},); got {rows.shape}.")
        return np.flatnonzero(rows)
    rows = np.atleast_1d(rows)
    if rows.size == 0:
        return np.empty(0, dtype=np.intp)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(
            f"Group {label!r} must be a 1-D array of training row positions or a boolean mask; got an array of "
            f"dtype {rows.dtype} and shape {rows.shape}."
        )
    if rows.min() < 0 or rows.max() >= n:
        raise ValueError(
            f"Group {label!r} has row positions from {rows.min()} to {rows.max()}; they must lie in [0, {n})."
        )
    unique = np.unique(rows)
    if len(unique) != len(rows):
        raise ValueError(f"Group {label!r} lists some rows more than once; each row can leave only once.")
    return unique


def _pandas_if_imported():
    return sys.modules.get("pandas")


def _isnan(labels):
    if labels.dtype.kind == "f":
        return np.isnan(labels)
    if labels.dtype == object:
        return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in labels])
    return np.zeros(labels.shape, dtype=bool)
