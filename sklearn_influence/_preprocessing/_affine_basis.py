"""Fewer columns for the products with the statistics' terms: the exact affine relations among them.

The terms of different statistics are often affine functions of one another, row by row.
A mean imputer's fill value and the mean the scaler after it computes are equal, so their
``ψ`` columns are proportional; a scaler's center and scale of a 0/1 indicator column are
both affine in the indicator, so their terms are proportional too; an order statistic's
``ψ`` is 0. A product ``W ψ_iᵀ`` over all ``m`` columns then equals one over the ``k``
kept columns (and a column of ones when an intercept is needed),

.. math::
    ψ = E\\, T + 1\\, b^\\top, \\qquad E = ψ_{:, \\text{kept}}, \\qquad W ψ_i^\\top = (W T^\\top) E_i^\\top + W b,

with each dropped column ``s = a ψ_t + b`` for its class's kept ``t``; the intercepts ``b``
(the ones column) are added as one constant per row of ``W``. When the kept columns can be
chosen as one run of consecutive statistics, ``E`` is a view of the terms, not a copy.

The relations are found from projections of the terms, ``P = ψᵀ [1, g_1, g_2, g_3]`` with
``g`` uniform random (one BLAS product per array, the cost of reading it once), as in
Freivalds' check. A relation is accepted when the residual of the projections is within
``τ = 1e-11`` of the size of the column's random projections (the ones-probe, ``Σ_i ψ_is``,
can be large for a column with a large mean and is not taken as its size). A column off
a relation by ``ρ`` (relative to that size) then passes only if the independent random
projections of its residual left over by the fit all fall below ``τ``: three for a
proportional relation, two for an affine one, so with probability at most about
``(τ/ρ)²``: ``1e-6`` for ``ρ = 1e-8``, ``1e-10`` for ``ρ = 1e-6``. Each projection row is
scaled by its largest entry first, so neither tiny nor huge terms underflow or overflow.
The search costs ``O(m²)``: it is made only when that is below a few passes over the terms
(:func:`worth_searching`); otherwise the products read every column.
"""

import numpy as np

#: Relative residual of the projections under which a column is taken as affine in another.
RELATION_TOLERANCE = 1e-11

#: Above this many statistics no relations are looked for (the search is quadratic in their number).
MAX_STATISTICS = 1000


def worth_searching(n_stats, n_rows):
    """Whether to look for relations: the search (``O(m²)``) must cost less than a few passes over the terms.

    ``m ≤`` :data:`MAX_STATISTICS` and ``m² ≤ 16 n`` (60 statistics from 225 rows on, 1,000 from 62,500).
    """
    return n_stats <= MAX_STATISTICS and n_stats**2 <= 16 * n_rows


def probes(n_rows, random_state=0):
    """``[1, g_1, g_2, g_3]`` of shape (n_rows, 4), ``g`` uniform on (−½, ½) (seeded: ``fit`` is deterministic)."""
    out = np.empty((n_rows, 4), order="F")  # its transpose meets the column-major terms in one BLAS product
    out[:, 0] = 1.0
    out[:, 1:] = np.random.default_rng(random_state).random((n_rows, 3)) - 0.5
    return out


class AffineBasis:
    """``ψ = E T`` from the projections ``P = ψᵀ probes`` (module docstring).

    Parameters
    ----------
    projections : ndarray of shape (n_stats, 4)
    probe_sums : ndarray of shape (4,)
        ``1ᵀ probes``: the projections of a column of ones.

    Attributes
    ----------
    kept : ndarray of int
        The statistics whose columns ``E`` holds, in order.
    transform : ndarray of shape (n_kept, n_stats)
        ``T``.
    offsets : ndarray of shape (n_stats,)
        ``b``.
    """

    def __init__(self, projections, probe_sums):
        m = projections.shape[0]
        if m > MAX_STATISTICS or not np.all(np.isfinite(projections)):
            self.kept, self.transform, self.offsets = np.arange(m), np.eye(m), np.zeros(m)
            return
        zero = ~np.any(projections != 0.0, axis=1)  # an order statistic's ψ: nothing to read
        slope, intercept, related = _relations(projections, probe_sums)
        constant = related[:, m] & ~zero  # a multiple of the ones column
        classes = _classes(related[:, :m] & related[:, :m].T, ~zero & ~constant)
        kept = _representatives(classes, related[:, :m])
        transform = np.zeros((kept.size + 1, m))
        transform[np.arange(kept.size), kept] = 1.0
        for s in np.flatnonzero(~zero & ~np.isin(np.arange(m), kept)):
            if constant[s]:  # proportional to the ones column
                transform[-1, s] = slope[s, m]
                continue
            t = kept[classes[kept] == classes[s]][0]
            transform[np.flatnonzero(kept == t)[0], s] = slope[s, t]
            transform[-1, s] = intercept[s, t]
        self.kept, self.transform, self.offsets = kept, transform[:-1], transform[-1]

    @property
    def saves(self):
        """Whether ``E`` has fewer columns than the terms."""
        return self.kept.size < self.transform.shape[1]

    def columns(self, terms):
        """``E`` of shape (n_samples, n_kept), column-major: a view of ``terms`` when the kept columns are a run."""
        kept = self.kept
        if kept.size and np.array_equal(kept, np.arange(kept[0], kept[0] + kept.size)):
            return terms[:, kept[0] : kept[0] + kept.size]
        out = np.empty((terms.shape[0], kept.size), order="F")
        for position, s in enumerate(kept):
            out[:, position] = terms[:, s]
        return out


