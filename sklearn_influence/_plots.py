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
    measure : str, default="loss"
        What changes at the queries (``validate_leave_one_out``'s ``measure``), for the axis label.

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

    def __init__(self, *, predicted, actual, pearson=None, noise_floor=0.0, measure="loss"):
        self.measure = measure
        self.predicted = np.asarray(predicted, dtype=float)
        self.actual = np.asarray(actual, dtype=float)
        if self.predicted.ndim != 1 or self.predicted.shape != self.actual.shape or self.predicted.size == 0:
            raise ValueError(
                "predicted and actual must be non-empty 1-d arrays of the same length, one change per removed "
                f"row; got predicted of shape {self.predicted.shape} and actual of shape {self.actual.shape}."
            )
        if self.predicted.size < 2 and pearson is None:
            pearson = np.nan  # a correlation needs two points
        self.pearson = float(np.corrcoef(self.predicted, self.actual)[0, 1]) if pearson is None else pearson
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
            ``n_top``, ``n_random``, ``method``, ``random_state``, ``sample_weight``,
            ``n_jobs``, ``verbose``, ``measure`` (what is compared at the queries; the loss
            by default).

        Returns
        -------
        display : LeaveOneOutDisplay
        """
        check = validate_leave_one_out(influence_estimator, X, y, X_query, y_query, **validate_params)
        measure = validate_params.get("measure", "loss")
        display = cls(
            predicted=check.predicted,
            actual=check.actual,
            pearson=check.pearson,
            noise_floor=check.noise_floor,
            measure=measure if isinstance(measure, str) else getattr(measure, "__name__", "measure"),
        )
        return display.plot(ax=ax)

    def plot(self, ax=None, **kwargs):
        """Draw the scatter, the diagonal and the noise-floor band.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        **kwargs : dict
            Passed to matplotlib's ``scatter``.

        Returns
        -------
        display : LeaveOneOutDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        limit = 1.05 * float(np.max(np.abs(np.r_[self.predicted, self.actual, self.noise_floor]))) or 1.0
        ax.axhspan(-self.noise_floor, self.noise_floor, color="0.9", zorder=0)
        ax.plot([-limit, limit], [-limit, limit], color="0.5", lw=0.8)
        self.scatter_ = ax.scatter(self.actual, self.predicted, **{"s": 14, **kwargs})
        ax.set(
            xlim=(-limit, limit),
            ylim=(-limit, limit),
            xlabel=f"actual change of the query {self.measure} (refit)",
            ylabel="predicted change",
            title=f"Leave-one-out: Pearson {self.pearson:.3f}",
        )
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _num_images(images):
    return len(images) if hasattr(images, "__len__") else 0


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("Plots need matplotlib: pip install 'sklearn_influence[plot]'.") from None
    return plt


class TopInfluencesDisplay:
    """The most helpful and most harmful training rows for one query, as bars or images.

    Influence is Koh & Liang's ``I_up,loss = −n g_qᵀ H⁻¹ g_i``: **harmful** rows (positive)
    raise the query loss when up-weighted, **helpful** rows (negative) lower it. Build it
    with :meth:`from_estimator`, then :meth:`plot` draws bars labelled with the training
    rows' labels, or, for image data, a grid of the query and the training images.

    Parameters
    ----------
    helpful_indices, harmful_indices : ndarray of shape (k,)
        Training positions, strongest first.
    helpful_values, harmful_values : ndarray of shape (k,)
        Their influence on the query loss.
    labels : array-like, default=None
        Label of every training row (a DataFrame's index); positions when ``None``.
    images : ndarray of shape (n_train, height, width), default=None
        Training images, for ``plot(kind="images")``.
    query_image : ndarray of shape (height, width), default=None
        The query's image.
    measure : str, default="loss"
        What the values are the influence on (``top_influences``'s ``measure``; a callable's
        name): "harmful" and "helpful" read "raises" and "lowers" it for another measure.

    Attributes
    ----------
    ax_ : matplotlib Axes or ndarray of Axes
    figure_ : matplotlib Figure
    bars_ : matplotlib BarContainer
        After ``plot(kind="bar")``.
    images_ : ndarray of matplotlib AxesImage (or None) of shape (2, k + 1)
        After ``plot(kind="images")``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_influence import InfluenceEstimator, TopInfluencesDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> inf = InfluenceEstimator(LogisticRegression(C=0.01, max_iter=5000, tol=1e-8)).fit(X[:300] / 16, y[:300])
    >>> images, query_image = X[:300].reshape(-1, 8, 8), X[300].reshape(8, 8)
    >>> display = TopInfluencesDisplay.from_estimator(
    ...     inf, X[300:301] / 16, y[300:301], k=4, images=images, query_image=query_image, kind="images"
    ... )
    >>> display.ax_.shape
    (2, 5)
    """

    def __init__(
        self,
        *,
        helpful_indices,
        helpful_values,
        harmful_indices,
        harmful_values,
        labels=None,
        images=None,
        query_image=None,
        measure="loss",
    ):
        self.measure = measure
        self.helpful_indices = np.asarray(helpful_indices)
        self.helpful_values = np.asarray(helpful_values)
        self.harmful_indices = np.asarray(harmful_indices)
        self.harmful_values = np.asarray(harmful_values)
        self.labels = labels
        self.images = images
        self.query_image = query_image

    @classmethod
    def from_estimator(
        cls,
        influence_estimator,
        X_query,
        y_query,
        *,
        k=5,
        measure="loss",
        images=None,
        query_image=None,
        ax=None,
        kind="bar",
        **kwargs,
    ):
        """Rank the training rows for one query with ``top_influences`` and plot.

        Parameters
        ----------
        influence_estimator : InfluenceEstimator
            Fitted.
        X_query : array-like of shape (1, n_features)
            One query point.
        y_query : array-like of shape (1,) or (1, n_outputs)
            Its label or response.
        k : int, default=5
            Rows on each side.
        measure : str or callable, default="loss"
            What is measured at the query (see :meth:`InfluenceEstimator.influence`): the
            loss, or e.g. ``"predict_proba"`` (with ``y_query`` the class) or
            ``"decision_function"`` (``y_query`` may then be ``None``); one value per query.
        images, query_image : ndarray, default=None
            See the class parameters.
        ax, kind, **kwargs
            As in :meth:`plot`.

        Returns
        -------
        display : TopInfluencesDisplay
        """
        n_queries = X_query.shape[0] if hasattr(X_query, "shape") else len(X_query)
        if n_queries != 1:
            raise ValueError(f"X_query must hold exactly one query row; got {n_queries} rows.")
        top = influence_estimator.top_influences(X_query, y_query, k=k, measure=measure)
        if np.ndim(top.harmful_values) != 2:
            raise ValueError(
                f"TopInfluencesDisplay draws one value per query; measure={measure!r} gives several (pass y_query "
                "to choose the class, or a measure with one value per query)."
            )
        n_train = influence_estimator._design.n_samples
        if images is not None and _num_images(images) != n_train:
            raise ValueError(
                f"images must hold one image per training row, in training order ({n_train} images); got "
                f"{_num_images(images)}."
            )
        labels = influence_estimator.training_index_
        display = cls(
            helpful_indices=top.helpful_indices[0],
            helpful_values=top.helpful_values[0],
            harmful_indices=top.harmful_indices[0],
            harmful_values=top.harmful_values[0],
            labels=None if labels is None else np.asarray(labels),
            images=images,
            query_image=query_image,
            measure=measure if isinstance(measure, str) else getattr(measure, "__name__", "measure"),
        )
        return display.plot(ax=ax, kind=kind, **kwargs)

    def _label(self, position):
        return str(position if self.labels is None else self.labels[position])

    def plot(self, ax=None, *, kind="bar", **kwargs):
        """Draw bars (``kind="bar"``) or an image grid (``kind="images"``).

        Parameters
        ----------
        ax : matplotlib Axes, or array of Axes of shape (2, k + 1) for images, default=None
            Where to draw; a new figure when ``None``.
        kind : {"bar", "images"}, default="bar"
            Images need ``images`` (and, optionally, ``query_image``); the first column
            shows the query, the rows the helpful and the harmful training images.
        **kwargs : dict
            Passed to matplotlib's ``barh`` or ``imshow``.

        Returns
        -------
        display : TopInfluencesDisplay
        """
        plt = _pyplot()
        if kind not in ("bar", "images"):
            raise ValueError(f"kind must be 'bar' or 'images'; got kind={kind!r}.")
        if kind == "images":
            return self._plot_images(plt, ax, kwargs)
        if ax is None:
            _, ax = plt.subplots()
        # bottom to top: the most helpful row up to the most harmful one
        values = np.r_[self.helpful_values, self.harmful_values[::-1]]
        names = [self._label(i) for i in np.r_[self.helpful_indices, self.harmful_indices[::-1]]]
        positions = np.arange(values.size)
        self.bars_ = ax.barh(positions, values, **{"color": np.where(values > 0, "tab:red", "tab:green"), **kwargs})
        ax.set_yticks(positions, names)
        ax.axvline(0, color="0.5", lw=0.8)
        if self.measure == "loss":
            xlabel, title = (
                "influence on the query loss (+ harmful, − helpful)",
                "Most harmful (red) and helpful (green)",
            )
        else:
            xlabel, title = (
                f"influence on the query's {self.measure} (+ raises, − lowers)",
                "Rows raising (red) and lowering (green) it",
            )
        ax.set(xlabel=xlabel, ylabel="training row", title=f"{title} training rows")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _plot_images(self, plt, axes, kwargs):
        if self.images is None:
            raise ValueError("kind='images' needs the training images: pass images= to the display.")
        needed = 1 + int(max(np.max(self.helpful_indices, initial=-1), np.max(self.harmful_indices, initial=-1)))
        if _num_images(self.images) < needed:
            raise ValueError(
                f"images must hold one image per training row, indexed by training position; the rows shown go up "
                f"to position {needed - 1}, but images holds {_num_images(self.images)}."
            )
        k = max(self.helpful_indices.size, self.harmful_indices.size)
        if axes is None:
            _, axes = plt.subplots(2, k + 1, figsize=(1.6 * (k + 1), 3.6))
        axes = np.asarray(axes)
        if axes.shape != (2, k + 1):
            raise ValueError(f"ax must be an array of Axes of shape (2, {k + 1}); got shape {axes.shape}.")
        for axis in axes.ravel():
            axis.set_axis_off()
        kwargs = {"cmap": "gray_r", **kwargs}
        self.images_ = np.full(axes.shape, None, dtype=object)
        if self.query_image is not None:
            self.images_[0, 0] = axes[0, 0].imshow(self.query_image, **kwargs)
            axes[0, 0].set_title("query", fontsize=9)
        for row, (name, indices, values) in enumerate(
            (
                ("helpful", self.helpful_indices, self.helpful_values),
                ("harmful", self.harmful_indices, self.harmful_values),
            )
        ):
            axes[row, 1].text(-0.1, 0.5, name, rotation=90, va="center", ha="right", transform=axes[row, 1].transAxes)
            for column, (index, value) in enumerate(zip(indices, values), 1):
                self.images_[row, column] = axes[row, column].imshow(self.images[index], **kwargs)
                axes[row, column].set_title(f"{self._label(index)}: {value:+.3g}", fontsize=8)
        self.ax_, self.figure_ = axes, axes[0, 0].figure
        return self


class MislabelCurveDisplay:
    """Fraction of the mislabelled rows found against the fraction of the data checked.

    One curve per ranking strategy (mean ± standard deviation over repeated experiments),
    with the expectation of checking at random as a dashed diagonal. See
    :func:`rank_mislabel_candidates` and :func:`mislabel_detection_curve`.

    Parameters
    ----------
    fractions : ndarray of shape (n_fractions,)
        Fractions of the training rows checked.
    found : dict of str to ndarray of shape (n_runs, n_fractions) or (n_fractions,)
        Fraction of the mislabelled rows found, per strategy.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib ErrorbarContainer

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_influence import InfluenceEstimator, MislabelCurveDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X, y = scale(X)[:300], y[:300].copy()
    >>> flipped = np.zeros(300, dtype=bool)
    >>> flipped[::10] = True
    >>> y[flipped] = 1 - y[flipped]
    >>> inf = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X, y)
    >>> display = MislabelCurveDisplay.from_estimator(inf, flipped)
    >>> sorted(display.lines_)
    ['self_influence', 'training_loss']
    """

    def __init__(self, *, fractions, found):
        self.fractions = np.asarray(fractions, dtype=float)
        self.found = {name: np.atleast_2d(values) for name, values in found.items()}

    @classmethod
    def from_rankings(cls, rankings, is_mislabeled, *, fractions=None, ax=None):
        """Score rankings against the truth and plot.

        Parameters
        ----------
        rankings : dict of str to array-like of shape (n_train,) or (n_runs, n_train)
            Per strategy, one ranking (training positions, first checked first) or one per
            run.
        is_mislabeled : array-like of bool of shape (n_train,) or (n_runs, n_train)
            The truth of each run.
        fractions : array-like of float, default=None
            Fractions checked; ``None``: 0 %, 5 %, ..., 30 %.
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : MislabelCurveDisplay
        """
        from ._applications import mislabel_detection_curve

        fractions = np.linspace(0, 0.3, 7) if fractions is None else np.asarray(fractions, dtype=float)
        truths = np.atleast_2d(np.asarray(is_mislabeled, dtype=bool))  # one row per run
        found = {}
        for name, ranking in rankings.items():
            runs = np.atleast_2d(np.asarray(ranking))
            if runs.shape[0] != truths.shape[0]:
                raise ValueError(
                    f"rankings[{name!r}] has {runs.shape[0]} runs but is_mislabeled has {truths.shape[0]}: give one "
                    "truth per run (2-d arrays or lists of arrays hold several runs)."
                )
            found[name] = np.array([mislabel_detection_curve(r, t, fractions) for r, t in zip(runs, truths)])
        return cls(fractions=fractions, found=found).plot(ax=ax)

    @classmethod
    def from_estimator(cls, influence_estimator, is_mislabeled, *, by=("self_influence", "training_loss"), **kwargs):
        """Rank with :func:`rank_mislabel_candidates` for each score in ``by`` and plot.

        Parameters
        ----------
        influence_estimator : InfluenceEstimator
            Fitted on the noisy labels.
        is_mislabeled : array-like of bool of shape (n_train,)
            The truth.
        by : str or tuple of str, default=("self_influence", "training_loss")
            Scores to compare.
        **kwargs : dict
            ``fractions`` and ``ax``, as in :meth:`from_rankings`.

        Returns
        -------
        display : MislabelCurveDisplay
        """
        from ._applications import rank_mislabel_candidates

        by = (by,) if isinstance(by, str) else by
        rankings = {name: rank_mislabel_candidates(influence_estimator, by=name) for name in by}
        return cls.from_rankings(rankings, np.asarray(is_mislabeled, dtype=bool), **kwargs)

    def plot(self, ax=None, **kwargs):
        """Draw one curve with error bars per strategy and the random expectation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        **kwargs : dict
            Passed to matplotlib's ``errorbar``.

        Returns
        -------
        display : MislabelCurveDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        percent = 100 * self.fractions
        ax.plot(percent, self.fractions, color="0.5", ls="--", lw=0.8, label="random (expected)")
        self.lines_ = {
            name: ax.errorbar(
                percent, values.mean(axis=0), yerr=values.std(axis=0), **{"capsize": 3, "label": name, **kwargs}
            )
            for name, values in self.found.items()
        }
        ax.set(xlabel="training data checked (%)", ylabel="fraction of mislabelled rows found", ylim=(0, 1.02))
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
