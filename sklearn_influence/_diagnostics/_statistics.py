"""Classical regression diagnostics: covariance, standard errors and the per-row catalogue.

The quantities of R's ``influence.measures`` / ``vcov`` / ``sandwich`` and statsmodels'
``OLSInfluence`` / ``GLMInfluence`` / ``cov_type="HC0"…"HC3"``, under statsmodels' names, for
every single-output linear model and GLM the library decodes, penalised or not.

Notation (the library's sum-form objective, design contract §1): ``ℓ_i`` the per-sample loss,
``r_i = ∂ℓ_i/∂f`` and ``s_i`` the sample weight (class weights folded in), ``Λ = diag(λ)`` the
L2 penalty, ``k`` the number of parameters, ``n`` the rows of non-zero weight, ``m`` the
penalised columns. Every quantity is built from the *information*

.. math::
    J = \\sum_i s_i a_i \\tilde x_i \\tilde x_i^\\top + Λ,

where ``a_i`` is the expected curvature ``E[∂²ℓ_i/∂f²]``, i.e. the IRLS working weight that R
and statsmodels use: it equals the observed curvature of the Hessian ``H`` for least squares
and the canonical links (logistic, Poisson), and is ``μ^{2-p}`` for a log-link Tweedie/Gamma
model (whose observed curvature ``H`` would differ off the fitted values). From it:

- leverage ``h_i = s_i a_i \\tilde x_i^\\top J^{-1} \\tilde x_i`` (``hat_diag``);
- Pearson residual ``χ_i = (y_i - μ_i)\\sqrt{s_i}/\\sqrt{V(μ_i)} = -r_i \\sqrt{s_i / (u a_i)}``,
  measured in R's deviance units: ``u = 2c`` for a least-squares loss ``c(f - y)²`` (so that
  ``χ_i = \\sqrt{s_i}(y_i - f_i)`` whatever ``c``), ``u = 1`` for the GLMs' half deviance; ``J``
  is divided by the same ``u`` wherever it meets ``φ̂``;
- dispersion ``φ̂ = (Σ_i χ_i² + Σ_c λ_c θ_c² / u) / (n + m - k)`` when the family has one
  (least squares, Gamma/Tweedie), 1 for binomial and Poisson. Unpenalised this is R's
  ``summary`` dispersion (``σ̂² = RSS/(n-k)`` for least squares); penalised, the penalty is
  read as ``m`` pseudo-observations (ridge = least squares on stacked rows ``[X; \\sqrt{α} I]``),
  so every number equals R's on that augmented problem restricted to the real rows.

Sample weights are R's prior (precision) weights, ``lm(..., weights=)``: ``n`` counts the rows of
non-zero weight, not ``Σ s_i`` (statsmodels' ``freq_weights`` would count ``Σ s_i``).

Penalised fits: the "model" covariance ``φ̂ J^{-1}`` is the inverse curvature of the penalised
objective: for ridge, the posterior covariance of the coefficients under the Gaussian prior
``N(0, σ²/α)`` (a Bayesian reading: it is *not* the sampling variance of the biased ridge
estimator). The sandwich ``J^{-1} (Σ_i g_i g_iᵀ) J^{-1}`` (``kind="HC0"``…) is the
frequentist sampling covariance of the penalised estimator (the infinitesimal jackknife).
"""

import numpy as np
from scipy import stats
from scipy.linalg import cho_factor, cho_solve
from sklearn.utils.validation import check_is_fitted

from .._labels import output_is_pandas, pandas, plain_output, training_labels
from .._models._design import row_chunks
from .._models._losses import BinomialLogLoss, HalfTweedieLoss, SquaredError
from .._models._objectives import LinearObjective

_KINDS = ("model", "HC0", "HC1", "HC2", "HC3")
#: Parameters above which the dense information matrix is not formed.
MAX_DIAGNOSTIC_PARAMS = 3000