def _relations(projections, probe_sums):
    """``(slope, intercept, related)``, each (m, m + 1): ``P_s ≈ slope·P_t + intercept·1`` for column ``t`` (the
    last: the ones column itself), and whether that holds to :data:`RELATION_TOLERANCE` of the size of
    ``P_s``'s random projections. A proportional fit (no intercept) is taken when it is as good.

    The fits are made on the rows scaled by their largest entry, then scaled back.
    """
    m = projections.shape[0]
    scales = np.abs(projections).max(axis=1)
    scales = np.where(scales > 0, scales, 1.0)
    ones = probe_sums / np.abs(probe_sums).max()
    unit = projections / scales[:, None]
    bases = np.vstack([unit, ones])  # (m + 1, 4)
    tolerance = RELATION_TOLERANCE * np.linalg.norm(unit[:, 1:], axis=1)[:, None]
    bb = np.einsum("tj,tj->t", bases, bases)
    sb = unit @ bases.T  # (m, m + 1): P_s · P_t
    with np.errstate(divide="ignore", invalid="ignore"):
        proportional = np.where(bb > 0, sb / bb, 0.0)
        residual = np.linalg.norm(unit[:, None, :] - proportional[:, :, None] * bases[None], axis=2)
        # with an intercept: least squares on [P_t, 1] (normal equations, 2 × 2)
        bo, oo = bases @ ones, ones @ ones
        so = unit @ ones
        determinant = bb * oo - bo**2
        usable = determinant > 1e-12 * bb * oo
        slope = np.where(usable, (sb * oo - so[:, None] * bo) / determinant, 0.0)
        intercept = np.where(usable, (bb * so[:, None] - bo * sb) / determinant, 0.0)
    affine = np.linalg.norm(unit[:, None, :] - slope[:, :, None] * bases[None] - intercept[:, :, None] * ones, axis=2)
    affine[:, ~usable] = np.inf
    use_proportional = residual <= tolerance
    slope = np.where(use_proportional, proportional, slope)
    intercept = np.where(use_proportional, 0.0, intercept)
    related = use_proportional | (affine <= tolerance)
    np.fill_diagonal(related[:, :m], False)
    # back to the columns' own scales: P_s = (slope·s_s/s_t) P_t + (intercept·s_s/max|1ᵀprobes|) 1ᵀprobes
    base_scales = np.append(scales, np.abs(probe_sums).max())
    slope = slope * scales[:, None] / base_scales[None, :]
    intercept = intercept * scales[:, None] / np.abs(probe_sums).max()
    return slope, intercept, related


def _classes(mutual, active):
    """Class label of each statistic (``-1`` where not ``active``): connected by mutual relations."""
    m = mutual.shape[0]
    label = np.where(active, np.arange(m), -1)
    changed = True
    while changed:  # propagate the smallest label along the relations (m is small)
        linked = np.where(mutual & active[None, :], label[None, :], m)
        smallest = np.minimum(label, linked.min(axis=1, initial=m))
        changed = bool(np.any(smallest[active] != label[active]))
        label[active] = smallest[active]
    return label


def _representatives(classes, related):
    """One kept statistic per class, every member directly related to it; one run of consecutive
    statistics when there is one (then ``E`` is a view), else the first member of each class."""
    labels = np.unique(classes[classes >= 0])
    k = labels.size
    for start in range(classes.size - k + 1):
        window = np.arange(start, start + k)
        if np.array_equal(np.sort(classes[window]), labels) and _covers(classes, related, window):
            return window
    first = np.array([np.flatnonzero(classes == label)[0] for label in labels], dtype=np.intp)
    if _covers(classes, related, first):
        return first
    return np.flatnonzero(classes >= 0)  # relations not transitive at this tolerance: keep every column


def _covers(classes, related, kept):
    """Whether every member of a class is directly related to the class's kept statistic."""
    for t in kept:
        members = np.flatnonzero((classes == classes[t]) & (np.arange(classes.size) != t))
        if not np.all(related[members, t]):
            return False
    return True
