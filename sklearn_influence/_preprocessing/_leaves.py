"""Fitted transformers decoded into their statistics ``φ`` and the derivatives of each.

One class per transformer family. Each reads the fitted scikit-learn transformer's own
attributes (so the statistics are exactly the ones its ``transform`` uses) and knows,
next to those statistics:

* ``fit_terms(U)`` on the transformer's training input ``U`` (every training row):
  ``psi[i] = ∂φ/∂t_i`` (the derivative in row ``i``'s weight, the input held fixed),
  ``delta[i] = φ₋ᵢ − φ`` (the exact change when row ``i`` is removed), and ``sig``, the
  derivative ``∂φ/∂U[i, c]`` of each statistic with respect to each input value;
* ``forward(U)`` on any rows: the output ``V``, the Jacobian ``∂V/∂φ`` (:class:`Jacobian`)
  and the input Jacobian ``∂V/∂U`` (:class:`Elementwise`, :class:`Full` or ``None`` for
  zero, as for an encoder, whose output does not move continuously with its input).

Rows carry weight 1 in the transformers' statistics (``InfluenceEstimator.fit`` passes
``sample_weight`` to the final model only). Statistics that are not differentiable in
the weights (order statistics: a median, a quantile, a minimum) have ``psi = 0`` (their
derivative almost everywhere) and an exact ``delta``: the neighbouring order statistic.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils._set_output import _get_output_config

from ._terms import (
    Elementwise,
    FactoredSig,
    Full,
    Jacobian,
    Sig,
    column_dots,
    missing_or_none,
    numeric,
    row_blocks,
    take_columns,
)


def _order_statistic_removal(x, q):
    """For every row, the ``q``-th percentile (linear interpolation) of ``x`` without that row, minus with.

    ``x`` (n,) may hold NaN (ignored, as ``np.nanpercentile`` does); rows with NaN get 0.
    Also returns the derivative of the percentile in each value (the interpolation weights).
    """
    observed = np.flatnonzero(~np.isnan(x))
    delta = np.zeros_like(x)
    grad = np.zeros_like(x)
    n_obs = observed.size
    if n_obs < 2:
        return delta, grad
    order = np.argsort(x[observed], kind="stable")
    values = x[observed][order]
    rank = np.empty(n_obs, dtype=np.intp)
    rank[order] = np.arange(n_obs)

    def interpolate(count, skip):
        h = (count - 1) * q / 100.0
        low = int(np.floor(h))
        frac = h - low
        high = min(low + 1, count - 1)
        shift_low = (low >= skip).astype(np.intp) if skip is not None else 0
        shift_high = (high >= skip).astype(np.intp) if skip is not None else 0
        low_v, high_v = values[low + shift_low], values[high + shift_high]
        return low_v + frac * (high_v - low_v), low, high, frac

    current, low, high, frac = interpolate(n_obs, None)
    without, _, _, _ = interpolate(n_obs - 1, rank)
    delta[observed] = without - current
    weight = np.zeros(n_obs)
    weight[low] += 1.0 - frac
    weight[high] += frac
    grad[observed] = weight[rank]
    return delta, grad


def _extreme_removal(x, largest):
    """Change of ``min`` (or ``max``) of ``x`` when each row is removed, and its derivative in each value."""
    observed = ~np.isnan(x)
    delta = np.zeros_like(x)
    grad = np.zeros_like(x)
    values = np.where(observed, x, -np.inf if largest else np.inf)
    if observed.sum() < 2:
        return delta, grad
    order = np.argsort(-values if largest else values, kind="stable")
    best, second = order[0], order[1]
    if values[best] != values[second]:  # a unique extreme: removing it moves the statistic
        delta[best] = values[second] - values[best]
        grad[best] = 1.0
    return delta, grad


class _Leaf:
    """A fitted transformer with per-column statistics (each ``φ_k`` depends on input column ``col[k]``)."""

    order_statistics = False  # medians, quantiles, extremes, modes: group removals are not sums of rows'

    def __init__(self, transformer):
        self.transformer = transformer

    def transform(self, U):
        return self.transformer.transform(U)

    def fit_pass(
        self, U, psi, delta, need_sig=False, need_output=False, need_input_jacobian=False, need_contract=False
    ):
        """``(sig, J, V, D)``: :meth:`fit_terms` (``ψ``, ``Δ`` written into ``psi``, ``delta``) and :meth:`forward`.

        ``sig`` is listed per input value when ``need_sig``; when only ``need_contract`` (a
        step of a ``Pipeline`` after another with statistics) it may be a :class:`FactoredSig`
        instead; else it may be ``None``.
        """
        V, J, D = self.forward(U, need_input_jacobian=need_input_jacobian, need_output=need_output)
        psi[...], delta[...], sig = self.fit_terms(U)
        return sig, J, V, D

    def propagations(self, offset=0):
        """None: one transformer's statistics do not move each other (``_graph.Sequence.propagations``)."""
        return []