class _Family:
    """What the diagnostics need from the fitted model, computed once per call (cheap: one k × k matrix)."""

    def __init__(self, estimator):
        objective = estimator._objective
        _check_supported(estimator)
        loss = objective.loss
        design, targets, raw, weights = estimator._design, estimator._targets, estimator._raw, estimator._weights
        self.loss, self.objective, self.design = loss, objective, design
        self.least_squares = isinstance(loss, SquaredError)
        self.binary_logistic = isinstance(loss, BinomialLogLoss)
        self.fixed_dispersion = self.binary_logistic or (isinstance(loss, HalfTweedieLoss) and loss.power == 1)
        if isinstance(loss, HalfTweedieLoss):
            fisher = np.exp((2 - loss.power) * raw[:, 0])  # E[∂²ℓ/∂f²] = μ^{2-p}
        else:
            fisher = np.asarray(loss.hessian(targets, raw), dtype=float)
        self.weights, self.fisher = weights, fisher
        residual = estimator._residuals[:, 0]
        self.score = weights * residual  # s_i r_i: the per-row gradient is score_i x̃_i
        # deviance units: least squares c(f-y)² has curvature 2c per unit of R's deviance (y-f)²
        self.unit = 2.0 * loss.scale if self.least_squares else 1.0
        self.pearson = -residual * np.sqrt(weights / (fisher * self.unit))
        if self.least_squares:
            deviance = loss.loss(targets, raw) / loss.scale
        else:
            deviance = 2.0 * loss.loss(targets, raw)
        self.deviance_resid = np.sign(self.pearson) * np.sqrt(np.maximum(weights * deviance, 0.0))
        information = design.sandwich(weights * fisher)
        information[np.diag_indices_from(information)] += objective.penalty
        try:
            self.factor = cho_factor(information, lower=True)
        except np.linalg.LinAlgError:
            raise ValueError(
                "The information matrix X̃ᵀ diag(s a) X̃ + penalty is singular: the diagnostics need identified "
                "parameters. Remove duplicated, collinear or constant features, or fit with a positive penalty."
            ) from None
        self.k = objective.n_columns
        penalised = objective.penalty > 0
        self.n = int(np.count_nonzero(weights))
        self.df_resid = self.n + int(penalised.sum()) - self.k
        if self.df_resid <= 0:
            raise ValueError(
                f"The diagnostics need more rows of non-zero weight ({self.n}) than parameters ({self.k})."
            )
        self.penalty_sum = float(np.sum(objective.penalty * objective.coef[0] ** 2)) / self.unit
        if self.fixed_dispersion:
            self.dispersion = 1.0
        else:
            self.dispersion = (self.pearson @ self.pearson + self.penalty_sum) / self.df_resid

    def solve(self, B):
        """``J⁻¹ B`` for ``B`` of shape (k, r)."""
        return cho_solve(self.factor, B)

    def inverse(self):
        """``J⁻¹`` in deviance units (``(X̃ᵀWX̃ + Λ/2c)⁻¹`` for least squares), so that ``Cov = φ̂ J⁻¹``."""
        return self.unit * self.solve(np.eye(self.k))

    def leverage(self):
        """``h_i = s_i a_i x̃ᵢᵀ J⁻¹ x̃ᵢ`` and the rows ``J⁻¹ x̃ᵢ`` (n, k), over chunks of rows."""
        n = self.design.n_samples
        quad, solved = np.empty(n), np.empty((n, self.k))
        for rows in row_chunks(n, 16 * self.k):
            dense = self.design.take(rows).dense()
            solved[rows] = self.solve(dense.T).T
            quad[rows] = np.einsum("ic,ic->i", dense, solved[rows])
        return self.weights * self.fisher * quad, solved

    def public(self, matrix):
        """Map an internal (k, k) matrix to the ``params_`` layout (the identity for one output)."""
        to_public = self.objective.to_public(np.eye(self.k)[:, None, :])  # (k internal, n_params)
        return to_public.T @ matrix @ to_public


