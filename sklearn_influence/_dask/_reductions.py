"""Top-k over the training rows as tree reductions: ``top_influences`` and the mislabel ranking.

Each row block computes its influence block and keeps, per query and side, its own ``k``
best rows (values and global positions, side by side in one float64 array: positions are
exact in float64 up to 2^53). :func:`dask.array.reduction` then merges the candidates in
a tree (``split_every`` blocks per task): concatenate, keep the ``k`` best. No task ever
holds more than one block's influence, and the graph holds no ``n_queries × n_train``
array: memory is ``n_queries × (b + split_every·k)`` per task.
"""

import functools

import numpy as np
from sklearn.utils import Bunch

from ._blocks import BlockRows
from ._queries import influence_block, influence_payload, query_inputs

#: Candidate sets merged by one task of the tree.
SPLIT_EVERY = 8


def _best(values, positions, k):
    """The ``k`` largest ``values`` along the last axis (ties: smaller position first), sorted."""
    order = np.lexsort((positions, -values), axis=-1)[..., :k]
    return np.take_along_axis(values, order, axis=-1), np.take_along_axis(positions, order, axis=-1)


def _candidates(block, positions, k_b, n_sides=2):
    """The best ``k_b`` of ``block`` (n_queries, b) at the global ``positions`` (b,), −inf where none.

    Shape (n_sides, 2, n_queries, k_b): side 0 the largest values, side 1 (when
    ``n_sides=2``) the smallest, negated; ``[:, 0]`` values, ``[:, 1]`` positions.
    """
    n_queries = block.shape[0]
    out = np.full((n_sides, 2, n_queries, k_b), -np.inf)
    out[:, 1] = -1.0
    keep = min(k_b, positions.size)
    if keep == 0:
        return out
    n_rows = block.shape[1]
    for side_index in range(n_sides):
        if n_rows > keep:  # the block's own top k first (one partial sort, no copy of the block), then sorted
            if side_index == 0:
                local = np.argpartition(block, n_rows - keep, axis=1)[:, n_rows - keep :]
            else:
                local = np.argpartition(block, keep - 1, axis=1)[:, :keep]
            values, chosen = np.take_along_axis(block, local, axis=1), positions[local]
        else:
            values, chosen = block, np.broadcast_to(positions, block.shape)
        values = values.astype(np.float64) if side_index == 0 else -values.astype(np.float64)
        values, chosen = _best(values, chosen.astype(np.float64), keep)
        out[side_index, 0, :, :keep], out[side_index, 1, :, :keep] = values, chosen
    return out


def _identity(candidates, axis=None, keepdims=True):
    return candidates


def _merge(candidates, k, axis=None, keepdims=True):
    """Keep the ``k`` best of concatenated candidate sets (along the last axis)."""
    values, positions = _best(candidates[:, 0], candidates[:, 1], k)
    return np.stack([values, positions], axis=1)


def merged_top(candidates, k):
    """Tree-merge per-block candidates (…, k_b per block along the last axis) into the ``k`` best."""
    import dask.array as da

    merge = functools.partial(_merge, k=k)
    return da.reduction(
        candidates,
        chunk=_identity,
        combine=merge,
        aggregate=merge,
        axis=candidates.ndim - 1,
        keepdims=True,
        dtype=np.float64,
        split_every=SPLIT_EVERY,
        concatenate=True,
        output_size=k,
        meta=np.empty((0,) * candidates.ndim),
    )


