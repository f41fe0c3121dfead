"""Categorical raw columns: what if training row ``i`` had another category?

A categorical column has no derivative; the question a user has is discrete. Changing row
``i``'s value in the column from its own category to ``c`` changes the row's features by
``Δx̃_i = x̃_i(c) − x̃_i`` through the fitted transformers (an encoder's one-hot columns,
for instance) and so its loss term by ``s_i (ℓ(z_i(c), θ) − ℓ(z_i, θ))``. The fit then moves
by one Newton step on that change of the objective, and the query loss to first order:

.. math::
    Δθ ≈ −s_i H^{-1} \\bigl(g_i(c) − g_i\\bigr), \\qquad
    Δℓ_q ≈ −s_i\\, g_q^\\top H^{-1} \\bigl(g_i(c) − g_i\\bigr),

with ``g_i(c) = r_i(c) ⊗ x̃_i(c)`` the row's gradient at its new features (exact, not
linearised in ``Δx̃_i``, which is not small).
"""

import numpy as np
from sklearn.utils import Bunch, _safe_indexing
from sklearn.utils.validation import check_is_fitted


class CategoryInfluenceMixin:
    """:meth:`category_influence` of :class:`InfluenceEstimator`."""

    def category_influence(self, X, y, column, *, indices=None):
        """Predicted change of each query loss if a training row had another category.

        .. math::
            Δ_{jic} ≈ -s_i\\, g_j^\\top H^{-1} \\bigl(g_i(c) - g_i\\bigr)

        ``g_i(c)`` is row ``i``'s loss gradient with its value in ``column`` replaced by
        category ``c`` and its features recomputed by the fitted transformers (the
        transformers' statistics are held where they are: a category change does not move
        a mean or a scale of the numeric columns; statistics computed *after* an encoder,
        such as a scaler on one-hot columns, are held too). **Positive**: giving row ``i``
        category ``c`` *raises* the loss at query ``j``. In loss units, like
        :meth:`leave_one_out`; 0 for the row's own category.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_queries, n_features)
            Query points (raw columns).
        y : array-like of shape (n_queries,) or (n_queries, n_outputs)
            Their labels or responses.
        column : str or int
            The categorical raw column: a name for a DataFrame, a position otherwise.
        indices : array-like of int or bool, default=None
            Training rows to report (positions); ``None``: all.

        Returns
        -------
        result : :class:`~sklearn.utils.Bunch`
            ``changes`` of shape (n_queries, n_selected, n_categories) and ``categories``,
            the column's categories seen in training (sorted), in the order of the last axis.
        """
        check_is_fitted(self)
        if self._prefix is None or getattr(self, "_raw_X", None) is None:
            raise ValueError(
                "category_influence needs a pipeline whose transformers encode the categorical column (e.g. a "
                "ColumnTransformer with a OneHotEncoder); this estimator has no transformers."
            )
        if not self._objective.closed_form:
            raise ValueError("category_influence is implemented for linear models and GLMs.")
        query = self._query(X, y)
        rows = self._training_rows(indices)
        raw = self._raw_X
        position = self._column_position(raw, column)
        values = np.asarray(_safe_indexing(raw, position, axis=1), dtype=object)
        present = np.array([not _missing(v) for v in values])
        categories = np.array(sorted(set(values[present].tolist()), key=_sort_key), dtype=object)
        objective, solver = self._objective, self._solver
        k_out = objective.n_outputs
        targets, weights = self._targets[rows], self._weights[rows]
        own = self._design.take(rows).dense()
        own_solves = _output_solves(solver, own, k_out)  # H⁻¹(e_l ⊗ x̃_i), (n_r, K, K, n_columns)
        query_solves = _output_solves(solver, query.design.dense(), k_out)
        own_residuals = self._residuals[rows]
        own_curvature = _curvature(objective, targets, self._raw[rows], k_out)
        before = objective.loss.loss(query.targets, query.raw)
        training = _safe_indexing(raw, rows, axis=0)
        out = np.zeros((query.raw.shape[0], len(rows), categories.size))
        for c, category in enumerate(categories):
            changed = _with_value(training, position, category)
            features = self._model_features(changed, self._prefix, self._design.n_features)
            design = objective.design(features, targets)
            new_raw = objective.raw(design)
            dense = design.dense()
            shift = _replacement_shift(
                (dense, _output_solves(solver, dense, k_out), objective.loss.gradient(targets, new_raw)),
                (own, own_solves, own_residuals),
                (_curvature(objective, targets, new_raw, k_out), own_curvature),
                weights,
                query_solves,
            )
            after = objective.loss.loss(np.expand_dims(query.targets, 1), query.raw[:, None, :] + shift)
            out[:, :, c] = after - before[:, None]
        return Bunch(changes=out, categories=categories)

    def _column_position(self, raw, column):
        names = getattr(raw, "columns", None)
        if names is not None and not isinstance(column, (int, np.integer)):
            if column not in list(names):
                raise ValueError(f"column={column!r} is not a column of the training data; columns: {list(names)}.")
            return list(names).index(column)
        if not isinstance(column, (int, np.integer)) or not 0 <= column < raw.shape[1]:
            raise ValueError(
                f"column must be a column name of the training DataFrame or a position in [0, {raw.shape[1]}); "
                f"got column={column!r}."
            )
        return int(column)


