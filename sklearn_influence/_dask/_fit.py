"""``InfluenceEstimator.fit`` on Dask arrays: one tree-reduced pass, the factorisation on the client.

Every block contributes, in float64 whatever ``X``'s dtype, the data terms of the
sum-form objective at the fitted ``θ̂`` (``LinearObjective.value``, ``gradient`` and
``hessian`` of the objective without its penalty, on the block's ``LinearDesign``):

.. math::
    \\sum_{i \\in b} s_i \\ell_i, \\qquad \\sum_{i \\in b} s_i r_i \\otimes \\tilde x_i, \\qquad
    \\sum_{i \\in b} s_i A_i \\otimes \\tilde x_i \\tilde x_i^\\top,

plus the statistics of the stationarity check (the sum and count of the non-zero row
terms ``s_i ||r_i|| ||x̃_i||``). The blocks' terms are summed in a tree; the client adds
the penalty (the objective's own, evaluated on an empty design) and the damping, and
factorises ``H`` with :class:`~sklearn_influence._solvers.ExactSolver`. Beyond
``auto_exact_max_params`` parameters (``solver="auto"``), or with ``solver="cg"``, the pass
sums the Hessian's diagonal only and ``H`` is applied by conjugate gradients on distributed
products (``_cg``). The inputs (``X``, ``y``, ``sample_weight``) are persisted once when
they fit in half the workers' memory (:func:`should_persist`; the Dask config key
``sklearn_influence.persist`` overrides it), so that a dask-ml fit, this pass and every
later query read them from memory; larger inputs are read from their source by each pass.

The wrapped model (refused otherwise, with the list below):

- ``FrozenEstimator(model)``: a supported linear model or GLM fitted by the user on the
  same rows (by scikit-learn on a machine that held them, or by dask-ml);
- dask-ml's ``LogisticRegression``, ``LinearRegression``, ``PoissonRegression``, fitted
  here on the Dask arrays (decoded in ``_dask_ml``).

A plain scikit-learn estimator is refused rather than fitted on a computed copy of the
data: fit it where the data fit and pass it frozen.
"""

import copy
import functools
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator

from .._models._decoding import objective_from_estimator, public_params
from .._models._design import LinearDesign
from .._models._objectives import LinearObjective
from .._models._support import check_supported, convergence_advice
from .._solvers import CGSolver, ExactSolver, checked_condition
from ._blocks import BlockRows, FittedState, shared
from ._cg import DistributedHessianProduct
from ._dask_ml import decode_dask_ml, is_dask_ml_glm

#: Blocks summed by one task of the tree reduction.
SPLIT_EVERY = 8

_SUPPORTED = (
    "FrozenEstimator(model) for a linear model or GLM fitted on the same rows (LogisticRegression, Ridge, "
    "LinearRegression, RidgeCV, LogisticRegressionCV, RidgeClassifier, PoissonRegressor, GammaRegressor, "
    "TweedieRegressor, SGDClassifier/SGDRegressor, LinearSVC and SmoothHingeClassifier, or a dask-ml GLM), or "
    "dask-ml's LogisticRegression, LinearRegression or PoissonRegression (fitted here)"
)
_NOT_LINEAR = ("MLPClassifier", "MLPRegressor", "AutogradModel", "HuberRegressor", "SVC")


class DaskFit:
    """The fitted state of an InfluenceEstimator fitted on Dask arrays (``_dask_fit_``).

    Attributes
    ----------
    X, y, weights, shares : dask.array.Array
        The training rows (``X`` in one column chunk), their targets, sample weights and
        penalty shares (None without a data-scaled penalty), chunked alike.
    fitted : FittedState
        The small state block tasks need.
    persisted : bool
        Whether the arrays are held in memory (:func:`should_persist`).
    objective_value : float
        The sum-form objective ``O(θ̂)`` (penalty included, damping not).
    state : dask.array.Array
        ``fitted`` as one shared graph key (see ``_blocks.shared``).
    """

    def __init__(self, X, y, weights, shares, fitted, persisted, objective_value):
        self.X, self.y, self.weights, self.shares, self.fitted = X, y, weights, shares, fitted
        self.persisted, self.objective_value = persisted, objective_value
        self.state = shared(fitted, "state")

    @property
    def row_chunks(self):
        return self.X.chunks[0]

    @property
    def dtype(self):
        return np.float32 if self.X.dtype == np.float32 else np.float64


