"""Group removal: the effect of dropping every training row of a group at once (design contract §1).

A group ``G`` (a hospital, a month, a data source, a fold) is removed from the sum-form
objective; its rows' share of a data-scaled penalty (GLMs, SGD) leaves with it. Two
approximations of ``θ̂₋G − θ̂``:

- ``"influence"``: the sum of the rows' first-order steps, ``H⁻¹ Σ_G s_i g_i``;
- ``"newton"``: one block-Newton step on the objective without ``G``,
  ``(H − Σ_G s_i ∇²ℓ_i)⁻¹ Σ_G s_i g_i``, by Woodbury (one ``|G|K × |G|K`` system per group,
  never refactorising ``H``) or, for groups larger than the parameter count, by factorising
  the downdated Hessian (exact solver), chosen automatically.
"""

import functools
import numbers
import warnings

import numpy as np
import scipy.linalg
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._labels import output_is_pandas, pandas, plain_output, query_index
from .._models._design import LinearDesign, row_chunks
from .._models._losses import SquaredError
from .._quantities._measures import collapse
from .._solvers import ExactSolver, objective_cg
from ._inputs import group_members
from ._weights import BalancedReweighting, balanced_classes

_METHODS = ("influence", "newton")
_PATHS = ("auto", "woodbury", "refactorise")

#: ``ρ_G = λ_max(H⁻¹ H_G)`` above which one Newton step is flagged as unreliable (non-quadratic losses).
UNRELIABLE_SHARE = 0.9
#: ``1 − ρ_G`` below which the Hessian without the group is singular to working precision.
SINGULAR_REMAINDER = 1e-10


