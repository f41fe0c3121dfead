"""Composition of transformer statistics through ``Pipeline``, ``ColumnTransformer`` and ``FeatureUnion``.

A node (a leaf of ``_leaves`` or a composite here) maps its input ``U`` to its output ``V``
and owns the statistics ``φ`` of every transformer inside it. Composites chain the
leaves' terms:

* in a sequence ``U → V₁ → V₂ …`` the statistics of a later step depend on the earlier
  steps' statistics through their outputs: ``φ_b = stat_b(V_a(φ_a))`` gives the total
  derivative ``dφ_b/dt_i = ∂φ_b/∂t_i + L_{ba} dφ_a/dt_i`` with
  ``L_{ba} = Σ_j ∂φ_b/∂V_{a,j} · ∂V_{a,j}/∂φ_a`` (one pass over the training rows at fit);
  removals are propagated the same way (exact for the step itself, linear downstream:
  the error is second order in ``1/n``);
* the Jacobian of a sequence's output in ``φ`` is the chain rule through the input
  Jacobians of the later steps;
* a union (``ColumnTransformer``, ``FeatureUnion``) stacks its branches: block-diagonal in
  the statistics, each branch reading its own input columns.
"""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
)
from sklearn.utils import _safe_indexing

from ._bases import PCALeaf, SplineLeaf
from ._leaves import (
    ImputerLeaf,
    MaxAbsScalerLeaf,
    MinMaxLeaf,
    RobustScalerLeaf,
    StandardScalerLeaf,
    StatelessLeaf,
)
from ._propagation import Propagation
from ._terms import Elementwise, FactoredSig, Full, Jacobian, Sig, take_columns

_LEAVES = {
    StandardScaler: StandardScalerLeaf,
    RobustScaler: RobustScalerLeaf,
    MinMaxScaler: MinMaxLeaf,
    MaxAbsScaler: MaxAbsScalerLeaf,
    SimpleImputer: ImputerLeaf,
    OneHotEncoder: lambda t: StatelessLeaf(t, "zero"),
    OrdinalEncoder: lambda t: StatelessLeaf(t, "zero"),
    PolynomialFeatures: lambda t: StatelessLeaf(t, "polynomial"),
    PCA: PCALeaf,
    SplineTransformer: SplineLeaf,
}

#: Transformers whose statistics ``preprocessing="refit"`` follows.
SUPPORTED_TRANSFORMERS = (
    "Pipeline, ColumnTransformer (any remainder), FeatureUnion, StandardScaler, MinMaxScaler, MaxAbsScaler, "
    "RobustScaler, SimpleImputer (every strategy, add_indicator), OneHotEncoder, OrdinalEncoder, "
    "PolynomialFeatures, SplineTransformer, PCA, FunctionTransformer (stateless), 'passthrough'"
)


def _identity(n, d):
    return Elementwise(np.arange(d), np.ones((n, d)))


def _to_full(D, n_in):
    if isinstance(D, Full):
        return D.vals
    n, d_out = D.vals.shape
    out = np.zeros((n, d_out, n_in))
    o = np.flatnonzero(D.src >= 0)
    out[:, o, D.src[o]] = D.vals[:, o]
    return out


def compose_jacobian(D, J):
    """Jacobian of a step's output in earlier statistics: ``∂V/∂U · ∂U/∂φ``."""
    n, m = J.n_rows, J.n_stats
    if D is None or not J.parts:
        return Jacobian.empty(n, m)
    parts = []
    for cols, stats, vals in J.parts:
        if isinstance(D, Elementwise):
            # every output o reads input src[o]: it inherits the entries of that input column
            by_column = {}
            for e, col in enumerate(cols):
                by_column.setdefault(col, []).append(e)
            pairs = [(o, e) for o, col in enumerate(D.src) for e in by_column.get(col, ())]
            if not pairs:
                continue
            outputs, entries = np.asarray(pairs).T
            parts += Jacobian(
                outputs, stats[entries], take_columns(D.vals, outputs) * take_columns(vals, entries), m
            ).parts
            continue
        d_out, e = D.vals.shape[1], cols.size
        product = D.vals[:, :, cols] * vals[:, None, :]  # (n, d_out, entries)
        parts += Jacobian(np.repeat(np.arange(d_out), e), np.tile(stats, d_out), product.reshape(n, d_out * e), m).parts
    return Jacobian.from_parts(parts, n, m)


