"""``summary_frame`` on a Dask fit: the rows a person would read, as a computed pandas frame.

A per-row table of every training row would be as long as the data (tens of millions of
rows) and nobody reads it; a Dask DataFrame would also need ``dask[dataframe]`` (and
pyarrow) beyond the ``dask`` extra. The frame is therefore the :data:`SUMMARY_ROWS` rows of
largest self-influence (the mislabel candidates), found by a per-block top-k merged in a
tree, with the numpy path's columns gathered for those rows only. Every column stays
available for all rows as a lazy array (``self_influence()``, ``leave_one_out(...)``).
"""

import numpy as np

from ._queries import lazy_rows, require_factor
from ._reductions import _candidates_array, _self_influence_scores, merged_top

#: Rows of the summary frame of a Dask fit.
SUMMARY_ROWS = 1000


def _summary_block(rows, fitted, payload):
    """``[self_influence, training_loss, leverage]`` per row (leverage NaN beyond single-output linear models)."""
    from ._queries import _self_influence_block

    objective = fitted.objective
    columns = np.full((rows._design.n_samples, 3), np.nan)
    columns[:, 0] = _self_influence_block(rows, fitted, payload)
    columns[:, 1] = objective.loss.loss(rows._targets, rows._raw)
    if objective.separable and objective.n_outputs == 1 and objective.closed_form:
        columns[:, 2] = rows._curvature * fitted.solver.quadratic_forms(rows._design)
    return columns


def summary_frame(estimator, X_query=None, y_query=None):
    """The numpy path's ``summary_frame`` for the :data:`SUMMARY_ROWS` rows of largest self-influence.

    Returns a pandas DataFrame indexed by training positions, in decreasing self-influence.
    """
    import dask

    from .._labels import pandas

    require_factor(estimator, "summary_frame")
    fit = estimator._dask_fit_
    k = min(SUMMARY_ROWS, fit.X.shape[0])
    top = merged_top(_candidates_array(fit, _self_influence_scores, None, 1, k, None, n_sides=1), k)
    positions = top[0, 1, 0].astype(np.intp)
    table = lazy_rows(fit, _summary_block, None, "ic", {"c": 3}, np.float64)
    parts = {"positions": positions, "table": table}
    if X_query is not None:
        method = "newton" if estimator._objective.closed_form else "influence"
        parts["loo"] = estimator.leave_one_out(X_query, y_query, method=method).mean(axis=0)
    (positions,) = dask.compute(positions)
    order = np.argsort(positions)  # gather in position order: each block is read once
    chosen = {name: value[positions[order]] for name, value in parts.items() if name != "positions"}
    (chosen,) = dask.compute(chosen)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    table = chosen["table"][back]
    columns = {"self_influence": table[:, 0], "training_loss": table[:, 1], "leverage": table[:, 2]}
    if "loo" in chosen:
        columns["loo_mean_query_loss"] = chosen["loo"][back]
    return pandas().DataFrame(columns, index=pandas().Index(positions, name="training_position"))