class DaskDesign:
    """Stands in for ``_design`` on a Dask-fitted estimator: its shape only.

    Anything else the numpy path would read from the training design is refused, naming
    what is available on Dask arrays.
    """

    def __init__(self, n_samples, n_features, fit_intercept, dtype):
        self.n_samples, self.n_features, self.fit_intercept, self.dtype = n_samples, n_features, fit_intercept, dtype

    @property
    def n_columns(self):
        return self.n_features + int(self.fit_intercept)

    def __getattr__(self, name):
        raise NotImplementedError(unavailable_message())


class _Unavailable:
    """Stands in for the per-row training arrays (``_residuals``, ...) of a Dask fit: only their shape is read."""

    def __init__(self, shape=None):
        self.shape = shape

    def __getattr__(self, name):
        raise NotImplementedError(unavailable_message())

    def __getitem__(self, item):
        raise NotImplementedError(unavailable_message())

    def __array__(self, *args, **kwargs):
        raise NotImplementedError(unavailable_message())


def unavailable_message():
    return (
        "This InfluenceEstimator was fitted on Dask arrays, where influence, leave_one_out (method='influence' or "
        "'newton'), self_influence, influence_params, leave_one_out_params, top_influences, loss and "
        "rank_mislabel_candidates are available. For the other methods, fit on numpy arrays (e.g. X.compute())."
    )


def _rows_alike(array, X, name):
    """``array`` (Dask array or Series, numpy, 1-D or 2-D) chunked like ``X``'s rows."""
    import dask.array as da

    if is_dask_frame(array):
        array = array.to_dask_array(lengths=True)
    if not hasattr(array, "chunks"):
        array = np.asarray(array)
    if array.shape[:1] != X.shape[:1]:
        raise ValueError(f"{name} must have one entry per row of X ({X.shape[0]} rows); got shape {array.shape}.")
    if not isinstance(array, da.Array):
        array = da.from_array(array, chunks=(X.chunks[0],) + tuple((s,) for s in array.shape[1:]))
    return array.rechunk((X.chunks[0],) + tuple((s,) for s in array.shape[1:]))


def _frame_as_array(X):
    """A Dask DataFrame of numeric columns as a Dask array (one pass for the partition lengths), and its columns."""
    from pandas.api.types import is_numeric_dtype

    non_numeric = [str(column) for column, dtype in X.dtypes.items() if not is_numeric_dtype(dtype)]
    if non_numeric:
        raise ValueError(
            f"On Dask, a DataFrame X must hold numeric columns only (the wrapped model is a linear model, not a "
            f"pipeline); got non-numeric columns {non_numeric[:5]}. Encode them first (e.g. dask-ml's "
            "preprocessing) and fit the model on the encoded columns."
        )
    return X.to_dask_array(lengths=True), np.asarray(X.columns, dtype=object)


def _check_inputs(X, y, sample_weight):
    """``(X, y, weights, columns)``: ``X`` in row blocks with one column chunk, the rest chunked like its rows.

    A Dask DataFrame ``X`` is converted to a Dask array; ``columns`` are its column names (else None).
    """
    import dask.array as da

    columns = None
    if is_dask_frame(X):
        X, columns = _frame_as_array(X)
    if not isinstance(X, da.Array):
        raise TypeError(
            f"X is a {type(X).__name__}: on Dask, InfluenceEstimator takes a dask.array.Array (numpy or scipy.sparse "
            "blocks) or a Dask DataFrame of numeric columns."
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got a Dask array of shape {X.shape}.")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError(
            "X has unknown chunk sizes (e.g. from a Dask DataFrame); call X.compute_chunk_sizes() or "
            "to_dask_array(lengths=True) first."
        )
    X = X.rechunk({1: -1})
    y = _rows_alike(y, X, "y")
    if sample_weight is None:
        weights = da.ones(X.shape[0], chunks=(X.chunks[0],))
    else:
        weights = _rows_alike(sample_weight, X, "sample_weight").astype(float)
        if weights.ndim != 1:
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},); got shape {weights.shape}.")
    return X, y, weights, columns


