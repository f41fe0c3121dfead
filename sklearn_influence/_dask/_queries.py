"""The per-row quantities of a Dask-fitted estimator, as lazy Dask arrays chunked like the training rows.

Each is one :func:`dask.array.blockwise` over the training row blocks: a block task
rebuilds the block's quantities (``_blocks.BlockRows``) and applies the formula of the
numpy path (``_quantities._influence``) to them, against the small matrices solved once
on the client (``V = H⁻¹ g_q``, the query's Newton solves, ``H⁻¹ q``), which enter the
graph as one shared key. Results keep the numpy path's shapes, dtypes and signs:
``(n_queries, n_train)``, ``(n_train,)`` and ``(n_train, n_params)``; ``indices`` selects
columns (rows) of the lazy result.
"""

import functools

import numpy as np

from .._quantities._measures import collapse
from ._blocks import BlockRows, shared


def _per_block(function, state, payload, X, y, weights, shares=None):
    """Run ``function(rows, fitted, payload)`` on one row block (``state``, ``payload``: shared keys)."""
    fitted = state[0]
    return function(BlockRows(fitted, X, y, weights, shares), fitted, payload[0])


def lazy_rows(fit, function, payload, out_index, new_axes, dtype):
    """``function`` on every row block as one blockwise Dask array; output index ``i`` is the rows'.

    Parameters
    ----------
    fit : DaskFit
        The persisted training rows and the shared fitted state.
    function : callable
        ``function(rows, fitted, payload) -> ndarray``, a module-level function (pickled).
    payload : object
        The call's small values, sent once as one shared key.
    out_index : str
        Output index of :func:`dask.array.blockwise`, ``"i"`` for the training rows.
    new_axes : dict
        Sizes of the output's other axes (one chunk each).
    dtype : dtype
        The result's dtype.
    """
    import dask.array as da

    args = [fit.state, "z", shared(payload, "payload"), "w", fit.X, "ij", fit.y, "io"[: fit.y.ndim], fit.weights, "i"]
    if fit.shares is not None:
        args += [fit.shares, "i"]
    return da.blockwise(
        functools.partial(_per_block, function),
        out_index,
        *args,
        new_axes=new_axes,
        dtype=dtype,
        concatenate=True,
    )


def query_inputs(X, y):
    """Query ``X`` and ``y`` in memory: a (small) Dask collection is computed."""
    from . import is_dask_collection

    if is_dask_collection(X):
        X = X.compute()
    if is_dask_collection(y):
        y = y.compute()
    return X, y


def _select(estimator, result, indices, axis):
    """``result`` restricted to the training rows ``indices`` along ``axis`` (lazily); whole for None.

    ``indices=None`` never builds the positions ``0 … n-1`` on the client (160 MB at 20M rows).
    """
    if indices is None:
        return result
    index = [slice(None)] * result.ndim
    index[axis] = estimator._training_rows(indices)
    return result[tuple(index)]


def require_factor(estimator, what):
    """Refuse a quantity that needs one solve per training row when ``H`` is applied by distributed CG."""
    if estimator.solver_ == "cg":
        raise ValueError(
            f"{what} needs H⁻¹ applied to every training row's gradient: on Dask arrays that takes the factorised "
            f"Hessian (solver='exact'), while this fit uses conjugate gradients (solver_='cg', "
            f"{len(estimator.params_)} parameters), one distributed solve per row. Available under CG: influence, "
            "leave_one_out(method='influence'), top_influences, rank_mislabel_candidates(by='training_loss'); "
            "or refit with solver='exact' if the p × p Hessian fits in the client's memory."
        )


# --- influence and first-order leave-one-out ------------------------------------------------------------------


