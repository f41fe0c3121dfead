"""Perturbation influence in a pipeline's raw input columns (``space="raw"``).

``perturbation_influence`` in the final model's features, ``P[q, i, f]`` (``× s_i/n`` the
derivative of the loss at query ``q`` in feature ``f`` of training row ``i``), is carried to
the raw column ``c`` the user fitted on by the chain rule of the fitted transformers. Moving
the raw value ``x_ic`` moves row ``i``'s own features by ``D_i[:, c] = ∂z_i/∂x_ic`` (the
prefix's input Jacobian at that row) and, under ``preprocessing="refit"``, the
transformers' statistics by ``σ_i[:, c] = ∂φ/∂x_ic`` (total through the prefix), which move
every row's features and the query's:

.. math::
    \\frac{dℓ_q}{dx_{ic}} = \\frac{s_i}{n} \\sum_f P_{qif}\\, D_{i,fc} + W_q\\, σ_{i,c},
    \\qquad
    R_{qic} = \\sum_f P_{qif}\\, D_{i,fc} + \\frac{n}{s_i}\\, W_q\\, σ_{i,c},

with ``W_q = r_qᵀ V_q`` the total derivative of the query loss in the statistics, the
model having followed (``_preprocessing._channel``). ``R × s_i/n`` is then the derivative,
as for the model's features. The statistics count every row once whatever its weight, so
for a row of weight ``s_i = 0`` the derivative (``W_q σ_{i,c}``) is not a multiple of
``s_i``: its entries are NaN under ``"refit"`` when the prefix has statistics.

Entries without a derivative are NaN: columns that are not numeric (categories: how the
loss would move if the row had another category is another question), and missing raw
values (NaN: there is no value to move).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing

from .._models._design import row_chunks
from .._preprocessing._terms import Elementwise


def numeric_columns(X):
    """Mask of the raw columns that hold numbers, shape (n_raw,).

    A DataFrame column counts when its dtype is numeric and not boolean; an object array's
    column when every value converts to float (``None`` as missing).
    """
    if hasattr(X, "dtypes") and hasattr(X, "columns"):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        return np.array([is_numeric_dtype(dtype) and not is_bool_dtype(dtype) for dtype in X.dtypes])
    if sp.issparse(X):
        return np.full(X.shape[1], X.dtype.kind in "fiu")
    X = np.asarray(X)
    if X.dtype.kind in "fiu":
        return np.ones(X.shape[1], dtype=bool)
    mask = np.zeros(X.shape[1], dtype=bool)
    if X.dtype.kind == "O":
        for c in range(X.shape[1]):
            try:
                np.asarray([np.nan if v is None else v for v in X[:, c]], dtype=float)
            except (TypeError, ValueError):
                continue
            mask[c] = not any(isinstance(v, bool | np.bool_ | str) for v in X[:, c])
    return mask


def _numeric_values(X_rows, columns):
    """The raw values of ``columns`` as floats (missing: NaN), shape (r, len(columns))."""
    if hasattr(X_rows, "iloc"):
        return X_rows.iloc[:, columns].to_numpy(dtype=float, na_value=np.nan)
    if sp.issparse(X_rows):
        return X_rows[:, columns].toarray().astype(float)
    values = np.asarray(X_rows)[:, columns]
    if values.dtype.kind == "O":
        values = np.where(np.equal(values, None), np.nan, values)
    return values.astype(float)


def _chain_input(model_part, D, n_raw):
    """``Σ_f P[q, i, f] D_i[f, c]``: shape (n_queries, r, n_raw)."""
    n_queries, r, d_out = model_part.shape
    if D is None:
        return np.zeros((n_queries, r, n_raw))
    if isinstance(D, Elementwise):
        valid = np.flatnonzero(D.src >= 0)
        scatter = np.zeros((valid.size, n_raw))
        scatter[np.arange(valid.size), D.src[valid]] = 1.0
        return (model_part[:, :, valid] * D.vals[None, :, valid]) @ scatter
    return np.einsum("qio,ioc->qic", model_part, D.vals)


def _statistics_part(W, sig, rows, n_raw):
    """``W_q σ_i[:, c]`` for the training rows ``rows``: shape (n_queries, r, n_raw)."""
    if sig.col.size == 0:
        return np.zeros((W.shape[0], len(rows), n_raw))
    scatter = np.zeros((sig.col.size, n_raw))
    scatter[np.arange(sig.col.size), sig.col] = 1.0
    return (W[:, sig.stat][:, None, :] * sig.vals[rows][None, :, :]) @ scatter


def raw_perturbation_influence(estimator, query, rows, model_part):
    """Carry ``perturbation_influence`` in the model's features to the raw columns (module docstring).

    Parameters
    ----------
    estimator : fitted InfluenceEstimator whose estimator is a pipeline
    query : the ``_Query`` of the query rows
    rows : ndarray of int
        The selected training rows.
    model_part : ndarray of shape (n_queries, n_selected, n_model_features)
        ``perturbation_influence`` in the model's features.

    Returns
    -------
    ndarray of shape (n_queries, n_selected, n_raw_columns)
    """
    from .._preprocessing import decode_prefix

    X = estimator._raw_X
    n_queries = model_part.shape[0]
    n_raw = X.shape[1]
    channel = estimator._channel
    try:
        node = channel.node if channel is not None else decode_prefix(estimator._prefix)
    except TypeError as error:
        raise ValueError(
            f"perturbation_influence(space='raw') needs the derivatives of every fitted transformer in the "
            f"pipeline ({error}). Use space='model' for the derivatives in the features the final model sees."
        ) from None
    W = sig = None
    if channel is not None:
        _, W = estimator._channel_terms(query)
        sig = channel.input_derivatives(X)
        if sig is None:
            raise ValueError(
                "perturbation_influence(space='raw') under preprocessing='refit' needs every statistic's derivative "
                "in the raw values, which a PCA step keeps factored. Use space='model', or preprocessing='fixed'."
            )
    numeric = numeric_columns(X)
    numeric_idx = np.flatnonzero(numeric)
    n = estimator._design.n_samples
    out = np.full((n_queries, len(rows), n_raw), np.nan)
    floats = n_queries * (model_part.shape[2] + 2 * n_raw) + model_part.shape[2] * n_raw
    for chunk in row_chunks(len(rows), 8 * floats):
        chunk_rows = rows[chunk]
        X_rows = _safe_indexing(X, chunk_rows, axis=0)
        _, _, D = node.forward(X_rows)
        part = _chain_input(model_part[:, chunk], D, n_raw)
        if W is not None:
            s = estimator._weights[chunk_rows]
            scale = np.divide(n, s, out=np.full(s.shape, np.nan), where=s > 0)  # s_i = 0: NaN (docstring)
            part += _statistics_part(W, sig, chunk_rows, n_raw) * scale[None, :, None]
        observed = ~np.isnan(_numeric_values(X_rows, numeric_idx))
        block = np.full(part.shape, np.nan)
        block[:, :, numeric_idx] = np.where(observed[None], part[:, :, numeric_idx], np.nan)
        out[:, chunk] = block
    return out


class PerturbationMixin:
    """:meth:`perturbation_influence` of :class:`InfluenceEstimator`, in the model's features or the raw columns."""

    def perturbation_influence(self, X, y, *, indices=None, space="raw"):
        """Koh & Liang's ``I_pert,loss``: how each query loss moves as a training row's features move.

        .. math::
            \\mathcal{I}_{\\mathrm{pert,loss}}(z_i, z_j)
                = -n \\, g_j^\\top H^{-1} \\nabla_x \\nabla_θ \\ell(z_i, \\hat θ)

        Entry ``[j, i, c]`` times ``s_i/n`` is the derivative of the loss at query ``j``
        with respect to feature ``c`` of training row ``i``, after refitting (the entry is
        per unit of the row's weight; a data-scaled penalty's share does not depend on the
        features and adds nothing).
        **Positive**: increasing that feature raises the query loss.

        For a pipeline, ``space="raw"`` (the default) answers in the raw columns ``X`` was
        fitted on, by the chain rule of the fitted transformers: moving ``x_ic`` moves row
        ``i``'s features by ``D_i = ∂z_i/∂x_ic`` and, under ``preprocessing="refit"``, the
        transformers' statistics by ``σ_i = ∂φ/∂x_ic``, which move every row's features and
        the query's (``W_j`` below, as in :meth:`influence`):

        .. math::
            R_{jic} = \\sum_f \\mathcal{I}_{\\mathrm{pert,loss}}(z_i, z_j)_f \\, D_{i,fc}
                + \\frac{n}{s_i} W_j σ_{i,c}

        so that ``R × s_i/n`` is the derivative again. NaN where there is none: columns
        that are not numeric (categories), missing raw values, and, under ``"refit"`` with
        statistics, rows of weight 0 (they still move the statistics, by an amount that is
        not a multiple of ``s_i``). A numeric column read only by an encoder gets 0. The
        estimator keeps a reference to the training ``X`` for this (not a copy: do not
        modify it in place after ``fit``). ``space="model"``: the features the final model
        sees (after the transformers). The two agree when the estimator is not a pipeline.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query points.
        y : array-like of shape (n_queries,) or (n_queries, n_outputs)
            Their labels or responses.
        indices : array-like of int or bool, default=None
            Training rows to report; ``None``: all (the result has n_queries × n_train ×
            n_features entries: select rows on large data).
        space : {"raw", "model"}, default="raw"
            The features differentiated: a pipeline's raw input columns, or the final
            model's input features.

        Returns
        -------
        perturbation_influence : ndarray of shape (n_queries, n_selected, n_features)
            ``n_features``: the raw columns (``n_features_in_``) for ``space="raw"``, the
            final model's features for ``space="model"``.
        """
        if space not in ("raw", "model"):
            raise ValueError(f"space must be 'raw' or 'model'; got space={space!r}.")
        query = self._query(X, y)
        rows = self._training_rows(indices)
        out = self._model_perturbation_influence(query, rows)
        if space == "model" or self._prefix is None:
            return out
        return raw_perturbation_influence(self, query, rows, out)

    def _model_perturbation_influence(self, query, rows):
        """``perturbation_influence(space="model")`` for a validated query and training rows."""
        objective = self._objective
        if not objective.closed_form:  # a differentiable model: through autograd
            solved = self._solved_query_gradients(query)[:, 0, :]
            out = np.empty((solved.shape[0], len(rows), self._design.n_features))
            for chunk, chunk_rows in self._chunks(rows, solved.shape[0] * self._design.n_features):
                design = self._design.take(chunk_rows)
                out[:, chunk] = objective.input_gradient_products(design.X, design.targets, solved)
            return -self._design.n_samples * out
        k_out, n_col = objective.n_outputs, objective.n_columns
        input_coef = objective.input_coef
        n_features = input_coef.shape[1]
        solved = self._solved_query_gradients(query)
        n_queries = solved.shape[0]
        out = np.empty((n_queries, len(rows), n_features))
        for chunk, chunk_rows in self._chunks(rows, n_queries * (n_features + 2 * k_out)):
            design = self._design.take(chunk_rows)
            along_query = design.dot(solved.reshape(-1, n_col)).reshape(-1, n_queries, k_out)
            curvature = objective.loss.hessian(self._targets[chunk_rows], self._raw[chunk_rows])
            if objective.separable:
                along_query = along_query * curvature[:, None, None]
            else:
                along_query = np.einsum("ikl,iml->imk", curvature, along_query)
            out[:, chunk] = np.einsum("imk,kc->mic", along_query, input_coef) + np.einsum(
                "ik,mkc->mic", self._residuals[chunk_rows], solved[:, :, :n_features]
            )
        out *= -self._design.n_samples
        return out