def _check_supported(estimator):
    """Refuse, naming the model and the remedy, what has no classical diagnostics."""
    from .._wrapped import _unwrap

    objective = estimator._objective
    name = type(_unwrap(estimator.estimator_)[1]).__name__
    if not isinstance(objective, LinearObjective) or not objective.closed_form:
        raise ValueError(
            f"Regression diagnostics are defined for linear models and GLMs with a likelihood; {name} is decoded as "
            f"a {type(objective).__name__} (a neural network, HuberRegressor's scale or an autograd model has no hat "
            "matrix nor residual variance). influence, self_influence and leave_one_out_params still apply to it."
        )
    if objective.n_outputs != 1 or not objective.separable:
        raise ValueError(
            f"Regression diagnostics are defined for single-output models; {name} has {objective.n_outputs} outputs "
            "here (multinomial or multi-target). Fit one binary / single-output model per class or target to get "
            "them per output."
        )
    loss = objective.loss
    if not isinstance(loss, (SquaredError, BinomialLogLoss, HalfTweedieLoss)):
        raise ValueError(
            f"Regression diagnostics need a likelihood: least squares, binary logistic or a Tweedie GLM; {name}'s "
            f"loss is {type(loss).__name__} (a hinge, Huber or epsilon-insensitive loss has no Pearson residual nor "
            "dispersion). influence, self_influence and leave_one_out_params still apply to it."
        )
    if objective.n_columns > MAX_DIAGNOSTIC_PARAMS:
        raise ValueError(
            f"Regression diagnostics form the dense {objective.n_columns} x {objective.n_columns} information matrix; "
            f"above {MAX_DIAGNOSTIC_PARAMS} parameters they are refused. Use influence / self_influence with "
            "solver='cg' instead."
        )