def influence_payload(estimator, query):
    """``−n V`` (``V = H⁻¹ g_q``, flattened per output) and ``−n g_qᵀ H⁻¹ q`` for the share term."""
    n, n_col = estimator._design.n_samples, estimator._objective.n_columns
    solved = collapse(query, estimator._solved_query_gradients(query))
    share = None
    if estimator._share_solution is not None:
        share = -n * collapse(query, estimator._share_pull(query))
    return {"flat": -n * solved.reshape(-1, n_col), "n_queries": solved.shape[0], "share_pull": share}


def influence_block(rows, fitted, payload):
    """``−n g_jᵀ H⁻¹ (g_i + κ_i q)`` for every query ``j`` and row ``i`` of the block: (n_queries, b)."""
    flat, n_queries = payload["flat"], payload["n_queries"]
    k_out = fitted.objective.n_outputs
    if k_out == 1:
        block = rows._design.dot_transposed(flat)
        np.multiply(block, rows._residuals[:, 0], out=block)
    else:
        products = rows._design.dot_transposed(flat).reshape(n_queries, k_out, -1)
        block = np.einsum("mki,ik->mi", products, rows._residuals).astype(rows.dtype, copy=False)
    unit_shares = rows.unit_shares()
    if unit_shares is not None:
        block += np.multiply.outer(payload["share_pull"], unit_shares).astype(block.dtype, copy=False)
    return block


def _first_order_block(rows, fitted, payload):
    """``−(s_i/n)·influence``, plus the share an SGD row of weight 0 still carries."""
    out = influence_block(rows, fitted, payload) * (-rows._weights / fitted.n_samples)
    shares = rows._penalty_shares
    if shares is not None:
        unmatched = (rows._weights == 0) & (shares != 0)
        if np.any(unmatched):
            out[:, unmatched] += np.multiply.outer(payload["raw_share_pull"], shares[unmatched])
    return out


def influence(estimator, X, y=None, *, measure="loss", indices=None):
    """Lazy ``InfluenceEstimator.influence`` on a Dask fit."""
    X, y = query_inputs(X, y)
    query = estimator._query(X, y, measure)
    fit = estimator._dask_fit_
    payload = influence_payload(estimator, query)
    result = lazy_rows(fit, influence_block, payload, "qi", {"q": payload["n_queries"]}, fit.dtype)
    return query.measure.finish(_select(estimator, result, indices, 1))


def _newton_payload(estimator, query):
    """The query's Newton solves ``H⁻¹(e_l ⊗ x̃_j)``, its shift along ``H⁻¹ q`` and its measure."""
    query_solves = estimator._solver.solve_output_units(query.design.dense()).reshape(
        -1, estimator._objective.n_columns
    )
    share_shift = None if estimator._share_solution is None else query.design.dot(estimator._share_solution)
    return {"query_solves": query_solves, "share_shift": share_shift, "raw": query.raw, "measure": query.measure}


def _newton_block(rows, fitted, payload):
    """``m(f_j + x̃_jᵀ Δθ_i) − m(f_j)`` with the Newton step ``Δθ_i`` of each row of the block."""
    objective = fitted.objective
    k_out = objective.n_outputs
    raw = payload["raw"]
    n_queries = raw.shape[0]
    coef = rows._newton_coefficients(slice(None), shift=fitted.stationary_shift)
    products = rows._design.dot(payload["query_solves"])
    if objective.separable:
        shift = products.T[:, :, None] * coef[None, :, :]
    else:
        products = products.reshape(-1, n_queries, k_out, k_out)
        shift = np.einsum("imkl,il->mik", products, coef)
    if payload["share_shift"] is not None:
        shift = shift + rows._penalty_shares[None, :, None] * payload["share_shift"][:, None, :]
    return payload["measure"].change(raw[:, None, :] + shift)


