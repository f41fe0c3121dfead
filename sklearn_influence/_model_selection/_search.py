"""``LeaveOneOutSearchCV``: a grid search whose leave-one-out (or K-fold) refits are Newton steps from one fit."""

import functools
import numbers
import time
import warnings

import numpy as np
from numpy.ma import MaskedArray
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import GammaRegressor, LogisticRegression, PoissonRegressor, TweedieRegressor
from sklearn.metrics import check_scoring
from sklearn.metrics._scorer import _BaseScorer
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._estimator import InfluenceEstimator
from .._models._losses import SquaredError
from .._wrapped import _sample_weight_key, inner_estimator_tags
from ._failures import _clean, _failed_row, _folds_missing_a_class, _prefix_error, _reemit, _score
from ._predictions import _FLOATS, loo_response
from ._responses import _FixedResponses
from ._ridge_path import ridge_alpha_path
from ._scores import per_row_scores

#: Leverage above which one Newton step is flagged as less reliable (non-least-squares models).
HIGH_LEVERAGE = 0.5
#: Models with a convex objective and a ``warm_start`` parameter: from any start their solver reaches the
#: same optimum (to its tolerance), so the previous candidate's solution can start the next fit.
_WARM_STARTABLE = (LogisticRegression, PoissonRegressor, GammaRegressor, TweedieRegressor)
#: Fitted attributes a warm start reads.
_WARM_STATE = ("coef_", "intercept_")


def _cached(function):
    cache = {}

    def compute(name):
        if name not in cache:
            cache[name] = function(name)
        return cache[name]

    return compute


