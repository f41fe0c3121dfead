"""Labelled results: ``set_output``, selection by label, ``to_frame`` and ``summary_frame``.

The labels themselves are defined once, in ``_labels``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._labels import (
    check_transform,
    pandas,
    parameter_names,
    plain_output,
    query_labels,
    training_labels,
    training_positions,
)


class FramesMixin:
    """Labelled output for :class:`InfluenceEstimator`: ``set_output``, ``training_positions``,
    ``param_names_``, ``to_frame`` and ``summary_frame``."""

    def set_output(self, *, transform=None):
        """Switch labelled (pandas) results on or off, as scikit-learn's ``set_output`` does.

        With ``transform="pandas"`` (or, when this estimator has not been configured,
        scikit-learn's global ``set_config(transform_output="pandas")``) the query methods
        return pandas objects labelled with the rows' own labels:

        - ``influence``, ``leave_one_out``: DataFrame, index the queries' labels (the query
          DataFrame's index, else positions), columns the training rows' labels
          (``training_index_``, else positions);
        - ``self_influence``: Series indexed by the training labels;
        - ``influence_params``, ``leave_one_out_params``: DataFrame, index the training
          labels, columns :attr:`param_names_`;
        - ``top_influences``: the Bunch of position and value arrays gains
          ``harmful_labels`` and ``helpful_labels``, DataFrames of training labels indexed
          by the queries' labels (columns: rank);
        - :func:`rank_mislabel_candidates`: a Series of positions indexed by the training
          labels in ranking order.

        ``perturbation_influence`` (three axes) and ``loss`` stay arrays. The ``indices``
        arguments stay **positions** in every mode; select rows by label with
        :meth:`training_positions`.

        As in scikit-learn, the estimator's own setting wins over the global one, and
        ``clone`` keeps it. ``Pipeline.set_output`` configures only the steps that
        transform, so inside an outer pipeline it makes the transformers pass DataFrames
        (whose index reaches this estimator as its training and query labels), while this
        estimator is switched on by its own ``set_output`` or by the global setting.

        Parameters
        ----------
        transform : {"default", "pandas"}, default=None
            ``"pandas"``: labelled results; ``"default"``: numpy arrays; ``None``: leave the
            setting unchanged. (``"polars"`` is not supported: an error.)

        Returns
        -------
        self : InfluenceEstimator
            This estimator.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn_influence import InfluenceEstimator
        >>> X = pd.DataFrame({"dose": [1.0, 2.0, 3.0, 4.0]}, index=["ann", "bob", "cy", "dee"])
        >>> inf = InfluenceEstimator(Ridge(alpha=1.0)).set_output(transform="pandas")
        >>> inf = inf.fit(X, [1.0, 2.0, 2.5, 4.5])
        >>> inf.self_influence().index.tolist()
        ['ann', 'bob', 'cy', 'dee']
        >>> inf.influence_params().columns.tolist()
        ['dose', 'intercept']
        """
        if transform is None:
            return self
        if check_transform(transform) == "pandas":
            pandas()
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def training_positions(self, labels):
        """Positions of the training rows with the given labels, for ``indices=``.

        Every ``indices`` argument is a **position** (``0 … n_train-1``), never a label, so
        that a DataFrame indexed by integers (``10, 11, …``) cannot be misread. To select
        rows by their labels, map them here first::

            inf.influence(X_query, y_query, indices=inf.training_positions([10, 42]))

        A pandas ``Index`` passed as ``indices`` is refused for the same reason.

        Parameters
        ----------
        labels : array-like or boolean Series
            Labels of the training index (``training_index_``; positions when fitted on
            arrays), in the order wanted; a single label counts as a list of one (tuples are
            labels of a MultiIndex inside a list). A boolean Series indexed by the training
            labels selects the rows where it is True, aligned by label (e.g.
            ``X["age"] > 60``).

        Returns
        -------
        positions : ndarray of int of shape (n_selected,)
            The rows' positions, in the order of ``labels``.

        Raises
        ------
        ValueError
            For a label that is not in the training index, a label that names several
            rows (duplicate index), or a mask whose labels are not the training labels.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn_influence import InfluenceEstimator
        >>> X = pd.DataFrame({"dose": [1.0, 2.0, 3.0, 4.0]}, index=[10, 11, 12, 13])
        >>> inf = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, [1.0, 2.0, 2.5, 4.5])
        >>> inf.training_positions([12, 10]).tolist()
        [2, 0]
        >>> inf.training_positions(X["dose"] > 2.5).tolist()
        [2, 3]
        """
        check_is_fitted(self)
        return training_positions(self, labels)

    @property
    def param_names_(self):
        """Names of the parameters, in the layout of ``params_`` and of ``*_params`` columns.

        The final model's input features (a pipeline prefix's ``get_feature_names_out()``,
        else the model's ``feature_names_in_``, else ``x0, x1, …``), named ``feature`` for a
        single-output model and ``feature[output]`` for several outputs (``output`` is the
        class label when there is one coefficient row per class, as for multinomial
        logistic regression, else the output's position), followed by ``intercept`` (or
        ``intercept[output]``); ``HuberRegressor`` adds ``scale``. MLPs: ``coefs_l[i, j]``
        then ``intercepts_l[j]``; ``AutogradModel``: ``params_[i]``.
        ``pd.Series(inf.params_, index=inf.param_names_)`` labels the fitted parameters.
        """
        from ._wrapped import _unwrap

        check_is_fitted(self)
        prefix, model = _unwrap(self.estimator_)
        return np.asarray(parameter_names(prefix, model, self.params_.size), dtype=object)

    def to_frame(self, result, X_query=None, *, indices=None, layout="wide"):
        """Label a result with the training rows' labels (and the query rows' labels).

        Parameters
        ----------
        result : ndarray of shape (n_queries, n_selected) or (n_selected,)
            The output of ``influence``, ``leave_one_out`` (a query × train matrix) or of
            ``self_influence`` (one value per training row).
        X_query : DataFrame or array-like, default=None
            The queries of a query × train result; a DataFrame's index labels the rows.
        indices : array-like of int or bool, default=None
            The ``indices`` the result was computed for; ``None``: all training rows.
        layout : {"wide", "long"}, default="wide"
            ``"wide"``: one row per query, one column per training row. ``"long"``: tidy,
            one row per (query, training row) pair with columns ``query``, ``train`` and
            ``value`` (for plotting libraries and group-bys).

        Returns
        -------
        frame : DataFrame or Series
            Training rows are labelled with the index of the DataFrame ``X`` was fitted on,
            else with positions; queries with ``X_query``'s index, else positions.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn_influence import InfluenceEstimator
        >>> X = pd.DataFrame({"dose": [1.0, 2.0, 3.0, 4.0]}, index=["ann", "bob", "cy", "dee"])
        >>> inf = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, [1.0, 2.0, 2.5, 4.5])
        >>> query = pd.DataFrame({"dose": [2.5]}, index=["new"])
        >>> long = inf.to_frame(inf.influence(query, [2.0]), query, layout="long")
        >>> long.columns.tolist(), long["train"].tolist()
        (['query', 'train', 'value'], ['ann', 'bob', 'cy', 'dee'])
        """
        check_is_fitted(self)
        pd = pandas()
        if layout not in ("wide", "long"):
            raise ValueError(f"layout must be 'wide' or 'long'; got layout={layout!r}.")
        labels = training_labels(self).take(self._training_rows(indices))
        result = np.asarray(result)
        if result.ndim not in (1, 2) or result.shape[-1] != len(labels):
            raise ValueError(
                f"result must have shape (n_queries, {len(labels)}) or ({len(labels)},) for the selected training "
                f"rows; got shape {result.shape} (perturbation_influence: label one query's rows with result[j])."
            )
        if result.ndim == 1:
            if layout == "long":
                return pd.DataFrame({"train": labels, "value": result})
            return pd.Series(result, index=labels, name="value")
        queries = query_labels(X_query, result.shape[0])
        if layout == "wide":
            return pd.DataFrame(result, index=queries, columns=labels)
        # built directly (not with stack, whose NaN handling differs across pandas versions)
        return pd.DataFrame(
            {
                "query": np.repeat(np.asarray(queries, dtype=object), len(labels)),
                "train": np.tile(np.asarray(labels, dtype=object), len(queries)),
                "value": result.ravel(),
            }
        )

    def summary_frame(self, X_query=None, y_query=None):
        """One row per training row: what each diagnostic says about it.

        Columns:

        - ``self_influence``: ``n g_iᵀ H⁻¹ g_i`` (mislabel candidates rank high);
        - ``training_loss``: ``ℓ(z_i, θ̂)``;
        - ``leverage``: ``s_i a_i x̃_iᵀ H⁻¹ x̃_i``, the diagonal of the (generalised) hat
          matrix, for single-output linear models (NaN otherwise); ``h_ii`` for ridge;
        - ``loo_mean_query_loss`` (with queries): predicted change of the mean query loss
          when the row is removed, Newton step where available, first order otherwise
          (positive: the row was helpful).

        Parameters
        ----------
        X_query, y_query : array-like, default=None
            Query points for the leave-one-out column.

        Returns
        -------
        summary : DataFrame of shape (n_train, 3 or 4)
            Indexed by the training rows' labels. For an estimator fitted on Dask arrays: a
            computed frame of the 1,000 rows of largest ``self_influence`` only, in decreasing
            order, indexed by training position (every column stays available for all rows as
            a lazy array from the methods above).
        """
        check_is_fitted(self)
        with plain_output():
            return self._summary_frame(X_query, y_query)

    def _summary_frame(self, X_query, y_query):
        objective = self._objective
        columns = {"self_influence": None, "training_loss": objective.loss.loss(self._targets, self._raw)}
        if objective.separable and objective.n_outputs == 1 and objective.closed_form:
            # one pass of quadratic forms q_i = x̃ᵢᵀH⁻¹x̃ᵢ gives both n r_i² q_i and s_i a_i q_i
            quad = np.concatenate(
                [
                    self._solver.quadratic_forms(self._design.take(rows))
                    for _, rows in self._chunks(np.arange(self._design.n_samples), 2 * self._design.n_columns)
                ]
            )
            columns["self_influence"] = self._design.n_samples * quad * self._residuals[:, 0] ** 2
            columns["leverage"] = self._curvature * quad
        else:
            columns["self_influence"] = self.self_influence()
            columns["leverage"] = np.full(self._design.n_samples, np.nan)
        if X_query is not None:
            method = "newton" if objective.closed_form else "influence"
            columns["loo_mean_query_loss"] = self.leave_one_out(X_query, y_query, method=method).mean(axis=0)
        return pandas().DataFrame(columns, index=training_labels(self))