class StatelessLeaf(_Leaf):
    """A transformer without continuous statistics (encoders, stateless maps, ``'passthrough'``).

    ``kind``: ``"identity"`` (passthrough), ``"zero"`` (encoders: no continuous dependence on
    the input), ``"polynomial"`` (``PolynomialFeatures``: exact derivatives of the monomials)
    or ``"numerical"`` (a ``FunctionTransformer``: central differences of its function).
    """

    n_stats = 0

    def __init__(self, transformer, kind):
        super().__init__(transformer)
        self.kind = kind

    def transform(self, U):
        return U if self.kind == "identity" else self.transformer.transform(U)

    def fit_terms(self, U):
        n = U.shape[0]
        return np.zeros((n, 0)), np.zeros((n, 0)), Sig.empty(n)

    def forward(self, U, need_input_jacobian=True, need_output=True):
        V = self.transform(U) if need_output else None
        n = U.shape[0]
        jac = Jacobian.empty(n, 0)
        if not need_input_jacobian or self.kind == "zero":
            return V, jac, None
        if self.kind == "identity":
            d = U.shape[1]
            return V, jac, Elementwise(np.arange(d), np.ones((n, d)))
        x = numeric(U)
        if self.kind == "polynomial":
            return V, jac, Full(_polynomial_jacobian(x, self.transformer.powers_))
        return V, jac, Full(self._numerical_jacobian(U, x))

    def _numerical_jacobian(self, U, x):
        d_out = numeric(self.transformer.transform(U)).shape[1]
        out = np.zeros((x.shape[0], d_out, x.shape[1]))
        for c in range(x.shape[1]):
            step = 1e-6 * np.maximum(1.0, np.abs(x[:, c]))
            up, down = x.copy(), x.copy()
            up[:, c] += step
            down[:, c] -= step
            out[:, :, c] = (numeric(self.transformer.transform(up)) - numeric(self.transformer.transform(down))) / (
                2 * step[:, None]
            )
        return out


def _polynomial_jacobian(x, powers):
    """``∂(Π_k x_k^{p_ok})/∂x_c = p_oc x_c^{p_oc − 1} Π_{k≠c} x_k^{p_ok}``, shape (n, n_out, n_in)."""
    n, d_in = x.shape
    out = np.zeros((n, powers.shape[0], d_in))
    for c in range(d_in):
        reduced = powers.copy()
        active = reduced[:, c] > 0
        reduced[active, c] -= 1
        monomials = np.prod(x[:, None, :] ** reduced[None, :, :], axis=2)
        out[:, :, c] = np.where(active, powers[:, c], 0.0)[None, :] * monomials
    return out


