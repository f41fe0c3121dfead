"""Transformer statistics: how a pipeline's fitted preprocessing moves with its training rows.

Under ``preprocessing="refit"`` a training row moves the final model through two channels:
directly, and through the statistics ``φ`` its transformers estimated from the data
(means, scales, imputation values, order statistics), which change every row's features.
This subpackage decodes each supported fitted transformer into those statistics, their
derivative with respect to a row's weight, their exact change when a row is removed, and
the Jacobians of the transformed features with respect to ``φ`` and to the raw columns
(``_leaves``: scalers, imputers, encoders, stateless maps; ``_bases``: PCA and splines,
which learn a basis; ``_terms``: the sparse representations they share); composes them
through ``Pipeline``, ``ColumnTransformer`` and ``FeatureUnion`` (``_graph``, with
``_propagation``: how earlier steps' statistics move later ones, applied where the terms
are read); and turns them into the terms the influence quantities add (``_channel``, with
``_affine_basis``: the exact affine relations among the terms, so products read fewer columns).
"""

from ._channel import StatisticsChannel
from ._graph import SUPPORTED_TRANSFORMERS, check_refit_supported, decode_prefix

__all__ = ["SUPPORTED_TRANSFORMERS", "StatisticsChannel", "check_refit_supported", "decode_prefix"]
