"""
Bring your own model: a probit regression written by hand with autograd.
========================================================================

``AutogradModel`` takes a per-sample loss written with ``autograd.numpy`` (and optionally a
penalty), fits it, and ``InfluenceEstimator`` gives it the library's whole first-order API.
Here a ridge-penalised probit model on scikit-learn's breast cancer data: which training
patients matter most for one test patient, checked against refits of the model without them.
Runs in a few seconds.
"""

from copy import deepcopy

import autograd.numpy as anp
import numpy as np
from autograd.scipy.stats import norm
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from sklearn_influence import AutogradModel, InfluenceEstimator


def probit_loss(params, X, y):
    """−log P(y | x) under P(y = 1 | x) = Φ(x·w + b): one value per row."""
    z = anp.dot(X, params[:-1]) + params[-1]
    return -(y * norm.logcdf(z) + (1 - y) * norm.logcdf(-z))


def ridge_penalty(params):
    return 0.5 * anp.dot(params[:-1], params[:-1])  # intercept unpenalised


data = load_breast_cancer()
X = StandardScaler().fit_transform(data.data)[:, :10]
y = data.target
X_train, y_train, X_test, y_test = X[:450], y[:450], X[450:], y[450:]

model = AutogradModel(probit_loss, np.zeros(X.shape[1] + 1), penalty=ridge_penalty)
inf = InfluenceEstimator(model).fit(X_train, y_train)
losses = inf.loss(X_test, y_test)
j = int(np.argmax(losses))
print(f"Probit model, {inf.params_.size} parameters; hardest test patient #{450 + j} (loss {losses[j]:.3f})")

predicted = inf.leave_one_out(X_test[[j]], y_test[[j]])[0]  # > 0: removing the row raises the loss
top = np.argsort(-np.abs(predicted))[:20]
actual = np.array(
    [
        probit_loss(
            deepcopy(model).fit(np.delete(X_train, i, 0), np.delete(y_train, i)).params_, X_test[[j]], y_test[[j]]
        )[0]
        - losses[j]
        for i in top
    ]
)
print(f"Pearson(predicted, refits) over the 20 most influential rows: {np.corrcoef(predicted[top], actual)[0, 1]:.4f}")
print(f"{'train row':>9} {'label':>9} {'predicted':>10} {'refit':>10}")
for i, a in zip(top[:8], actual[:8]):
    print(f"{i:>9} {data.target_names[y_train[i]]:>9} {predicted[i]:>10.5f} {a:>10.5f}")

# The gallery thumbnail (this script makes no figure): drawn by docs/_thumbnails.py.
# sphinx_gallery_thumbnail_path = "_static/thumbnails/custom_probit.png"