class AffineLeaf(_Leaf):
    """Scalers ``z = (x − center)/scale`` per column: ``StandardScaler``, ``RobustScaler``,
    ``MinMaxScaler``, ``MaxAbsScaler``.

    Statistics: the center of every centred column, then the scale of every scaled,
    non-constant column (constant columns keep scale 1 in scikit-learn and do not move).
    ``MinMaxScaler`` is written as ``center = min − a·(max − min)/(b − a)`` … through its
    own statistics ``(min, max)``; see :class:`MinMaxLeaf`.
    """

    def __init__(self, transformer, center, scale, center_stat, scale_stat):
        super().__init__(transformer)
        self.center = center  # (d,) zeros when not centring
        self.scale = scale  # (d,) ones when not scaling
        self.center_cols = np.flatnonzero(center_stat)
        self.scale_cols = np.flatnonzero(scale_stat)
        self.n_stats = self.center_cols.size + self.scale_cols.size

    @property
    def stat_cols(self):
        return np.concatenate([self.center_cols, self.scale_cols])

    def forward(self, U, need_input_jacobian=True, need_output=True):
        V = self.transform(U) if need_output else None
        x = numeric(U)
        return (V, *self._jacobians(x, missing_or_none(x), need_input_jacobian))

    def _jacobians(self, x, missing, need_input_jacobian):
        """``∂z/∂φ`` and (when asked, else ``None``) ``∂z/∂x`` at the rows ``x`` (``missing``: mask or ``None``).

        ``∂z/∂center = −1/scale`` and ``∂z/∂x = 1/scale`` are the same on every row without a
        missing value: then they are read-only broadcast views, not (n, d) arrays.
        """
        n, d = x.shape
        c, s = self.center_cols, self.scale_cols
        parts = []
        if c.size:
            by_center = -1.0 / self.scale[c]
            by_center = (
                np.broadcast_to(by_center, (n, c.size))
                if missing is None
                else np.where(take_columns(missing, c), 0.0, by_center)
            )
            parts.append((c, np.arange(c.size), by_center))
        if s.size:
            by_scale = take_columns(x, s) - self.center[s]  # ∂z/∂scale = −z/scale = −(x − center)/scale²
            by_scale *= -1.0 / self.scale[s] ** 2
            if missing is not None:
                by_scale[take_columns(missing, s)] = 0.0
            parts.append((s, c.size + np.arange(s.size), by_scale))
        jac = Jacobian.from_parts(parts, n, self.n_stats)  # stat k moves its column
        if not need_input_jacobian:
            return jac, None
        inverse = 1.0 / self.scale
        return jac, Elementwise(
            np.arange(d), np.broadcast_to(inverse, (n, d)) if missing is None else np.where(missing, 0.0, inverse)
        )