def leave_one_out(estimator, X, y=None, *, measure="loss", method="influence", indices=None):
    """Lazy ``InfluenceEstimator.leave_one_out`` on a Dask fit."""
    estimator._check_method(method)
    X, y = query_inputs(X, y)
    query = estimator._query(X, y, measure)
    fit = estimator._dask_fit_
    n_out = 1 if query.measure.functional else query.raw.shape[0]
    if method == "influence":
        payload = influence_payload(estimator, query)
        if estimator._share_solution is not None:
            payload["raw_share_pull"] = collapse(query, estimator._share_pull(query))
        result = lazy_rows(fit, _first_order_block, payload, "qi", {"q": n_out}, np.float64)
    else:
        require_factor(estimator, "leave_one_out(method='newton')")
        result = lazy_rows(fit, _newton_block, _newton_payload(estimator, query), "qi", {"q": n_out}, np.float64)
    return query.measure.finish(_select(estimator, result, indices, 1))


# --- per-row quantities -------------------------------------------------------------------------------------------


def _self_influence_block(rows, fitted, payload):
    """``n r_iᵀ M_i r_i`` with the quadratic forms ``M_i = x̃_iᵀ H⁻¹ x̃_i`` (per output pair)."""
    quad = fitted.solver.quadratic_forms(rows._design)
    r = rows._residuals
    if fitted.objective.separable:
        out = quad * np.einsum("ik,ik->i", r, r)
    else:
        out = np.einsum("ik,ikl,il->i", r, quad, r)
    return fitted.n_samples * out


def self_influence(estimator, *, indices=None, n_probes=None, random_state=None):
    """Lazy ``InfluenceEstimator.self_influence`` on a Dask fit (exact: ``n_probes=None`` only)."""
    if n_probes is not None:
        raise ValueError(
            f"On Dask arrays self_influence is exact (n_probes=None), which costs O(n p²) in one pass over the "
            f"blocks; got n_probes={n_probes!r}."
        )
    require_factor(estimator, "self_influence")
    result = lazy_rows(estimator._dask_fit_, _self_influence_block, None, "i", {}, np.float64)
    return _select(estimator, result, indices, 0)


def _steps_block(rows, fitted, payload):
    """``H⁻¹ (c_i ⊗ x̃_i)`` in the public layout (``_parameter_steps``), scaled and with the share term."""
    objective = fitted.objective
    if payload["coefficients"] == "influence":
        coefficients = rows._residuals
    elif payload["coefficients"] == "first_order":
        coefficients = rows._weights[:, None] * rows._residuals
    else:
        coefficients = rows._newton_coefficients(slice(None), shift=fitted.stationary_shift)
    steps = objective.to_public(fitted.solver.solve(rows.gradients(coefficients)))
    shared_public = payload["shared_public"]
    if shared_public is not None:
        per_row = rows.unit_shares() if payload["coefficients"] == "influence" else rows._penalty_shares
        steps += np.multiply.outer(per_row, shared_public)
    return payload["scale"] * steps


def _parameter_rows(estimator, coefficients, scale, indices):
    require_factor(estimator, "influence_params" if coefficients == "influence" else "leave_one_out_params")
    fit = estimator._dask_fit_
    objective = estimator._objective
    shared_public = None
    if estimator._share_solution is not None:
        shared_public = objective.to_public(estimator._share_solution[None])[0]
    n_params = len(estimator.params_)
    payload = {"coefficients": coefficients, "shared_public": shared_public, "scale": scale}
    result = lazy_rows(fit, _steps_block, payload, "ip", {"p": n_params}, np.float64)
    return _select(estimator, result, indices, 0)


def influence_params(estimator, *, indices=None):
    """Lazy ``InfluenceEstimator.influence_params`` on a Dask fit: ``−n H⁻¹ (g_i + κ_i q)``."""
    return _parameter_rows(estimator, "influence", -float(estimator._design.n_samples), indices)


def leave_one_out_params(estimator, *, method="influence", indices=None):
    """Lazy ``InfluenceEstimator.leave_one_out_params`` on a Dask fit."""
    estimator._check_method(method)
    return _parameter_rows(estimator, "first_order" if method == "influence" else "newton", 1.0, indices)
