"""The influence quantities of a fitted :class:`InfluenceEstimator` (design contract §1).

Notation: n training rows, weights ``s_i``, per-sample gradients
``g_i = r_i ⊗ x̃_i`` (``r_i = ∂ℓ/∂f``), Hessian ``H`` of the sum-form objective plus
damping. Every method is a pure function of the fitted state; training rows are visited
in chunks bounded by scikit-learn's ``working_memory``, and no ``n × n`` or
``n × n_params`` intermediate is formed unless it is the requested result.
"""

import functools
import numbers
import warnings
from collections import namedtuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted

from .._groups._weights import balanced_classes
from .._labels import labelled, positional_indices
from .._models._design import row_chunks
from .._progress import progress
from ._measures import LossMeasure, collapse, is_loss, measure_query
from ._newton import NewtonStepMixin
from ._perturbation import PerturbationMixin

_METHODS = ("influence", "newton")

_Query = namedtuple("_Query", "design targets raw residuals inputs measure", defaults=(None,))


class InfluenceQuantitiesMixin(NewtonStepMixin, PerturbationMixin):
    """Query methods of :class:`InfluenceEstimator`; see each method for its formula."""

    # --- validation helpers ------------------------------------------------------
    def _query(self, X, y, measure="loss"):
        check_is_fitted(self)
        objective = self._objective
        Xt = self._model_features(X, self._prefix, self._design.n_features)
        if not is_loss(measure):  # r_q = ∂m/∂f of another measure (see _measures)
            measured, design, raw, inputs = measure_query(measure, objective, Xt, y, X, self._query_labels)
            return _Query(design, None, raw, measured.residuals, inputs, measured)
        if y is None:
            raise ValueError(
                "y is required for measure='loss' (the loss of labelled query points); pass the query labels, "
                "or a measure that needs none, such as measure='predict' or 'decision_function'."
            )
        targets = objective.encode(self._query_labels(y, Xt.shape[0]))
        design = objective.design(Xt, targets)
        raw = objective.raw(design)
        measured = LossMeasure(objective.loss, targets, raw)
        return _Query(design, targets, raw, measured.residuals, X, measured)

    def _query_labels(self, y, n_rows):
        """``y`` checked against the fitted model: shape, row count, type; ready for ``encode``.

        A classifier takes one label per row, ``(n,)`` or ``(n, 1)``; a regressor takes its
        training targets' shape, ``(n,)`` and ``(n, 1)`` alike for one output.
        """
        objective = self._objective
        y = np.asarray(y)
        if y.ndim == 0:
            raise ValueError(
                f"y must hold one label or response per query row, an array of shape (n_samples,); got the "
                f"scalar y={y.item()!r}. For a single query point pass a list: y=[{y.item()!r}]."
            )
        if objective.classes is not None:
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            if y.ndim != 1:
                raise ValueError(
                    f"y must hold one class label per query row, shape ({n_rows},) or ({n_rows}, 1), for this "
                    f"single-label classifier; got shape {y.shape}. Pass the labels themselves (the classes are "
                    f"{objective.classes.tolist()[:10]}), not indicator or probability columns."
                )
        elif y.ndim > 0 and y.shape[1:] != self._targets.shape[1:]:
            trailing = self._targets.shape[1:]
            outputs = int(np.prod(trailing))
            if int(np.prod(y.shape[1:])) != outputs:
                columns = ", ".join(map(str, trailing))
                expected = "(n_samples,) or (n_samples, 1)" if outputs == 1 else f"(n_samples, {columns})"
                raise ValueError(
                    f"y must have shape {expected} for this regressor with {outputs} output(s), as in training "
                    f"(n_samples = {n_rows} query rows); got shape {y.shape}."
                )
            y = y.reshape((y.shape[0], *trailing))  # (n,) and (n, 1) alike for one output
        if y.shape[0] != n_rows:
            raise ValueError(f"X and y have inconsistent numbers of rows: {n_rows} and {y.shape[0]}.")
        if objective.classes is not None:
            return y
        try:
            numeric = y.astype(float)
        except (TypeError, ValueError):
            raise ValueError(
                f"y must hold numeric responses for this regressor; got values of dtype {y.dtype} such as "
                f"{y.ravel()[:3].tolist()}. Class labels need a classifier."
            ) from None
        if not np.all(np.isfinite(numeric)):
            raise ValueError("y contains NaN or infinity.")
        return y

    def _training_rows(self, indices):
        check_is_fitted(self)
        indices = positional_indices(self, indices)  # positions only: a pandas Index of labels is refused
        n = self._design.n_samples
        if indices is None:
            return np.arange(n)
        rows = np.asarray(indices)
        if rows.size == 0:
            return np.empty(0, dtype=np.intp)
        if rows.dtype == bool:
            if rows.shape != (n,):
                raise ValueError(f"A boolean indices mask must have shape ({n},); got {rows.shape}.")
            return np.flatnonzero(rows)
        rows = np.atleast_1d(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(
                "indices must be None, a 1-D array of training row positions or a boolean mask; "
                f"got an array of dtype {rows.dtype} and shape {rows.shape}."
            )
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(f"indices must lie in [0, {n}); got values from {rows.min()} to {rows.max()}.")
        return rows

    @staticmethod
    def _check_method(method):
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got method={method!r}.")

    def _chunks(self, rows, floats_per_row, max_floats=None):
        """Yield (positions in the result, training rows) chunk by chunk.

        The rows are a slice when they are contiguous, so that dense ``X`` is read in
        place rather than copied by fancy indexing. ``max_floats``: a cap on the chunk's
        ``floats_per_row × rows`` below ``working_memory``, for callers whose temporaries are
        many and short-lived (then they stay in the caches and the allocator reuses them).
        """
        width = floats_per_row + self._design.n_columns
        contiguous = rows.size > 0 and rows[-1] - rows[0] + 1 == rows.size and np.all(np.diff(rows) == 1)
        max_rows = None if max_floats is None else max(1, max_floats // max(floats_per_row, 1))
        chunks = list(row_chunks(len(rows), 8 * width, max_rows))
        for chunk in progress(chunks, total=len(chunks), description="training rows", verbose=self.verbose):
            if contiguous:
                yield chunk, slice(rows[0] + chunk.start, rows[0] + chunk.stop)
            else:
                yield chunk, rows[chunk]

    @staticmethod
    def _gradients(design, residuals):
        """Per-sample gradients ``r_i ⊗ x̃_i`` of shape (n, n_outputs, n_columns), for few rows."""
        return residuals[:, :, None] * design.dense()[:, None, :]

    def _solved_query_gradients(self, query):
        """``H⁻¹ g_j`` for every query, shape (n_queries, n_outputs, n_columns)."""
        return self._solver.solve(self._gradients(query.design, query.residuals))

    def _unit_shares(self, rows):
        """``κ_i``: row ``i``'s share of a data-scaled penalty per unit of its weight, or None.

        A row carries ``c_i`` of the penalty strength (GLMs: ``α s_i`` of ``α·Σs``; SGD: ``α``
        of ``α·n``); per unit of weight that is ``κ_i = c_i / s_i`` (``α`` for GLMs, ``α/s_i``
        for SGD), and 0 for a row of weight 0, whose share (SGD only) is not proportional to
        its weight.
        """
        if self._penalty_shares is None:
            return None
        s, c = self._weights[rows], self._penalty_shares[rows]
        return np.divide(c, s, out=np.zeros(c.shape), where=s > 0)

    def _share_pull(self, query):
        """``g_jᵀ H⁻¹ q`` for every query, with ``q = ∂(½||θ||²_mask)/∂θ``: shape (n_queries,)."""
        return np.einsum("mk,mk->m", query.residuals, query.design.dot(self._share_solution))

    def _balanced_reweighting(self, method):
        """Whether a refit without a row re-weights every other row (``class_weight="balanced"``).

        The balanced weights ``n / (C n_c)`` are recomputed by the refit, an effect of the same
        order as the row's own: Newton leave-one-out then goes through the group machinery,
        which follows it (one row per group); first order holds the weights fixed and says so.
        """
        try:
            classes = balanced_classes(self)
        except NotImplementedError:  # weighted and balanced: the original weights are not kept
            classes, reason = True, "the fit had sample weights, which the re-weighting would need"
        else:
            reason = None
        if classes is None:
            return False
        if reason is None and self._channel is not None:
            reason = "the re-weighting is not followed together with a pipeline's statistics (preprocessing='refit')"
        if reason is None and method == "influence":
            reason = "method='newton' follows the re-weighting"
        if reason is not None:
            warnings.warn(
                "class_weight='balanced' is recomputed by a refit without a row, re-weighting every other row by "
                f"an amount as large as the row's own effect; this leave-one-out holds the class weights fixed "
                f"({reason}). Pass class_weight as a dict of the fitted weights to make fixed weights the question.",
                UserWarning,
                stacklevel=3,
            )
        return reason is None

    def _channel_terms(self, query):
        """``(V_q, W_q)`` of the statistics channel for the queries (``preprocessing="refit"``), or None.

        ``V_q``: change of each query's raw prediction per unit change of the transformers'
        statistics, the model having followed; ``W_q = r_qᵀ V_q`` (see ``_preprocessing._channel``).
        """
        if self._channel is None:
            return None
        return self._channel.query_terms(query.inputs, query.design, query.residuals, self._objective)

    # --- public quantities ----------------------------------------------------------
    def loss(self, X, y):
        """Per-sample test loss ``ℓ(z, θ̂)`` at the fitted parameters.

        .. math::
            \\ell(z_j, \\hat θ), \\qquad z_j = (x_j, y_j)

        Log-loss ``−log p_y`` for classifiers, un-halved squared error summed over
        outputs ``Σ_k (y_k − f_k)²`` for least squares (the data term of the objective).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Their labels or responses.

        Returns
        -------
        loss : ndarray of shape (n_samples,)
        """
        query = self._query(X, y)
        return self._objective.loss.loss(query.targets, query.raw)

    @labelled("query_train")
    def influence(self, X, y=None, *, measure="loss", indices=None):
        """Koh & Liang's ``I_up,loss``: effect of up-weighting each training row on each query loss.

        .. math::
            \\mathcal{I}_{\\mathrm{up,loss}}(z_i, z_j) = -n \\, g_j^\\top H^{-1} g_i

        ``H/n`` is the Hessian of the mean objective. **Positive**: up-weighting training
        row ``i`` *raises* the loss at query ``j`` (row ``i`` is harmful to ``j``).
        ``influence / n`` is the derivative of the query loss with respect to ``s_i``, and
        ``−(s_i/n)·influence`` is ``leave_one_out(method="influence")``. With a ``measure``
        ``m`` other than the loss, ``g_j = ∂m_j/∂θ`` (``∂ℓ/∂f`` replaced by ``∂m/∂f``): **positive**
        means up-weighting row ``i`` *raises* the measure, and ``influence / n = dm/ds_i``.

        When the penalty scales with the data (GLMs: ``α·Σs``; SGD: ``α·n``), up-weighting
        a row also strengthens the penalty by its share per unit of weight ``κ_i`` (``α``
        for GLMs; ``α/s_i`` for SGD, whose rows carry ``α`` each whatever their weight), and
        ``g_i`` above is ``g_i + κ_i q`` with ``q = ∂(½||θ||²_mask)/∂θ``. For SGD rows of
        weight 0, ``κ_i = 0``: their share leaves with them in :meth:`leave_one_out` only.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query points.
        y : array-like of shape (n_queries,) or (n_queries, n_outputs), default=None
            Their labels or responses: needed by ``measure="loss"``, optional otherwise.
        measure : {"loss", "predict", "predict_proba", "decision_function"} or callable, default="loss"
            What is measured at the queries, ``m`` (user guide, "Influence on what you measure"): the
            loss, the prediction (regressors), the probability of class ``y`` (of every class when
            ``y`` is None), the decision function, or a callable ``m(F)`` / ``m(F, y)`` written with
            ``autograd.numpy`` on the raw predictions ``F`` (n_queries, n_raw_outputs), returning
            one value per query or one number. Result: (n_queries, ...) as below; (n_queries,
            n_components, ...) for several values per query; (...) for one number.
        indices : array-like of int or bool, default=None
            Training rows to report (positions, or a boolean mask); ``None``: all.

        Returns
        -------
        influence : ndarray of shape (n_queries, n_selected)
        """
        query = self._query(X, y, measure)
        rows = self._training_rows(indices)
        n_out = 1 if query.measure.functional else query.raw.shape[0]
        out = np.empty((n_out, len(rows)), dtype=self._design.dtype)
        for _ in self._influence_blocks(query, rows, out):
            pass
        return query.measure.finish(out)

    def _influence_blocks(self, query, rows, out=None, channel=None):
        """Yield ``(chunk, block)``: the influence of every query on the training rows ``rows[chunk]``.

        With ``out`` the blocks are written into it (dense single-output data: one BLAS
        product straight into the result, then one in-place scaling pass); without, each
        block is a temporary bounded by ``working_memory``. ``channel``: the queries'
        :meth:`_channel_terms`, when the caller has them already.
        """
        k_out, n_col = self._objective.n_outputs, self._objective.n_columns
        solved = collapse(query, self._solved_query_gradients(query))
        flat = -self._design.n_samples * solved.reshape(-1, n_col)
        n_queries = solved.shape[0]
        direct = out is not None and k_out == 1 and not sp.issparse(self._design.X)
        temporaries = 0 if direct else (2 if out is not None else 5) * flat.shape[0]  # blocks, ranking copies
        if channel is None:
            channel = self._channel_terms(query)
        through = None if channel is None else self._channel.fold(collapse(query, channel[1]))
        unit_shares = self._unit_shares(rows)
        if unit_shares is not None:  # −n κ_i g_jᵀ H⁻¹ q: one more block-sized temporary
            share_pull = -self._design.n_samples * collapse(query, self._share_pull(query))
            temporaries += n_queries
        for chunk, chunk_rows in self._chunks(rows, temporaries):
            design, residuals = self._design.take(chunk_rows), self._residuals[chunk_rows]
            target = out[:, chunk] if out is not None else np.empty((n_queries, design.n_samples), design.dtype)
            if k_out == 1:
                products = design.dot_transposed(flat, out=target if target.flags.c_contiguous else None)
                np.multiply(products, residuals[:, 0], out=target)
            else:
                products = design.dot_transposed(flat).reshape(n_queries, k_out, -1)
                target[...] = np.einsum("mki,ik->mi", products, residuals)
            if unit_shares is not None:
                target += np.multiply.outer(share_pull, unit_shares[chunk]).astype(target.dtype, copy=False)
            if channel is not None:  # n W_q ψ_i: through the transformers' statistics
                self._channel.accumulate(target, through, chunk_rows, alpha=self._design.n_samples)
            yield chunk, target

    @labelled("top")
    def top_influences(self, X, y=None, *, measure="loss", k=10, indices=None):
        """The ``k`` most harmful and ``k`` most helpful training rows for each query.

        Ranks training rows by :meth:`influence` (``−n g_jᵀ H⁻¹ g_i``) chunk by chunk,
        keeping a running top-``k`` per query, so the full ``n_queries × n_train`` matrix is
        never held: memory is ``n_queries × (2k + chunk)``.

        .. math::
            \text{harmful}_j = \\operatorname{top}_k \\, \\mathcal{I}_{\\mathrm{up,loss}}(z_i, z_j),
            \\qquad \text{helpful}_j = \\operatorname{top}_k \\, \bigl(-\\mathcal{I}_{\\mathrm{up,loss}}(z_i, z_j)\bigr)

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query points.
        y : array-like of shape (n_queries,) or (n_queries, n_outputs), default=None
            Their labels or responses: needed by ``measure="loss"``, optional otherwise.
        measure : {"loss", "predict", "predict_proba", "decision_function"} or callable, default="loss"
            What is measured at the queries, ``m`` (user guide, "Influence on what you measure"): the
            loss, the prediction (regressors), the probability of class ``y`` (of every class when
            ``y`` is None), the decision function, or a callable ``m(F)`` / ``m(F, y)`` written with
            ``autograd.numpy`` on the raw predictions ``F`` (n_queries, n_raw_outputs), returning
            one value per query or one number. Result: (n_queries, ...) as below; (n_queries,
            n_components, ...) for several values per query; (...) for one number.
        k : int, default=10
            Rows to keep on each side (at most the number of selected rows).
        indices : array-like of int or bool, default=None
            Training rows to rank; ``None``: all.

        Returns
        -------
        result : :class:`~sklearn.utils.Bunch`
            ``harmful_indices``, ``harmful_values`` (largest positive influence first) and
            ``helpful_indices``, ``helpful_values`` (most negative influence first), each of
            shape (n_queries, k); indices are training-row positions.
        """
        if isinstance(k, bool | np.bool_) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer; got k={k!r}.")
        query = self._query(X, y, measure)
        rows = self._training_rows(indices)
        k = min(k, len(rows))
        n_queries = 1 if query.measure.functional else query.raw.shape[0]
        best = {side: (np.empty((n_queries, 0), dtype=np.intp), np.empty((n_queries, 0))) for side in (1, -1)}
        for chunk, block in self._influence_blocks(query, rows):
            candidates = rows[chunk]
            width = block.shape[1]
            if width > 2 * k:  # one partition puts the chunk's k smallest first and k largest last
                parts = np.argpartition(block, (k - 1, width - k), axis=1)
                local = {1: parts[:, width - k :], -1: parts[:, :k]}
            for side in (1, -1):
                kept_rows, kept_values = best[side]
                if width > 2 * k:  # the chunk's own top k first: the pool stays n_queries × 2k
                    values = side * np.take_along_axis(block, local[side], axis=1)
                    chunk_rows = candidates[local[side]]
                else:
                    values, chunk_rows = side * block, np.broadcast_to(candidates, block.shape)
                pool_values = np.hstack([kept_values, values])
                pool_rows = np.hstack([kept_rows, chunk_rows])
                if pool_values.shape[1] > k:
                    top = np.argpartition(-pool_values, k - 1, axis=1)[:, :k]
                    pool_values = np.take_along_axis(pool_values, top, axis=1)
                    pool_rows = np.take_along_axis(pool_rows, top, axis=1)
                best[side] = (pool_rows, pool_values)
        result = {}
        for side, name in ((1, "harmful"), (-1, "helpful")):
            kept_rows, kept_values = best[side]
            order = np.argsort(-kept_values, axis=1, kind="stable")
            result[f"{name}_indices"] = query.measure.finish(np.take_along_axis(kept_rows, order, axis=1))
            result[f"{name}_values"] = query.measure.finish(side * np.take_along_axis(kept_values, order, axis=1))
        return Bunch(**result)

    @labelled("train")
    def self_influence(self, *, indices=None, n_probes=None, random_state=None):
        """Self-influence ``n · g_iᵀ H⁻¹ g_i`` (``−I_up,loss(z_i, z_i)`` without a penalty share) of each row.

        .. math::
            \\mathrm{SI}_i = n \\, g_i^\top H^{-1} g_i \\;\\geq 0

        Non-negative for convex models. Large values mark rows the others explain badly
        (mislabel candidates). It is the quadratic form of the row's data gradient only: a
        data-scaled penalty's share (GLMs, SGD) is a shrinkage every row exerts alike, not a
        sign of a badly explained row, and would break the sign; there ``−influence(z_i, z_i)``
        differs from it by ``n κ_i g_iᵀ H⁻¹ q`` (see :meth:`influence`). Exactly
        (``n_probes=None``) it needs the quadratic forms ``x̃_iᵀ H⁻¹ x̃_i``: ``O(n p²)`` with
        the exact solver, one solve per row with CG.

        With ``n_probes=k`` it is estimated from ``k`` solves in all (single-output linear
        models): draw ``z_j ~ N(0, H)`` exactly, as ``H = X̃ᵀ diag(c) X̃ + diag(λ)`` gives
        ``z = X̃ᵀ (√c ⊙ ξ) + √λ ⊙ η``; then ``w_j = H⁻¹ z_j ~ N(0, H⁻¹)`` and
        ``x̃ᵀ H⁻¹ x̃ = E[(x̃ᵀ w)²]``. Each row's estimate is unbiased, non-negative and off
        by a relative standard deviation of ``√(2/k)`` (a scaled χ²_k).

        Parameters
        ----------
        indices : array-like of int or bool, default=None
            Training rows to report; ``None``: all.
        n_probes : int, default=None
            Number of random probes of the stochastic estimate; ``None``: exact.
        random_state : int, RandomState instance or None, default=None
            Seed of the probes. Probe ``j`` draws from its own stream (spawned from the
            seed), so the estimate does not depend on ``working_memory``.

        Returns
        -------
        self_influence : ndarray of shape (n_selected,)
        """
        rows = self._training_rows(indices)
        out = np.empty(len(rows))
        k_out = self._objective.n_outputs
        probes = None if n_probes is None else self._probe_solutions(n_probes, random_state)
        floats = 2 * (k_out * self._design.n_columns if probes is None else probes.shape[0])
        for chunk, chunk_rows in self._chunks(rows, floats, max_floats=2**19):  # temporaries reused, in the caches
            design = self._design.take(chunk_rows)
            if probes is None:
                quad = self._solver.quadratic_forms(design)
            else:
                quad = np.mean(design.dot(probes) ** 2, axis=1)
            r = self._residuals[chunk_rows]
            if self._objective.separable:
                out[chunk] = quad * np.einsum("ik,ik->i", r, r)
            else:
                out[chunk] = np.einsum("ik,ikl,il->i", r, quad, r)
        if self._channel is not None:  # −n r_iᵀ V_i ψ_i: the row's own features move with the statistics
            out -= np.einsum("ik,ik->i", self._residuals[rows], self._channel.own_psi[rows])
        return self._design.n_samples * out

    def _probe_solutions(self, n_probes, random_state):
        """``w_j = H⁻¹ z_j`` for ``z_j ~ N(0, H)``, shape (n_probes, n_columns)."""
        objective = self._objective
        if isinstance(n_probes, bool | np.bool_) or not (isinstance(n_probes, numbers.Integral) and n_probes > 0):
            raise ValueError(f"n_probes must be None or a positive integer; got n_probes={n_probes!r}.")
        if not (objective.separable and objective.closed_form):
            raise ValueError("n_probes (the stochastic estimate) is available for single-output linear models.")
        curvature = self._curvature
        if np.any(curvature < 0):
            raise ValueError(
                "n_probes needs every row's curvature to be non-negative (a convex loss); this model has "
                f"{np.count_nonzero(curvature < 0)} rows of negative curvature. Use the exact self_influence()."
            )
        # probe j draws from its own stream, spawned from the seed: the draws depend on (random_state, j)
        # only, not on how working_memory splits the probes into chunks
        entropy = check_random_state(random_state).randint(np.iinfo(np.uint32).max, size=4, dtype=np.uint32)
        streams = [np.random.default_rng(child) for child in np.random.SeedSequence(entropy).spawn(n_probes)]
        n, n_col = self._design.n_samples, self._design.n_columns
        diagonal = objective.penalty + self._damping  # as H was built in fit, whatever set_params did since
        probes = np.empty((n_probes, n_col))
        for chunk in row_chunks(n_probes, 8 * 3 * (n + n_col)):  # the draws, their stack, the product
            draws = np.stack([streams[j].standard_normal(n + n_col) for j in range(chunk.start, chunk.stop)], axis=1)
            probes[chunk] = self._design.tdot(draws[:n] * np.sqrt(curvature)[:, None]) + draws[n:].T * np.sqrt(diagonal)
        return self._solver.solve(probes[:, None, :])[:, 0, :]

    @labelled("train_params")
    def influence_params(self, *, indices=None):
        """Koh & Liang's ``I_up,params``: direction the parameters move when a row is up-weighted.

        .. math::
            \\mathcal{I}_{\\mathrm{up,params}}(z_i) = -n \\, H^{-1} g_i

        ``influence_params / n`` is ``dθ̂/ds_i``, including the row's share ``κ_i`` of a
        data-scaled penalty per unit of weight (``g_i + κ_i q``, as in :meth:`influence`), so
        that ``influence = g_jᵀ · influence_params`` and ``−(s_i/n)·influence_params`` is
        ``leave_one_out_params(method="influence")``. Columns follow ``params_``.

        Parameters
        ----------
        indices : array-like of int or bool, default=None
            Training rows to report; ``None``: all.

        Returns
        -------
        influence_params : ndarray of shape (n_selected, n_params)
        """
        rows = self._training_rows(indices)
        steps = self._parameter_steps(rows, self._residuals.__getitem__)
        unit_shares = self._unit_shares(rows)
        if unit_shares is not None:
            steps += np.multiply.outer(unit_shares, self._objective.to_public(self._share_solution[None])[0])
        if self._channel is not None:  # −n G ψ_i: through the transformers' statistics
            steps += self._channel.parameter_moves(rows)
        return -self._design.n_samples * steps

    @labelled("query_train")
    def leave_one_out(self, X, y=None, *, measure="loss", method="influence", indices=None):
        """Predicted change of each query loss when each training row is removed.

        .. math::
            \\Delta_{ij} \\approx \\ell(z_j, \\hat θ_{-i}) - \\ell(z_j, \\hat θ)

        ``θ̂₋ᵢ`` is the refit of ``clone(estimator)`` without row ``i``. **Positive**:
        removing row ``i`` *raises* the loss at ``j`` (row ``i`` was helpful). With a ``measure``,
        ``m(θ̂₋ᵢ) − m(θ̂)``: Newton evaluates the measure exactly at the moved raw predictions.

        - ``method="influence"``: first order, ``s_i g_jᵀ H⁻¹ g_i = −(s_i/n)·influence``.
        - ``method="newton"``: one Newton step on the objective without row ``i``,
          ``θ̂₋ᵢ − θ̂ ≈ (H − s_i ∇²ℓ_i)⁻¹ s_i g_i`` (Sherman–Morrison/Woodbury, no
          refactorisation), and the query loss evaluated exactly at the new parameters.
          Exact for least squares. The step is the difference of the Newton steps with and
          without row ``i`` from ``θ̂``, so what the fit left of the gradient ``∇O(θ̂)`` cancels
          (it would otherwise be amplified by ``1/(1 − s_i a_i h_i)`` near leverage 1, where
          ``1 − s_i a_i h_i`` is also computed without cancellation; a warning gives the
          estimated relative error when rounding still matters).

        For estimators whose penalty scales with the data (GLMs: ``α·Σs``; SGD: ``α·n``)
        the row's share of the penalty leaves with it, as it does in a refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query points.
        y : array-like of shape (n_queries,) or (n_queries, n_outputs), default=None
            Their labels or responses: needed by ``measure="loss"``, optional otherwise.
        measure : {"loss", "predict", "predict_proba", "decision_function"} or callable, default="loss"
            What is measured at the queries, ``m`` (user guide, "Influence on what you measure"): the
            loss, the prediction (regressors), the probability of class ``y`` (of every class when
            ``y`` is None), the decision function, or a callable ``m(F)`` / ``m(F, y)`` written with
            ``autograd.numpy`` on the raw predictions ``F`` (n_queries, n_raw_outputs), returning
            one value per query or one number. Result: (n_queries, ...) as below; (n_queries,
            n_components, ...) for several values per query; (...) for one number.
        method : {"influence", "newton"}, default="influence"
            Approximation of the refit.
        indices : array-like of int or bool, default=None
            Training rows to remove (one at a time); ``None``: all.

        Returns
        -------
        leave_one_out : ndarray of shape (n_queries, n_selected)
        """
        self._check_method(method)
        rows = self._training_rows(indices)
        if self._balanced_reweighting(method):
            return np.asarray(self.leave_group_out(X, y, [[i] for i in rows], measure=measure, method="newton"))
        query = self._query(X, y, measure)
        if method == "influence":
            out = np.empty((1 if query.measure.functional else query.raw.shape[0], len(rows)), self._design.dtype)
            channel = self._channel_terms(query)
            for _ in self._influence_blocks(query, rows, out, channel):
                pass
            out = out * (-self._weights[rows] / self._design.n_samples)  # as -(s_i/n)·influence, dtype included
            unmatched = None if self._penalty_shares is None else (self._weights[rows] == 0)
            if unmatched is not None and np.any(unmatched & (self._penalty_shares[rows] != 0)):
                # an SGD row of weight 0 still carries its share α, which influence (per unit of weight) omits
                out[:, unmatched] += np.multiply.outer(
                    collapse(query, self._share_pull(query)), self._penalty_shares[rows][unmatched]
                )
            if channel is not None:  # the transformers count the row once, whatever its weight s_i
                through = self._channel.fold(collapse(query, channel[1]))
                out += (through @ self._channel.stored_psi[rows].T) * (self._weights[rows] - 1.0)
            return query.measure.finish(out)
        objective = self._objective
        k_out, n_col = objective.n_outputs, objective.n_columns
        n_queries = query.raw.shape[0]
        query_solves = self._solver.solve_output_units(query.design.dense()).reshape(-1, n_col)
        if self._penalty_shares is not None:
            share_shift = query.design.dot(self._share_solution)  # x̃_jᵀ (H⁻¹q)_k
        channel = self._channel_terms(query)
        if channel is not None:  # V_q read against the stored Δ (``_preprocessing._propagation``)
            moved_query = [self._channel.fold(channel[0][:, k, :]) for k in range(k_out)]
        out = np.empty((1 if query.measure.functional else n_queries, len(rows)))
        stationary_shift = self._stationary_shift()
        # chunks of about 2 MiB per query-row temporary: the several (queries × chunk) temporaries of the
        # measure are then reused by the allocator, where result-sized ones cost a page fault per page
        for chunk, chunk_rows in self._chunks(rows, 2 * query_solves.shape[0] * k_out, max_floats=2**19):
            coef = self._newton_coefficients(chunk_rows, stationary_shift)
            products = self._design.take(chunk_rows).dot(query_solves)
            if objective.separable:
                shift = products.T[:, :, None] * coef[None, :, :]
            else:
                products = products.reshape(-1, n_queries, k_out, k_out)
                shift = np.einsum("imkl,il->mik", products, coef)
            if self._penalty_shares is not None:
                shift = shift + self._penalty_shares[chunk_rows][None, :, None] * share_shift[:, None, :]
            if channel is not None:  # the statistics move by Δ_i: x̃_qᵀ(−G Δ_i) + Θ ∂x̃_q/∂φ Δ_i
                for k in range(k_out):  # one BLAS product per output (an einsum here was 7× slower)
                    self._channel.accumulate(shift[:, :, k], moved_query[k], chunk_rows, which="delta")
            out[:, chunk] = query.measure.change(query.raw[:, None, :] + shift)
        return query.measure.finish(out)

    @labelled("train_params")
    def leave_one_out_params(self, *, method="influence", indices=None):
        """Predicted parameter change ``θ̂₋ᵢ − θ̂`` when each training row is removed.

        .. math::
            \\hat θ_{-i} - \\hat θ \\approx s_i H^{-1} g_i \\quad (\\text{influence}),
            \\qquad (H - s_i \\nabla^2 \\ell_i)^{-1} s_i g_i \\quad (\\text{newton})

        "After minus before": statsmodels' ``dfbeta`` / ``d_params`` have the opposite
        sign. Columns follow ``params_``.

        Parameters
        ----------
        method : {"influence", "newton"}, default="influence"
            Approximation of the refit (see :meth:`leave_one_out`).
        indices : array-like of int or bool, default=None
            Training rows to remove (one at a time); ``None``: all.

        Returns
        -------
        leave_one_out_params : ndarray of shape (n_selected, n_params)
        """
        self._check_method(method)
        rows = self._training_rows(indices)
        if self._balanced_reweighting(method):
            return np.asarray(self.leave_group_out_params([[i] for i in rows], method="newton"))
        if method == "influence":
            coefficients = self._first_order_coefficients
        else:
            coefficients = functools.partial(self._newton_coefficients, shift=self._stationary_shift())
        steps = self._parameter_steps(rows, coefficients)
        if self._penalty_shares is not None:  # the penalty share leaves with the row
            shared = self._objective.to_public(self._share_solution[None])[0]
            steps += self._penalty_shares[rows][:, None] * shared
        if self._channel is not None:  # through the statistics: + G ψ_i (first order), − G Δ_i (newton)
            if method == "influence":
                steps += self._channel.parameter_moves(rows)
            else:
                steps -= self._channel.parameter_moves(rows, which="delta")
        return steps

    def _first_order_coefficients(self, rows):
        """``c_i = s_i r_i``: the first-order step ``θ̂₋ᵢ − θ̂ ≈ s_i H⁻¹ g_i = H⁻¹ (c_i ⊗ x̃_i)``."""
        return self._weights[rows, None] * self._residuals[rows]

    def _parameter_steps(self, rows, coefficients):
        """``H⁻¹ (c_i ⊗ x̃_i)`` in the public layout, with ``c = coefficients(rows)``."""
        objective = self._objective
        n_params = objective.to_public(np.zeros((1, objective.n_outputs, objective.n_columns))).shape[1]
        out = np.empty((len(rows), n_params))
        for chunk, chunk_rows in self._chunks(rows, 3 * objective.n_outputs * objective.n_columns):
            rhs = self._gradients(self._design.take(chunk_rows), coefficients(chunk_rows))
            out[chunk] = objective.to_public(self._solver.solve(rhs))
        return out