def top_influences(estimator, X, y=None, *, measure="loss", k=10, indices=None):
    """Lazy ``InfluenceEstimator.top_influences`` on a Dask fit: per-block top-k merged in a tree."""
    import numbers

    if isinstance(k, bool | np.bool_) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer; got k={k!r}.")
    X, y = query_inputs(X, y)
    query = estimator._query(X, y, measure)
    fit = estimator._dask_fit_
    if indices is None:  # every row: no positions or mask built on the client
        k, selected = min(k, fit.X.shape[0]), None
    else:
        rows = estimator._training_rows(indices)
        k = min(k, len(rows))
        selected = np.zeros(fit.X.shape[0], dtype=bool)
        selected[rows] = True
    payload = influence_payload(estimator, query)
    candidates = _candidates_array(fit, influence_block, payload, payload["n_queries"], k, selected)
    top = merged_top(candidates, k)
    result = {}
    for side_index, name in enumerate(("harmful", "helpful")):
        sign = 1.0 if side_index == 0 else -1.0
        result[f"{name}_indices"] = query.measure.finish(top[side_index, 1].astype(np.intp))
        result[f"{name}_values"] = query.measure.finish(sign * top[side_index, 0])
    return Bunch(**result)


def _candidates_array(fit, score_block, payload, n_queries, k, selected, n_sides=2):
    """(n_sides, [value, position], n_queries, Σ k_b): every block's candidates, ``k_b = min(k, b)``.

    ``score_block(rows, fitted, payload)`` gives the block's scores, shape (n_queries, b);
    ``selected``: a boolean mask of the rows to rank, or None for all.
    """
    import dask.array as da

    from ._blocks import shared

    k_blocks = tuple(min(k, size) for size in fit.row_chunks)
    positions = da.arange(fit.X.shape[0], chunks=(fit.row_chunks,))
    if selected is None:
        mask = da.ones(fit.X.shape[0], chunks=(fit.row_chunks,), dtype=bool)
    else:
        mask = da.from_array(selected, chunks=(fit.row_chunks,))
    args = [fit.state, "z", shared(payload, "payload"), "w", fit.X, "ij", fit.y, "io"[: fit.y.ndim], fit.weights, "i"]
    args += [positions, "i", mask, "i"]
    if fit.shares is not None:
        args += [fit.shares, "i"]
    return da.blockwise(
        functools.partial(_block_candidates, score_block, k, n_sides),
        "svqi",
        *args,
        new_axes={"s": n_sides, "v": 2, "q": n_queries},
        adjust_chunks={"i": k_blocks},
        dtype=np.float64,
        concatenate=True,
    )


def _block_candidates(score_block, k, n_sides, state, payload, X, y, weights, positions, selected, shares=None):
    """One block's candidates among its selected rows (a blockwise task)."""
    fitted = state[0]
    scores = score_block(BlockRows(fitted, X, y, weights, shares), fitted, payload[0])
    mask, positions = np.asarray(selected, dtype=bool), np.asarray(positions)
    if not mask.all():  # a copy of the block only when some of its rows are left out
        scores, positions = scores[:, mask], positions[mask]
    return _candidates(scores, positions, min(k, len(mask)), n_sides)


def _loss_block(rows, fitted, payload):
    """Training loss ``ℓ(z_i, θ̂)`` of the block's rows, as one score row."""
    return fitted.objective.loss.loss(rows._targets, rows._raw)[None, :]


def _self_influence_scores(rows, fitted, payload):
    from ._queries import _self_influence_block

    return _self_influence_block(rows, fitted, payload)[None, :]


def rank_mislabel_candidates(estimator, by):
    """Lazy ranking of every training row, most suspicious first (``rank_mislabel_candidates`` on a Dask fit).

    A stable sort by decreasing score (ties keep their order, as ``np.argsort(-scores,
    kind="stable")``), merged in a tree from each block's sorted scores.
    """
    from ._queries import require_factor

    if by == "self_influence":
        require_factor(estimator, "rank_mislabel_candidates(by='self_influence')")
    fit = estimator._dask_fit_
    n = fit.X.shape[0]
    score = _self_influence_scores if by == "self_influence" else _loss_block
    candidates = _candidates_array(fit, score, None, 1, n, None, n_sides=1)
    return merged_top(candidates, n)[0, 1, 0].astype(np.intp)
