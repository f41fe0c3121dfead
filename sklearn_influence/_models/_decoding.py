"""Decoding: the only place that reads a scikit-learn estimator's parameterisation.

One decoder per estimator family turns a fitted model into the sum-form
:class:`~sklearn_influence._objectives.LinearObjective` it minimises (its loss, its
coefficients in identified coordinates, its L2 penalty per column) and the effective
sample weights ``s_i`` (``class_weight`` folded in), exactly as scikit-learn defines them.
Every scaling convention of scikit-learn is resolved here and nowhere else:

* ``LogisticRegression``: ``C Σ s ℓ + ½||w||²`` → λ = 1/C; liblinear penalises the
  intercept through ``intercept_scaling`` → λ_b = 1/(C·intercept_scaling²).
* ``Ridge`` / ``LinearRegression``: ``Σ s (y − f)² + α||w||²`` → un-halved squared error, λ = 2α.
* ``SmoothHingeClassifier``, ``LinearSVC``, ``SVC(kernel="linear")``: ``C Σ s m(y f) + ½||w||²``.
* ``SGDClassifier``: ``(1/n) Σ s L + α ½||w||²`` → λ = n·α.
"""

import autograd.numpy as anp
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import (
    GammaRegressor,
    HuberRegressor,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.class_weight import compute_class_weight

from ._autograd import AutogradObjective
from ._custom import AutogradModel
from ._losses import (
    BinomialLogLoss,
    HalfTweedieLoss,
    HuberResidualLoss,
    LogisticMargin,
    MarginLoss,
    ModifiedHuberMargin,
    MultinomialLogLoss,
    SmoothHingeMargin,
    SquaredEpsilonInsensitiveLoss,
    SquaredError,
    SquaredHingeMargin,
    plus_minus_codes,
)
from ._mlp import MLPObjective, flatten_mlp_params
from ._objectives import LinearObjective, class_weighted
from ._svm import SmoothHingeClassifier

SUPPORTED_ESTIMATORS = (
    "LogisticRegression (L2 or no penalty; binary or multinomial; any solver, liblinear "
    "decoded with its penalised intercept), Ridge (scalar alpha), LinearRegression, "
    "SmoothHingeClassifier, LinearSVC (hinge with smoothing, or squared_hinge; L2; one-vs-rest), "
    "SGDClassifier (hinge with smoothing, log_loss, modified_huber, squared_hinge; L2 or no penalty), "
    "SVC(kernel='linear') (with smoothing), MLPClassifier / MLPRegressor (with damping), "
    "AutogradModel (any differentiable per-sample loss), PoissonRegressor, GammaRegressor, "
    "TweedieRegressor (log link, or identity with power=0), RidgeClassifier, RidgeCV, "
    "LogisticRegressionCV (refit=True), SGDRegressor (squared_error, huber, squared_epsilon_insensitive)"
)


def _fits_intercept(model):
    return getattr(model, "fit_intercept", True)  # SVC always fits one


def public_params(model):
    """The fitted parameters in the library's layout.

    ``concatenate([coef_.ravel(), intercept_.ravel()])`` for a linear model; every layer's
    ``coefs_`` then every layer's ``intercepts_`` for an MLP; ``params_`` for an
    :class:`AutogradModel`.
    """
    if isinstance(model, AutogradModel):
        return np.asarray(model.params_, dtype=float)
    if isinstance(model, HuberRegressor):  # the scale is a parameter of its objective
        return np.concatenate([model.coef_, [model.intercept_] if model.fit_intercept else [], [model.scale_]])
    if hasattr(model, "coefs_"):
        return flatten_mlp_params(model.coefs_, model.intercepts_).astype(float)
    coef = _dense(model.coef_).ravel()
    if not _fits_intercept(model):
        return coef
    return np.concatenate([coef, np.atleast_1d(np.asarray(model.intercept_, dtype=float)).ravel()])


def _dense(coef):
    """``coef_`` as a float array (``SVC`` fitted on sparse data stores it sparse)."""
    return np.asarray(coef.toarray() if sp.issparse(coef) else coef, dtype=float)


def _stack_intercept(coef, intercept, fit_intercept):
    coef = _dense(coef)
    if not fit_intercept:
        return coef
    return np.hstack([coef, np.asarray(intercept, dtype=float).reshape(-1, 1)])


# --- decoders: one per estimator family -------------------------------------------------


def _logistic_penalty_strength(model):
    """``1/C`` for an L2 penalty, 0 for none; refuses L1 and elastic-net."""
    penalty = getattr(model, "penalty", "l2")
    l1_ratio = getattr(model, "l1_ratio", None)
    C = model.C
    if penalty == "deprecated":  # scikit-learn >= 1.8 spells the penalty with l1_ratio and C
        if C == np.inf:
            return 0.0
        penalty = "l2" if l1_ratio in (0, 0.0, None) else ("l1" if l1_ratio == 1 else "elasticnet")
    if penalty is None or penalty == "none":
        return 0.0
    if penalty != "l2":
        raise ValueError(
            f"LogisticRegression with penalty={penalty!r} (l1_ratio={l1_ratio!r}) is not supported: "
            "influence functions need a twice-differentiable objective. Use an L2 penalty "
            "(l1_ratio=0) or no penalty (C=np.inf)."
        )
    return 0.0 if C == np.inf else 1.0 / C


def _check_logistic(model, smoothing):
    _refuse_smoothing(model, smoothing)
    return _logistic_penalty_strength(model)


def _decode_logistic(model, y, sample_weight, smoothing):
    strength = _check_logistic(model, smoothing)
    classes = model.classes_
    n_classes = len(classes)
    if model.solver == "liblinear" and n_classes > 2:
        raise ValueError(
            "LogisticRegression(solver='liblinear') with more than two classes fits one-vs-rest "
            "models, which is not supported; use solver='lbfgs' (multinomial)."
        )
    if n_classes > 2 and getattr(model, "multi_class", "auto") == "ovr":
        raise ValueError(
            "LogisticRegression(multi_class='ovr') is not supported; use the multinomial "
            "model (multi_class='multinomial' or the default)."
        )
    coef = _stack_intercept(model.coef_, model.intercept_, model.fit_intercept)
    n_columns = coef.shape[1]
    penalty = np.full(n_columns, strength)
    if model.fit_intercept:
        # liblinear penalises the intercept: it fits w_b on a constant feature
        # intercept_scaling, so b = intercept_scaling * w_b and ½ w_b²/C = ½ b²/(C s_b²).
        penalty[-1] = strength / model.intercept_scaling**2 if model.solver == "liblinear" else 0.0
    if n_classes == 2:
        loss, basis = BinomialLogLoss(), None
    else:
        loss = MultinomialLogLoss(n_classes)
        basis = loss.basis
        coef = basis.T @ coef
    objective = LinearObjective(loss, coef, penalty, model.fit_intercept, classes=classes, basis=basis)
    return objective, class_weighted(model.class_weight, model.classes_, y, sample_weight)


def _check_least_squares(model, smoothing):
    """The scalar ``alpha`` of ``Ridge`` (0 for ``LinearRegression``); refuses constrained fits."""
    _refuse_smoothing(model, smoothing)
    alphas = np.unique(np.asarray(getattr(model, "alpha", 0.0), dtype=float))
    if alphas.size != 1:
        raise ValueError(
            f"Ridge with a different alpha per target (alpha={model.alpha!r}) is not supported; use a scalar alpha."
        )
    if getattr(model, "positive", False):
        raise ValueError(f"{type(model).__name__}(positive=True) is a constrained fit and is not supported.")
    return float(alphas[0])


def _decode_least_squares(model, y, sample_weight, smoothing):
    alpha = _check_least_squares(model, smoothing)
    n_outputs = 1 if np.ndim(model.coef_) == 1 else model.coef_.shape[0]
    coef = np.asarray(model.coef_, dtype=float).reshape(n_outputs, -1)
    coef = _stack_intercept(coef, np.ravel(model.intercept_), model.fit_intercept)
    penalty = np.full(coef.shape[1], 2.0 * alpha)  # alpha ||w||² = ½ (2 alpha) ||w||²
    if model.fit_intercept:
        penalty[-1] = 0.0
    return LinearObjective(SquaredError(), coef, penalty, model.fit_intercept), sample_weight


def _refuse_smoothing(model, smoothing):
    if smoothing is not None:
        raise ValueError(
            f"smoothing={smoothing!r} applies to hinge losses only; {type(model).__name__} is "
            "twice differentiable already. Leave smoothing=None."
        )


def _margin_function(loss, smoothing, model):
    """Margin function for a scikit-learn loss name, and whether it is the training loss."""
    name = type(model).__name__
    if loss == "hinge":
        if smoothing is None:
            raise ValueError(
                f"{name} is trained with the hinge loss, which is not differentiable at the margin. "
                "Set smoothing to a temperature > 0 (e.g. InfluenceEstimator(..., smoothing=0.01)): "
                "influence is then computed with the smooth hinge at that temperature (Koh & Liang §4.3)."
            )
        return SmoothHingeMargin(smoothing), False
    _refuse_smoothing(model, smoothing)
    margins = {"squared_hinge": SquaredHingeMargin, "modified_huber": ModifiedHuberMargin, "log_loss": LogisticMargin}
    if loss not in margins:
        raise ValueError(
            f"{name}(loss={loss!r}) is not supported; supported losses: 'hinge' (with smoothing), "
            f"{', '.join(repr(k) for k in margins)}."
        )
    return margins[loss](), True


def _margin_objective(model, margin, matches, strength, intercept_strength, scheme="ovr", hinge=False):
    """The margin model's objective; ``trained_on_hinge`` marks a fit of the (non-smooth) hinge itself."""
    fit_intercept = _fits_intercept(model)
    coef = _stack_intercept(model.coef_, model.intercept_, fit_intercept)
    penalty = np.full(coef.shape[1], strength)
    if fit_intercept:
        penalty[-1] = intercept_strength
    loss = MarginLoss(margin, len(model.classes_), scheme)
    objective = LinearObjective(
        loss, coef, penalty, fit_intercept, classes=model.classes_, matches_training_loss=matches
    )
    objective.trained_on_hinge = hinge
    return objective


def _decode_smooth_hinge(model, y, sample_weight, smoothing):
    temperature = model.temperature if smoothing is None else smoothing
    matches = smoothing is None or smoothing == model.temperature
    objective = _margin_objective(model, SmoothHingeMargin(temperature), matches, 1.0 / model.C, 0.0)
    return objective, class_weighted(model.class_weight, model.classes_, y, sample_weight)


def _check_linear_svc(model, smoothing):
    if model.multi_class == "crammer_singer":
        raise ValueError(
            "LinearSVC(multi_class='crammer_singer') is not supported: its joint multiclass hinge has no "
            "per-class decomposition. Use multi_class='ovr'."
        )
    if model.penalty != "l2":
        raise ValueError(f"LinearSVC(penalty={model.penalty!r}) is not supported: use penalty='l2'.")
    return _margin_function(model.loss, smoothing, model)


def _decode_linear_svc(model, y, sample_weight, smoothing):
    margin, matches = _check_linear_svc(model, smoothing)
    if model.class_weight is not None and len(model.classes_) > 2:
        raise ValueError(
            "LinearSVC with class_weight and more than two classes weights only the positive rows of each "
            "one-vs-rest problem (liblinear), which is not supported; use sample_weight instead."
        )
    # liblinear penalises the intercept through a constant feature intercept_scaling
    strength = 1.0 / model.C
    objective = _margin_objective(
        model, margin, matches, strength, strength / model.intercept_scaling**2, hinge=model.loss == "hinge"
    )
    return objective, class_weighted(model.class_weight, model.classes_, y, sample_weight)


def _check_sgd(model, smoothing):
    if model.penalty not in ("l2", None):
        raise ValueError(
            f"SGDClassifier(penalty={model.penalty!r}) is not supported: influence functions need a "
            "twice-differentiable objective. Use penalty='l2' or None."
        )
    return _margin_function(model.loss, smoothing, model)


def _decode_sgd(model, y, sample_weight, smoothing):
    margin, matches = _check_sgd(model, smoothing)
    if model.class_weight is not None and len(model.classes_) > 2:
        raise ValueError(
            "SGDClassifier with class_weight and more than two classes weights only the positive rows of "
            "each one-vs-rest problem, which is not supported; use sample_weight instead."
        )
    # SGD minimises (1/n) Σ s_i L + alpha ½||w||²: in sum form the L2 strength is n·alpha.
    strength = len(y) * model.alpha if model.penalty == "l2" else 0.0
    objective = _margin_objective(model, margin, matches, strength, 0.0, hinge=model.loss == "hinge")
    objective.penalty_shares = np.full(len(y), strength / len(y))  # each row carries α of n·α
    if model.class_weight is None:
        return objective, sample_weight
    per_class = compute_class_weight(model.class_weight, classes=model.classes_, y=y)  # unweighted, as SGD does
    return objective, sample_weight * per_class[np.searchsorted(model.classes_, y)]


def _check_svc(model, smoothing):
    if model.kernel != "linear":
        raise ValueError(
            f"SVC(kernel={model.kernel!r}) is not supported directly: approximate the kernel in a pipeline, "
            "e.g. make_pipeline(Nystroem(kernel='rbf'), SmoothHingeClassifier()), and wrap the whole pipeline."
        )
    return _margin_function("hinge", smoothing, model)


def _decode_svc(model, y, sample_weight, smoothing):
    margin, matches = _check_svc(model, smoothing)
    scheme = "ovr" if len(model.classes_) == 2 else "ovo"
    objective = _margin_objective(model, margin, matches, 1.0 / model.C, 0.0, scheme=scheme, hinge=True)
    return objective, sample_weight * model.class_weight_[np.searchsorted(model.classes_, y)]


def _check_mlp(model, smoothing):
    _refuse_smoothing(model, smoothing)
    if getattr(model, "loss", "squared_error") not in ("squared_error", "log_loss"):
        raise ValueError(f"MLPRegressor(loss={model.loss!r}) is not supported; use loss='squared_error'.")


def _decode_mlp(model, y, sample_weight, smoothing):
    _check_mlp(model, smoothing)
    network = MLPObjective(model)
    classes = getattr(model, "classes_", None)
    if classes is None:
        y = np.asarray(y, dtype=float)
    objective = AutogradObjective(
        network.losses,
        network.theta,
        penalty=network.penalty,
        per_sample_gradients=network.per_sample_gradients,
        classes=classes,
        target_shape=None if classes is not None else (-1, network.shapes[-1][1]),
    )
    objective.network = network  # its raw outputs, for measures other than the loss (_measures)
    return objective, sample_weight


def _decode_autograd_model(model, y, sample_weight, smoothing):
    _refuse_smoothing(model, smoothing)
    return AutogradObjective(model.loss, model.params_, penalty=model.penalty), sample_weight


def _check_glm(model, smoothing):
    """The pointwise loss of a GLM's power and link; refuses the combinations not decoded."""
    _refuse_smoothing(model, smoothing)
    power = {PoissonRegressor: 1.0, GammaRegressor: 2.0}.get(type(model), getattr(model, "power", None))
    link = getattr(model, "link", "auto")
    if link == "auto":
        link = "identity" if power <= 0 else "log"
    if link == "identity" and power == 0:
        loss = SquaredError(scale=0.5)
    elif link == "log" and power >= 1:
        loss = HalfTweedieLoss(power)
    else:
        raise ValueError(
            f"{type(model).__name__}(power={power}, link={link!r}) is not supported: use the log link with "
            "power >= 1, or power=0 with the identity link."
        )
    return loss


def _decode_glm(model, y, sample_weight, smoothing):
    """GLMs minimise (1/Σs) Σ s ½deviance + ½α||w||²: in sum form λ = α·Σs."""
    loss = _check_glm(model, smoothing)
    coef = _stack_intercept(np.reshape(model.coef_, (1, -1)), np.ravel(model.intercept_), model.fit_intercept)
    if not np.all(np.isfinite(coef)) and isinstance(loss, HalfTweedieLoss):
        targets = np.asarray(y, dtype=float)[sample_weight > 0]
        if not np.any(targets):
            raise ValueError(
                f"{type(model).__name__} was fitted on y that is 0 for every row (with a positive weight): the "
                f"log-link mean runs to 0, the intercept to -inf (intercept_={model.intercept_}), and there is no "
                "finite optimum to differentiate. Influence needs at least one positive target."
            )
    penalty = np.full(coef.shape[1], model.alpha * sample_weight.sum())
    if model.fit_intercept:
        penalty[-1] = 0.0
    shares = model.alpha * sample_weight  # each row carries α·s_i of the penalty
    return LinearObjective(loss, coef, penalty, model.fit_intercept, penalty_shares=shares), sample_weight


def _decode_ridge_classifier(model, y, sample_weight, smoothing):
    """Ridge on ±1 codes of the classes (one column for two classes, one per class otherwise)."""
    _check_least_squares(model, smoothing)
    coef = _stack_intercept(np.atleast_2d(model.coef_), np.ravel(model.intercept_), model.fit_intercept)
    penalty = np.full(coef.shape[1], 2.0 * float(model.alpha))
    if model.fit_intercept:
        penalty[-1] = 0.0
    loss = _CodedSquaredError(len(model.classes_))
    objective = LinearObjective(loss, coef, penalty, model.fit_intercept, classes=model.classes_)
    if model.class_weight is None:
        return objective, sample_weight
    per_class = compute_class_weight(model.class_weight, classes=model.classes_, y=y)  # as compute_sample_weight
    return objective, sample_weight * per_class[np.searchsorted(model.classes_, y)]


class _CodedSquaredError(SquaredError):
    """Un-halved squared error on ±1 class codes (``RidgeClassifier``'s data term)."""

    def __init__(self, n_classes):
        super().__init__()
        self.n_classes = n_classes

    def encode(self, index):
        return plus_minus_codes(index, self.n_classes)


def _check_ridge_cv(model, smoothing):
    _refuse_smoothing(model, smoothing)
    if getattr(model, "alpha_per_target", False):
        raise ValueError("RidgeCV(alpha_per_target=True) is not supported; use a scalar alpha.")


def _decode_ridge_cv(model, y, sample_weight, smoothing):
    _check_ridge_cv(model, smoothing)
    if np.ndim(model.alpha_) != 0:
        raise ValueError("RidgeCV(alpha_per_target=True) is not supported; use a scalar alpha.")
    return _decode_least_squares(_Held(model, alpha=float(model.alpha_)), y, sample_weight, smoothing)


def _check_logistic_cv(model, smoothing):
    _refuse_smoothing(model, smoothing)
    if not model.refit:
        raise ValueError(
            "LogisticRegressionCV(refit=False) averages the folds' coefficients, which minimise no single "
            "objective; use refit=True."
        )
    penalty, l1_ratios = getattr(model, "penalty", "l2"), getattr(model, "l1_ratios", None)
    mixes_l1 = not isinstance(l1_ratios, str) and l1_ratios is not None and np.any(np.asarray(l1_ratios) != 0)
    if penalty in ("l1", "elasticnet") or (penalty == "deprecated" and mixes_l1):
        raise ValueError(
            f"LogisticRegressionCV with penalty={penalty!r} (l1_ratios={l1_ratios!r}) is not supported: influence "
            "functions need a twice-differentiable objective. Use an L2 penalty (l1_ratios=(0,))."
        )


def _decode_logistic_cv(model, y, sample_weight, smoothing):
    _check_logistic_cv(model, smoothing)
    C = float(np.ravel(model.C_)[0])
    l1_ratio = np.ravel(getattr(model, "l1_ratio_", [0.0]))[0]
    held = _Held(model, C=C, l1_ratio=0.0 if l1_ratio is None else float(l1_ratio), multi_class="auto")
    return _decode_logistic(held, y, sample_weight, smoothing)


class _Held:
    """A fitted CV estimator seen as its final model: the chosen hyper-parameters held fixed."""

    def __init__(self, model, **chosen):
        self._model = model
        self._chosen = chosen

    def __getattr__(self, name):
        if name in self._chosen:
            return self._chosen[name]
        return getattr(self._model, name)


def _check_sgd_regressor(model, smoothing):
    """The pointwise loss of an ``SGDRegressor``; refuses non-smooth losses and penalties."""
    _refuse_smoothing(model, smoothing)
    if model.penalty not in ("l2", None):
        raise ValueError(f"SGDRegressor(penalty={model.penalty!r}) is not supported; use penalty='l2' or None.")
    losses = {
        "squared_error": lambda: SquaredError(scale=0.5),
        "huber": lambda: HuberResidualLoss(model.epsilon),
        "squared_epsilon_insensitive": lambda: SquaredEpsilonInsensitiveLoss(model.epsilon),
    }
    if model.loss not in losses:
        raise ValueError(
            f"SGDRegressor(loss={model.loss!r}) is not supported (not differentiable); supported: {list(losses)}."
        )
    return losses[model.loss]()


def _decode_sgd_regressor(model, y, sample_weight, smoothing):
    loss = _check_sgd_regressor(model, smoothing)
    coef = _stack_intercept(np.reshape(model.coef_, (1, -1)), np.ravel(model.intercept_), model.fit_intercept)
    strength = model.alpha if model.penalty == "l2" else 0.0
    penalty = np.full(coef.shape[1], len(y) * strength)
    if model.fit_intercept:
        penalty[-1] = 0.0
    shares = np.full(len(y), strength)  # each row carries α of the penalty n·α
    objective = LinearObjective(loss, coef, penalty, model.fit_intercept, penalty_shares=shares)
    return objective, sample_weight


def _decode_huber(model, y, sample_weight, smoothing):
    """HuberRegressor minimises Σ s_i (σ + σ H_ε(r_i/σ)) + α||w||² jointly in (w, b, σ).

    ``H_ε(z) = z²`` for ``|z| < ε``, ``2ε|z| − ε²`` beyond: once differentiable, so the
    Hessian is the generalised one (autograd differentiates each branch). Parameters:
    ``coef_``, ``intercept_`` (if fitted), ``scale_``.
    """
    _refuse_smoothing(model, smoothing)
    losses = _HuberLosses(model.coef_.size, model.epsilon, model.fit_intercept)
    return AutogradObjective(
        losses, public_params(model), penalty=_SquaredNorm(model.alpha, model.coef_.size)
    ), sample_weight


class _HuberLosses:
    """Per-sample ``σ + σ H_ε(|y − Xw − b| / σ)`` (a class, not a closure, so that fits pickle)."""

    def __init__(self, n_features, epsilon, fit_intercept):
        self.n_features, self.epsilon, self.fit_intercept = n_features, epsilon, fit_intercept

    def __call__(self, theta, X, y):
        p, epsilon = self.n_features, self.epsilon
        raw = anp.dot(X, theta[:p]) + (theta[p] if self.fit_intercept else 0.0)
        scale = theta[-1]
        z = anp.abs(y - raw) / scale
        return scale + scale * anp.where(z < epsilon, z**2, 2 * epsilon * z - epsilon**2)


class _SquaredNorm:
    """``strength · ||θ[:n]||²``."""

    def __init__(self, strength, n):
        self.strength, self.n = strength, n

    def __call__(self, theta):
        return self.strength * anp.dot(theta[: self.n], theta[: self.n])


_DECODERS = {
    LogisticRegression: _decode_logistic,
    Ridge: _decode_least_squares,
    LinearRegression: _decode_least_squares,
    SmoothHingeClassifier: _decode_smooth_hinge,
    LinearSVC: _decode_linear_svc,
    SGDClassifier: _decode_sgd,
    SVC: _decode_svc,
    MLPClassifier: _decode_mlp,
    MLPRegressor: _decode_mlp,
    AutogradModel: _decode_autograd_model,
    PoissonRegressor: _decode_glm,
    GammaRegressor: _decode_glm,
    TweedieRegressor: _decode_glm,
    RidgeClassifier: _decode_ridge_classifier,
    RidgeCV: _decode_ridge_cv,
    LogisticRegressionCV: _decode_logistic_cv,
    SGDRegressor: _decode_sgd_regressor,
    HuberRegressor: _decode_huber,
}


_STATIC_CHECKS = {
    LogisticRegression: _check_logistic,
    Ridge: _check_least_squares,
    LinearRegression: _check_least_squares,
    SmoothHingeClassifier: lambda model, smoothing: None,  # smoothing overrides its temperature
    LinearSVC: _check_linear_svc,
    SGDClassifier: _check_sgd,
    SVC: _check_svc,
    MLPClassifier: _check_mlp,
    MLPRegressor: _check_mlp,
    AutogradModel: _refuse_smoothing,
    PoissonRegressor: _check_glm,
    GammaRegressor: _check_glm,
    TweedieRegressor: _check_glm,
    RidgeClassifier: _check_least_squares,
    RidgeCV: _check_ridge_cv,
    LogisticRegressionCV: _check_logistic_cv,
    SGDRegressor: _check_sgd_regressor,
    HuberRegressor: _refuse_smoothing,
}


def objective_from_estimator(model, y, sample_weight, smoothing=None):
    """Decode a fitted estimator into its :class:`LinearObjective` and effective weights.

    Parameters
    ----------
    model : fitted estimator
        The final model (already unwrapped from ``Pipeline`` / ``FrozenEstimator``).
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Training targets, as passed to ``fit``.
    sample_weight : ndarray of shape (n_samples,)
        Training sample weights (ones when none were given).
    smoothing : float or None, default=None
        Temperature of the smooth hinge standing in for a hinge loss.

    Returns
    -------
    objective : LinearObjective
    sample_weight : ndarray of shape (n_samples,)
        ``s_i`` of the sum form, with ``class_weight`` folded in.
    """
    decoder = _DECODERS.get(type(model))
    if decoder is None:
        raise TypeError(
            f"{type(model).__name__} is not supported. Supported estimators: {SUPPORTED_ESTIMATORS}; "
            "each may be the last step of a Pipeline or wrapped in FrozenEstimator."
        )
    objective, weights = decoder(model, y, sample_weight, smoothing)
    params = public_params(model)
    if not np.all(np.isfinite(params)):
        raise ValueError(
            f"The fitted {type(model).__name__} has {int(np.sum(~np.isfinite(params)))} parameters that are NaN "
            "or infinite: its optimum is not finite (e.g. an unpenalised fit on data that push a coefficient to "
            "infinity), so there is nothing to differentiate. Check X, y and sample_weight, or add a penalty."
        )
    return objective, weights