def _output_solves(solver, dense, k_out):
    """``H⁻¹(e_l ⊗ x̃_i)`` as (n, K[l], K[k], n_columns), whatever the solver's layout."""
    solves = solver.solve_output_units(dense)
    if solves.ndim == 2:  # separable: only the diagonal blocks, all equal to H₀⁻¹ x̃_i
        full = np.zeros((dense.shape[0], k_out, k_out, dense.shape[1]))
        full[:, np.arange(k_out), np.arange(k_out), :] = solves[:, None, :]
        return full
    return solves


def _curvature(objective, targets, raw, k_out):
    """``A_i = ∂²ℓ/∂f²`` as (n, K, K)."""
    curvature = objective.loss.hessian(targets, raw)
    if curvature.ndim == 1:
        return curvature[:, None, None] * np.eye(k_out)
    return curvature


def _replacement_shift(new, old, curvatures, weights, query_solves):
    """Raw query shift ``x̃_qᵀ Δθ`` of one Newton step when each row's features are replaced.

    With ``U = [e_l ⊗ x̃'_i, e_l ⊗ x̃_i]`` and ``C = diag(s A'_i, −s A_i)`` the Hessian after the
    replacement is ``H + U C Uᵀ`` and the gradient at ``θ̂`` is ``U β``, ``β = [s r'_i, −s r_i]``:
    Woodbury gives ``Δθ = −H⁻¹ U (I + C M)⁻¹ β`` with ``M = Uᵀ H⁻¹ U`` (2K × 2K per row).
    """
    (dense_new, solves_new, r_new), (dense_old, solves_old, r_old) = new, old
    a_new, a_old = curvatures
    n, k_out = r_new.shape
    vectors = (dense_new, dense_old)
    solves = (solves_new, solves_old)
    M = np.empty((n, 2 * k_out, 2 * k_out))
    for a in range(2):
        for b in range(2):
            # M[(a, k), (b, l)] = v_a · block k of H⁻¹(e_l ⊗ v_b)
            M[:, a * k_out : (a + 1) * k_out, b * k_out : (b + 1) * k_out] = np.einsum(
                "ic,ilkc->ikl", vectors[a], solves[b]
            )
    C = np.zeros_like(M)
    C[:, :k_out, :k_out] = weights[:, None, None] * a_new
    C[:, k_out:, k_out:] = -weights[:, None, None] * a_old
    beta = np.concatenate([weights[:, None] * r_new, -weights[:, None] * r_old], axis=1)
    gamma = np.linalg.solve(np.eye(2 * k_out) + C @ M, beta[..., None])[..., 0]
    # x̃_qᵀ (H⁻¹(e_l ⊗ v))_k = v · block l of H⁻¹(e_k ⊗ x̃_q)
    shift = np.einsum("ic,qklc,il->qik", dense_new, query_solves, gamma[:, :k_out])
    shift += np.einsum("ic,qklc,il->qik", dense_old, query_solves, gamma[:, k_out:])
    return -shift


def _missing(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


def _sort_key(value):
    return (type(value).__name__, value)


def _with_value(frame, position, value):
    """A copy of ``frame`` with every entry of column ``position`` set to ``value`` (the caller's data untouched)."""
    if hasattr(frame, "iloc"):
        changed = frame.copy()
        changed.iloc[:, position] = value
        return changed
    changed = np.array(frame, dtype=object, copy=True)
    changed[:, position] = value
    return changed
