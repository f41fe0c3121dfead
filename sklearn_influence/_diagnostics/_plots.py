"""R's ``plot(lm, which = 5)`` as a scikit-learn-style Display: residuals against leverage."""

import numpy as np

from .._plots import _pyplot


class ResidualsLeverageDisplay:
    """Standardized residuals against leverage, with contours of Cook's distance (R's ``plot(lm)`` panel 5).

    Cook's distance is ``D = r² h / (k (1 - h))`` for the standardized (internally
    studentized) residual ``r`` (``standard_resid``, R's ``rstandard``; Pearson for GLMs)
    and leverage ``h`` (``hat_diag``) with ``k`` parameters, so the dashed contours
    ``r = ±\\sqrt{D k (1 - h) / h}`` at ``D`` in ``cook_levels`` (R: 0.5 and 1) mark the rows
    whose removal moves the fit most; the ``n_labels`` rows of largest ``D`` are labelled with
    their training labels. Build it with :meth:`from_estimator` or from arrays, then
    :meth:`plot`.

    Parameters
    ----------
    leverage, standard_resid : ndarray of shape (n_rows,)
        ``hat_diag`` and ``standard_resid`` of :meth:`InfluenceEstimator.diagnostics_frame`.
    n_params : int
        ``k``, the number of parameters behind Cook's distance.
    labels : array-like of shape (n_rows,), default=None
        Row labels (positions when ``None``).

    Attributes
    ----------
    cooks_d : ndarray of shape (n_rows,)
        Cook's distance of each row.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scatter_ : matplotlib PathCollection

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_influence import InfluenceEstimator, ResidualsLeverageDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 2))
    >>> y = X @ [1.0, 2.0] + rng.normal(size=30)
    >>> inf = InfluenceEstimator(LinearRegression()).fit(X, y)
    >>> display = ResidualsLeverageDisplay.from_estimator(inf)
    >>> display.scatter_.get_offsets().shape
    (30, 2)
    """

    def __init__(self, *, leverage, standard_resid, n_params, labels=None):
        self.leverage = np.asarray(leverage, dtype=float)
        self.standard_resid = np.asarray(standard_resid, dtype=float)
        if self.leverage.ndim != 1 or self.leverage.shape != self.standard_resid.shape or self.leverage.size == 0:
            raise ValueError(
                "leverage and standard_resid must be non-empty 1-d arrays of the same length; got shapes "
                f"{self.leverage.shape} and {self.standard_resid.shape}."
            )
        if int(n_params) < 1:
            raise ValueError(f"n_params must be a positive integer (the k of Cook's distance); got {n_params!r}.")
        self.n_params = int(n_params)
        self.labels = np.arange(self.leverage.size) if labels is None else np.asarray(labels, dtype=object)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.cooks_d = self.standard_resid**2 * self.leverage / (self.n_params * (1 - self.leverage))

    @classmethod
    def from_estimator(cls, influence_estimator, *, ax=None, **kwargs):
        """Read ``hat_diag`` and ``standard_resid`` from ``diagnostics_frame()`` and plot.

        Parameters
        ----------
        influence_estimator : InfluenceEstimator
            Fitted; a model with classical diagnostics (see ``diagnostics_frame``).
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        **kwargs : dict
            Passed to :meth:`plot` (``cook_levels``, ``n_labels``, matplotlib's ``scatter``).

        Returns
        -------
        display : ResidualsLeverageDisplay
        """
        frame = influence_estimator.diagnostics_frame()
        kept = frame["standard_resid"].notna().to_numpy()  # rows of zero weight are not drawn
        display = cls(
            leverage=frame["hat_diag"].to_numpy()[kept],
            standard_resid=frame["standard_resid"].to_numpy()[kept],
            n_params=influence_estimator._objective.n_columns,
            labels=np.asarray(frame.index, dtype=object)[kept],
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, cook_levels=(0.5, 1.0), n_labels=3, **kwargs):
        """Draw the points, the Cook's distance contours and the labels of the largest ``D``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        cook_levels : sequence of float, default=(0.5, 1.0)
            Cook's distances drawn as contours (R's defaults).
        n_labels : int, default=3
            How many rows of largest Cook's distance are labelled.
        **kwargs : dict
            Passed to matplotlib's ``scatter``.

        Returns
        -------
        display : ResidualsLeverageDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        self.scatter_ = ax.scatter(self.leverage, self.standard_resid, **{"s": 14, **kwargs})
        finite = np.isfinite(self.leverage) & (self.leverage < 1)
        right = 1.05 * float(np.max(self.leverage[finite], initial=0.0)) or 1.0
        grid = np.linspace(right / 200, right, 200)
        for level in cook_levels:
            bound = np.sqrt(level * self.n_params * (1 - grid) / grid)
            for sign in (1, -1):
                ax.plot(grid, sign * bound, color="tab:red", ls="--", lw=0.8)
            ax.annotate(f"{level:g}", (right, np.sqrt(level * self.n_params * (1 - right) / right)), color="tab:red")
        ax.axhline(0.0, color="0.6", lw=0.6, ls=":")
        order = np.argsort(np.where(np.isfinite(self.cooks_d), self.cooks_d, -np.inf))[::-1][:n_labels]
        for i in order:
            ax.annotate(str(self.labels[i]), (self.leverage[i], self.standard_resid[i]), fontsize=8)
        span = float(np.nanmax(np.abs(self.standard_resid[finite]), initial=1.0))
        ax.set(
            xlim=(0.0, right),
            ylim=(-1.1 * span, 1.1 * span),
            xlabel="leverage (hat_diag)",
            ylabel="standardized residual (standard_resid)",
            title="Residuals vs leverage (dashed: Cook's distance)",
        )
        self.ax_, self.figure_ = ax, ax.figure
        return self
