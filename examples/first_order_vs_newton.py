"""
When does the first-order influence approximation degrade, and how much does Newton help?
=========================================================================================

Logistic regression on scikit-learn's breast cancer data (8 standardised features),
10 test points. For each training-set size n and regularisation C, 40 training rows are
removed one at a time and the model is refitted (newton-cholesky, tol=1e-12); the table
compares the actual change of the 10 test losses with the two predictions of
``leave_one_out``: ``method="influence"`` (first order) and ``method="newton"``.
Runs in about ten seconds. The table is reproduced in docs/user_guide.md.
"""

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)[:, :8]
X_query, y_query = X[400:410], y[400:410]


def log_loss_rows(model, X, y):
    return -np.log(model.predict_proba(X)[np.arange(len(y)), y])


print(
    f"{'n':>4} {'C':>6} {'Pearson first order':>20} {'Pearson Newton':>15} {'max err first':>14} {'max err Newton':>15}"
)
for n in (160, 400):
    X_train, y_train = X[:n], y[:n]
    rows = np.arange(0, n, n // 40)[:40]
    for C in (0.05, 0.5, 100.0):
        estimator = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
        inf = InfluenceEstimator(estimator).fit(X_train, y_train)
        base = log_loss_rows(inf.estimator_, X_query, y_query)
        actual = np.empty((len(y_query), len(rows)))
        for a, i in enumerate(rows):
            keep = np.arange(n) != i
            refit = clone(estimator).fit(X_train[keep], y_train[keep])
            actual[:, a] = log_loss_rows(refit, X_query, y_query) - base
        first = inf.leave_one_out(X_query, y_query, method="influence", indices=rows)
        newton = inf.leave_one_out(X_query, y_query, method="newton", indices=rows)
        r_first = np.corrcoef(first.ravel(), actual.ravel())[0, 1]
        r_newton = np.corrcoef(newton.ravel(), actual.ravel())[0, 1]
        print(
            f"{n:>4} {C:>6g} {r_first:>20.4f} {r_newton:>15.4f} "
            f"{np.abs(first - actual).max():>14.2e} {np.abs(newton - actual).max():>15.2e}"
        )

# The gallery thumbnail (this script makes no figure): drawn by docs/_thumbnails.py.
# sphinx_gallery_thumbnail_path = "_static/thumbnails/first_order_vs_newton.png"