def compose_input(later, earlier, n_in):
    """Input Jacobian of two steps in sequence (``earlier`` from the sequence's input)."""
    if later is None or earlier is None:
        return None
    if isinstance(later, Elementwise) and isinstance(earlier, Elementwise):
        valid = later.src >= 0
        src = np.full(later.src.shape, -1)
        src[valid] = earlier.src[later.src[valid]]
        vals = np.zeros_like(later.vals)
        vals[:, valid] = later.vals[:, valid] * earlier.vals[:, later.src[valid]]
        return Elementwise(src, vals)
    n_mid = earlier.vals.shape[1]
    return Full(np.einsum("rom,rmi->roi", _to_full(later, n_mid), _to_full(earlier, n_in)))


def concat_stats(first, second):
    """One Jacobian for the statistics of ``first`` followed by those of ``second`` (no copy of the values)."""
    n_stats = first.n_stats + second.n_stats
    return Jacobian.from_parts(first.parts + second.shifted(0, first.n_stats).parts, first.n_rows, n_stats)


def chain_sig(sig, D, n_in):
    """``∂φ/∂U_a · ∂U_a/∂U``: a step's statistics in the values of the sequence's input."""
    if sig is None or isinstance(sig, FactoredSig):
        return None  # not listed per input value
    n = sig.vals.shape[0]
    if D is None or sig.col.size == 0:
        return Sig.empty(n)
    if isinstance(D, Elementwise):
        src = D.src[sig.col]
        keep = src >= 0
        return Sig(sig.stat[keep], src[keep], sig.vals[:, keep] * D.vals[:, sig.col[keep]])
    full = D.vals[:, sig.col, :] * sig.vals[:, :, None]  # (n, e, n_in)
    e = sig.col.size
    return Sig(np.repeat(sig.stat, n_in), np.tile(np.arange(n_in), e), full.reshape(n, e * n_in))


def contract(sig, J, n_stats):
    """``L = Σ_j ∂φ/∂U_j · ∂U_j/∂φ_prev`` of shape (n_stats, n_prev)."""
    if isinstance(sig, FactoredSig):
        return sig.contract(J, n_stats)
    L = np.zeros((n_stats, J.n_stats))
    if J.n_stats == 0 or sig.col.size == 0:
        return L
    for cols, stats, vals in J.parts:
        common = np.intersect1d(sig.col, cols)
        if common.size == 0:
            continue
        mine, theirs = np.flatnonzero(np.isin(sig.col, common)), np.flatnonzero(np.isin(cols, common))
        # every (mine, theirs) product at once (BLAS) when that is small; else column by column
        if mine.size * theirs.size <= 16 * (mine.size + theirs.size):
            products = take_columns(sig.vals, mine).T @ take_columns(vals, theirs)
            meet = sig.col[mine][:, None] == cols[theirs][None, :]
            a, b = np.nonzero(meet)
            np.add.at(L, (sig.stat[mine][a], stats[theirs][b]), products[a, b])
            continue
        for col in common:  # entries meeting on an input column
            mine, theirs = np.flatnonzero(sig.col == col), np.flatnonzero(cols == col)
            products = sig.vals[:, mine].T @ vals[:, theirs]
            np.add.at(L, (sig.stat[mine][:, None], stats[theirs][None, :]), products)
    return L


def propagate_sig(L, sig_prev, n):
    """``L · ∂φ_prev/∂U``: the earlier statistics' dependence on the input, carried to later ones."""
    if sig_prev is None:
        return None if np.any(L) else Sig.empty(n)
    if sig_prev.col.size == 0 or not np.any(L):
        return Sig.empty(n)
    stats, cols, vals = [], [], []
    for col in np.unique(sig_prev.col):
        entries = np.flatnonzero(sig_prev.col == col)
        # only the later statistics this column's earlier ones reach (per-column scalers: one or two, not all)
        targets = np.flatnonzero(np.any(L[:, sig_prev.stat[entries]] != 0, axis=1))
        vals.append(sig_prev.vals[:, entries] @ L[np.ix_(targets, sig_prev.stat[entries])].T)
        stats.append(targets)
        cols.append(np.full(targets.size, col))
    return Sig(np.concatenate(stats), np.concatenate(cols), np.hstack(vals))


def merge_sig(first, second, offset):
    if first is None or second is None:
        return None  # a step kept its input derivatives factored
    return Sig(
        np.concatenate([first.stat, second.stat + offset]),
        np.concatenate([first.col, second.col]),
        np.hstack([first.vals, second.vals]),
    )


