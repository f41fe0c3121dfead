"""
Quickstart: which training rows drove one breast-cancer prediction?
===================================================================

Fits a standardised logistic regression on scikit-learn's breast cancer data, picks the
test patient the model gets most wrong, and asks which training patients pushed it
there. The predictions of :class:`~sklearn_influence.InfluenceEstimator` are then
checked against actual leave-one-out refits of the model. Runs in a few seconds.
"""

import time

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator

data = load_breast_cancer()
X, y, names = data.data, data.target, data.target_names  # 0 = malignant, 1 = benign
rng = np.random.default_rng(0)
order = rng.permutation(len(y))
train, test = order[:450], order[450:]

model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=1e-10, max_iter=1000))
start = time.perf_counter()
inf = InfluenceEstimator(model).fit(X[train], y[train])
print(
    f"Fitted on {len(train)} patients in {time.perf_counter() - start:.2f} s; "
    f"test accuracy {inf.score(X[test], y[test]):.3f}"
)

# The test patient with the highest loss: the one the model gets most wrong.
test_loss = inf.loss(X[test], y[test])
j = int(np.argmax(test_loss))
p_true = np.exp(-test_loss[j])
print(
    f"\nQuery: test patient #{test[j]}, truly {names[y[test[j]]]}, "
    f"model gives it p = {p_true:.3f} (loss {test_loss[j]:.3f})"
)

query = X[test[[j]]], y[test[[j]]]
influence = inf.influence(*query)[0]  # > 0: up-weighting the row raises the loss (harmful)
loo = inf.leave_one_out(*query, method="newton")[0]  # > 0: removing the row raises the loss (helpful)

# Validate against the truth: refit without each of the 40 most influential rows. Influence
# holds the pipeline's fitted scaler fixed, so the refits do too: only the model is refitted.
top = np.argsort(-np.abs(influence))[:40]
scaler, logistic = inf.estimator_[0], inf.estimator_[-1]
X_train_scaled, x_query_scaled = scaler.transform(X[train]), scaler.transform(query[0])
actual = np.empty(len(top))
start = time.perf_counter()
for a, i in enumerate(top):
    keep = np.arange(len(train)) != i
    refit = clone(logistic).fit(X_train_scaled[keep], y[train][keep])
    actual[a] = -np.log(refit.predict_proba(x_query_scaled)[0, query[1][0]]) - test_loss[j]
refit_seconds = time.perf_counter() - start
first_order = inf.leave_one_out(*query, method="influence", indices=top)[0]
print(f"\nValidation on the 40 most influential rows ({refit_seconds:.2f} s of refits):")
print(f"  Pearson(first-order influence, actual refits) = {np.corrcoef(first_order, actual)[0, 1]:.4f}")
print(f"  Pearson(Newton step,           actual refits) = {np.corrcoef(loo[top], actual)[0, 1]:.4f}")
print(
    f"  largest |Newton − actual| = {np.abs(loo[top] - actual).max():.2e} "
    f"(largest |actual| = {np.abs(actual).max():.2e})"
)

features = ["mean radius", "mean concave points", "worst texture"]
columns = [list(data.feature_names).index(f) for f in features]
header = f"{'train row':>9} {'label':>9} {'influence':>10} {'LOO newton':>11} {'LOO refit':>10}  " + "  ".join(
    f"{f:>19}" for f in features
)


def table(title, rows):
    print(f"\n{title}\n{header}")
    for i in rows:
        refit = actual[np.flatnonzero(top == i)[0]] if i in top else np.nan
        values = "  ".join(f"{X[train[i], c]:>19.3f}" for c in columns)
        print(f"{train[i]:>9} {names[y[train[i]]]:>9} {influence[i]:>10.4f} {loo[i]:>11.5f} {refit:>10.5f}  {values}")


table("Most harmful training patients (removing them lowers this patient's loss):", np.argsort(loo)[:5])
table("Most helpful training patients (removing them raises this patient's loss):", np.argsort(-loo)[:5])
query_values = "  ".join(f"{X[test[j], c]:.3f}" for c in columns)
print(f"\nQuery patient's {', '.join(features)}: {query_values}")
print(
    "\nSelf-influence (mislabel candidates): training rows "
    f"{train[np.argsort(-inf.self_influence())[:5]].tolist()} are the hardest for the others to explain."
)