class StandardScalerLeaf(AffineLeaf):
    """``StandardScaler``: center ``μ_c`` (mean), scale ``σ_c = √v_c`` (population variance).

    .. math::
        ∂μ/∂t_i = (x_i − μ)/S, \\quad ∂v/∂t_i = ((x_i − μ)^2 − v)/S, \\qquad
        μ_{-i} − μ = −(x_i − μ)/(S − 1), \\quad v_{-i} = \\frac{S v − S (x_i − μ)^2/(S − 1)}{S − 1}

    over the ``S`` observed rows of the column (NaN rows are ignored, as scikit-learn does).
    """

    def __init__(self, transformer):
        d = transformer.n_features_in_
        with_mean, with_std = transformer.with_mean, transformer.with_std
        center = transformer.mean_ if with_mean else np.zeros(d)
        scale = transformer.scale_ if with_std else np.ones(d)
        var = transformer.var_ if with_std else None
        constant = np.zeros(d, bool) if not with_std else ~np.isclose(np.sqrt(var), scale, rtol=1e-9, atol=0)
        super().__init__(transformer, center, scale, np.full(d, with_mean), np.full(d, bool(with_std)) & ~constant)

    def fit_terms(self, U):
        x = numeric(U)
        n = x.shape[0]
        psi, delta = np.empty((n, self.n_stats)), np.empty((n, self.n_stats))
        sig = self._write_terms(x, missing_or_none(x), psi, delta, "listed")
        return psi, delta, sig

    def fit_pass(
        self, U, psi, delta, need_sig=False, need_output=False, need_input_jacobian=False, need_contract=False
    ):
        """:meth:`fit_terms` and :meth:`forward` in one pass: ``x`` and its mask read once, ``ψ``, ``Δ`` in place."""
        V = self.transform(U) if need_output else None
        x = numeric(U)
        missing = missing_or_none(x)
        sig = self._write_terms(x, missing, psi, delta, "listed" if need_sig else "factored" if need_contract else None)
        J, D = self._jacobians(x, missing, need_input_jacobian)
        return sig, J, V, D

    def _fitted_moments(self, S):
        """``(mean_, var_)`` of the fitted scaler when it saw exactly ``S`` values per column (it was fitted on
        these rows, as ``InfluenceEstimator.fit`` does), else ``None`` (recomputed from the rows)."""
        mean, var = getattr(self.transformer, "mean_", None), getattr(self.transformer, "var_", None)
        seen = getattr(self.transformer, "n_samples_seen_", None)
        if mean is None or var is None or seen is None or not np.array_equal(np.broadcast_to(seen, S.shape), S):
            return None
        return np.asarray(mean, dtype=float), np.asarray(var, dtype=float)

    def _write_terms(self, x, missing, psi, delta, sig):
        """``ψ`` and ``Δ`` of every statistic written into ``psi``, ``delta`` (n, n_stats); returns ``sig``.

        ``sig``: ``"listed"`` (a :class:`Sig`), ``"factored"`` (a :class:`FactoredSig`: only its
        contraction with an earlier step's Jacobian) or ``None``. Over blocks of rows (the
        variances, unless the fitted scaler has them, then the terms): no n-sized temporaries.
        """
        n, d = x.shape
        c, s = self.center_cols, self.scale_cols
        n_center = c.size
        S = np.full(d, float(n)) if missing is None else (n - missing.sum(axis=0)).astype(float)
        blocks = row_blocks(n, d, 2**18)  # the terms are column-major: longer runs per column
        fitted = self._fitted_moments(S)
        if fitted is not None:  # the transformer's own mean and variance, fitted on these rows
            mean, var = fitted
        else:
            mean = x.mean(axis=0) if missing is None else np.nanmean(x, axis=0)

        def deviations(rows):
            """``x − μ`` on ``rows``, 0 where missing (a missing value has no weight in the statistics)."""
            dev = x[rows] - mean
            if missing is not None:
                dev[missing[rows]] = 0.0
            return dev

        S_s, remaining = S[s], np.maximum(S - 1.0, 1.0)
        if fitted is None:
            var = sum(np.square(take_columns(deviations(rows), s)).sum(axis=0) for rows in blocks) / S_s
        else:
            var = var[s]
        sd = np.sqrt(var)
        listed = np.empty((n, self.n_stats)) if sig == "listed" else None
        for rows in blocks:
            dev = deviations(rows)
            psi_rows, delta_rows = psi[rows], delta[rows]
            np.multiply(take_columns(dev, c), 1.0 / S[c], out=psi_rows[:, :n_center])
            np.multiply(take_columns(dev, c), -1.0 / remaining[c], out=delta_rows[:, :n_center])
            squared = np.square(take_columns(dev, s))
            np.subtract(squared, var, out=psi_rows[:, n_center:])
            psi_rows[:, n_center:] *= 1.0 / (2 * S_s * sd)
            # Δσ = √v₋ᵢ − σ with v₋ᵢ = S v/(S − 1) − S (x_i − μ)²/(S − 1)², in place in the squares
            squared *= -S_s / remaining[s] ** 2
            squared += S_s * var / remaining[s]
            np.maximum(squared, 0.0, out=squared)
            np.sqrt(squared, out=squared)
            np.subtract(squared, sd, out=delta_rows[:, n_center:])
            if missing is not None:
                psi_rows[:, n_center:][take_columns(missing[rows], s)] = 0.0
                delta_rows[:, n_center:][take_columns(missing[rows], s)] = 0.0
            if listed is not None:
                listed[rows, :n_center] = (1.0 if missing is None else ~take_columns(missing[rows], c)) / S[c]
                np.multiply(take_columns(dev, s), 1.0 / (S_s * sd), out=listed[rows, n_center:])
        if sig is None:
            return None
        if sig == "listed":
            return Sig(np.arange(self.n_stats), self.stat_cols, listed)
        center_of, scale_of = np.full(d, -1), np.full(d, -1)
        center_of[c], scale_of[s] = np.arange(n_center), np.arange(s.size)

        def contract(J, n_stats):
            """``∂μ/∂U = observed/S``, ``∂σ/∂U = (x − μ)/(S σ)`` against ``∂U/∂φ_prev``, column by column."""
            L = np.zeros((n_stats, J.n_stats))
            for cols, stats, vals in J.parts:
                e = np.flatnonzero(center_of[cols] >= 0)
                if e.size:
                    if missing is None:
                        sums = vals[:, e].sum(axis=0)
                    else:
                        sums = sum(
                            column_dots((~missing[rows]).astype(float), cols[e], vals[rows], e) for rows in blocks
                        )
                    np.add.at(L, (center_of[cols[e]], stats[e]), sums / S[cols[e]])
                e = np.flatnonzero(scale_of[cols] >= 0)
                if e.size:
                    k = scale_of[cols[e]]
                    dots = sum(column_dots(deviations(rows), cols[e], vals[rows], e) for rows in blocks)
                    np.add.at(L, (n_center + k, stats[e]), dots / (S_s * sd)[k])
            return L

        return FactoredSig(contract)


