"""``LeaveOneOutSearchCV``: a grid search whose leave-one-out (or K-fold) refits are Newton steps from one fit."""

import functools
import numbers
import time
import warnings

import numpy as np
from numpy.ma import MaskedArray
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
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

from .._estimator import InfluenceEstimator, _sample_weight_key, inner_estimator_tags
from .._models._losses import SquaredError
from ._predictions import _FLOATS, loo_response
from ._ridge_path import ridge_alpha_path
from ._scores import per_row_scores

#: Leverage above which one Newton step is flagged as less reliable (non-least-squares models).
HIGH_LEVERAGE = 0.5
#: Models with a convex objective and a ``warm_start`` parameter: from any start their solver reaches the
#: same optimum (to its tolerance), so the previous candidate's solution can start the next fit.
_WARM_STARTABLE = (LogisticRegression, PoissonRegressor, GammaRegressor, TweedieRegressor)
#: Fitted attributes a warm start reads.
_WARM_STATE = ("coef_", "intercept_")


class _FixedResponses(BaseEstimator):
    """An estimator-like object whose responses are given (leave-one-out or held-out-fold ones).

    Scikit-learn scorers call ``predict`` / ``predict_proba`` / ``decision_function`` on it;
    each returns the stored responses for the rows it stands for (``X`` is only counted).
    ``estimator_type`` ("classifier" or "regressor") is given once, not read from ``source``'s
    tags at every scorer call.
    """

    def __init__(self, source, compute, estimator_type, classes=None):
        self.source = source
        self.compute = compute
        self.estimator_type = estimator_type
        self.classes = classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = self.estimator_type
        return tags

    @property
    def classes_(self):
        return self.source.classes_ if self.classes is None else self.classes

    def _get(self, name, X):
        values = self.compute(name)
        if _num_samples(X) != values.shape[0]:
            raise ValueError(f"expected the {values.shape[0]} rows these responses stand for; got {_num_samples(X)}.")
        return values

    def predict(self, X):
        return self._get("predict", X)

    @available_if(lambda self: hasattr(self.source, "predict_proba"))
    def predict_proba(self, X):
        return self._get("predict_proba", X)

    @available_if(lambda self: hasattr(self.source, "decision_function"))
    def decision_function(self, X):
        return self._get("decision_function", X)


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
    n_jobs : int, default=None
        Passed to each :class:`InfluenceEstimator`.
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
        n_jobs=None,
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
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        return inner_estimator_tags(super().__sklearn_tags__(), self.estimator)

    def _check_params(self):
        if self.method not in ("newton", "influence", "exact"):
            raise ValueError(f"method must be 'newton', 'influence' or 'exact'; got method={self.method!r}.")
        if not isinstance(self.refit, bool | np.bool_):
            raise ValueError(
                f"refit must be True or False (one scorer: the best candidate is the highest score); "
                f"got refit={self.refit!r}."
            )
        if not isinstance(self.warm_start, bool | np.bool_):
            raise ValueError(f"warm_start must be True or False; got warm_start={self.warm_start!r}.")
        if isinstance(self.scoring, list | tuple | set | dict):
            raise ValueError(
                f"scoring must be one scorer (a string, a callable or None); got scoring={self.scoring!r}. "
                "Run one search per metric."
            )
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
        start = time.perf_counter()
        path = None
        if folds is None and self.method == "newton":
            weights = InfluenceEstimator._check_sample_weight(sample_weight, n)
            path = ridge_alpha_path(self.estimator, candidates, X, y, weights, fit_params)
        shared_time = (time.perf_counter() - start) / len(candidates)  # the decomposition, shared by the grid
        fit_times, score_times, scores, split_scores, stds, max_lev, frac_high, exact = ([] for _ in range(8))
        previous, kind = None, get_tags(self.estimator).estimator_type
        for index, params in enumerate(candidates):
            start = time.perf_counter()
            alpha = params.get("alpha", getattr(self.estimator, "alpha", None))
            on_path = None if path is None or not path.usable(alpha) else path.leave_one_out(alpha)
            if on_path is not None:
                predictions, leverage = on_path
                fit_times.append(time.perf_counter() - start + shared_time)
                start = time.perf_counter()
                values = path.responses(predictions)
                responses = _FixedResponses(self.estimator, values.__getitem__, kind, path.classes_)
                per_split = [scorer(responses, X, y)]
                is_exact = True
            else:
                previous = self._fit_candidate(params, previous, X, y, sample_weight, fit_params)
                frozen = FrozenEstimator(previous)
                inf = InfluenceEstimator(frozen, preprocessing=self.preprocessing, n_jobs=self.n_jobs)
                inf.fit(X, y, sample_weight=sample_weight)
                fit_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                model = clone(self.estimator).set_params(**params)  # unfitted, for method="exact"
                quad = _quadratic_forms(inf) if inf._design.n_samples * inf._objective.n_outputs**2 <= _FLOATS else None
                responses, per_split = self._score_candidate(
                    inf, model, scorer, X, y, sample_weight, fit_params, folds, quad
                )
                leverage = _leverage(inf, quad)
                is_exact = isinstance(inf._objective.loss, SquaredError)
            per_row = per_row_scores(scorer, responses, y) if folds is None else None
            score_times.append(time.perf_counter() - start)
            split_scores.append(per_split)
            scores.append(float(np.mean(per_split)))
            stds.append(np.std(per_split) if folds is not None else np.nan if per_row is None else np.std(per_row))
            max_lev.append(float(np.max(leverage)))
            frac_high.append(float(np.mean(leverage > HIGH_LEVERAGE)))
            exact.append(is_exact)
            if self.verbose:
                print(f"[LeaveOneOutSearchCV] {index + 1}/{len(candidates)} {params}: score={scores[-1]:.6g}")
        self.cv_results_ = self._results(candidates, fit_times, score_times, scores, split_scores, stds, folds is None)
        self.cv_results_["max_leverage"] = np.array(max_lev)
        self.cv_results_["fraction_high_leverage"] = np.array(frac_high)
        self._warn_leverage([0.0 if e else f for f, e in zip(frac_high, exact)])
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

    def _score_candidate(self, inf, model, scorer, X, y, sample_weight, fit_params, folds, quad):
        """``(leave-one-out responses or None, [score per split])`` of one fitted candidate."""
        if folds is not None:
            refit = None
            if self.method == "exact":
                refit = functools.partial(_refit_response, model, X, y, sample_weight, fit_params)
            return None, [self._fold_score(inf, scorer, X, y, test, refit, sample_weight) for test in folds]
        n = _num_samples(X)
        if self.method == "exact":
            loo = _cached(
                lambda name: np.concatenate(
                    [_refit_response(model, X, y, sample_weight, fit_params, name, [i]) for i in range(n)]
                )
            )
        else:
            loo = _cached(lambda name: loo_response(inf, X, name, method=self.method, quad=quad))
        responses = _FixedResponses(inf, loo, get_tags(self.estimator).estimator_type)
        return responses, [scorer(responses, X, y)]

    def _fold_score(self, inf, scorer, X, y, test, refit=None, sample_weight=None):
        """The scorer on fold ``test``'s rows, predicted by the block-Newton refit without them."""
        X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)

        def compute(name):
            if name == "predict" and is_classifier(inf.estimator_):
                inner = "decision_function" if hasattr(inf, "decision_function") else "predict_proba"
                values = compute(inner)
                return inf.classes_[(values > 0).astype(int) if values.ndim == 1 else np.argmax(values, axis=1)]
            if refit is not None:
                return refit(name, test)
            base = np.asarray(getattr(inf, name)(X_test), dtype=float)
            change = np.asarray(inf.leave_group_out(X_test, None, [test], measure=name, method=self.method))
            return base + change[..., 0].reshape(base.shape)

        # as GridSearchCV: a scikit-learn scorer gets the fold's sample weights
        weighted = sample_weight is not None and isinstance(scorer, _BaseScorer)  # a plain callable: as given
        weights = {"sample_weight": np.asarray(sample_weight)[test]} if weighted else {}
        responses = _FixedResponses(inf, _cached(compute), get_tags(self.estimator).estimator_type)
        return scorer(responses, X_test, y_test, **weights)

    def _results(self, candidates, fit_times, score_times, scores, split_scores, stds, loo):
        n_candidates = len(candidates)
        results = {
            "mean_fit_time": np.array(fit_times),
            "std_fit_time": np.zeros(n_candidates),
            "mean_score_time": np.array(score_times),
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
        split_scores = np.array(split_scores, dtype=float)
        if not loo:
            for k in range(split_scores.shape[1]):
                results[f"split{k}_test_score"] = split_scores[:, k]
        mean = np.array(scores, dtype=float)
        results["mean_test_score"] = mean
        results["std_test_score"] = np.array(stds, dtype=float)
        finite = np.where(np.isnan(mean), -np.inf, mean)
        results["rank_test_score"] = rankdata(-finite, method="min").astype(np.int32)
        return results

    def _warn_leverage(self, frac_high):
        if any(f > 0 for f in frac_high) and self.cv is None:
            worst = int(np.argmax(frac_high))
            warnings.warn(
                f"{100 * frac_high[worst]:.1f}% of the rows have leverage > {HIGH_LEVERAGE} for candidate "
                f"{self.cv_results_['params'][worst]}: one Newton step is less reliable there for models other "
                "than least squares. Check it against refits (GridSearchCV(cv=LeaveOneOut()) on a subsample) "
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


def _refit_response(estimator, X, y, sample_weight, fit_params, name, test):
    """``name`` of ``clone(estimator)`` refitted without the rows ``test``, at those rows (``method="exact"``)."""
    train = np.setdiff1d(np.arange(_num_samples(X)), test)
    params = dict(fit_params)
    if sample_weight is not None:
        params[_sample_weight_key(estimator)] = np.asarray(sample_weight)[train]
    model = clone(estimator).fit(_safe_indexing(X, train), _safe_indexing(y, train), **params)
    return getattr(model, name)(_safe_indexing(X, np.asarray(test)))


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