def _fit_terms(node, U):
    """``(psi, delta, sig)`` of a node on its training input ``U``, ``sig`` included; the total terms."""
    n = U.shape[0]
    psi, delta = np.empty((n, node.n_stats)), np.empty((n, node.n_stats))
    sig = node.fit_pass(U, psi, delta, need_sig=True)[0]
    propagation = Propagation(node.propagations())
    return propagation.total(psi), propagation.total(delta), None if isinstance(sig, FactoredSig) else sig


class Sequence:
    """A ``Pipeline`` of nodes (``'passthrough'`` steps dropped)."""

    def __init__(self, estimator, children):
        self.estimator = estimator
        self.children = children
        self.n_stats = sum(child.n_stats for child in children)

    def transform(self, U):
        return self.estimator.transform(U)

    def fit_terms(self, U):
        return _fit_terms(self, U)

    def fit_pass(
        self, U, psi, delta, need_sig=False, need_output=False, need_input_jacobian=False, need_contract=False
    ):
        """``(sig, J, V, D)`` on the training input, in one pass over the steps; ``ψ``, ``Δ`` into ``psi``, ``delta``.

        The direct terms of every statistic (written into the given (n, n_stats) arrays, which
        may be column views of a larger one; how the earlier steps' statistics move a later
        step's is kept as :meth:`propagations`, ``_propagation``), the output's Jacobian in
        them, and (when asked) the output and the input Jacobian. ``sig`` (the statistics'
        derivatives in the input values, total) is ``None`` unless asked for: only raw-column
        answers need it, and chaining it is the costly part.
        """
        if len(self.children) == 1:
            return self.children[0].fit_pass(U, psi, delta, need_sig, need_output, need_input_jacobian, need_contract)
        self.transfers = []
        need_sig = need_sig or need_contract  # a composite lists it
        n, n_in = U.shape
        offset = 0
        sig_total = Sig.empty(n) if need_sig else None
        chain = need_sig or need_input_jacobian
        J, D = Jacobian.empty(n, 0), (_identity(n, n_in) if chain else None)
        for child in self.children:
            last = child is self.children[-1]
            follows = bool(J.parts)  # earlier statistics reach this step's input
            block = slice(offset, offset + child.n_stats)
            sig_a, J_a, V, D_a = child.fit_pass(
                U,
                psi[:, block],
                delta[:, block],
                need_sig,
                need_output=need_output or not last,
                need_input_jacobian=follows or chain,
                need_contract=follows,
            )
            L = contract(sig_a, J, child.n_stats) if follows else np.zeros((child.n_stats, offset))
            self.transfers.append(L)
            if need_sig:
                sig_a = merge_sig(chain_sig(sig_a, D, n_in), propagate_sig(L, sig_total, n), 0)
                sig_total = merge_sig(sig_total, sig_a, offset)
            offset += child.n_stats
            J = concat_stats(compose_jacobian(D_a, J), J_a)
            D = compose_input(D_a, D, n_in) if chain else None
            U = V
        return sig_total, J, U, D

    def propagations(self, offset=0):
        """``(block, start, L)`` of every step after the last :meth:`fit_pass` (``_propagation``), in fit order.

        ``offset``: this node's first statistic among all of them.
        """
        if len(self.children) == 1:
            return self.children[0].propagations(offset)
        if self.n_stats == 0:  # a union does not pass such a branch through fit_pass: nothing recorded
            return []
        steps, start = [], offset
        for child, L in zip(self.children, self.transfers):
            steps += child.propagations(start)
            steps.append((slice(start, start + child.n_stats), offset, L))
            start += child.n_stats
        return steps

    def forward(self, U, need_input_jacobian=True, need_output=True):
        n, n_in = U.shape
        J, D = Jacobian.empty(n, 0), (_identity(n, n_in) if need_input_jacobian else None)
        for child in self.children:
            V, J_a, D_a = child.forward(U, need_output=need_output or child is not self.children[-1])
            J = concat_stats(compose_jacobian(D_a, J), J_a)
            D = compose_input(D_a, D, n_in) if need_input_jacobian else None
            U = V
        return U, J, D


