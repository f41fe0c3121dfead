"""Influence on Dask arrays: fit in one tree-reduced pass, lazy per-row results, top-k tree reductions.

Private subpackage behind the optional ``dask`` extra (``pip install sklearn_influence[dask]``).
Nothing here imports Dask at import time: :func:`is_dask_collection` recognises a Dask
collection by its type's module, and the Dask code path imports ``dask`` lazily, so the
numpy path never loads it.

Modules, one idea each:

- ``_dispatch``: the query methods of :class:`~sklearn_influence.InfluenceEstimator` send a
  Dask-fitted estimator here (no Dask import).
- ``_blocks``: one row block's fitted quantities (design, residuals, curvature) from the
  existing objective and design classes, and the graph's single shared keys.
- ``_dask_ml``: dask-ml's ``LogisticRegression`` / ``LinearRegression`` / ``PoissonRegression``
  decoded into the sum-form objective they minimise.
- ``_fit``: gradient, objective value, stationarity statistics and Hessian in one tree
  reduction; factorisation on the client.
- ``_cg``: conjugate gradients on distributed Hessian products, for many parameters.
- ``_queries``: lazy per-row quantities, chunked like the training rows.
- ``_reductions``: ``top_influences`` and the mislabel ranking as per-block top-k merged in a tree.
"""


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection (array, DataFrame, ...), without importing Dask.

    A Dask object can only exist once ``dask`` has been imported, so when it is not in
    ``sys.modules`` the answer is no; otherwise Dask's own test decides.
    """
    import sys

    if "dask" not in sys.modules or not type(obj).__module__.startswith("dask"):
        return False
    from dask.base import is_dask_collection as dask_test

    return dask_test(obj)


def fit_dask(estimator, X, y, sample_weight=None, **fit_params):
    """Fit ``estimator`` (an InfluenceEstimator) on Dask collections; see ``_fit.fit_dask``."""
    from ._fit import fit_dask as fit

    return fit(estimator, X, y, sample_weight, **fit_params)
