"""Names of the parameters: the final model's input features, per output, plus the intercepts.

The layout is that of ``params_`` and of every ``*_params`` result.
"""

# --- names of parameters -----------------------------------------------------------------


def _unique(name, taken):
    while name in taken:
        name += "_"
    return name


def input_feature_names(prefix, model, n_features):
    """Names of the features the final model sees, as strings.

    The transformer prefix's ``get_feature_names_out()`` when it has one, else the model's
    ``feature_names_in_``, else scikit-learn's ``x0, x1, …``.
    """
    if prefix is not None:
        try:
            names = prefix.get_feature_names_out()
        except (AttributeError, ValueError, TypeError):  # a step without feature names
            names = None
        if names is not None and len(names) == n_features:
            return [str(name) for name in names]
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == n_features:
        return [str(name) for name in names]
    return [f"x{i}" for i in range(n_features)]


def _output_labels(model, n_outputs):
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) == n_outputs:
        return [str(label) for label in classes]
    return [str(k) for k in range(n_outputs)]


def parameter_names(prefix, model, n_params):
    """Names of the entries of ``params_`` (and of every ``*_params`` column).

    Linear models: ``concatenate([coef_.ravel(), intercept_.ravel()])`` named
    ``feature`` and ``intercept`` for one output, ``feature[output]`` and
    ``intercept[output]`` for several (the output is the class label when ``coef_`` has one
    row per class, else its position); ``HuberRegressor`` adds ``scale``. MLPs:
    ``coefs_l[i, j]`` (``i`` the feature name in the first layer) then ``intercepts_l[j]``.
    ``AutogradModel``: ``params_[i]``. A name that would repeat a feature's gets ``_``
    appended.
    """
    from ._custom import AutogradModel
    from ._decoding import _fits_intercept

    if isinstance(model, AutogradModel) or not (hasattr(model, "coef_") or hasattr(model, "coefs_")):
        return [f"params_[{i}]" for i in range(n_params)]
    if hasattr(model, "coefs_"):  # an MLP: every layer's coefs_, then every layer's intercepts_
        coefs = model.coefs_
        features = input_feature_names(prefix, model, coefs[0].shape[0])
        names = []
        for layer, weights in enumerate(coefs):
            inputs = features if layer == 0 else range(weights.shape[0])
            names += [f"coefs_{layer}[{i}, {j}]" for i in inputs for j in range(weights.shape[1])]
        names += [f"intercepts_{layer}[{j}]" for layer, weights in enumerate(coefs) for j in range(weights.shape[1])]
    else:
        shape = model.coef_.shape
        features = input_feature_names(prefix, model, shape[-1])
        n_outputs = 1 if len(shape) == 1 else shape[0]
        outputs = [None] if n_outputs == 1 else _output_labels(model, n_outputs)
        taken = set(features)
        intercept = _unique("intercept", taken)
        names = [name if k is None else f"{name}[{k}]" for k in outputs for name in features]
        if _fits_intercept(model):
            names += [intercept if k is None else f"{intercept}[{k}]" for k in outputs]
        if hasattr(model, "scale_") and hasattr(model, "epsilon"):  # HuberRegressor's scale is a parameter
            names.append(_unique("scale", taken | {intercept}))
    if len(names) != n_params:  # an unforeseen layout: positions rather than wrong names
        return [f"params_[{i}]" for i in range(n_params)]
    return names
