"""Earlier statistics moving later ones, applied where the terms are read rather than stored.

In a ``Pipeline`` a later step's statistics depend on the earlier steps' (``_graph``): the
total terms are ``ψ = ψ_direct M`` (and ``Δ = Δ_direct M``) row by row, where ``M`` is the
product of one elementary map per step that follows another with statistics,

.. math::
    r \\mapsto r + r_{\\text{earlier}} L^\\top \\ \\text{(added to the step's columns)},

with ``L = ∂φ_step/∂φ_earlier`` (``_graph.contract``). ``fit`` stores ``ψ_direct`` and
``Δ_direct`` and never writes ``M`` out: a product of the terms with a small matrix ``W``
reads them as ``W ψ_iᵀ = (W Mᵀ) ψ_{direct,i}ᵀ`` (:meth:`Propagation.fold`), which saves a
pass over the (n, n_stats) terms; :meth:`Propagation.right` forms the total terms
of a block of rows when a reader needs them as such.
"""

import numpy as np

from ._terms import row_blocks


class Propagation:
    """The map ``M`` (``ψ = ψ_direct M``) as its elementary steps.

    Parameters
    ----------
    steps : list of (slice, int, ndarray)
        ``(block, start, L)`` in the order the steps were fitted: the statistics ``block``
        (global columns) move with the earlier ones ``start … block.start − 1`` by
        ``L`` of shape (block size, block.start − start).
    """

    def __init__(self, steps):
        self.steps = []
        for block, start, L in steps:
            sources = np.flatnonzero(np.any(L != 0, axis=0))
            targets = np.flatnonzero(np.any(L != 0, axis=1))
            if sources.size and targets.size:
                self.steps.append((start + sources, block.start + targets, L[np.ix_(targets, sources)]))
        # the sources as a view when they are a run, the targets as runs: views of the terms, not copies
        self._pieces = [
            (
                as_slice(sources),
                [(run, np.ascontiguousarray(transfer[within].T)) for run, within in runs(targets)],
            )
            for sources, targets, transfer in self.steps
        ]

    @property
    def identity(self):
        return not self.steps

    def right(self, terms):
        """``terms ← terms M`` in place, for direct terms of shape (n_rows, n_stats) (a block of rows)."""
        for sources, pieces in self._pieces:
            earlier = terms[:, sources]
            for targets, transfer in pieces:
                terms[:, targets] += earlier @ transfer

    def total(self, terms):
        """``terms ← terms M`` in place for (n, n_stats) terms, a block of rows at a time (no n-sized temporaries)."""
        for rows in row_blocks(terms.shape[0], terms.shape[1]):
            self.right(terms[rows])
        return terms

    def fold(self, W):
        """``W Mᵀ`` along the last axis of ``W`` (..., n_stats), in place when ``W`` is contiguous.

        ``W ψ_iᵀ = (W Mᵀ) ψ_{direct,i}ᵀ``: the elementary steps' transposes, last first.
        """
        flat = W.reshape(-1, W.shape[-1])  # one BLAS product per piece, not one per leading index
        for sources, pieces in reversed(self._pieces):
            flat[:, sources] += sum(flat[:, targets] @ transfer.T for targets, transfer in pieces)
        return flat.reshape(W.shape)

    def left(self, B):
        """``M B`` along the first axis of ``B`` (n_stats, ...), in place when ``B`` is contiguous: :meth:`fold`
        for statistic-major arrays (``(M B)ᵀ = Bᵀ Mᵀ``)."""
        flat = B.reshape(B.shape[0], -1)
        for sources, pieces in reversed(self._pieces):
            flat[sources] += sum(transfer @ flat[targets] for targets, transfer in pieces)
        return flat.reshape(B.shape)

    def reached(self, stats):
        """The statistics on which ``W Mᵀ`` can be non-zero when ``W`` is non-zero on ``stats`` only."""
        out = set(np.asarray(stats).tolist())
        for sources, targets, _ in reversed(self.steps):
            if out.intersection(targets.tolist()):
                out.update(sources.tolist())
        return np.array(sorted(out), dtype=np.intp)


def runs(index):
    """``(slice of index values, slice of positions)`` for each run of consecutive values of sorted ``index``."""
    index = np.asarray(index, dtype=np.intp)
    if index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    starts, stops = np.r_[0, breaks], np.r_[breaks, index.size]
    return [(slice(index[a], index[b - 1] + 1), slice(a, b)) for a, b in zip(starts, stops)]


def as_slice(index):
    """``index`` as a slice when it is a run of consecutive values (a view, not a copy), else as is."""
    return index if np.any(np.diff(index) != 1) else slice(index[0], index[-1] + 1)