class RobustScalerLeaf(AffineLeaf):
    """``RobustScaler``: center the median, scale the interquantile range (``np.nanpercentile``).

    Order statistics: ``psi = 0``; ``delta`` the percentiles recomputed without the row.
    """

    order_statistics = True

    def __init__(self, transformer):
        d = transformer.n_features_in_
        center = transformer.center_ if transformer.with_centering else np.zeros(d)
        scale = transformer.scale_ if transformer.with_scaling else np.ones(d)
        self.q_low, self.q_high = transformer.quantile_range
        self.factor = 1.0
        if transformer.with_scaling and transformer.unit_variance:
            from scipy.stats import norm

            self.factor = norm.ppf(self.q_high / 100.0) - norm.ppf(self.q_low / 100.0)
        scaled = np.full(d, bool(transformer.with_scaling))
        if transformer.with_scaling:
            scaled &= scale != 1.0
        super().__init__(transformer, center, scale, np.full(d, transformer.with_centering), scaled)

    def fit_terms(self, U):
        x = numeric(U)
        n = x.shape[0]
        psi, delta, sig = np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats))
        for k, c in enumerate(self.center_cols):
            delta[:, k], sig[:, k] = _order_statistic_removal(x[:, c], 50.0)
        offset = self.center_cols.size
        for k, c in enumerate(self.scale_cols):
            d_high, g_high = _order_statistic_removal(x[:, c], self.q_high)
            d_low, g_low = _order_statistic_removal(x[:, c], self.q_low)
            delta[:, offset + k] = (d_high - d_low) / self.factor
            sig[:, offset + k] = (g_high - g_low) / self.factor
        return psi, delta, Sig(np.arange(self.n_stats), self.stat_cols, sig)


class MaxAbsScalerLeaf(AffineLeaf):
    """``MaxAbsScaler``: scale ``max_c |x|``; removing the unique largest moves it to the second."""

    order_statistics = True

    def __init__(self, transformer):
        d = transformer.n_features_in_
        scale = transformer.scale_
        super().__init__(transformer, np.zeros(d), scale, np.zeros(d, bool), transformer.max_abs_ > 0)

    def fit_terms(self, U):
        x = numeric(U)
        n = x.shape[0]
        psi, delta, sig = np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats))
        for k, c in enumerate(self.scale_cols):
            delta[:, k], grad = _extreme_removal(np.abs(x[:, c]), largest=True)
            sig[:, k] = grad * np.sign(np.nan_to_num(x[:, c]))
        return psi, delta, Sig(np.arange(self.n_stats), self.stat_cols, sig)


class MinMaxLeaf(_Leaf):
    """``MinMaxScaler``: ``z = a + (b − a)(x − m)/(M − m)`` with statistics ``(m_c, M_c)``.

    .. math::
        ∂z/∂m = (b − a)(x − M)/(M − m)^2, \\qquad ∂z/∂M = −(b − a)(x − m)/(M − m)^2

    Order statistics: ``psi = 0``; removing the unique minimum (maximum) moves it to the
    second smallest (largest). With ``clip=True`` clipped outputs do not move.
    """

    order_statistics = True

    def __init__(self, transformer):
        super().__init__(transformer)
        self.low, self.high = transformer.feature_range
        self.data_min, self.data_max = transformer.data_min_, transformer.data_max_
        self.cols = np.flatnonzero(self.data_max > self.data_min)
        self.n_stats = 2 * self.cols.size

    def fit_terms(self, U):
        x = numeric(U)
        n = x.shape[0]
        psi, delta, sig = np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats)), np.zeros((n, self.n_stats))
        m = self.cols.size
        for k, c in enumerate(self.cols):
            delta[:, k], sig[:, k] = _extreme_removal(x[:, c], largest=False)
            delta[:, m + k], sig[:, m + k] = _extreme_removal(x[:, c], largest=True)
        return psi, delta, Sig(np.arange(self.n_stats), np.concatenate([self.cols, self.cols]), sig)

    def forward(self, U, need_input_jacobian=True, need_output=True):
        V = self.transform(U) if need_output else None
        x = numeric(U)
        n, d = x.shape
        observed = ~np.isnan(x)
        moving = observed.copy()
        if self.transformer.clip:
            z = numeric(self.transform(U) if V is None else V)
            moving &= (z > self.low) & (z < self.high)
        c = self.cols
        span = self.data_max[c] - self.data_min[c]
        width = self.high - self.low
        m = c.size
        xc = np.where(moving[:, c], x[:, c], 0.0)
        by_min = np.where(moving[:, c], width * (xc - self.data_max[c]) / span**2, 0.0)
        by_max = np.where(moving[:, c], -width * (xc - self.data_min[c]) / span**2, 0.0)
        # column c moves with its min (stat k) and its max (stat m + k)
        jac = Jacobian(np.r_[c, c], np.arange(2 * m), np.hstack([by_min, by_max]), self.n_stats)
        if not need_input_jacobian:
            return V, jac, None
        return V, jac, Elementwise(np.arange(d), np.where(moving, self.transformer.scale_, 0.0))


