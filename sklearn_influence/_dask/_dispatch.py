"""Send the query methods of a Dask-fitted InfluenceEstimator to the Dask code path (imports no Dask).

:class:`DaskDispatchMixin` sits before ``InfluenceQuantitiesMixin`` in
``InfluenceEstimator``'s bases. Each of its methods is the numpy method itself (same name,
docstring and signature, through :func:`functools.wraps`) unless the estimator was fitted
on Dask arrays (``_dask_fit_``), in which case the lazy Dask version answers.
"""

import functools
import importlib
import warnings

from .._diagnostics._statistics import DiagnosticsMixin
from .._frames import FramesMixin
from .._groups._leave_group_out import GroupInfluenceMixin
from .._quantities._categories import CategoryInfluenceMixin
from .._quantities._influence import InfluenceQuantitiesMixin

_DASK_METHODS = {
    "influence": ("_queries", InfluenceQuantitiesMixin),
    "leave_one_out": ("_queries", InfluenceQuantitiesMixin),
    "self_influence": ("_queries", InfluenceQuantitiesMixin),
    "influence_params": ("_queries", InfluenceQuantitiesMixin),
    "leave_one_out_params": ("_queries", InfluenceQuantitiesMixin),
    "top_influences": ("_reductions", InfluenceQuantitiesMixin),
    "summary_frame": ("_frames", FramesMixin),
}

#: Methods that need the training rows in memory: refused on a Dask fit, naming what is available.
_NUMPY_ONLY = {
    InfluenceQuantitiesMixin: ("perturbation_influence",),
    CategoryInfluenceMixin: ("category_influence",),
    GroupInfluenceMixin: ("leave_group_out", "leave_group_out_params", "rank_groups"),
    DiagnosticsMixin: (
        "covariance",
        "standard_errors",
        "prediction_standard_errors",
        "diagnostics_frame",
        "influence_flags",
    ),
}


def fitted_on_dask(estimator):
    """Whether ``estimator`` was fitted on Dask arrays."""
    return getattr(estimator, "_dask_fit_", None) is not None


def _at_the_caller(numpy_method, self, args, kwargs):
    """``numpy_method(self, *args, **kwargs)``, its warnings re-issued at the line that called the public method.

    The wrappers below add one frame between the user and the numpy method, which would
    move every ``stacklevel`` the method's warnings were written with into this module;
    re-issuing them from here points each one at the caller, whatever depth it came from.
    The caller's warning filters apply when they are re-issued.
    """
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            return numpy_method(self, *args, **kwargs)
    finally:  # outside the recording context: the caller's filters are back
        for record in caught:
            warnings.warn(record.message, stacklevel=3)


def _dispatching(name, module, mixin):
    numpy_method = getattr(mixin, name)

    @functools.wraps(numpy_method)
    def method(self, *args, **kwargs):
        if not fitted_on_dask(self):
            return _at_the_caller(numpy_method, self, args, kwargs)
        from .._labels import output_is_pandas

        if output_is_pandas(self) and name != "summary_frame":
            raise ValueError(
                f"{name} returns a lazy Dask array for an estimator fitted on Dask arrays, which carries no labels: "
                "call set_output(transform='default') on it (or leave scikit-learn's transform_output unset)."
            )
        dask_method = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        return dask_method(self, *args, **kwargs)

    return method


def _numpy_only(mixin, name):
    numpy_method = getattr(mixin, name)

    @functools.wraps(numpy_method)
    def method(self, *args, **kwargs):
        if fitted_on_dask(self):
            from ._fit import unavailable_message

            raise NotImplementedError(f"{name}: {unavailable_message()}")
        return _at_the_caller(numpy_method, self, args, kwargs)

    return method


class DaskDispatchMixin:
    """The Dask side of the query methods; see each numpy method for its formula."""


for _name, (_module, _mixin) in _DASK_METHODS.items():
    setattr(DaskDispatchMixin, _name, _dispatching(_name, _module, _mixin))
for _mixin, _names in _NUMPY_ONLY.items():
    for _name in _names:
        setattr(DaskDispatchMixin, _name, _numpy_only(_mixin, _name))