def is_dask_frame(obj):
    """Whether ``obj`` is a Dask DataFrame or Series."""
    return type(obj).__module__.startswith("dask") and hasattr(obj, "to_dask_array")


def _memory_budget():
    """Bytes the workers can hold: the sum of their memory limits (distributed), else this machine's memory."""
    from dask.base import get_scheduler

    client = getattr(get_scheduler(), "__self__", None)  # a distributed Client's get method
    if client is not None and hasattr(client, "scheduler_info"):
        limits = [worker.get("memory_limit") or 0 for worker in client.scheduler_info()["workers"].values()]
        if limits and all(limits):
            return sum(limits)
    import psutil  # a dependency of distributed; the threaded scheduler shares this machine's memory

    return psutil.virtual_memory().total


def should_persist(*arrays):
    """Whether to persist the training arrays in ``fit``: the ``sklearn_influence.persist`` Dask config.

    ``"auto"`` (default): when they take at most half of :func:`_memory_budget` (dense size,
    an upper bound for sparse blocks), so that ``fit``, a dask-ml fit and every query read
    them from memory instead of recomputing them from their source; larger inputs are read
    again by every pass (from Parquet, Zarr or a lazy generator), with memory bounded by a
    few blocks per worker. ``True`` / ``False`` force it.
    """
    import dask

    setting = dask.config.get("sklearn_influence.persist", "auto")
    if setting != "auto":
        return bool(setting)
    return sum(array.nbytes for array in arrays) <= _memory_budget() / 2


def _check_columns(estimator, columns):
    """The DataFrame's columns are the model's ``feature_names_in_`` (when it has them), in order."""
    if columns is None:
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None and list(fitted) != list(columns):
        raise ValueError(
            f"X's columns {list(columns)[:5]}... are not the features the model was fitted on, in order "
            f"({list(fitted)[:5]}...)."
        )
    if fitted is None and all(isinstance(column, str) for column in columns):
        estimator.feature_names_in_ = columns


def _fitted_model(estimator, X, y, sample_weight, fit_params):
    """``(estimator_, model)``: the fitted wrapper and the final linear model it holds."""
    from .._wrapped import _unwrap

    template = estimator.estimator
    frozen = isinstance(template, FrozenEstimator)
    inner = template.estimator if frozen else template
    if is_dask_ml_glm(inner):
        if sample_weight is not None:
            raise ValueError(f"dask-ml's {type(inner).__name__} takes no sample weights; pass sample_weight=None.")
        if frozen:
            return template, inner
        fitted = clone(template).fit(X, y, **fit_params)
        return fitted, fitted
    if not frozen:
        raise ValueError(
            f"On Dask arrays InfluenceEstimator does not fit scikit-learn's {type(template).__name__} (that needs the "
            f"data in memory): fit it where the data fit and pass FrozenEstimator(model), or wrap dask-ml's "
            f"LogisticRegression, LinearRegression or PoissonRegression. Supported: {_SUPPORTED}."
        )
    prefix, model = _unwrap(template)  # a frozen search's refitted best_estimator_
    if prefix is not None:
        raise ValueError(
            "On Dask arrays the wrapped model must be a single linear model, not a Pipeline: transform X first "
            f"(e.g. with dask-ml's preprocessing) and wrap the final model. Supported: {_SUPPORTED}."
        )
    if type(model).__name__ in _NOT_LINEAR:
        raise ValueError(
            f"On Dask arrays influence is computed for linear models and GLMs; {type(model).__name__} is not one "
            f"(fit it on numpy arrays). Supported: {_SUPPORTED}."
        )
    check_supported(template, estimator.smoothing)
    return template, model