def _best_has(attr):
    def check(self):
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class LeaveOneOutSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Grid search scored by leave-one-out (or K-fold) from one fit per candidate.

    A drop-in for :class:`~sklearn.model_selection.GridSearchCV`: each candidate is fitted
    once on all the data, wrapped in :class:`InfluenceEstimator`, and every held-out
    prediction comes from a Newton step instead of a refit:

    - ``cv=None``: leave-one-out. Row ``i``'s prediction is ``f(x_i; θ̂₋ᵢ)`` with
      ``θ̂₋ᵢ − θ̂ ≈ (H − s_i ∇²ℓ_i)⁻¹ s_i g_i`` (:func:`loo_predict`), exact for least squares.
      The scorer is evaluated once on the pooled leave-one-out predictions, as ``RidgeCV``
      does: for a mean of per-row scores (error, accuracy, log-loss) that is
      ``GridSearchCV(cv=LeaveOneOut())``'s ``mean_test_score``; for ROC AUC, R² and other
      non-decomposable scores it is the score of the pooled predictions (``GridSearchCV``
      cannot score one held-out row). ``std_test_score`` is, as ``GridSearchCV(cv=LeaveOneOut())``'s,
      the standard deviation of the ``n`` one-row scores for the scorers that are means of
      per-row terms (squared and absolute error, Poisson / Gamma / Tweedie deviance, accuracy,
      log-loss); NaN for the others (R², ROC AUC, root mean squared error, ...: the pooled score is
      not a mean of one-row scores).
      For ``Ridge`` or ``RidgeClassifier`` candidates that differ only in ``alpha`` (dense
      ``X``), every candidate's exact leave-one-out comes from one singular value
      decomposition shared by the grid, as ``RidgeCV``'s efficient leave-one-out.
    - a splitter or an int (``KFold``, ``StratifiedKFold``, ``GroupKFold``, ...): each fold's
      refit is the block-Newton step of :meth:`InfluenceEstimator.leave_group_out`,
      ``θ̂₋G − θ̂ ≈ (H − Σ_G s_i ∇²ℓ_i)⁻¹ Σ_G s_i g_i`` (exact for least squares), and the
      scorer is evaluated per fold, as ``GridSearchCV`` does.

    Parameters
    ----------
    estimator : estimator object
        A model :class:`InfluenceEstimator` supports (or a pipeline ending in one).
    param_grid : dict or list of dicts
        As ``GridSearchCV``'s.
    scoring : str, callable or None, default=None
        One scikit-learn scorer (``check_scoring``); ``None``: the estimator's ``score``
        (accuracy for classifiers, R² for regressors, as every supported model defines it).
        A callable ``scoring(estimator, X, y)`` gets a stand-in of the fitted candidate whose
        ``predict``, ``predict_proba``, ``predict_log_proba`` and ``decision_function`` return
        the held-out (leave-one-out or fold) responses of ``X``'s rows and whose ``score`` is
        the candidate's default score (accuracy or R²) of those responses; every other attribute
        (``coef_``, ``named_steps``, ...) is the candidate's **fitted on all the rows**, not on
        a fold's training rows as in ``GridSearchCV``.
    method : {"newton", "influence", "exact"}, default="newton"
        Approximation of each refit; ``"exact"`` refits ``clone(estimator)`` without each row
        (or fold), ``n`` (or ``k``) refits per candidate: for validation on small data.
    cv : int, cross-validation generator or None, default=None
        ``None``: leave-one-out; otherwise as ``GridSearchCV``'s ``cv``.
    refit : bool, default=True
        Refit the best candidate on all the data into ``best_estimator_``.
    warm_start : bool, default=True
        Start each candidate's fit from the previous candidate's coefficients, in the grid's
        order, for models with a convex objective and a ``warm_start`` parameter
        (``LogisticRegression`` but for ``solver="liblinear"``, ``PoissonRegressor``,
        ``GammaRegressor``, ``TweedieRegressor``; also as a pipeline's last step): the same
        optimum to the solver's tolerance, in fewer iterations. A
        candidate whose coefficients do not fit the previous ones (another ``fit_intercept``)
        starts cold. ``best_estimator_`` is always refitted from scratch.
    preprocessing : {"refit", "fixed"}, default="refit"
        For pipelines, as :class:`InfluenceEstimator`: ``"refit"`` answers about refitting the
        whole pipeline.
    smoothing : float or None, default=None
        Passed to each candidate's :class:`InfluenceEstimator`: the smooth-hinge temperature
        that hinge-loss models (``SVC(kernel="linear")``, ``LinearSVC(loss="hinge")``) need.
    damping : float, default=0.0
        Passed to each candidate's :class:`InfluenceEstimator`: ``H + damping·I``, for
        singular or indefinite Hessians (MLPs, more parameters than rows). Any damping other
        than 0 turns off the exact ``Ridge`` alpha path.
    error_score : "raise" or float, default=np.nan
        As ``GridSearchCV``'s: a candidate whose fit or scoring fails gets this score in every
        split, with a ``FitFailedWarning`` naming its parameters and the reason; ``"raise"``
        re-raises the error, its message prefixed with the candidate's parameters. If every
        candidate fails, ``fit`` raises. Warnings raised while fitting a candidate (e.g.
        ``ConvergenceWarning``) are re-emitted prefixed with its parameters.
    return_train_score : bool, default=False
        Add ``mean_train_score`` and ``std_train_score`` (and ``split<k>_train_score`` for
        K-fold) to ``cv_results_``. Leave-one-out: the score of the candidate fitted on all the
        rows, on all the rows (one fit: ``std_train_score`` is 0; ``GridSearchCV(cv=LeaveOneOut())``
        averages ``n`` fits on ``n − 1`` rows). K-fold: fold ``k``'s training rows scored by its
        block-Newton (or, ``method="exact"``, refitted) parameters, as ``GridSearchCV``.
    n_jobs : int, default=None
        Passed to each :class:`InfluenceEstimator`.
    pre_dispatch : int or str, default="2*n_jobs"
        Accepted so that ``GridSearchCV`` code runs unchanged; ignored (candidates run in turn).
    verbose : int, default=0
        Print one line per candidate when positive.

    Attributes
    ----------
    cv_results_ : dict of ndarrays
        ``GridSearchCV``'s keys (``params``, ``param_<name>`` as masked arrays,
        ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``, ``std_score_time``,
        ``split<k>_test_score`` for K-fold, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``) plus per-candidate diagnostics ``max_leverage`` (largest
        ``h_i = s_i a_i x̃_iᵀ H⁻¹ x̃_i``; for several outputs the largest eigenvalue of
        ``s_i A_i M_i``) and ``fraction_high_leverage`` (rows with ``h_i > 0.5``, where one
        Newton step is less reliable for models other than least squares).
    best_index_, best_params_, best_score_ : int, dict, float
    best_estimator_ : estimator
        ``refit=True`` only.
    n_splits_ : int
        ``n_samples`` for leave-one-out, the number of folds otherwise.
    refit_time_ : float
    scorer_ : callable
    n_features_in_, feature_names_in_, classes_
        From ``best_estimator_``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn_influence import LeaveOneOutSearchCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = LeaveOneOutSearchCV(Ridge(), {"alpha": [0.01, 0.1, 1.0]}).fit(X, y)
    >>> search.n_splits_
    442
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        method="newton",
        cv=None,
        refit=True,
        warm_start=True,
        preprocessing="refit",
        smoothing=None,
        damping=0.0,
        error_score=np.nan,
        return_train_score=False,
        n_jobs=None,
        pre_dispatch="2*n_jobs",
        verbose=0,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.method = method
        self.cv = cv
        self.refit = refit
        self.warm_start = warm_start
        self.preprocessing = preprocessing
        self.smoothing = smoothing
        self.damping = damping
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.n_jobs = n_jobs
        self.pre_dispatch = pre_dispatch
        self.verbose = verbose

    def __sklearn_tags__(self):
        return inner_estimator_tags(super().__sklearn_tags__(), self.estimator)

    def _check_params(self):
        if self.method not in ("newton", "influence", "exact"):
            raise ValueError(f"method must be 'newton', 'influence' or 'exact'; got method={self.method!r}.")
        for name in ("refit", "warm_start", "return_train_score"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False; got {name}={getattr(self, name)!r}.")
        if isinstance(self.scoring, list | tuple | set | dict):
            raise ValueError(
                f"scoring must be one scorer (a string, a callable or None); got scoring={self.scoring!r}. "
                "Run one search per metric."
            )
        if not (isinstance(self.error_score, numbers.Real) or self.error_score == "raise"):
            raise ValueError(f"error_score must be 'raise' or a number; got error_score={self.error_score!r}.")
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise ValueError(f"verbose must be a non-negative integer; got verbose={self.verbose!r}.")

    def fit(self, X, y, sample_weight=None, groups=None, **fit_params):
        """Fit every candidate once, score it by leave-one-out (or K-fold) Newton steps, refit the best.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Fit weights; with K-fold each fold's scorer also gets its rows' weights, as
            ``GridSearchCV`` passes them. Leave-one-out scores stay unweighted means over the
            rows, as ``GridSearchCV(cv=LeaveOneOut())``'s mean of one-row scores is.
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter (``GroupKFold``).
        **fit_params : dict
            Further parameters of the estimator's ``fit``.

        Returns
        -------
        self : LeaveOneOutSearchCV
        """
        self._check_params()
        candidates = list(ParameterGrid(self.param_grid))
        # the supported models' own score is ClassifierMixin's accuracy or RegressorMixin's R²
        default = "accuracy" if is_classifier(self.estimator) else "r2"
        scorer = check_scoring(self.estimator, scoring=default if self.scoring is None else self.scoring)
        n = _num_samples(X)
        folds = None
        if self.cv is not None:
            splitter = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
            folds = [test for _, test in splitter.split(X, y, groups)]
        n_splits = n if folds is None else len(folds)
        self._failed_folds = _folds_missing_a_class(self.estimator, y, folds)
        start = time.perf_counter()
        path = None
        if folds is None and self.method == "newton" and not self.damping:
            weights = InfluenceEstimator._check_sample_weight(sample_weight, n)
            path = ridge_alpha_path(self.estimator, candidates, X, y, weights, fit_params)
        shared_time = (time.perf_counter() - start) / len(candidates)  # the decomposition, shared by the grid
        rows, previous, failures = [], None, []
        data = (X, y, sample_weight, fit_params, scorer, folds)
        for index, params in enumerate(candidates):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    row, previous = self._evaluate(params, previous, path, shared_time, *data)
                except Exception as error:  # as GridSearchCV: one failing candidate does not abort the search
                    if self.error_score == "raise":
                        _prefix_error(error, f"Candidate {params}: ")
                        raise
                    failures.append(f"{type(error).__name__}: {_clean(str(error))}")
                    row = _failed_row(self.error_score, n_splits, folds is None)
                    caught.append(
                        warnings.WarningMessage(
                            FitFailedWarning(
                                f"Candidate {params} failed; its scores are error_score={self.error_score!r}. "
                                f"{failures[-1]}"
                            ),
                            FitFailedWarning,
                            __file__,
                            0,
                        )
                    )
            _reemit(caught, params)
            rows.append(row)
            if self.verbose:
                print(f"[LeaveOneOutSearchCV] {index + 1}/{len(candidates)} {params}: score={row['score']:.6g}")
        if len(failures) == len(candidates):
            raise ValueError(f"All the {len(candidates)} candidates failed; the first: {failures[0]}")
        self.cv_results_ = self._results(candidates, rows, folds is None)
        self._warn_leverage([0.0 if row["exact"] else row["frac_high"] for row in rows])
        self.best_index_ = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = self.cv_results_["mean_test_score"][self.best_index_]
        self.n_splits_ = n_splits
        self.scorer_ = scorer
        self.multimetric_ = False
        if self.refit:
            start = time.perf_counter()
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            if sample_weight is not None:
                fit_params = {**fit_params, _sample_weight_key(self.best_estimator_): sample_weight}
            self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(self.best_estimator_, attr):
                    setattr(self, attr, getattr(self.best_estimator_, attr))
        return self

    def _evaluate(self, params, previous, path, shared_time, X, y, sample_weight, fit_params, scorer, folds):
        """``(row of cv_results_, fitted candidate)`` of one candidate (``previous`` when it was not fitted)."""
        start = time.perf_counter()
        kind = get_tags(self.estimator).estimator_type
        alpha = params.get("alpha", getattr(self.estimator, "alpha", None))
        on_path = None if path is None or not path.usable(alpha) else path.leave_one_out(alpha)
        fitted = _cached(lambda _: self._fit_candidate(params, None, X, y, sample_weight, fit_params))
        if on_path is not None:
            predictions, leverage = on_path
            fit_time = time.perf_counter() - start + shared_time
            start = time.perf_counter()
            values = path.responses(predictions)
            responses = _FixedResponses(
                self.estimator, values.__getitem__, kind, path.classes_, fitted=functools.partial(fitted, None)
            )
            per_split = [_score(scorer, responses, X, y)]
            train = None if not self.return_train_score else [self._train_score(scorer, fitted(None), X, y)]
            is_exact = True
        else:
            previous = self._fit_candidate(params, previous, X, y, sample_weight, fit_params)
            frozen = FrozenEstimator(previous)
            inf = InfluenceEstimator(
                frozen,
                preprocessing=self.preprocessing,
                smoothing=self.smoothing,
                damping=self.damping,
                n_jobs=self.n_jobs,
            )
            inf.fit(X, y, sample_weight=sample_weight)
            fit_time = time.perf_counter() - start
            start = time.perf_counter()
            model = clone(self.estimator).set_params(**params)  # unfitted, for method="exact"
            quad = _quadratic_forms(inf) if inf._design.n_samples * inf._objective.n_outputs**2 <= _FLOATS else None
            responses, per_split, train = self._score_candidate(
                inf, previous, model, scorer, X, y, sample_weight, fit_params, folds, quad
            )
            leverage = _leverage(inf, quad)
            is_exact = isinstance(inf._objective.loss, SquaredError)
        per_row = per_row_scores(scorer, responses, y) if folds is None else None
        row = {
            "fit_time": fit_time,
            "score_time": time.perf_counter() - start,
            "split": per_split,
            "score": float(np.mean(per_split)),
            "std": np.std(per_split) if folds is not None else np.nan if per_row is None else np.std(per_row),
            "train": train,
            "max_lev": float(np.max(leverage)),
            "frac_high": float(np.mean(leverage > HIGH_LEVERAGE)),
            "exact": is_exact,
        }
        return row, previous

    def _train_score(self, scorer, fitted, X, y, sample_weight=None):
        """The scorer of the candidate fitted on all the rows, on all the rows."""
        weighted = sample_weight is not None and isinstance(scorer, _BaseScorer)
        return _score(scorer, fitted, X, y, **({"sample_weight": np.asarray(sample_weight)} if weighted else {}))

    def _fit_candidate(self, params, previous, X, y, sample_weight, fit_params):
        """``clone(estimator)`` with ``params`` fitted on all the data, warm-started from ``previous`` if it can be."""
        model = clone(self.estimator).set_params(**params)
        if sample_weight is not None:
            fit_params = {**fit_params, _sample_weight_key(model): sample_weight}
        key, final = _final_model(model)
        warm = (
            self.warm_start
            and previous is not None
            and type(final) in _WARM_STARTABLE
            and getattr(final, "solver", None) != "liblinear"
        )
        if warm:
            _, before = _final_model(previous)
            model.set_params(**{key + "warm_start": True})
            for attr in _WARM_STATE:
                if hasattr(before, attr):
                    setattr(final, attr, np.copy(getattr(before, attr)))
            try:
                return model.fit(X, y, **fit_params)
            except ValueError:  # coefficients of another shape (fit_intercept, classes): start cold
                model = clone(self.estimator).set_params(**params)
        return model.fit(X, y, **fit_params)

    def _score_candidate(self, inf, fitted, model, scorer, X, y, sample_weight, fit_params, folds, quad):
        """``(leave-one-out responses or None, [score per split], [train score per split] or None)``."""
        if folds is not None:
            refit = None
            if self.method == "exact":
                refit = functools.partial(_refit_response, model, X, y, sample_weight, fit_params)
            fold = functools.partial(self._fold_score, inf, fitted, scorer, X, y, refit=refit, weights=sample_weight)
            test = [fold(k, rows) for k, rows in enumerate(folds)]
            if not self.return_train_score:
                return None, test, None
            n = _num_samples(X)
            train = [fold(k, rows, np.setdiff1d(np.arange(n), rows)) for k, rows in enumerate(folds)]
            return None, test, train
        n = _num_samples(X)
        if self.method == "exact":
            loo = _cached(
                lambda name: np.concatenate(
                    [_refit_response(model, X, y, sample_weight, fit_params, name, [i]) for i in range(n)]
                )
            )
        else:
            loo = _cached(lambda name: loo_response(inf, X, name, method=self.method, quad=quad))
        kind = get_tags(self.estimator).estimator_type
        responses = _FixedResponses(inf, loo, kind, fitted=lambda: fitted)
        train = [self._train_score(scorer, fitted, X, y, sample_weight)] if self.return_train_score else None
        return responses, [_score(scorer, responses, X, y)], train

    def _fold_score(self, inf, fitted, scorer, X, y, k, test, rows=None, refit=None, weights=None):
        """The scorer at ``rows`` (default: fold ``k``'s ``test`` rows) of the block-Newton refit without ``test``.

        NaN when the refit's training rows lack a class (``_failed_folds``), as ``GridSearchCV``'s
        ``error_score=np.nan`` gives for the failed refit.
        """
        if k in self._failed_folds:
            return np.nan
        rows = test if rows is None else rows
        X_rows, y_rows = _safe_indexing(X, rows), _safe_indexing(y, rows)

        def compute(name):
            if name == "predict" and is_classifier(inf.estimator_):
                inner = "decision_function" if hasattr(inf, "decision_function") else "predict_proba"
                values = compute(inner)
                return inf.classes_[(values > 0).astype(int) if values.ndim == 1 else np.argmax(values, axis=1)]
            if refit is not None:
                return refit(name, test, rows)
            base = np.asarray(getattr(inf, name)(X_rows), dtype=float)
            change = np.asarray(inf.leave_group_out(X_rows, None, [test], measure=name, method=self.method))
            return base + change[..., 0].reshape(base.shape)

        # as GridSearchCV: a scikit-learn scorer gets the fold's sample weights
        weighted = weights is not None and isinstance(scorer, _BaseScorer)  # a plain callable: as given
        extra = {"sample_weight": np.asarray(weights)[rows]} if weighted else {}
        kind = get_tags(self.estimator).estimator_type
        responses = _FixedResponses(inf, _cached(compute), kind, fitted=lambda: fitted)
        return _score(scorer, responses, X_rows, y_rows, **extra)

    def _results(self, candidates, rows, loo):
        n_candidates = len(candidates)
        results = {
            "mean_fit_time": np.array([row["fit_time"] for row in rows]),
            "std_fit_time": np.zeros(n_candidates),
            "mean_score_time": np.array([row["score_time"] for row in rows]),
            "std_score_time": np.zeros(n_candidates),
        }
        names = sorted({name for params in candidates for name in params})
        for name in names:
            column = MaskedArray(np.empty(n_candidates, dtype=object), mask=True)
            for i, params in enumerate(candidates):
                if name in params:
                    column[i] = params[name]
            results[f"param_{name}"] = column
        results["params"] = candidates
        split_scores = np.array([row["split"] for row in rows], dtype=float)
        if not loo:
            for k in range(split_scores.shape[1]):
                results[f"split{k}_test_score"] = split_scores[:, k]
        mean = np.array([row["score"] for row in rows], dtype=float)
        results["mean_test_score"] = mean
        results["std_test_score"] = np.array([row["std"] for row in rows], dtype=float)
        # as GridSearchCV: NaN scores rank last
        finite = np.where(np.isnan(mean), -np.inf, mean)
        results["rank_test_score"] = rankdata(-finite, method="min").astype(np.int32)
        if self.return_train_score:
            train = np.array([row["train"] for row in rows], dtype=float)
            if not loo:
                for k in range(train.shape[1]):
                    results[f"split{k}_train_score"] = train[:, k]
            results["mean_train_score"] = train.mean(axis=1)
            results["std_train_score"] = train.std(axis=1)
        results["max_leverage"] = np.array([row["max_lev"] for row in rows])
        results["fraction_high_leverage"] = np.array([row["frac_high"] for row in rows])
        return results

    def _warn_leverage(self, frac_high):
        if any(f > 0 for f in frac_high) and self.cv is None:
            worst = int(np.argmax(frac_high))
            warnings.warn(
                f"{100 * frac_high[worst]:.1f}% of the rows have leverage > {HIGH_LEVERAGE} for candidate "
                f"{self.cv_results_['params'][worst]}: one Newton step is less reliable there for models other "
                "than least squares. Check it against refits (cross_val_predict(..., cv=LeaveOneOut()) on a subsample) "
                "or use a larger penalty.",
                UserWarning,
                stacklevel=3,
            )

    # --- delegation to best_estimator_, as GridSearchCV -------------------------
    def _check_refit(self, name):
        check_is_fitted(self)
        if not self.refit:
            raise AttributeError(f"{name} is available only after refitting on the best parameters (refit=True).")

    @available_if(_best_has("predict"))
    def predict(self, X):
        self._check_refit("predict")
        return self.best_estimator_.predict(X)

    @available_if(_best_has("predict_proba"))
    def predict_proba(self, X):
        self._check_refit("predict_proba")
        return self.best_estimator_.predict_proba(X)

    @available_if(_best_has("decision_function"))
    def decision_function(self, X):
        self._check_refit("decision_function")
        return self.best_estimator_.decision_function(X)

    def score(self, X, y):
        """``scorer_`` of ``best_estimator_`` on ``X, y``."""
        self._check_refit("score")
        return self.scorer_(self.best_estimator_, X, y)

    @property
    def classes_(self):
        self._check_refit("classes_")
        return self.best_estimator_.classes_


def _refit_response(estimator, X, y, sample_weight, fit_params, name, test, rows=None):
    """``name`` of ``clone(estimator)`` refitted without the rows ``test``, at ``rows`` (default: ``test``)."""
    train = np.setdiff1d(np.arange(_num_samples(X)), test)
    params = dict(fit_params)
    if sample_weight is not None:
        params[_sample_weight_key(estimator)] = np.asarray(sample_weight)[train]
    model = clone(estimator).fit(_safe_indexing(X, train), _safe_indexing(y, train), **params)
    return getattr(model, name)(_safe_indexing(X, np.asarray(test if rows is None else rows)))


def _final_model(estimator):
    """``(parameter prefix, final model)`` of an estimator or of a pipeline ending in one."""
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        key, model = _final_model(last)
        return f"{name}__{key}", model
    return "", estimator


def _chunks(inf):
    """Row chunks of ``inf``'s training rows whose quadratic forms' working arrays stay within ``_FLOATS``."""
    objective, n = inf._objective, inf._design.n_samples
    step = max(1, _FLOATS // max(1, objective.n_outputs**2 * objective.n_columns))
    return [np.arange(start, min(start + step, n)) for start in range(0, n, step)]


def _quadratic_forms(inf):
    """``M_i = Ũ_iᵀ H⁻¹ Ũ_i`` of every training row (computed once, read by the scores and the leverage)."""
    return np.concatenate([inf._solver.quadratic_forms(inf._design.take(rows)) for rows in _chunks(inf)])


def _leverage(inf, quad_all=None):
    """``h_i = s_i a_i x̃_iᵀ H⁻¹ x̃_i`` (largest eigenvalue of ``s_i A_i M_i`` for several outputs)."""
    objective, design = inf._objective, inf._design
    out = np.empty(design.n_samples)
    for rows in _chunks(inf):
        quad = inf._solver.quadratic_forms(design.take(rows)) if quad_all is None else quad_all[rows]
        curvature = objective.loss.hessian(inf._targets[rows], inf._raw[rows])
        s = inf._weights[rows]
        if objective.separable:
            curv = curvature if curvature.ndim == 1 else curvature[:, 0]
            quad = quad if quad.ndim == 1 else quad[:, 0]
            out[rows] = s * curv * quad
        else:
            out[rows] = s * np.max(np.linalg.eigvals(np.einsum("ikl,ilm->ikm", curvature, quad)).real, axis=1)
    return out