class GroupInfluenceMixin:
    """Group-removal queries of :class:`InfluenceEstimator`: :meth:`leave_group_out`, :meth:`leave_group_out_params`."""

    # --- groups ------------------------------------------------------------------------
    def _group_members(self, groups):
        """``(labels, members)``: the sorted group labels and each group's training-row positions."""
        check_is_fitted(self)
        return group_members(groups, self._design.n_samples, self.training_index_)

    def _check_group_model(self, method):
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got method={method!r}.")
        if not isinstance(self._design, LinearDesign):
            raise NotImplementedError(
                "leave_group_out supports models whose parameters are a linear model's coefficients and intercepts "
                "(linear models, GLMs, SGD, SVMs); this model's objective is differentiated by autograd (an MLP, "
                "an AutogradModel, HuberRegressor's scale). For a first-order estimate sum "
                "leave_one_out(X, y, indices=rows) over each group's rows; for the exact answer refit without it."
            )

    # --- steps -----------------------------------------------------------------------------
    def _group_steps(self, members, method, path="auto"):
        """``θ̂₋G − θ̂`` in the internal layout, shape (n_groups, n_outputs, n_columns), and the statistics' moves.

        Under ``preprocessing="refit"`` the transformers' statistics move by
        ``Δ_G = Σ_{i∈G} Δ_i`` (newton; ``−Σ_{i∈G} ψ_i``, first order) and the parameters by
        ``−G Δ_G`` more (``G = H⁻¹C``), inside the Newton step; returned as ``moves``
        (n_groups, n_stats), else None.
        """
        objective, design = self._objective, self._design
        k_out, n_col = objective.n_outputs, objective.n_columns
        steps = np.zeros((len(members), k_out, n_col))
        shares = self._penalty_shares
        share_solution = self._share_solution
        channel = self._channel
        moves = None
        if channel is not None:
            per_row = channel.stored_delta if method == "newton" else -channel.stored_psi
            moves = np.stack([per_row[rows].sum(axis=0) for rows in members]) if members else per_row[:0].copy()
            channel.propagation.right(moves)  # the groups' total terms (``_preprocessing._propagation``)
        if method == "newton":
            stationary = self._stationary_shift()
            stationary = np.zeros((k_out, n_col)) if stationary is None else stationary
            exact = isinstance(self._solver, ExactSolver)
            balanced = balanced_classes(self)
            if balanced is not None:
                if channel is not None:
                    raise NotImplementedError(
                        "leave_group_out does not follow class_weight='balanced' and the transformers' statistics "
                        "together yet: use preprocessing='fixed', or a class_weight dict (fixed class weights)."
                    )
                balanced = BalancedReweighting(self, balanced, exact)
            full = (
                objective.hessian(design, self._curvature, self._damping)
                if exact and path != "woodbury" and balanced is None
                else None
            )
        unreliable, singular = [], []
        first_order = {}  # group -> rhs Uβ, solved together below
        woodbury = method == "newton" and path in ("woodbury", "auto") and balanced_classes(self) is None
        for g, rows, dense, solved in self._group_batches(members, woodbury and path, n_col):
            if rows.size == 0:
                continue
            share = 0.0 if shares is None else float(shares[rows].sum())
            beta = self._weights[rows, None] * self._residuals[rows]  # s_i r_i, (m, K)
            extra = share * share_solution if share else np.zeros((k_out, n_col))
            if moves is not None:
                extra = extra - np.einsum("m,mkc->kc", moves[g], channel.solved)
                if method == "newton":  # the group's own gradient at the moved statistics, to first order
                    beta, moved_gradient = self._moved_group_gradient(rows, beta, moves[g])
                    extra = extra + self._solver.solve(moved_gradient[None])[0]
            if method == "influence":
                steps[g] = extra
                first_order[g] = np.einsum("ik,ic->kc", beta, dense)
                continue
            # one Newton step on O₋G from θ̂, minus the one on O: Δθ = H₋G⁻¹(Uβ − Hz) + z + e, with
            # e = c_G H⁻¹q − G Δ_G (the penalty share, the statistics) and z = H⁻¹∇O(θ̂) − e
            z = stationary - extra
            large = rows.size > n_col
            if balanced is not None:  # every row's class weight moves: see _group_weights
                steps[g], rho = balanced.step(rows, dense, beta, objective.penalty_share_gradient() * share)
                if not rho < 1.0 - SINGULAR_REMAINDER:
                    steps[g] = np.nan
                    singular.append(g)
                elif rho > UNRELIABLE_SHARE:
                    unreliable.append((g, rho))
                continue
            if (path == "refactorise" or (path == "auto" and large)) and exact:
                step, rho = self._refactorised_step(full, rows, dense, beta, z)
            elif path == "refactorise" or (path == "auto" and large):
                step, rho = self._downdated_cg_step(rows, dense, beta, z)
            else:
                step, rho = self._woodbury_step(rows, dense, beta, z, solved)
            steps[g] = step + z + extra
            if not rho < 1.0 - SINGULAR_REMAINDER:
                steps[g] = np.nan
                singular.append(g)
            elif rho > UNRELIABLE_SHARE:
                unreliable.append((g, rho))
        if first_order:
            keys = np.fromiter(first_order, dtype=np.intp, count=len(first_order))
            for chunk in row_chunks(len(keys), 8 * 4 * k_out * n_col):
                rhs = np.stack([first_order[g] for g in keys[chunk]])
                steps[keys[chunk]] += self._solver.solve(rhs)
        return steps, moves, unreliable, singular

    def _group_batches(self, members, woodbury, n_col):
        """Yield ``(g, rows, dense, solved)`` group by group; ``solved`` = ``H⁻¹(e_l ⊗ x̃_i)`` for Woodbury groups.

        The Woodbury groups' solves are done for many groups at once (one call per batch of
        rows bounded by ``working_memory``), as a solve of few right-hand sides is dominated
        by its fixed cost.
        """
        design, k_out = self._design, self._objective.n_outputs
        per_row = 8 * (n_col * (1 if self._objective.separable else k_out * k_out) + n_col)
        budget = max(1, next(iter(row_chunks(10**9, per_row))).stop)  # rows per batch
        pending = []

        def flush():
            rows = np.concatenate([members[g] for g in pending]) if pending else np.empty(0, np.intp)
            dense = design.take(rows).dense()
            solved = self._solver.solve_output_units(dense) if rows.size else None
            start = 0
            for g in pending:
                stop = start + members[g].size
                yield g, members[g], dense[start:stop], solved[start:stop]
                start = stop
            pending.clear()

        for g, rows in enumerate(members):
            small = woodbury == "woodbury" or (woodbury == "auto" and rows.size <= n_col)
            if not small or rows.size == 0:
                yield g, rows, design.take(rows).dense(), None
                continue
            if sum(members[h].size for h in pending) + rows.size > budget:
                yield from flush()
            pending.append(g)
        yield from flush()

    def _moved_group_gradient(self, rows, beta, move):
        """The group's ``s_i g_i`` at the statistics ``φ + Δ_G``, to first order: ``(β', b)``.

        ``g_i(φ + Δ) ≈ (r_i + A_i Θ ∂x̃_i/∂φ Δ) ⊗ x̃_i + r_i ⊗ ∂x̃_i/∂φ Δ``: the first part
        keeps the form ``U β'`` of the Woodbury update, the second is the extra gradient
        ``b = Σ_G s_i r_i ⊗ ∂x̃_i/∂φ Δ`` (n_outputs, n_columns).
        """
        raw = self._raw_X.iloc[rows] if hasattr(self._raw_X, "iloc") else self._raw_X[rows]
        _, J, _ = self._channel.node.forward(raw, need_input_jacobian=False, need_output=False)
        own = J.moved(self._objective.input_coef) @ move  # Θ ∂x̃_i/∂φ Δ, (m, K)
        curvature = self._curvature[rows]
        pulled = curvature[:, None] * own if self._objective.separable else np.einsum("ikl,il->ik", curvature, own)
        features = np.zeros((len(rows), self._objective.n_columns))  # ∂x̃_i/∂φ Δ
        np.add.at(features, (slice(None), J.cols), J.vals * move[J.stats])
        return beta + pulled, np.einsum("ik,ic->kc", beta, features)

    def _woodbury_step(self, rows, dense, beta, z, solved):
        """``H₋G⁻¹(Uβ − Hz)`` by Woodbury, and ``ρ_G = λ_max(H⁻¹ H_G)`` when it exceeds ``UNRELIABLE_SHARE``.

        With ``U = [e_l ⊗ x̃_i]``, ``C = diag(s_i A_i) = D²``, ``M = UᵀH⁻¹U`` (``solved`` holds
        ``H⁻¹U``): ``H₋G = H − UCUᵀ`` and ``H₋G⁻¹(Uβ − Hz) + z = H⁻¹Uγ``,
        ``γ = (I − CM)⁻¹ β̃`` with ``β̃ = β − CUᵀz``, computed symmetrically as
        ``γ = β̃ + D (I − S)⁻¹ D M β̃`` with ``S = DMD``, whose eigenvalues are those of
        ``H⁻¹H_G``: a Cholesky factorisation of ``I − S`` (it fails when ``H₋G`` is singular)
        and one of ``ρ̄ I − S`` to tell whether ``ρ_G > ρ̄``; only then is ``ρ_G`` computed.
        One ``|G|K × |G|K`` system, ``|G|`` solves with ``H``. Returns ``ρ_G = 0`` below ``ρ̄``.
        """
        objective = self._objective
        m, k_out = beta.shape
        curvature = self._curvature[rows]  # s_i A_i
        along = dense @ z.T  # x̃_iᵀ z_k, (m, K)
        if objective.separable:
            M = dense @ solved.T
            if np.any(curvature < 0):
                return self._general_woodbury_step(curvature[:, None] * M, beta - curvature[:, None] * along, solved, z)
            root = np.sqrt(curvature)
            S = root[:, None] * M * root
            rhs = beta - curvature[:, None] * along  # (m, K)
        else:
            M = np.einsum("ic,jlkc->ikjl", dense, solved).reshape(m * k_out, m * k_out)
            values, vectors = np.linalg.eigh(curvature)
            rhs = (beta - np.einsum("ikl,il->ik", curvature, along)).reshape(-1, 1)
            if np.any(values < -1e-12 * np.abs(values).max(initial=0.0)):
                C = scipy.linalg.block_diag(*curvature)
                return self._general_woodbury_step(C @ M, rhs, solved, z)
            root = scipy.linalg.block_diag(
                *np.einsum("ikl,il,iml->ikm", vectors, np.sqrt(np.clip(values, 0, None)), vectors)
            )
            S = root @ M @ root
        q = S.shape[0]
        factor, info = scipy.linalg.lapack.dpotrf(np.eye(q) - S, lower=1)
        if info != 0:
            return np.full(z.shape, np.nan), np.inf
        rho = 0.0
        if scipy.linalg.lapack.dpotrf(UNRELIABLE_SHARE * np.eye(q) - S, lower=1)[1] != 0:
            rho = scipy.linalg.eigh(S, eigvals_only=True, subset_by_index=[q - 1, q - 1])[0]
        pushed = M @ rhs
        pushed = root[:, None] * pushed if objective.separable else root @ pushed
        y = scipy.linalg.cho_solve((factor, True), pushed)
        gamma = rhs + (root[:, None] * y if objective.separable else root @ y)
        return self._woodbury_result(gamma.reshape(m, k_out), solved, z), rho

    def _general_woodbury_step(self, CM, rhs, solved, z):
        """As :meth:`_woodbury_step` for a curvature that is not positive semi-definite: ``γ = (I − CM)⁻¹ β̃``."""
        m, k_out = solved.shape[0], z.shape[0]
        rho = np.linalg.eigvals(CM).real.max()
        try:
            gamma = np.linalg.solve(np.eye(CM.shape[0]) - CM, rhs).reshape(m, k_out)
        except np.linalg.LinAlgError:
            return np.full(z.shape, np.nan), np.inf
        return self._woodbury_result(gamma, solved, z), rho

    def _woodbury_result(self, gamma, solved, z):
        """``H⁻¹Uγ − z``."""
        step = gamma.T @ solved if self._objective.separable else np.einsum("il,ilkc->kc", gamma, solved)
        return step - z

    def _refactorised_step(self, full, rows, dense, beta, z):
        """``H₋G⁻¹(Uβ − Hz)`` by factorising ``H₋G = H − Σ_G s_i A_i ⊗ x̃_i x̃_iᵀ``, and ``ρ_G``."""
        objective = self._objective
        k_out, n_col = objective.n_outputs, objective.n_columns
        group = objective.hessian(LinearDesign(dense, False), self._curvature[rows])
        group[np.diag_indices_from(group)] -= np.tile(objective.penalty, 1 if objective.separable else k_out)
        remaining = full - group
        gradient = np.einsum("ik,ic->kc", beta, dense)
        if objective.separable:
            rhs = (gradient - z @ full).T  # H = I ⊗ H₀: H z has rows H₀ z_k
        else:
            rhs = gradient.ravel() - full @ z.ravel()
        rho = scipy.linalg.eigh(group, full, eigvals_only=True, subset_by_index=[len(full) - 1, len(full) - 1])[0]
        try:
            factor = scipy.linalg.cho_factor(remaining)
        except np.linalg.LinAlgError:
            return np.full((k_out, n_col), np.nan), np.inf
        solved = scipy.linalg.cho_solve(factor, rhs)
        return (solved.T if objective.separable else solved.reshape(k_out, n_col)), rho

    def _downdated_cg_step(self, rows, dense, beta, z):
        """``H₋G⁻¹(Uβ − Hz)`` by CG on the matrix-free ``H₋G`` (the group's curvature set to 0), and ``ρ̂_G``.

        For the CG and LiSSA solvers, where ``H`` is never formed. ``ρ̂_G`` is the Rayleigh
        quotient ``ΔᵀH_GΔ / ΔᵀHΔ`` along the step: a lower bound of ``λ_max(H⁻¹H_G)``.
        """
        objective, design = self._objective, self._design
        curvature = self._curvature.copy()
        curvature[rows] = 0.0
        solver = objective_cg(
            objective,
            design,
            curvature,
            self._damping,
            **self._cg_options,
        )
        product = functools.partial(objective.hessian_product, design, self._curvature, damping=self._damping)
        rhs = np.einsum("ik,ic->kc", beta, dense) - product(z[None])[0]
        step = solver.solve(rhs[None])[0]
        whole = np.vdot(step, product(step[None])[0])
        own = objective.hessian_product(LinearDesign(dense, False), self._curvature[rows], step[None])[0]
        group = np.vdot(step, own - objective.penalty * step)  # hessian_product adds the penalty: the group has none
        return step, (group / whole if whole > 0 else 0.0)

    def _warn_groups(self, labels, unreliable, singular):
        if singular:
            warnings.warn(
                f"Removing groups {[labels[g] for g in singular][:10]} leaves a singular Hessian (the remaining rows "
                "cannot identify every parameter, or, with class_weight='balanced', a class has no row left); their "
                "Newton estimates are NaN. Add damping or regularisation, or use method='influence'.",
                RuntimeWarning,
                stacklevel=4,
            )
        if unreliable and not isinstance(self._objective.loss, SquaredError):
            shares = ", ".join(f"{labels[g]!r} ({rho:.2f})" for g, rho in unreliable[:10])
            warnings.warn(
                f"Groups {shares} carry more than {UNRELIABLE_SHARE:.0%} of the curvature of H in some direction "
                "(ρ_G = λ_max(H⁻¹ H_G) in brackets): the rows left keep so little information there that one "
                "Newton step may be 10 % or more off the refit. Refit clone(estimator) without these groups to "
                "check, or split them into smaller groups.",
                RuntimeWarning,
                stacklevel=4,
            )

    def _checked_steps(self, groups, method, path="auto"):
        self._check_group_model(method)
        if path not in _PATHS:
            raise ValueError(f"path must be one of {_PATHS}; got {path!r}.")
        labels, members = self._group_members(groups)
        steps, moves, unreliable, singular = self._group_steps(members, method, path)
        self._warn_groups(labels, unreliable, singular)
        order = [] if self._channel is None else self._channel.order_statistic_transformers
        if order and method == "newton" and any(len(rows) > 1 for rows in members):
            warnings.warn(
                f"The fitted {', '.join(sorted(set(order)))} estimated order statistics (a median, quantiles, "
                "extremes, a mode, spline knots); leave_group_out moves every statistic by the sum of its rows' "
                "own removal changes, which is exact for a row alone but not for several rows of a group: "
                "removing a group can move an order statistic much further (or less). The estimates for groups "
                "of more than one row may be far off: check them with validate_leave_group_out, or use "
                "preprocessing='fixed' (the fitted transformers as part of the data).",
                RuntimeWarning,
                stacklevel=3,
            )
        emptied = self._emptying_groups(members)
        if emptied:  # a refit without every row of a class is not the same model: no estimate
            steps[emptied] = np.nan
            warnings.warn(
                f"Removing groups {[labels[g] for g in emptied][:10]} removes every training row of a class: a "
                "refit could not predict that class any more (scikit-learn would refit a model with fewer classes). "
                "Their estimates are NaN.",
                RuntimeWarning,
                stacklevel=3,
            )
        return labels, steps, moves

    def _emptying_groups(self, members):
        """The groups that hold every training row (of positive weight) of some class, for classifiers."""
        if self._objective.classes is None or len(members) == 0:
            return []
        targets = np.asarray(self._targets).reshape(self._design.n_samples, -1)
        if len(self._objective.classes) == 2:
            classes = (targets[:, 0] > 0).astype(np.intp)
        elif targets.shape[1] == 1:
            classes = targets[:, 0].astype(np.intp)
        else:
            classes = np.argmax(targets, axis=1)
        counts = np.bincount(classes[self._weights > 0], minlength=len(self._objective.classes))
        emptied = []
        for g, rows in enumerate(members):
            rows = np.asarray(rows, dtype=np.intp)
            removed = np.bincount(classes[rows[self._weights[rows] > 0]], minlength=counts.size)
            if np.any((counts > 0) & (removed >= counts)):
                emptied.append(g)
        return emptied

    # --- public ---------------------------------------------------------------------------
    def leave_group_out(self, X, y, groups, *, measure="loss", method="newton"):
        """Predicted change of each query loss when every training row of a group is removed.

        .. math::
            \\Delta_{jG} \\approx \\ell(z_j, \\hat θ_{-G}) - \\ell(z_j, \\hat θ)

        ``θ̂₋G`` is the refit of ``clone(estimator)`` without the rows of ``G``. **Positive**:
        removing the group *raises* the loss at query ``j`` (the group was helpful).

        - ``method="newton"`` (default): one block-Newton step on the objective without
          ``G`` from ``θ̂``,
          ``θ̂₋G − θ̂ ≈ (H − Σ_{i∈G} s_i ∇²ℓ_i)⁻¹ Σ_{i∈G} s_i g_i``, and the query loss
          evaluated exactly at the new parameters. Exact for least squares (Ridge,
          LinearRegression, multi-output). As in :meth:`leave_one_out`, the step is the
          difference of the Newton steps with and without ``G``, so what the fit left of
          the gradient cancels; a group of one row gives ``leave_one_out(method="newton")``.
        - ``method="influence"``: first order, the sum over the group's rows of
          ``leave_one_out(method="influence")``, ``Σ_{i∈G} s_i g_jᵀ H⁻¹ g_i``. It ranks
          groups well but underestimates the effect of large or coherent groups (a median
          0.3–0.5× the refit's change at 25 % of the data for logistic and Poisson models in
          the user guide's table, where Newton stays within 0.91–1.05×).

        For estimators whose penalty scales with the data (GLMs: ``α·Σs``; SGD: ``α·n``)
        the group's share of the penalty leaves with it (to first order in the share's own
        curvature, as in :meth:`leave_one_out`).

        With ``class_weight="balanced"`` the refit re-balances: every remaining row of class
        ``c`` is re-weighted by ``ρ_c = w'_c / w_c``, a change of order ``|G|/n`` for all
        rows; the Newton step then uses the re-weighted gradient and Hessian, formed per
        class (exact solver) or matrix-free (CG), at ``O(p³K³)`` per group (fits without
        ``sample_weight`` only; a weighted fit is refused). ``method="influence"`` stays the
        sum of the rows' first-order estimates, which, as :meth:`leave_one_out`, hold the
        class weights fixed.

        For a pipeline under ``preprocessing="refit"`` the answer is about refitting the
        whole pipeline: the transformers' statistics move by ``Δ_G = Σ_{i∈G} Δ_i``
        (``−Σ_{i∈G} ψ_i`` to first order), the parameters follow through ``−H⁻¹C Δ_G``, the
        group's own gradient is taken at the moved statistics and the queries' features
        move with them. Statistics are not additive over rows (a scale computed without
        20 rows is not the sum of 20 one-row changes), so this is exact to second order in
        ``|G|/n`` only: within a few % of refits for groups of up to ~10 % of the data, less
        reliable for larger groups of extreme rows. A group of one row differs from
        :meth:`leave_one_out` (which leaves out the change of the row's own features in its
        gradient) by that second-order term.

        **Cost** (``p`` columns, ``K`` outputs, ``m = |G|``), chosen per group: for
        ``m ≤ p``, Woodbury: ``m`` solves with ``H`` plus ``O(m²pK² + (mK)³)``, never
        refactorising ``H``; for ``m > p``, with the exact solver, ``H − Σ_G s_i ∇²ℓ_i`` is
        formed and factorised, ``O(m p²K² + (pK)³)`` (after one ``O(n p²K²)`` assembly of
        ``H`` per call), and with CG or LiSSA one CG solve on the matrix-free downdated
        Hessian, ``O(iterations · n p K)``. Memory stays ``O(p²K²)`` per group. A warning
        names the groups whose removal takes more than 90 % of ``H``'s curvature in some
        direction (``ρ_G = λ_max(H⁻¹ H_G) > 0.9``; with CG a lower bound along the step),
        where one step may be far from the refit (not for least squares, where it is exact);
        groups whose removal leaves ``H`` singular get NaN.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query points.
        y : array-like of shape (n_queries,) or (n_queries, n_outputs), or None
            Their labels or responses: needed by ``measure="loss"``, optional otherwise.
        groups : array-like of shape (n_train,), or list or dict of arrays
            One label per training row (strings, integers, a pandas Series aligned with the
            training index, a one-column DataFrame): each distinct label is a group, and the
            results are ordered by sorted label (``np.unique(groups)``). A boolean mask of
            shape (n_train,) is one group (labelled ``True``). A list of row-position arrays
            (or boolean masks) gives possibly overlapping groups, labelled by their position
            in the list; a dict ``{label: rows}`` labels them by its keys, in its order.
        measure : {"loss", "predict", "predict_proba", "decision_function"} or callable, default="loss"
            What is measured at the queries, as in :meth:`leave_one_out`: ``m(θ̂₋G) − m(θ̂)``,
            Newton evaluating it exactly. Shape (n_queries, n_components, n_groups) for several
            values per query, (n_groups,) for a callable returning one number.
        method : {"newton", "influence"}, default="newton"
            Approximation of the refit.

        Returns
        -------
        leave_group_out : ndarray of shape (n_queries, n_groups)
            With ``set_output(transform="pandas")``: a DataFrame indexed by the queries'
            labels, with the group labels as columns.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn_influence import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
        >>> source = np.repeat(["a", "b", "c"], 20)
        >>> inf = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        >>> inf.leave_group_out(X[:5], y[:5], source).shape
        (5, 3)
        """
        self._check_group_model(method)
        with plain_output():
            query = self._query(X, y, measure)  # bad queries fail before the groups' steps are computed
        labels, steps, moves = self._checked_steps(groups, method)
        out = self._loss_changes(query, steps, method, moves)
        if not output_is_pandas(self):
            return out
        pd = pandas()
        columns = pd.Index(labels, name="group")
        if out.ndim == 1:  # a functional of the whole query set
            return pd.Series(out, index=columns, name="leave_group_out", copy=False)
        index = query_index(self, X, out.shape[:-1])
        return pd.DataFrame(out.reshape(len(index), -1), index=index, columns=columns, copy=False)

    def _loss_changes(self, query, steps, method, moves=None):
        """``ℓ(z_j, θ̂ + Δθ_G) − ℓ(z_j, θ̂)`` (newton) or ``g_jᵀ Δθ_G`` (influence), chunked by groups.

        With the statistics' ``moves`` the query's own features move too: its raw prediction
        by ``Θ ∂x̃_q/∂φ Δ_G = (V_q + x̃_qᵀG) Δ_G``.
        """
        if moves is not None:
            V, _ = self._channel_terms(query)
            moved = V + self._channel._along(query.design)  # Θ ∂x̃_q/∂φ, (n_q, K, n_stats)
        n_groups, k_out, n_col = steps.shape
        n_queries = query.raw.shape[0]
        out = np.empty((1 if query.measure.functional else n_queries, n_groups))
        per_group = max(1, (2**24) // max(1, n_queries * k_out))  # ~128 MB of shifts at a time
        for start in range(0, n_groups, per_group):
            block = slice(start, min(start + per_group, n_groups))
            shift = query.design.dot(steps[block].reshape(-1, n_col)).reshape(n_queries, -1, k_out)
            if moves is not None:
                shift += np.einsum("qkm,gm->qgk", moved, moves[block])
            if method == "influence":
                out[:, block] = collapse(query, np.einsum("qgk,qk->qg", shift, query.residuals))
            else:  # the measure (by default the loss) evaluated exactly at the moved raw predictions
                out[:, block] = query.measure.change(query.raw[:, None, :] + shift)
        return query.measure.finish(out)

    def leave_group_out_params(self, groups, *, method="newton"):
        """Predicted parameter change ``θ̂₋G − θ̂`` when every training row of a group is removed.

        .. math::
            \\hat θ_{-G} - \\hat θ \\approx H^{-1} \\sum_{i∈G} s_i g_i \\quad (\\text{influence}),
            \\qquad \\Bigl(H - \\sum_{i∈G} s_i \\nabla^2 \\ell_i\\Bigr)^{-1} \\sum_{i∈G} s_i g_i
            \\quad (\\text{newton})

        "After minus before"; columns follow ``params_``. See :meth:`leave_group_out` for
        ``groups``, the methods, the cost and the warnings.

        Parameters
        ----------
        groups : array-like of shape (n_train,), or list or dict of arrays
            The groups (see :meth:`leave_group_out`).
        method : {"newton", "influence"}, default="newton"
            Approximation of the refit.

        Returns
        -------
        leave_group_out_params : ndarray of shape (n_groups, n_params)
            With ``set_output(transform="pandas")``: a DataFrame indexed by the group labels,
            with ``param_names_`` as columns.
        """
        labels, steps, _ = self._checked_steps(groups, method)
        out = self._objective.to_public(steps)
        if not output_is_pandas(self):
            return out
        pd = pandas()
        return pd.DataFrame(
            out, index=pd.Index(labels, name="group"), columns=pd.Index(self.param_names_, name="param"), copy=False
        )

    def rank_groups(self, X, y, groups, *, method="newton", k=5):
        """The groups whose removal changes the mean query loss most, in both directions.

        Answers "which group should I worry about?" on a validation set ``(X, y)``: the
        mean over queries of :meth:`leave_group_out`. **Harmful** groups: removing them
        *lowers* the validation loss most (most negative mean change) — candidates for a
        shifted source or bad labels; **helpful** groups: removing them raises it most.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Validation points.
        y : array-like of shape (n_queries,) or (n_queries, n_outputs)
            Their labels or responses.
        groups : array-like of shape (n_train,), or list or dict of arrays
            The groups (see :meth:`leave_group_out`).
        method : {"newton", "influence"}, default="newton"
            Approximation of the refit.
        k : int, default=5
            Groups to report on each side (at most the number of groups).

        Returns
        -------
        result : :class:`~sklearn.utils.Bunch`
            ``harmful`` and ``helpful``: lists of ``(label, mean change of the validation
            loss)``, most extreme first; ``mean_change``: the mean change of every group, in
            the order of ``labels``.
        """
        if isinstance(k, bool | np.bool_) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer; got k={k!r}.")
        self._check_group_model(method)
        with plain_output():
            query = self._query(X, y)
        labels, steps, moves = self._checked_steps(groups, method)
        mean = self._loss_changes(query, steps, method, moves).mean(axis=0)
        order = np.argsort(mean, kind="stable")
        k = min(k, len(labels))
        return Bunch(
            harmful=[(labels[g], float(mean[g])) for g in order[:k]],
            helpful=[(labels[g], float(mean[g])) for g in order[::-1][:k]],
            mean_change=mean,
            labels=labels,
        )
