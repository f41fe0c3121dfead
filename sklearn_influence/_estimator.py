"""InfluenceEstimator: the scikit-learn meta-estimator.

Thin by design: ``fit`` decodes the wrapped model's objective (``_objectives``) and
builds the inverse-Hessian solver (``_solvers``) once; every query method is a pure
function of that fitted state and lives in ``_quantities``.
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _num_samples,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._dask import fit_dask, is_dask_collection
from ._dask._dispatch import DaskDispatchMixin
from ._diagnostics._statistics import DiagnosticsMixin
from ._frames import FramesMixin
from ._groups._leave_group_out import GroupInfluenceMixin
from ._models._decoding import objective_from_estimator, public_params
from ._models._design import LinearDesign
from ._models._support import check_supported, convergence_advice
from ._models._svm import MARGIN_ATOL, pinned_hinge_problems
from ._preprocessing import StatisticsChannel, check_refit_supported, decode_prefix
from ._quantities._categories import CategoryInfluenceMixin
from ._quantities._influence import InfluenceQuantitiesMixin
from ._solvers import ExactSolver, checked_condition, fit_lissa, objective_cg
from ._wrapped import _sample_weight_key, _unfitted_prefix, _unwrap, inner_estimator_tags

#: ``relative_gradient_norm_`` above which the fit is reported as not stationary.
STATIONARITY_RTOL = 1e-3

_SOLVERS = ("auto", "exact", "cg", "lissa")
_PREPROCESSING = ("refit", "fixed")


def _estimator_has(attr):
    """Delegate ``attr`` to the fitted ``estimator_`` if present, else to ``estimator``."""

    def check(self):
        getattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr)
        return True

    return check


class InfluenceEstimator(
    DaskDispatchMixin,
    InfluenceQuantitiesMixin,
    CategoryInfluenceMixin,
    GroupInfluenceMixin,
    DiagnosticsMixin,
    FramesMixin,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Influence functions for a fitted scikit-learn model (Koh & Liang, 2017).

    Wraps a model, fits a clone of it, and answers "which training rows made the model
    say this, and what happens if I drop them?" through :meth:`influence`,
    :meth:`self_influence`, :meth:`influence_params`, :meth:`leave_one_out`,
    :meth:`leave_one_out_params` and :meth:`perturbation_influence`. Prediction
    methods (``predict``, ``predict_proba``, ``decision_function``, ``score``, ...) are
    delegated to the fitted model, so the wrapper drops into pipelines and grid searches.

    The model minimises the sum-form objective

    .. math::
        O(θ) = \\sum_i s_i \\, \\ell(z_i, θ) + Ω(θ)

    exactly as the wrapped estimator defines it (``s_i``: sample weight with
    ``class_weight`` folded in; ``Ω``: its L2 penalty). ``H`` is the Hessian of ``O``
    at the fitted ``θ̂`` plus ``damping · I``, and ``g_i = ∇_θ ℓ(z_i, θ̂)``.

    Parameters
    ----------
    estimator : estimator object
        The model to analyse; ``fit`` fits a clone of it. Supported, each decoded exactly as
        scikit-learn defines its objective:

        - linear classifiers: ``LogisticRegression`` (L2 or no penalty; binary or
          multinomial), ``LogisticRegressionCV`` (``refit=True``: the chosen ``C``),
          ``RidgeClassifier``, ``SmoothHingeClassifier``, ``LinearSVC`` (L2; squared hinge,
          or hinge with ``smoothing``), ``SGDClassifier`` (L2 or none; ``log_loss``,
          ``modified_huber``, ``squared_hinge``, or hinge with ``smoothing``) and
          ``SVC(kernel="linear")`` (with ``smoothing``);
        - linear regressors: ``LinearRegression``, ``Ridge`` (scalar alpha), ``RidgeCV``
          (the chosen alpha), ``SGDRegressor`` (``squared_error``, ``huber``,
          ``squared_epsilon_insensitive``; L2 or none), ``HuberRegressor`` (its scale is a
          parameter);
        - generalised linear models: ``PoissonRegressor``, ``GammaRegressor``,
          ``TweedieRegressor`` (log link, or the identity link with ``power=0``);
        - neural networks: ``MLPClassifier``, ``MLPRegressor`` (not convex: give ``damping``;
          see :func:`refine_mlp` for a stationary fit);
        - any differentiable model written as a per-sample loss: :class:`AutogradModel`;
        - a ``Pipeline`` whose last step is one of them (see ``preprocessing``; queries are
          given in raw feature space), or ``FrozenEstimator(prefit_model)`` for a model
          that is already fitted;
        - a search over them (``GridSearchCV``, ``RandomizedSearchCV``,
          ``HalvingGridSearchCV``, ``HalvingRandomSearchCV`` with ``refit=True``): ``fit``
          runs the search and its refitted ``best_estimator_`` is analysed, with the chosen
          hyper-parameters held fixed (a refit does not search again).

        Anything else (a random forest, a Lasso, a pipeline ending in one, a search over one
        or with ``refit=False``, an L1 penalty, a hinge loss without ``smoothing``) is
        refused at ``fit`` before any fitting, with this list.
    preprocessing : {"refit", "fixed"}, default="refit"
        What a pipeline's fitted transformers mean to every quantity. ``"refit"``: the
        question is about refitting the *whole* pipeline, as ``clone(pipeline).fit(...)``
        would: a training row moves the model directly and through the statistics its
        transformers estimated (means, scales, imputation values, order statistics), which
        move every row's features and the query's (see the user guide's derivation; the
        supported transformers are listed there, any other is refused at ``fit``).
        ``"fixed"``: the fitted transformers are part of the data and only the final model
        is refit. The two agree for an estimator that is not a pipeline.
    solver : {"auto", "exact", "cg", "lissa"}, default="auto"
        How ``H⁻¹`` is applied. ``"exact"`` builds ``H`` from its closed form once and
        factorises it (Cholesky). ``"cg"`` runs preconditioned conjugate gradients
        (``scipy.sparse.linalg.cg``'s recurrence, on all right-hand sides at once) on
        matrix-free Hessian products and never forms ``H``, Jacobi-preconditioned with the
        intercept eliminated (see ``cg_warm_start``, ``n_jobs``). ``"auto"`` is
        ``"exact"`` up to 3000 parameters for linear models (1000 for autograd models,
        whose dense Hessian costs one Hessian-vector product per parameter), ``"cg"`` beyond.
        ``"lissa"`` (linear models) is Koh & Liang's stochastic estimator (Agarwal et al.'s
        series on Hessians of sampled rows, see the ``lissa_*`` parameters): for comparison
        with the paper, as it is less accurate than ``"exact"`` and ``"cg"``; never chosen
        by ``"auto"``.
    damping : float, default=0.0
        Non-negative ``λ`` added to the Hessian (``H + λI``): regularises a singular or
        ill-conditioned Hessian, at the price of biasing every quantity.
    smoothing : float, default=None
        Temperature ``τ > 0`` of the smooth hinge ``τ log(1 + exp((1 − s)/τ))`` that stands in
        for a hinge loss (``LinearSVC(loss="hinge")``, ``SGDClassifier(loss="hinge")``,
        ``SVC(kernel="linear")``): Koh & Liang's protocol, influence of the fitted hinge model
        computed with the smooth hinge, which is also the per-sample test loss. Required for
        hinge models; for ``SmoothHingeClassifier`` it overrides the model's temperature;
        an error for models whose loss is already differentiable.
    cg_tol : float, default=1e-10
        Relative residual tolerance of each conjugate-gradient solve, met in the Euclidean
        norm and in the preconditioner's. It bounds the relative error of every solution,
        and so of the parameter-space results, by ``cg_condition_estimate_ × cg_tol`` (in
        the curvature-weighted norm; loss-space results are usually far more accurate);
        ``fit`` warns when that bound exceeds 1e-6.
    cg_max_iter : int, default=None
        Iteration cap of each conjugate-gradient solve; ``None`` means 10 × the
        parameter count.
    cg_warm_start : bool, default=False
        Start each conjugate-gradient solve from the combination of the last solved
        systems whose residual is smallest (kept while they fit in a quarter of
        ``working_memory``; not pickled). Asking about the same queries again
        (``influence``, then ``leave_one_out`` or ``top_influences``; or the same points
        with other labels) then costs one Hessian product instead of a full solve. Every
        solve still meets ``cg_tol``, but results depend on the call history within that
        tolerance, so it is off by default: the query methods are then pure functions of
        the fitted state.
    lissa_scale : float, default=None
        ``solver="lissa"``: the scale of the Neumann series, on the mean objective's Hessian
        ``H/n`` as in the paper; it must exceed that Hessian's largest eigenvalue. ``None``
        uses 1.25 × the largest eigenvalue (estimated by Lanczos in ``fit``).
    lissa_depth : int, default=5000
        ``solver="lissa"``: terms of the series per repeat.
    lissa_repeats : int, default=10
        ``solver="lissa"``: independent repeats averaged.
    lissa_batch_size : int, default=1
        ``solver="lissa"``: training rows per stochastic Hessian estimate.
    random_state : int, RandomState instance or None, default=None
        ``solver="lissa"``: seed of the row draws. Read once in ``fit`` (a ``RandomState`` instance
        gives one seed there), so every query repeats the same draws whatever the order of the queries.
    n_jobs : int, default=None
        Threads for the products of sparse ``X`` with blocks of vectors (the hot path of
        ``solver="cg"`` on sparse data: 1.3–1.6× faster on 2 cores). ``None`` means 1
        unless in a :func:`joblib.parallel_config` context; ``-1`` means all processors.
        Dense products use BLAS's own threads.
    verbose : int, default=0
        Report the progress of long computations (chunked passes over the training rows,
        blocks of conjugate-gradient systems, LiSSA repeats): a tqdm bar when tqdm is
        installed, plain lines on standard error otherwise.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator`` (``estimator`` itself for ``FrozenEstimator``).
    params_ : ndarray of shape (n_params,)
        ``np.concatenate([coef_.ravel(), intercept_.ravel()])`` of the fitted model
        (no intercept part without an intercept): the layout of every ``*_params`` result.
    gradient_norm_ : float
        ``||∇O(θ̂)||₂``, the objective's gradient at the fitted parameters (sum form).
        Influence assumes ``θ̂`` is a stationary point.
    relative_gradient_norm_ : float
        ``gradient_norm_`` divided by the mean norm of one row's gradient term
        ``s_i ||g_i||`` (over the rows where it is non-zero). Leave-one-out estimates are
        off by roughly this fraction of a typical row's effect; above 1e-3 a ``ConvergenceWarning`` is raised at ``fit``
        (not under ``smoothing`` of a hinge model, whose fit is by design not stationary
        for the smoothed objective).
    solver_ : {"exact", "cg", "lissa"}
        The solver actually used.
    cg_condition_estimate_ : float
        ``solver="cg"`` only: the condition number of the preconditioned Hessian
        ``M⁻¹H``, estimated in ``fit`` from the Lanczos coefficients of one solve (a lower
        bound once above 1e8). ``× cg_tol`` it bounds the relative error of the
        parameter-space results.
    lissa_bias_bound_ : float
        ``solver="lissa"`` only: ``(1 − λ_min/scale)^depth``, the bound on the truncation
        bias of every ``H⁻¹ v`` relative to its size (λ_min of ``H/n``, penalty and damping
        included, estimated by Lanczos). It says nothing about the noise of the draws.
    lissa_error_ : float
        ``solver="lissa"`` only: the relative standard error of LiSSA's ``H⁻¹ v`` (the mean
        of ``lissa_repeats`` repeats), from the spread between four repeats run in ``fit``
        on a few training gradients (root mean square over them): the typical relative
        error of the parameter-space results, on top of the bias. ``fit`` warns when it or
        the bias bound exceeds 1e-2.
    n_features_in_ : int
        Number of features seen during ``fit`` (raw space for a pipeline).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` had string column names.
    training_index_ : pandas Index or None
        The index of the training DataFrame (``None`` for arrays): the labels that
        :meth:`to_frame`, :meth:`summary_frame` and labelled output (:meth:`set_output`) put
        on training rows. ``indices=`` arguments are always positions; map labels with
        :meth:`training_positions`.
    param_names_ : ndarray of str of shape (n_params,)
        Names of the entries of ``params_`` (features per output, then intercepts).

    See Also
    --------
    sklearn.frozen.FrozenEstimator : wrap a model that is already fitted.

    Notes
    -----
    Signs (see the user guide): ``influence`` > 0 means up-weighting the training row
    *raises* the query loss (harmful); ``leave_one_out`` > 0 means *removing* it raises
    the query loss (it was helpful); ``*_params`` results are "after minus before".

    References
    ----------
    P. W. Koh and P. Liang, "Understanding Black-box Predictions via Influence
    Functions", ICML 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_influence import InfluenceEstimator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> inf = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X[:400], y[:400])
    >>> inf.influence(X[400:405], y[400:405]).shape
    (5, 400)
    >>> bool((inf.self_influence() >= 0).all())
    True
    """

    def __init__(
        self,
        estimator,
        *,
        preprocessing="refit",
        solver="auto",
        damping=0.0,
        smoothing=None,
        cg_tol=1e-10,
        cg_max_iter=None,
        cg_warm_start=False,
        lissa_scale=None,
        lissa_depth=5000,
        lissa_repeats=10,
        lissa_batch_size=1,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.preprocessing = preprocessing
        self.solver = solver
        self.damping = damping
        self.smoothing = smoothing
        self.lissa_scale = lissa_scale
        self.lissa_depth = lissa_depth
        self.lissa_repeats = lissa_repeats
        self.lissa_batch_size = lissa_batch_size
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.cg_tol = cg_tol
        self.cg_max_iter = cg_max_iter
        self.cg_warm_start = cg_warm_start

    def __sklearn_tags__(self):
        return inner_estimator_tags(super().__sklearn_tags__(), self.estimator)

    def _check_params(self):
        if self.preprocessing not in _PREPROCESSING:
            raise ValueError(
                f"preprocessing must be one of {_PREPROCESSING}; got preprocessing={self.preprocessing!r}."
            )
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}; got solver={self.solver!r}.")
        for name in ("damping", "cg_tol"):
            value = getattr(self, name)
            valid = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
            if not valid or value < 0 or (name == "cg_tol" and value == 0):
                expected = "a finite number >= 0" if name == "damping" else "a finite number > 0"
                raise ValueError(f"{name} must be {expected}; got {name}={value!r}.")
        if self.smoothing is not None and not (
            isinstance(self.smoothing, numbers.Real) and np.isfinite(self.smoothing) and self.smoothing > 0
        ):
            raise ValueError(
                f"smoothing must be None or a temperature > 0 (e.g. 0.01); got smoothing={self.smoothing!r}."
            )
        if self.cg_max_iter is not None and not (
            isinstance(self.cg_max_iter, numbers.Integral) and self.cg_max_iter > 0
        ):
            raise ValueError(f"cg_max_iter must be None or a positive integer; got cg_max_iter={self.cg_max_iter!r}.")
        if not isinstance(self.cg_warm_start, bool | np.bool_):
            raise ValueError(f"cg_warm_start must be True or False; got cg_warm_start={self.cg_warm_start!r}.")
        if self.n_jobs is not None and (
            not isinstance(self.n_jobs, numbers.Integral) or isinstance(self.n_jobs, bool) or self.n_jobs == 0
        ):
            raise ValueError(f"n_jobs must be None or a non-zero integer; got n_jobs={self.n_jobs!r}.")
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise ValueError(
                f"verbose must be a non-negative integer or a bool (0: silent); got verbose={self.verbose!r}."
            )

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit a clone of the estimator and factorise what the solver needs.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data (raw feature space when the estimator is a pipeline; then the
            fitted estimator keeps a reference to it, not a copy, for
            ``perturbation_influence(space="raw")``). A Dask array (numpy or scipy.sparse
            row blocks) or Dask DataFrame is reduced block by block on the workers, for a
            linear model or GLM given as ``FrozenEstimator(model)`` or one of dask-ml's
            ``LogisticRegression``, ``LinearRegression``, ``PoissonRegression``; the query
            methods then return lazy Dask arrays chunked like the training rows, and
            ``top_influences`` / ``rank_mislabel_candidates`` are tree reductions (needs the
            ``dask`` extra).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to the estimator's ``fit`` (to the last step of a
            pipeline) and used as ``s_i``. For a ``FrozenEstimator`` give the weights the
            model was fitted with.
        **fit_params : dict
            Further parameters passed to the estimator's ``fit``.

        Returns
        -------
        self : InfluenceEstimator
            Fitted estimator.
        """
        if is_dask_collection(X):  # row blocks reduced on the workers (_dask._fit), never computed here
            return fit_dask(self, X, y, sample_weight, **fit_params)
        self._check_params()
        self._forget_fit()
        if self.preprocessing == "refit":
            check_refit_supported(_unfitted_prefix(self.estimator))
        self._check_sample_weight(sample_weight, _num_samples(X))  # before a fit that may choke on it
        check_supported(self.estimator, self.smoothing)  # before a possibly long fit (a grid search ...)
        self.estimator_ = clone(self.estimator)
        if sample_weight is not None and not isinstance(self.estimator_, FrozenEstimator):
            fit_params[_sample_weight_key(self.estimator_)] = sample_weight
        self.estimator_.fit(X, y, **fit_params)
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, attr):
                setattr(self, attr, getattr(self.estimator_, attr))
        self.training_index_ = X.index if hasattr(X, "columns") and hasattr(X, "index") else None  # not list.index

        prefix, model = _unwrap(self.estimator_)
        Xt = self._model_features(X, prefix, getattr(model, "n_features_in_", None))
        y = np.asarray(y) if not is_classifier(model) else column_or_1d(y)
        if y.ndim == 2 and y.shape[1] == 1 and not get_tags(model).target_tags.multi_output:
            y = y[:, 0]  # as the single-output model did (HuberRegressor, GLMs)
        check_consistent_length(Xt, y)
        weights = self._check_sample_weight(sample_weight, Xt.shape[0])

        objective, weights = objective_from_estimator(model, y, weights, self.smoothing)
        targets = objective.encode(y)
        design = objective.design(Xt, targets)
        if isinstance(design, LinearDesign):
            design.n_jobs = self.n_jobs
        raw = objective.raw(design)
        residuals = objective.loss.gradient(targets, raw)
        curvature = objective.curvature_weights(targets, raw, weights)

        self._prefix, self._objective, self._design = prefix, objective, design
        # a reference, not a copy: perturbation_influence(space="raw") differentiates the transformers at it
        self._raw_X = None if prefix is None else (X if hasattr(X, "shape") else np.asarray(X))
        self._targets, self._raw, self._residuals, self._weights = targets, raw, residuals, weights
        self._curvature = curvature
        self._damping = self.damping  # what H was built with: query methods read this, never self.damping
        self._cg_options = {"rtol": self.cg_tol, "max_iter": self.cg_max_iter}  # for later CG solves (groups)
        self.params_ = public_params(model)
        self._check_stationarity(objective.gradient(design, targets, weights, residuals))
        if getattr(objective, "trained_on_hinge", False):
            self._check_hinge_degeneracy(model, design, targets, raw, weights)
        self.solver_ = self._resolve_solver(objective)
        self._solver = self._build_solver(objective, design, curvature)
        self._solve_penalty_share(objective)
        self._channel = self._statistics_channel(X, prefix, objective, design, residuals, curvature, weights)
        return self

    def _forget_fit(self):
        """Delete every fitted attribute of an earlier fit (a DataFrame's ``feature_names_in_``, ...)."""
        for name in [name for name in vars(self) if name.endswith("_") and not name.startswith("__")]:
            delattr(self, name)

    def _statistics_channel(self, X, prefix, objective, design, residuals, curvature, weights):
        """The transformers' statistics as a second channel (``preprocessing="refit"``), or ``None``."""
        if self.preprocessing != "refit" or prefix is None:
            return None
        node = decode_prefix(prefix)
        if node.n_stats == 0:  # encoders, stateless maps: nothing moves with the rows
            return None
        if not objective.closed_form:
            raise ValueError(
                f"preprocessing='refit' follows the transformers' statistics for linear models and GLMs; "
                f"{type(_unwrap(self.estimator_)[1]).__name__} is not one. Use preprocessing='fixed' (the fitted "
                "transformers are part of the data; only the final model is refit)."
            )
        X = X if hasattr(X, "shape") else np.asarray(X)
        return StatisticsChannel(node, X, objective, design, residuals, curvature, weights, self._solver)

    def _solve_penalty_share(self, objective):
        """``H⁻¹ ∂(½||θ||²_mask)/∂θ`` once, when the estimator's penalty scales with the data."""
        shares = getattr(objective, "penalty_shares", None)
        self._penalty_shares = shares
        self._share_solution = (
            None if shares is None else self._solver.solve(objective.penalty_share_gradient()[None])[0]
        )

    def _build_solver(self, objective, design, curvature):
        """The solver ``solver_`` names, built from the fitted objective."""
        if self.solver_ == "lissa":
            return self._lissa(objective, design, curvature)
        if self.solver_ == "exact":
            return ExactSolver(
                objective.hessian(design, curvature, self.damping),
                objective.n_outputs,
                objective.n_columns,
                objective.separable,
                damping=self.damping,
                intercept=getattr(objective, "fit_intercept", False),
                n_rows=int(np.count_nonzero(self._weights)),
                convex=objective.closed_form or None,
            )
        solver = objective_cg(
            objective,
            design,
            curvature,
            self.damping,
            rtol=self.cg_tol,
            max_iter=self.cg_max_iter,
            warm_start=self.cg_warm_start,
            verbose=self.verbose,
        )
        self.cg_condition_estimate_ = checked_condition(solver, stacklevel=3)
        return solver

    def _lissa(self, objective, design, curvature):
        solver, self.lissa_bias_bound_, self.lissa_error_ = fit_lissa(
            self, objective, design, curvature, self._residuals
        )
        return solver

    def _resolve_solver(self, objective):
        if self.solver != "auto":
            return self.solver
        n_internal = objective.n_columns * (1 if objective.separable else objective.n_outputs)
        return "exact" if n_internal <= objective.auto_exact_max_params else "cg"

    @staticmethod
    def _check_sample_weight(sample_weight, n_samples):
        if sample_weight is None:
            return np.ones(n_samples)
        try:
            weights = np.asarray(sample_weight, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"sample_weight must be an array of {n_samples} non-negative numbers, one per row of X; "
                f"got {type(sample_weight).__name__} that is not numeric."
            ) from None
        if weights.shape != (n_samples,):
            raise ValueError(
                f"sample_weight must have shape ({n_samples},), one weight per row of X; got shape {weights.shape}."
            )
        bad = ~np.isfinite(weights) | (weights < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"sample_weight must contain finite, non-negative numbers; got {int(bad.sum())} that are not, "
                f"e.g. sample_weight[{row}]={weights[row]:g}. A weight of 0 removes a row."
            )
        if not weights.any():
            raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
        return weights

    def _model_features(self, X, prefix, n_features):
        """``X`` as the final model sees it: float64 or float32, dense or CSR, finite, right width."""
        if prefix is None:
            Xt = validate_data(self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32])
        else:
            Xt = check_array(prefix.transform(X), accept_sparse="csr", dtype=[np.float64, np.float32])
        if n_features is not None and Xt.shape[1] != n_features:
            raise ValueError(f"X has {Xt.shape[1]} features after preprocessing, but the model expects {n_features}.")
        if sp.issparse(Xt):
            Xt = sp.csr_matrix(Xt)
        return Xt

    def _check_stationarity(self, gradient):
        row_terms = self._weights * np.linalg.norm(self._residuals, axis=1) * np.sqrt(self._design.squared_row_norms())
        active = row_terms[row_terms > 0]  # rows with no gradient (beyond a hinge's margin) have no effect
        typical = active.mean() if active.size else 0.0
        self.gradient_norm_ = float(np.linalg.norm(gradient))
        self.relative_gradient_norm_ = self.gradient_norm_ / typical if typical > 0 else 0.0
        if self.relative_gradient_norm_ > STATIONARITY_RTOL and self._objective.matches_training_loss:
            warnings.warn(
                f"The fitted parameters are not a stationary point of the training objective: "
                f"||grad O|| = {self.gradient_norm_:.2e}, {self.relative_gradient_norm_:.1e} times a "
                f"typical row's gradient (threshold {STATIONARITY_RTOL:g}). Influence estimates are "
                f"off by about that fraction of a row's effect. {convergence_advice(_unwrap(self.estimator_)[1])}",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _check_hinge_degeneracy(self, model, design, targets, raw, weights):
        """Warn when a hinge fit sits at a degenerate optimum that no single row moves."""
        tol = getattr(model, "tol", None)
        atol = min(max(MARGIN_ATOL, tol if isinstance(tol, numbers.Real) else 0.0), 1e-2)
        pinned = pinned_hinge_problems(design, targets, raw, weights, atol)
        if not pinned:
            return
        _, n_margin, n_rows, n_essential = max(pinned, key=lambda problem: problem[1])
        which = "" if targets.shape[1] == 1 else f" (in {len(pinned)} of its {targets.shape[1]} binary problems)"
        essential = f", but for the {n_essential} margin rows that alone span some direction" if n_essential else ""
        warnings.warn(
            f"{type(model).__name__} was trained with the hinge loss and sits at a degenerate optimum{which}: "
            f"{n_margin} of its {n_rows} rows lie exactly on the margin (|y f(x) - 1| <= {atol:g}) and pin every "
            "coefficient (they span all directions of the data, with room to spare). Removing or re-weighting "
            f"any single row{essential} leaves the hinge fit unchanged, so its leave-one-out effects are zero, "
            f"while influence computed with the smooth hinge (smoothing={self.smoothing:g}) describes the smooth "
            "model and predicts changes that hinge refits do not show. For influence that matches refits, fit "
            "SmoothHingeClassifier (its smooth hinge is the training loss) or a smooth loss (LogisticRegression, "
            "LinearSVC(loss='squared_hinge')); a smaller C can also move the fit off the degenerate optimum.",
            UserWarning,
            stacklevel=3,
        )

    # --- delegation ---------------------------------------------------------------
    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the fitted estimator (``estimator_.predict``)."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the fitted estimator (``estimator_.predict_proba``)."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities (``estimator_.predict_log_proba``)."""
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the fitted estimator (``estimator_.decision_function``)."""
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the fitted estimator (``estimator_.score``)."""
        check_is_fitted(self)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.estimator_.score(X, y, **kwargs)

    @property
    def classes_(self):
        """Class labels of the fitted classifier."""
        check_is_fitted(self)
        return self.estimator_.classes_