def _covariance(fam, kind):
    """``φ̂ J⁻¹`` or the sandwich ``J⁻¹ (Σ ωᵢ gᵢgᵢᵀ) J⁻¹``, internal layout (k, k)."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got kind={kind!r}.")
    if kind == "model":
        cov = fam.dispersion * fam.inverse()
    else:
        weight = np.ones(fam.design.n_samples)
        if kind in ("HC2", "HC3"):
            lev, _ = fam.leverage()
            weight = 1.0 / (1.0 - lev) ** (1 if kind == "HC2" else 2)
        meat = fam.design.sandwich(weight * fam.score**2)
        if kind == "HC1":
            meat *= fam.n / fam.df_resid
        inverse = fam.solve(np.eye(fam.k))  # J⁻¹ in the loss's units, as the gradients g_i
        cov = inverse @ meat @ inverse
    return 0.5 * (cov + cov.T)


class DiagnosticsMixin:
    """Covariance, standard errors and the classical per-row diagnostics for :class:`InfluenceEstimator`."""

    def covariance(self, kind="model"):
        """Covariance of the fitted parameters, in the layout of ``params_``.

        With the information ``J = Σ_i s_i a_i x̃_i x̃_iᵀ + Λ`` (``a_i`` the IRLS working
        weight) and the per-row gradients ``g_i = s_i r_i x̃_i``:

        .. math::
            \\widehat{\\mathrm{Cov}}_{\\text{model}} = φ̂ J^{-1}, \\qquad
            \\widehat{\\mathrm{Cov}}_{\\text{HC}} = J^{-1}
            \\Big(\\sum_i ω_i g_i g_i^\\top\\Big) J^{-1},

        with ``ω_i = 1`` (HC0), ``n/(n + m - k)`` (HC1), ``1/(1-h_i)`` (HC2),
        ``1/(1-h_i)²`` (HC3). For least squares ``φ̂ J⁻¹ = σ̂² (X̃ᵀ W X̃)⁻¹`` whatever the
        loss's scale (R's ``vcov``, statsmodels' ``cov_params()``; the un-halved
        ``Σ(y-f)²`` of ``LinearRegression`` has ``J = 2 X̃ᵀ W X̃`` and ``φ̂ = 2σ̂²``); for
        logistic and Poisson models ``φ̂ = 1``. The sandwich kinds equal statsmodels'
        ``cov_type="HC0"`` … ``"HC3"``.

        Penalised fits: ``"model"`` is the inverse curvature of the penalised objective
        scaled by ``φ̂`` (for ridge the Bayesian posterior covariance under the prior
        ``N(0, σ²/α)``); the HC kinds are the frequentist (infinitesimal-jackknife)
        sampling covariance of the penalised estimator. Neither includes the penalty's bias.
        ``damping`` is not used: the covariance is the model's own.

        Parameters
        ----------
        kind : {"model", "HC0", "HC1", "HC2", "HC3"}, default="model"
            Model-based or sandwich (heteroscedasticity-consistent) covariance.

        Returns
        -------
        covariance : ndarray of shape (n_params, n_params)
            A DataFrame labelled by :attr:`param_names_` with pandas output.

        Raises
        ------
        ValueError
            For a model without a likelihood reading (hinge, Huber, MLP), a multinomial
            or multi-output model, or more than 3000 parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from sklearn_influence import InfluenceEstimator
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> inf = InfluenceEstimator(LinearRegression()).fit(X, [0.1, 0.9, 2.2, 2.9])
        >>> inf.standard_errors().round(4)  # slope, intercept: statsmodels' OLS bse, reordered
        array([0.0794, 0.1485])
        >>> inf.covariance("HC3").shape
        (2, 2)
        """
        check_is_fitted(self)
        fam = _Family(self)
        cov = fam.public(_covariance(fam, kind))
        if output_is_pandas(self):
            names = self.param_names_
            return pandas().DataFrame(cov, index=names, columns=names)
        return cov

    def standard_errors(self, kind="model"):
        """Standard errors of the fitted parameters: ``sqrt(diag(covariance(kind)))``.

        Parameters
        ----------
        kind : {"model", "HC0", "HC1", "HC2", "HC3"}, default="model"
            See :meth:`covariance` (and its meaning for penalised fits).

        Returns
        -------
        standard_errors : ndarray of shape (n_params,)
            A Series labelled by :attr:`param_names_` with pandas output.
        """
        with plain_output():
            se = np.sqrt(np.diag(self.covariance(kind)))
        if output_is_pandas(self):
            return pandas().Series(se, index=self.param_names_, name="standard_error")
        return se

    def prediction_standard_errors(self, X, *, kind="model", scale="linear"):
        """Standard errors of the model's predictions at ``X`` by the delta method.

        .. math::
            \\operatorname{se}(f(x)) = \\sqrt{\\tilde x^\\top \\widehat{\\mathrm{Cov}} \\, \\tilde x},
            \\qquad \\operatorname{se}(μ(x)) = |μ'(f)| \\operatorname{se}(f(x))

        with ``Cov = covariance(kind)``. ``kind="HC0"`` is the infinitesimal jackknife:
        ``Σ_i (∂f(x)/∂w_i)²`` over the training rows' weights. A pipeline's fitted
        transformers are held fixed (``X`` is transformed by them).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query points (raw features for a pipeline).
        kind : {"model", "HC0", "HC1", "HC2", "HC3"}, default="model"
            The covariance, see :meth:`covariance`.
        scale : {"linear", "response"}, default="linear"
            ``"linear"``: the linear predictor ``f = x̃ᵀθ`` (``decision_function``, the log
            mean of a log-link GLM); ``"response"``: the mean ``μ`` (``predict`` of a
            regressor, the probability of ``classes_[1]`` for a logistic model).

        Returns
        -------
        standard_errors : ndarray of shape (n_queries,)
            A Series labelled by the query DataFrame's index with pandas output.
        """
        check_is_fitted(self)
        if scale not in ("linear", "response"):
            raise ValueError(f"scale must be 'linear' or 'response'; got scale={scale!r}.")
        fam = _Family(self)
        cov = _covariance(fam, kind)
        Xt = self._model_features(X, self._prefix, self._design.n_features)
        design = fam.objective.design(Xt, None)
        se = np.empty(design.n_samples)
        for rows in row_chunks(design.n_samples, 16 * fam.k):
            dense = design.take(rows).dense()
            se[rows] = np.sqrt(np.einsum("ic,cd,id->i", dense, cov, dense))
        if scale == "response":
            raw = fam.objective.raw(design)[:, 0]
            if fam.binary_logistic:
                p = 1.0 / (1.0 + np.exp(-raw))
                se *= p * (1.0 - p)
            elif not fam.least_squares:  # log link
                se *= np.exp(raw)
        if output_is_pandas(self):
            from .._labels import query_labels

            return pandas().Series(se, index=query_labels(X, se.size), name="standard_error")
        return se

    def diagnostics_frame(self):
        """The classical per-row regression diagnostics, under statsmodels' names.

        A sibling of :meth:`summary_frame` (which keeps the influence-function columns).
        With ``h_i``, ``χ_i`` (Pearson residual), ``d_i`` (deviance residual, sign of
        ``y - μ``), ``φ̂`` and ``J`` as in the module notes, ``k`` parameters and
        ``ν = n + m - k`` residual degrees of freedom:

        - ``hat_diag``: ``h_i``;
        - ``standard_resid``: ``χ_i / \\sqrt{φ̂(1-h_i)}`` (R's ``rstandard``; for GLMs its
          ``type="pearson"``, statsmodels' ``resid_studentized``);
        - ``cooks_d``: ``standard_resid_i² h_i / (k(1-h_i))``;
        - ``dffits_internal``: ``standard_resid_i \\sqrt{h_i/(1-h_i)}``;
        - ``dfb_<name>`` (DFBETAS): ``Δθ_i / \\sqrt{φ̃ \\, diag(J^{-1})}`` with the one-step
          deletion ``Δθ_i = θ̂ - θ̂_{(i)} = -s_i r_i J^{-1}x̃_i/(1-h_i)`` (Pearson form, as
          Pregibon, SAS and statsmodels; exact for least squares), ``φ̃ = σ̂²_{(i)}`` for least
          squares (R, statsmodels) and ``φ̂`` for GLMs (statsmodels; R's ``dfbetas.glm`` uses
          deviance residuals and ``σ_{(i)}`` instead);
        - ``student_resid``: R's ``rstudent``: ``\\mathrm{sign}(d_i)\\sqrt{d_i² + h_i χ_i²/(1-h_i)} / σ_{(i)}``
          (``σ_{(i)} = 1`` for binomial and Poisson), which for least squares is
          ``e_i\\sqrt{s_i} / (σ̂_{(i)}\\sqrt{1-h_i})``;
        - ``dffits``: R's ``d_i \\sqrt{h_i} / (σ_{(i)}(1-h_i))``;
        - ``cov_ratio``: R's ``covratio``,
          ``1 / ((1-h_i) ((ν - 1 + e_i^{*2})/ν)^k)`` with ``e^*_i = d_i / (σ_{(i)}\\sqrt{1-h_i})``,
          for least squares ``det Cov_{(i)} / det Cov``;

        where ``σ²_{(i)} = (Σ_j d_j² + Σ_c λ_c θ_c² - d_i²/(1-h_i)) / (ν - 1)`` (R's
        ``influence()$sigma``). For binary logistic models also Pregibon's (SAS's)
        ``c = χ²h/(1-h)²``, ``cbar = χ²h/(1-h)``, ``difchisq = χ²/(1-h)`` and
        ``difdev = d² + cbar``.

        Penalised fits: the same formulas with the penalised ``J`` (ridge: R's values for
        ``lm`` on the stacked rows ``[X; \\sqrt{α}I]``, restricted to the real rows). Rows of
        zero weight get ``h = 0`` and NaN elsewhere (R leaves them out). A pipeline's fitted
        transformers are held fixed here (``preprocessing="refit"`` does not reach the
        diagnostics): the rows are the final model's features.

        Returns
        -------
        frame : DataFrame of shape (n_train, n_columns)
            Indexed by the training rows' labels; DFBETAS columns named ``dfb_`` +
            :attr:`param_names_`.

        Raises
        ------
        ValueError
            As :meth:`covariance`.
        """
        check_is_fitted(self)
        with plain_output():
            return self._diagnostics_frame()

    def _diagnostics_frame(self, fam=None):
        fam = _Family(self) if fam is None else fam
        with np.errstate(divide="ignore", invalid="ignore"):  # h = 1 gives inf/NaN, as in R
            columns = self._diagnostic_columns(fam)
        frame = pandas().DataFrame(columns, index=training_labels(self))
        frame.loc[fam.weights == 0, frame.columns != "hat_diag"] = np.nan  # R drops rows of zero weight
        return frame

    def _diagnostic_columns(self, fam):
        h, solved = fam.leverage()
        omh = 1.0 - h
        chi, dev, k, nu = fam.pearson, fam.deviance_resid, fam.k, fam.df_resid
        standard = chi / np.sqrt(fam.dispersion * omh)
        columns = {
            "hat_diag": h,
            "cooks_d": standard**2 * h / (k * omh),
            "standard_resid": standard,
            "dffits_internal": standard * np.sqrt(h / omh),
        }
        sigma2_del = (dev @ dev + fam.penalty_sum - dev**2 / omh) / (nu - 1)
        sigma_del = np.sqrt(sigma2_del)
        likelihood = np.sign(dev) * np.sqrt(dev**2 + h * chi**2 / omh)
        columns["student_resid"] = likelihood if fam.fixed_dispersion else likelihood / sigma_del
        columns["dffits"] = dev * np.sqrt(h) / (sigma_del * omh)
        e_star = dev / (sigma_del * np.sqrt(omh))
        columns["cov_ratio"] = 1.0 / (omh * ((nu - 1 + e_star**2) / nu) ** k)
        delta = (-fam.score / omh)[:, None] * solved  # θ̂ - θ̂_(i), internal layout
        delta = fam.objective.to_public(delta[:, None, :])
        scale = sigma2_del[:, None] if fam.least_squares else fam.dispersion
        dfbetas = delta / np.sqrt(scale * np.diag(fam.public(fam.inverse())))
        for name, values in zip(self.param_names_, dfbetas.T):
            columns[f"dfb_{name}"] = values
        if fam.binary_logistic:
            columns["c"] = chi**2 * h / omh**2
            columns["cbar"] = chi**2 * h / omh
            columns["difchisq"] = chi**2 / omh
            columns["difdev"] = dev**2 + columns["cbar"]
        return columns

    def influence_flags(self):
        """Which rows R's ``influence.measures`` marks as influential, per diagnostic.

        With ``k`` parameters and ``n`` rows (R's rules; for a penalised fit ``n`` counts the
        ``m`` pseudo-rows of the stacked least-squares problem, ``n = ν + k`` with ``ν`` of
        :meth:`diagnostics_frame`, so that the flags are R's on the same stacked ``lm``):

        - ``dfb_<name>``: ``|DFBETAS| > 1``;
        - ``dffits``: ``|DFFITS| > 3\\sqrt{k/(n-k)}``;
        - ``cov_ratio``: ``|1 - cov_ratio| > 3k/(n-k)``;
        - ``cooks_d``: ``F_{k, n-k}(D) > 0.5`` (Cook's D above the median of F(k, n − k));
        - ``hat_diag``: ``h > 3k/n``.

        The ``dfb_`` flags read this library's DFBETAS (statsmodels' Pearson form), so for
        GLMs they can differ from R's, whose ``dfbetas.glm`` uses deviance residuals; the
        other four agree with R for every family.

        Returns
        -------
        flags : DataFrame of bool of shape (n_train, n_params + 4)
            Indexed by the training rows' labels; columns in R's order.
        """
        check_is_fitted(self)
        fam = _Family(self)
        with plain_output():
            frame = self._diagnostics_frame(fam)
        k, n = fam.k, fam.df_resid + fam.k
        dfb = [c for c in frame.columns if c.startswith("dfb_")]
        flags = frame[dfb].abs() > 1
        flags["dffits"] = frame["dffits"].abs() > 3 * np.sqrt(k / (n - k))
        flags["cov_ratio"] = (1 - frame["cov_ratio"]).abs() > 3 * k / (n - k)
        flags["cooks_d"] = stats.f.cdf(frame["cooks_d"], k, n - k) > 0.5
        flags["hat_diag"] = frame["hat_diag"] > 3 * k / n
        return flags
