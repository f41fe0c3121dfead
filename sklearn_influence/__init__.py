"""sklearn_influence: influence functions for scikit-learn models.

Which training rows made the model say this, and what happens if you drop them?
Koh & Liang's influence functions as a scikit-learn meta-estimator, with exact
leave-one-out for least squares and Newton-step leave-one-out for logistic models.
"""

from ._applications import mislabel_detection_curve, rank_mislabel_candidates, training_set_attack
from ._diagnostics._plots import ResidualsLeverageDisplay
from ._estimator import InfluenceEstimator
from ._groups._validation import validate_leave_group_out
from ._model_selection._predictions import loo_decision_function, loo_predict, loo_predict_interval, loo_predict_proba
from ._model_selection._search import LeaveOneOutSearchCV
from ._models._custom import AutogradModel
from ._models._mlp import flatten_mlp_params, refine_mlp, unflatten_mlp_params
from ._models._svm import SmoothHingeClassifier
from ._plots import LeaveOneOutDisplay, MislabelCurveDisplay, TopInfluencesDisplay
from ._validation import validate_leave_one_out

__version__ = "0.1.0.dev0"

__all__ = [
    "AutogradModel",
    "InfluenceEstimator",
    "LeaveOneOutDisplay",
    "LeaveOneOutSearchCV",
    "loo_decision_function",
    "loo_predict",
    "loo_predict_interval",
    "loo_predict_proba",
    "MislabelCurveDisplay",
    "SmoothHingeClassifier",
    "TopInfluencesDisplay",
    "flatten_mlp_params",
    "mislabel_detection_curve",
    "rank_mislabel_candidates",
    "refine_mlp",
    "ResidualsLeverageDisplay",
    "training_set_attack",
    "unflatten_mlp_params",
    "validate_leave_one_out",
    "validate_leave_group_out",
    "__version__",
]