def _decode(model, X, y, weights, smoothing):
    """``(objective, weights, shares)`` of the fitted final model on Dask rows."""
    if is_dask_ml_glm(model):
        if smoothing is not None:
            raise ValueError("smoothing applies to hinge losses only; dask-ml's GLMs are differentiable already.")
        return decode_dask_ml(model, X), weights, None
    if getattr(model, "class_weight", None) is not None:
        raise ValueError(
            f"{type(model).__name__}(class_weight={model.class_weight!r}) is not supported on Dask arrays: fold the "
            "class weights into sample_weight (for the frozen model's fit and for InfluenceEstimator.fit)."
        )
    objective, weights = objective_from_estimator(model, y, weights, smoothing)
    if not isinstance(objective, LinearObjective):
        raise ValueError(f"{type(model).__name__} is not a linear model; on Dask arrays supported: {_SUPPORTED}.")
    shares = objective.penalty_shares
    if shares is not None:
        shares = _rows_alike(shares, X, "penalty shares").astype(float)
        objective.penalty_shares = None  # per row, on the workers: never a length-n array in the shared state
    return objective, weights, shares


def _data_only(objective):
    """A shallow copy of ``objective`` without its penalty: its data terms, summed block by block."""
    bare = copy.copy(objective)
    bare.penalty = np.zeros_like(objective.penalty)
    if hasattr(objective, "penalty_matrix"):
        bare.penalty_matrix = np.zeros_like(objective.penalty_matrix)
    return bare


def _block_terms(bare, X, y, weights, curvature_term):
    """One block's data terms of the objective and its stationarity statistics, in float64.

    ``curvature_term``: ``"hessian"`` (the block's ``Σ s_i A_i ⊗ x̃_i x̃_iᵀ``, for the exact solver)
    or ``"hessian_diagonal"`` (its diagonal only, CG's preconditioner).
    """
    fitted = FittedState(bare, None, X.shape[0], 0.0, None, None)
    rows = BlockRows(fitted, X, y, weights)
    design, residuals = rows._design, rows._residuals
    row_terms = rows._weights * np.linalg.norm(residuals, axis=1) * np.sqrt(design.squared_row_norms())
    return {
        "value": np.array(bare.value(design, rows._targets, rows._weights)),
        "gradient": bare.gradient(design, rows._targets, rows._weights, residuals),
        curvature_term: getattr(bare, curvature_term)(design, rows._curvature),
        "row_term_sum": np.array(row_terms[row_terms > 0].sum()),
        "row_term_count": np.array(np.count_nonzero(row_terms > 0)),
        "weighted_rows": np.array(np.count_nonzero(rows._weights)),
        "weight_sum": np.array(rows._weights.sum()),
    }


def _sum_terms(*parts):
    return {key: sum(part[key] for part in parts) for key in parts[0]}


def tree_sum(leaves, combine=_sum_terms, split_every=SPLIT_EVERY):
    """Combine delayed leaves in a tree of fan-in ``split_every``: tasks grow linearly with the blocks."""
    import dask

    level = list(leaves)
    while len(level) > 1:
        level = [
            dask.delayed(combine, pure=True)(*level[i : i + split_every]) for i in range(0, len(level), split_every)
        ]
    return level[0]


def row_blocks(X, y, weights):
    """``[(X_b, y_b, s_b), ...]``: the aligned row blocks as delayed objects."""
    return list(zip(X.to_delayed()[:, 0], y.to_delayed().reshape(len(X.chunks[0]), -1)[:, 0], weights.to_delayed()))


