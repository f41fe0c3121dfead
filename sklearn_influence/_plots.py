"""Pictures: scikit-learn-style Displays (matplotlib imported only when drawing)."""

import numpy as np

from ._validation import validate_leave_one_out


class LeaveOneOutDisplay:
    """Predicted against actual leave-one-out changes of the query loss (Koh & Liang's Figure 2).

    Build it with :meth:`from_estimator` (which refits, see
    :func:`validate_leave_one_out`) or from arrays, then :meth:`plot`. Points on the
    diagonal are predicted exactly; the grey band is the optimiser's noise floor, below
    which refits cannot resolve a difference. Positive: removing the row raises the loss.

    Parameters
    ----------
    predicted, actual : ndarray of shape (n_rows,)
        Predicted and actual changes of the mean query loss, one per removed row.
    pearson : float, default=None
        Their correlation, shown in the title (computed when ``None``).
    noise_floor : float, default=0.0
        Half-width of the band drawn around zero.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scatter_ : matplotlib PathCollection

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_influence import InfluenceEstimator, LeaveOneOutDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :5]
    >>> inf = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X[:300], y[:300])
    >>> display = LeaveOneOutDisplay.from_estimator(inf, X[:300], y[:300], X[300:350], y[300:350], random_state=0)
    >>> display.scatter_.get_offsets().shape
    (30, 2)
    """

    def __init__(self, *, predicted, actual, pearson=None, noise_floor=0.0):
        self.predicted = np.asarray(predicted)
        self.actual = np.asarray(actual)
        self.pearson = float(np.corrcoef(predicted, actual)[0, 1]) if pearson is None else pearson
        self.noise_floor = noise_floor

    @classmethod
    def from_estimator(cls, influence_estimator, X, y, X_query, y_query, *, ax=None, **validate_params):
        """Refit without the chosen rows (:func:`validate_leave_one_out`) and plot.

        Parameters
        ----------
        influence_estimator : InfluenceEstimator
            Fitted on ``X``, ``y``.
        X, y, X_query, y_query : array-like
            Training data and queries.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        **validate_params : dict
            ``n_top``, ``n_random``, ``method``, ``random_state``, ``n_jobs``, ``verbose``.

        Returns
        -------
        display : LeaveOneOutDisplay
        """
        check = validate_leave_one_out(influence_estimator, X, y, X_query, y_query, **validate_params)
        display = cls(
            predicted=check.predicted, actual=check.actual, pearson=check.pearson, noise_floor=check.noise_floor
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the scatter, the diagonal and the noise-floor band.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.

        Returns
        -------
        display : LeaveOneOutDisplay
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Plots need matplotlib: pip install 'sklearn_influence[plot]'.") from None
        if ax is None:
            _, ax = plt.subplots()
        limit = 1.05 * float(np.max(np.abs(np.r_[self.predicted, self.actual, self.noise_floor]))) or 1.0
        ax.axhspan(-self.noise_floor, self.noise_floor, color="0.9", zorder=0)
        ax.plot([-limit, limit], [-limit, limit], color="0.5", lw=0.8)
        self.scatter_ = ax.scatter(self.actual, self.predicted, s=14)
        ax.set(
            xlim=(-limit, limit),
            ylim=(-limit, limit),
            xlabel="actual change of the query loss (refit)",
            ylabel="predicted change",
            title=f"Leave-one-out: Pearson {self.pearson:.3f}",
        )
        self.ax_, self.figure_ = ax, ax.figure
        return self