class ImputerLeaf(_Leaf):
    """``SimpleImputer``: ``z = x`` where observed, the fill value ``φ_c`` where missing.

    Statistics: the fill values of the numeric columns the imputer keeps, for the
    ``"mean"`` (``∂φ/∂t_i = (x_i − φ)/S``), ``"median"`` (an order statistic) and
    ``"most_frequent"`` (``psi = 0``; removal changes the mode when its count ties)
    strategies; ``"constant"`` fills do not move. ``add_indicator`` columns are 0/1 and do
    not move either.
    """

    def __init__(self, transformer):
        super().__init__(transformer)
        stats = np.asarray(transformer.statistics_)
        self.numeric_fill = stats.dtype.kind in "fiu" or (
            stats.dtype == object and all(isinstance(v, (int, float, np.number)) for v in stats)
        )
        fill = stats.astype(float) if self.numeric_fill else None
        d = stats.shape[0]
        kept = np.ones(d, bool) if transformer.keep_empty_features else ~_isnan_object(stats)
        self.kept = np.flatnonzero(kept)
        self.fill = fill
        moving = transformer.strategy in ("mean", "median", "most_frequent") and self.numeric_fill
        self.cols = self.kept[~np.isnan(fill[self.kept])] if moving else np.empty(0, dtype=np.intp)
        self.n_stats = self.cols.size
        self.n_indicator = 0 if transformer.indicator_ is None else len(transformer.indicator_.features_)
        self.order_statistics = transformer.strategy in ("median", "most_frequent")

    def _missing(self, U, x):
        if self.numeric_fill is False:
            return None
        value = self.transformer.missing_values
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.isnan(x)
        return np.isnan(x) | (x == value)

    def fit_terms(self, U):
        n = U.shape[0]
        if self.n_stats == 0:
            return np.zeros((n, 0)), np.zeros((n, 0)), Sig.empty(n)
        x = numeric(U)
        psi, delta = np.empty((n, self.n_stats)), np.empty((n, self.n_stats))
        return psi, delta, self._write_terms(x, self._missing(U, x), psi, delta, listed=True)

    def fit_pass(
        self, U, psi, delta, need_sig=False, need_output=False, need_input_jacobian=False, need_contract=False
    ):
        """:meth:`fit_terms` and :meth:`forward` in one pass: ``x`` and its mask read once, ``ψ``, ``Δ`` in place."""
        if self.n_stats == 0 or not self.numeric_fill:
            return super().fit_pass(U, psi, delta, need_sig, need_output, need_input_jacobian, need_contract)
        x = numeric(U)
        missing = self._missing(U, x)
        V = self._output(U, x, missing) if need_output else None
        sig = self._write_terms(x, missing, psi, delta, listed=need_sig or need_contract)
        J, D = self._jacobians(x, missing, need_input_jacobian)
        return sig, J, V, D

    def _output(self, U, x, missing):
        """``transform(U)``, assembled from ``x`` and its mask when the imputer's output is a plain float array.

        The kept columns with their missing values filled, then the indicator columns: what
        ``SimpleImputer.transform`` computes for numeric dense input, without a second read of ``U``.
        """
        plain = _get_output_config("transform", self.transformer)["dense"] == "default"
        dtypes = U.dtypes if hasattr(U, "dtypes") else [getattr(U, "dtype", None)]
        float64 = not sp.issparse(U) and all(dtype == np.float64 for dtype in dtypes)  # else transform keeps its dtype
        if not (plain and float64) or self.transformer.keep_empty_features or self.kept.size != x.shape[1]:
            return self.transform(U)
        d = x.shape[1]
        out = np.empty((x.shape[0], d + self.n_indicator), order="F")  # column by column, as the next step reads it
        np.copyto(out[:, :d], x)
        if missing.any():
            np.copyto(out[:, :d], self.fill, where=missing)
        if self.n_indicator:
            out[:, d:] = missing[:, self.transformer.indicator_.features_]
        return out

    def _write_terms(self, x, missing, psi, delta, listed):
        """``ψ`` and ``Δ`` of the fill values written into ``psi``, ``delta``; returns their ``Sig`` if ``listed``."""
        n = x.shape[0]
        missing = take_columns(missing, self.cols)
        strategy = self.transformer.strategy
        if strategy == "mean":  # every column at once
            S = (n - missing.sum(axis=0)).astype(float)
            dev = take_columns(x, self.cols) - self.fill[self.cols]
            dev[missing] = 0.0
            np.multiply(dev, 1.0 / S, out=psi)
            np.multiply(dev, -1.0 / np.maximum(S - 1.0, 1.0), out=delta)
            return Sig(np.arange(self.n_stats), self.cols, ~missing / S) if listed else None
        psi[...] = 0.0
        sig = np.zeros((n, self.n_stats))
        for k, c in enumerate(self.cols):
            values = np.where(missing[:, k], np.nan, x[:, c])
            if strategy == "median":
                delta[:, k], sig[:, k] = _order_statistic_removal(values, 50.0)
            else:
                delta[:, k] = _mode_removal(values, self.fill[c])
        return Sig(np.arange(self.n_stats), self.cols, sig) if listed else None

    def forward(self, U, need_input_jacobian=True, need_output=True):
        n = U.shape[0]
        if self.n_stats == 0 and not need_input_jacobian or not self.numeric_fill:
            return self.transform(U) if need_output else None, Jacobian.empty(n, self.n_stats), None
        x = numeric(U)
        missing = self._missing(U, x)
        V = self._output(U, x, missing) if need_output else None
        return (V, *self._jacobians(x, missing, need_input_jacobian))

    def _jacobians(self, x, missing, need_input_jacobian):
        """``∂z/∂φ`` (1 where the value is missing) and, when asked, ``∂z/∂x`` (1 where observed)."""
        n = x.shape[0]
        position = np.full(self.transformer.statistics_.shape[0], -1)
        position[self.kept] = np.arange(self.kept.size)
        fill_moves = take_columns(missing, self.cols).astype(float)  # ∂z/∂fill = 1 where missing
        jac = Jacobian(position[self.cols], np.arange(self.n_stats), fill_moves, self.n_stats)
        if not need_input_jacobian:
            return jac, None
        d_out = self.kept.size + self.n_indicator
        src = np.full(d_out, -1)
        src[: self.kept.size] = self.kept
        dvals = np.zeros((n, d_out))
        dvals[:, : self.kept.size] = ~take_columns(missing, self.kept)
        return jac, Elementwise(src, dvals)


def _isnan_object(values):
    return np.array([isinstance(v, float) and np.isnan(v) for v in values.tolist()], dtype=bool)


def _mode_removal(values, mode):
    """Change of scikit-learn's most frequent value (smallest among ties) when each row is removed."""
    observed = ~np.isnan(values)
    delta = np.zeros_like(values)
    uniques, counts = np.unique(values[observed], return_counts=True)
    top = counts[uniques == mode]
    if uniques.size < 2 or top.size == 0:
        return delta
    top = top[0]
    others = uniques != mode
    best_other = counts[others].max()
    if top - 1 > best_other:
        return delta
    tied = uniques[others][counts[others] == best_other]
    new_mode = min(tied.min(), mode) if top - 1 == best_other else tied.min()
    delta[observed & (values == mode)] = new_mode - mode
    return delta