def reduce_terms(bare, X, y, weights, curvature_term="hessian"):
    """The objective's data terms over every block: one tree-reduced pass, computed."""
    import dask

    bare_key = dask.delayed(bare, pure=True)
    leaves = [
        dask.delayed(_block_terms, pure=True)(bare_key, *block, curvature_term) for block in row_blocks(X, y, weights)
    ]
    return dask.compute(tree_sum(leaves))[0]


def _empty(objective):
    """``(design, targets, weights, residuals, curvature)`` of zero rows: the objective's terms are its penalty's."""
    X = sp.csr_matrix((0, objective.n_columns - int(objective.fit_intercept)))
    labels = np.empty((0, objective.n_outputs)) if objective.classes is None else objective.classes[:0]
    k_out = objective.n_outputs
    curvature = np.zeros(0) if objective.separable else np.zeros((0, k_out, k_out))
    return (
        LinearDesign(X, objective.fit_intercept),
        objective.encode(labels),
        np.zeros(0),
        np.zeros((0, k_out)),
        curvature,
    )


def _penalty_terms(objective, damping, curvature_term="hessian"):
    """The penalty's value, gradient and Hessian or its diagonal (plus damping), on an empty design."""
    design, targets, weights, residuals, curvature = _empty(objective)
    return (
        float(objective.value(design, targets, weights)),
        objective.gradient(design, targets, weights, residuals),
        getattr(objective, curvature_term)(design, curvature, damping),
    )


def _resolve_solver(estimator, objective):
    if estimator.solver not in ("auto", "exact", "cg"):
        raise ValueError(
            f"On Dask arrays solver must be 'auto', 'exact' (the p × p Hessian, reduced over the blocks, factorised "
            f"on the client) or 'cg' (distributed Hessian products); got solver={estimator.solver!r}."
        )
    if estimator.solver != "auto":
        return estimator.solver
    n_internal = objective.n_columns * (1 if objective.separable else objective.n_outputs)
    return "exact" if n_internal <= objective.auto_exact_max_params else "cg"


def _distributed_cg(estimator, objective, X, y, weights, diagonal):
    """:class:`CGSolver` on distributed Hessian products (``_cg``), with the numpy path's accuracy warning."""
    design, _, _, _, curvature = _empty(objective)
    penalty_product = functools.partial(objective.hessian_product, design, curvature, damping=estimator.damping)
    product = DistributedHessianProduct(_data_only(objective), penalty_product, row_blocks(X, y, weights), SPLIT_EVERY)
    solver = CGSolver(
        product,
        diagonal,
        objective.n_outputs,
        objective.n_columns,
        objective.separable,
        max(X.chunks[0]),  # sizes the blocks of right-hand sides: the n × block temporaries live per row block
        rtol=estimator.cg_tol,
        max_iter=estimator.cg_max_iter,
        intercept=objective.fit_intercept,
        warm_start=estimator.cg_warm_start,
        verbose=estimator.verbose,
    )
    estimator.cg_condition_estimate_ = checked_condition(solver, stacklevel=4)
    return solver


