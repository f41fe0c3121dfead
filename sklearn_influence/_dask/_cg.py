"""Conjugate gradients on distributed Hessian products, for parameter counts too large to factorise.

``H V = Σ_b (Σ_{i∈b} s_i A_i ⊗ x̃_i x̃_iᵀ) V + (Λ + λI) V``: every product is one pass over
the row blocks, each block applying the objective's own matrix-free product
(``LinearObjective.hessian_product`` of the objective without its penalty) to the block
of directions ``V`` (one shared key), the blocks' products summed in a tree, the penalty
and damping added on the client. :class:`~sklearn_influence._solvers.CGSolver` runs its
recurrence on the client unchanged: ``H`` is never formed, on the workers or here.

Per-row solves (``self_influence``, ``influence_params``, ``leave_one_out_params``, Newton
leave-one-out) would take one such solve per training row and are refused under CG; the
queries' solves (``influence``, first-order ``leave_one_out``, ``top_influences``) take one
CG run for all queries.
"""

import functools

import numpy as np

from ._blocks import BlockRows, FittedState


def _block_product(bare, V, X, y, weights):
    """One block's data Hessian times ``V`` (shape (r, n_outputs, n_columns)), in float64."""
    rows = BlockRows(FittedState(bare, None, X.shape[0], 0.0, None, None), X, y, weights)
    return bare.hessian_product(rows._design, rows._curvature, V)


def _add(*parts):
    return functools.reduce(np.add, parts)


class DistributedHessianProduct:
    """``V ↦ H V`` as one tree-reduced pass over the persisted row blocks (picklable: no closure).

    Parameters
    ----------
    bare : LinearObjective
        The objective without its penalty (its data terms).
    penalty_product : callable
        ``V ↦ (Λ + λI) V``: the penalty and damping, applied on the client.
    blocks : list of tuple
        ``(X_b, y_b, s_b)`` delayed row blocks.
    split_every : int
        Blocks summed by one task.
    """

    def __init__(self, bare, penalty_product, blocks, split_every):
        self.bare, self.penalty_product, self.blocks, self.split_every = bare, penalty_product, blocks, split_every

    def __call__(self, V):
        import dask

        from ._fit import tree_sum

        bare_key, V_key = dask.delayed(self.bare, pure=True), dask.delayed(np.asarray(V), pure=True)
        leaves = [dask.delayed(_block_product, pure=True)(bare_key, V_key, *block) for block in self.blocks]
        (data,) = dask.compute(tree_sum(leaves, _add, self.split_every))
        return data + self.penalty_product(V)
