"""Inverse-Hessian solvers: exact Cholesky, matrix-free CG and stochastic LiSSA."""

from ._base import CG_PARAMS_RTOL, SINGULAR_RCOND
from ._cg import CGSolver, cg_accuracy_message, checked_condition, objective_cg
from ._exact import ExactSolver
from ._lissa import fit_lissa

__all__ = [
    "CG_PARAMS_RTOL",
    "SINGULAR_RCOND",
    "CGSolver",
    "ExactSolver",
    "cg_accuracy_message",
    "checked_condition",
    "fit_lissa",
    "objective_cg",
]