class Union:
    """Branches side by side: ``ColumnTransformer`` (each on its columns) or ``FeatureUnion``.

    ``branches``: ``(node, input columns or None for all, output slice, weight)``.
    """

    def __init__(self, estimator, branches):
        self.estimator = estimator
        self.branches = branches
        self.n_stats = sum(node.n_stats for node, _, _, _ in branches)

    def transform(self, U):
        return self.estimator.transform(U)

    def _inputs(self, U, columns):
        return U if columns is None else _safe_indexing(U, columns, axis=1)

    def fit_terms(self, U):
        return _fit_terms(self, U)

    def fit_pass(
        self, U, psi, delta, need_sig=False, need_output=False, need_input_jacobian=False, need_contract=False
    ):
        """``(sig, J, V, D)`` on the training input, branch by branch; ``ψ``, ``Δ`` into ``psi``, ``delta``."""
        need_sig = need_sig or need_contract  # a composite lists it
        n, n_in = U.shape
        V = self.transform(U) if need_output else None
        d_out = max((out.stop for _, _, out, _ in self.branches), default=0)
        Ds, parts = [], []
        sig = Sig.empty(n) if need_sig else None
        offset = 0
        for node, columns, out, weight in self.branches:
            if node.n_stats == 0:
                if need_input_jacobian:
                    _, _, D_b = node.forward(self._inputs(U, columns), True, need_output=False)
                    Ds.append((D_b, columns, out, weight))
                continue
            block = slice(offset, offset + node.n_stats)
            sig_b, J_b, _, D_b = node.fit_pass(
                self._inputs(U, columns),
                psi[:, block],
                delta[:, block],
                need_sig,
                need_input_jacobian=need_input_jacobian,
            )
            Ds.append((D_b, columns, out, weight))
            if need_sig:
                sig_b = None if isinstance(sig_b, FactoredSig) else sig_b  # not listed per input value
                if columns is not None and sig_b is not None:
                    sig_b = Sig(sig_b.stat, np.asarray(columns)[sig_b.col], sig_b.vals)
                sig = merge_sig(sig, sig_b, offset)
            parts += J_b.shifted(out.start, offset, weight).parts
            offset += node.n_stats
        J = Jacobian.from_parts(parts, n, self.n_stats)
        D = self._input_jacobian(Ds, n, n_in, d_out) if need_input_jacobian else None
        return sig, J, V, D

    def propagations(self, offset=0):
        """The branches' :meth:`Sequence.propagations`, each at its first statistic."""
        steps = []
        for node, _, _, _ in self.branches:
            if node.n_stats:  # fit_pass skips the branches without statistics
                steps += node.propagations(offset)
            offset += node.n_stats
        return steps

    def forward(self, U, need_input_jacobian=True, need_output=True):
        n, n_in = U.shape
        V = self.transform(U) if need_output else None
        d_out = max((out.stop for _, _, out, _ in self.branches), default=0)
        parts, Ds = [], []
        offset = 0
        for node, columns, out, weight in self.branches:
            if node.n_stats == 0 and not need_input_jacobian:  # nothing moves, nothing to chain through
                continue
            _, J_b, D_b = node.forward(self._inputs(U, columns), need_input_jacobian, need_output=False)
            parts += J_b.shifted(out.start, offset, weight).parts
            offset += node.n_stats
            Ds.append((D_b, columns, out, weight))
        J = Jacobian.from_parts(parts, n, self.n_stats)
        if not need_input_jacobian:
            return V, J, None
        return V, J, self._input_jacobian(Ds, n, n_in, d_out)

    @staticmethod
    def _input_jacobian(Ds, n, n_in, d_out):
        if all(D is None or isinstance(D, Elementwise) for D, _, _, _ in Ds):
            src, vals = np.full(d_out, -1), np.zeros((n, d_out))
            for D, columns, out, weight in Ds:
                if D is None:
                    continue
                mapped = D.src if columns is None else np.where(D.src >= 0, np.asarray(columns)[D.src], -1)
                src[out] = mapped
                vals[:, out] = weight * D.vals
            return Elementwise(src, vals)
        full = np.zeros((n, d_out, n_in))
        for D, columns, out, weight in Ds:
            if D is None:
                continue
            branch_in = n_in if columns is None else len(columns)
            part = weight * _to_full(D, branch_in)
            if columns is None:
                full[:, out, :] += part
            else:
                full[:, out, np.asarray(columns)] += part
        return Full(full)


def _column_indices(ct, name):
    indices = getattr(ct, "_transformer_to_input_indices", {}).get(name)
    if indices is None:
        raise TypeError(f"Cannot resolve the input columns of ColumnTransformer step {name!r}.")
    return np.asarray(indices, dtype=np.intp)