def fit_dask(estimator, X, y, sample_weight=None, **fit_params):
    """``InfluenceEstimator.fit`` on Dask arrays (see the module docstring); returns ``estimator``."""
    import dask

    from .._estimator import STATIONARITY_RTOL

    estimator._check_params()
    estimator._forget_fit()
    if estimator.solver == "lissa":
        raise ValueError("On Dask arrays solver must be 'auto', 'exact' or 'cg'; got solver='lissa'.")
    X, y, weights, columns = _check_inputs(X, y, sample_weight)
    persist = should_persist(X, y, weights)
    if persist:
        X, y, weights = dask.persist(X, y, weights)
    estimator_, model = _fitted_model(estimator, X, y, sample_weight, fit_params)
    objective, weights, shares = _decode(model, X, y, weights, estimator.smoothing)
    if shares is not None:
        (shares,) = dask.persist(shares) if persist else (shares,)
    n_samples, n_features = X.shape
    if objective.n_columns - int(objective.fit_intercept) != n_features:
        raise ValueError(
            f"X has {n_features} features, but the model expects {objective.n_columns - int(objective.fit_intercept)}."
        )

    solver_name = _resolve_solver(estimator, objective)
    curvature_term = "hessian" if solver_name == "exact" else "hessian_diagonal"
    terms = reduce_terms(_data_only(objective), X, y, weights, curvature_term)
    if terms["weight_sum"] == 0:
        raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
    _, penalty_gradient, penalty_curvature = _penalty_terms(objective, estimator.damping, curvature_term)
    gradient = terms["gradient"] + penalty_gradient
    if solver_name == "exact":
        solver = ExactSolver(
            terms["hessian"] + penalty_curvature,
            objective.n_outputs,
            objective.n_columns,
            objective.separable,
            damping=estimator.damping,
            intercept=objective.fit_intercept,
            n_rows=int(terms["weighted_rows"]),
            convex=True,
        )
    else:
        solver = _distributed_cg(estimator, objective, X, y, weights, terms["hessian_diagonal"] + penalty_curvature)
    # the Newton step's correction for what the fit left of the gradient: with CG there are no per-row solves
    exact = solver_name == "exact"
    shift = solver.solve(gradient[None])[0] if objective.matches_training_loss and exact else None
    share_solution = None if shares is None else solver.solve(objective.penalty_share_gradient()[None])[0]

    estimator.estimator_ = estimator_
    for attr in ("n_features_in_", "feature_names_in_"):
        if hasattr(estimator_, attr):
            setattr(estimator, attr, getattr(estimator_, attr))
    estimator.n_features_in_ = n_features
    _check_columns(estimator, columns)
    estimator.training_index_ = None
    estimator.params_ = (
        public_params(model) if not is_dask_ml_glm(model) else objective.to_public(objective.coef[None])[0]
    )
    estimator.solver_ = solver_name
    estimator.gradient_norm_ = float(np.linalg.norm(gradient))
    typical = terms["row_term_sum"] / terms["row_term_count"] if terms["row_term_count"] else 0.0
    estimator.relative_gradient_norm_ = estimator.gradient_norm_ / typical if typical > 0 else 0.0
    if estimator.relative_gradient_norm_ > STATIONARITY_RTOL and objective.matches_training_loss:
        advice = (
            "dask-ml's L-BFGS stops on scipy's default relative decrease (about 1e-4 of a row's gradient whatever "
            "tol); its solver='newton' converges to ~1e-8 but fits without a penalty."
            if is_dask_ml_glm(model)
            else convergence_advice(model)
        )
        warnings.warn(
            f"The fitted parameters are not a stationary point of the training objective: ||grad O|| = "
            f"{estimator.gradient_norm_:.2e}, {estimator.relative_gradient_norm_:.1e} times a typical row's gradient "
            f"(threshold {STATIONARITY_RTOL:g}). Influence estimates are off by about that fraction of a row's "
            f"effect. {advice}",
            ConvergenceWarning,
            stacklevel=3,
        )

    fitted = FittedState(objective, solver if exact else None, n_samples, estimator.damping, shift, share_solution)
    estimator._prefix, estimator._objective, estimator._solver = None, objective, solver
    dtype = np.float32 if X.dtype == np.float32 else np.float64  # as LinearDesign.dtype
    estimator._design = DaskDesign(n_samples, n_features, objective.fit_intercept, dtype)
    estimator._targets = _Unavailable(shape=(n_samples, objective.n_outputs))  # checks query labels' shape
    estimator._weights = estimator._residuals = estimator._raw = estimator._curvature = _Unavailable()
    estimator._raw_X, estimator._channel, estimator._damping = None, None, estimator.damping
    estimator._penalty_shares, estimator._share_solution = None, share_solution
    value = float(terms["value"]) + _penalty_terms(objective, 0.0)[0]
    estimator._dask_fit_ = DaskFit(X, y, weights, shares, fitted, persist, value)
    return estimator