def _decode(transformer, path):
    if isinstance(transformer, str) and transformer == "passthrough":
        return StatelessLeaf(None, "identity")
    if isinstance(transformer, Pipeline):
        steps = [(name, step) for name, step in transformer.steps if step is not None and step != "passthrough"]
        return Sequence(transformer, [_decode(step, f"{path}{name}") for name, step in steps])
    if isinstance(transformer, ColumnTransformer):
        weights = transformer.transformer_weights or {}
        branches = []
        for name, step, _ in transformer.transformers_:
            out = transformer.output_indices_.get(name, slice(0, 0))
            if isinstance(step, str) and step == "drop" or out.stop == out.start:
                continue
            node = _decode(step, f"{path}{name} → ")
            branches.append((node, _column_indices(transformer, name), out, weights.get(name, 1.0)))
        return Union(transformer, branches)
    if isinstance(transformer, FeatureUnion):
        weights = transformer.transformer_weights or {}
        branches, start = [], 0
        for name, step in transformer.transformer_list:
            if isinstance(step, str) and step == "drop":
                continue
            node = _decode(step, f"{path}{name} → ")
            width = _output_width(step, transformer, f"{path}{name}")
            branches.append((node, None, slice(start, start + width), weights.get(name, 1.0)))
            start += width
        return Union(transformer, branches)
    if isinstance(transformer, FunctionTransformer):
        return StatelessLeaf(transformer, "identity" if transformer.func is None else "numerical")
    leaf = _LEAVES.get(type(transformer))
    if leaf is None:
        raise TypeError(
            f"preprocessing='refit' cannot follow the statistics of {path}{type(transformer).__name__}. "
            f"Supported transformers: {SUPPORTED_TRANSFORMERS}. Use InfluenceEstimator(..., "
            "preprocessing='fixed') to treat the fitted transformers as part of the data (only the final "
            "model is refit)."
        )
    return leaf(transformer)


def _output_width(step, union, path):
    """How many columns a ``FeatureUnion`` branch puts out (its place in the union's output)."""
    if isinstance(step, str) and step == "passthrough":
        return union.n_features_in_
    try:
        return len(step.get_feature_names_out())
    except AttributeError:
        raise TypeError(
            f"preprocessing='refit' needs the output width of the FeatureUnion branch {path} "
            f"({type(step).__name__}), which has no get_feature_names_out: give it one (for a "
            "FunctionTransformer, feature_names_out='one-to-one' or a callable), or use InfluenceEstimator(..., "
            "preprocessing='fixed') to treat the fitted transformers as part of the data."
        ) from None


def check_refit_supported(prefix):
    """Raise a ``TypeError`` naming the first transformer ``preprocessing="refit"`` cannot follow.

    Works on an unfitted prefix too (only the types are read), so that the error comes
    before a possibly long fit.
    """
    if isinstance(prefix, str) and prefix in ("passthrough", "drop"):
        return
    if prefix is None:
        return
    if isinstance(prefix, Pipeline):
        for name, step in prefix.steps:
            if step is not None and not (isinstance(step, str) and step == "passthrough"):
                _check(step, f"{name} → ")
        return
    _check(prefix, "")


def _check(transformer, path):
    if isinstance(transformer, str):
        return
    if isinstance(transformer, Pipeline):
        for name, step in transformer.steps:
            if step is not None:
                _check(step, f"{path}{name} → ")
    elif isinstance(transformer, ColumnTransformer):
        for name, step, _ in transformer.transformers:
            _check(step, f"{path}{name} → ")
        _check(transformer.remainder, f"{path}remainder → ")
    elif isinstance(transformer, FeatureUnion):
        for name, step in transformer.transformer_list:
            _check(step, f"{path}{name} → ")
    elif isinstance(transformer, FunctionTransformer):
        return
    elif type(transformer) not in _LEAVES:
        _decode(transformer, path)  # raises the error that names it


def decode_prefix(prefix):
    """The statistics node of a fitted transformer prefix (``None``: no prefix)."""
    if prefix is None:
        return None
    return _decode(prefix, "")


def order_statistic_transformers(node):
    """Names of the transformers under ``node`` whose statistics are order statistics (medians, quantiles,
    extremes, modes): removing several rows is not the sum of removing each (``leave_group_out``)."""
    if isinstance(node, Sequence):
        return [name for child in node.children for name in order_statistic_transformers(child)]
    if isinstance(node, Union):
        return [name for branch, _, _, _ in node.branches for name in order_statistic_transformers(branch)]
    if node.n_stats and getattr(node, "order_statistics", False):
        return [type(node.transformer).__name__]
    return []
