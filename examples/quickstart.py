"""
Quickstart: which training rows drove one breast-cancer prediction?
===================================================================

Fits a logistic regression on scikit-learn's breast cancer data, picks the test patient
the model gets most wrong, asks which training patients pushed it there, and checks the
answers against actual refits of the model with
:func:`~sklearn_influence.validate_leave_one_out`. Runs in a few seconds.

The numbers come in two units:

- ``influence`` is Koh & Liang's ``I_up,loss = −n g_qᵀ H⁻¹ g_i``: ``n`` times the
  derivative of the query's loss with respect to the training row's weight. It ranks rows
  (positive: the row is harmful to the query), but it is a rate per unit of weight in the
  *mean* objective, not a change you will observe.
- ``leave_one_out`` is in the units of the loss itself (log-loss, nats): the predicted
  change of the query's loss when the row is removed and the model refitted (positive:
  removing the row raises the loss, so the row was helpful). To first order it is
  ``-influence / n`` for a row of weight 1; ``method="newton"`` takes one Newton step
  instead. The refits measure the same change exactly.
"""

import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator, LeaveOneOutDisplay, validate_leave_one_out

data = load_breast_cancer()
names = data.target_names  # label 0 = malignant, 1 = benign
order = np.random.default_rng(0).permutation(len(data.target))
train, test = order[:450], order[450:]
# Standardise with the training rows' statistics, once: the model is then refitted on fixed
# features, and "remove a row and refit" means refitting the logistic regression only.
scaler = StandardScaler().fit(data.data[train])
X_train, y_train = scaler.transform(data.data[train]), data.target[train]
X_test, y_test = scaler.transform(data.data[test]), data.target[test]
n = len(y_train)

start = time.perf_counter()
inf = InfluenceEstimator(LogisticRegression(C=1.0, tol=1e-10, max_iter=1000)).fit(X_train, y_train)
seconds = time.perf_counter() - start
print(f"Fitted on {n} patients in {seconds:.2f} s; test accuracy {inf.score(X_test, y_test):.3f}")

# The query: the test patient with the highest loss, the one the model gets most wrong.
test_loss = inf.loss(X_test, y_test)  # log-loss −log p(true class), in nats
j = int(np.argmax(test_loss))
x_query, y_query = X_test[[j]], y_test[[j]]
print(
    f"Query: test patient #{test[j]}, truly {names[y_query[0]]}; the model gives that "
    f"p = {np.exp(-test_loss[j]):.3f}, a loss of {test_loss[j]:.3f} nats"
)

influence = inf.influence(x_query, y_query)[0]  # −n g_qᵀH⁻¹g_i, > 0: harmful
loo_first = inf.leave_one_out(x_query, y_query, method="influence")[0]  # nats, > 0: helpful
loo_newton = inf.leave_one_out(x_query, y_query, method="newton")[0]  # nats, > 0: helpful
gap = np.abs(loo_first + influence / n).max()
print(f"First-order leave-one-out = −influence / n (largest difference {gap:.0e})")

# The truth: refit without each of the 20 rows with the largest predicted effect, and 10 others.
start = time.perf_counter()
check = validate_leave_one_out(inf, X_train, y_train, x_query, y_query, method="newton", random_state=0)
seconds = time.perf_counter() - start
refit = dict(zip(check.rows, check.actual))
first_order = loo_first[check.rows]
pearson_first = np.corrcoef(first_order, check.actual)[0, 1]
print(f"\nValidated against {len(check.rows)} refits without one row each ({seconds:.2f} s):")
print(f"  Pearson(Newton step, refits) = {check.pearson:.4f}, slope {check.slope:.3f}")
print(f"  Pearson(first order, refits) = {pearson_first:.4f}")
print(f"  largest |Newton − refit| = {np.abs(check.predicted - check.actual).max():.1e} nats")
print(f"  largest |refit| = {np.abs(check.actual).max():.2f} nats")
print(f"  a refit on all rows moves the loss by {check.noise_floor:.1e} nats (the optimiser's noise)")

print("\ninfluence = n · d(query loss)/d(row weight): a rate for ranking rows (> 0: harmful).")
print("The other columns: the change of the query's loss, in nats, if the row is dropped (> 0: helpful).")
units = f"{'I_up,loss':>30}  {'-- loss change if dropped (nats) --':>35}"
header = f"{'train row':>9} {'label':>9} {'influence':>10}  {'first order':>13} {'Newton':>10} {'refit':>10}"


def table(title, rows):
    print(f"\n{title}\n{units}\n{header}")
    for i in rows:
        changes = f"{loo_first[i]:>13.4f} {loo_newton[i]:>10.4f} {refit.get(i, np.nan):>10.4f}"
        print(f"{train[i]:>9} {names[y_train[i]]:>9} {influence[i]:>10.2f}  {changes}")


harmful, helpful = np.argsort(loo_newton)[:5], np.argsort(-loo_newton)[:5]
table("Most harmful training patients (dropping them lowers the query's loss):", harmful)
table("Most helpful training patients (dropping them raises the query's loss):", helpful)

suspects = train[np.argsort(-inf.self_influence())[:5]]  # n g_iᵀH⁻¹g_i ≥ 0, units of influence
print(f"\nMislabel candidates (largest self-influence): training patients {suspects.tolist()}")

# %%
# Predicted against actual leave-one-out changes (Koh & Liang's Figure 2), when matplotlib
# is installed: points on the diagonal are predicted exactly.
try:
    import matplotlib.pyplot as plt
except ImportError:  # matplotlib is optional: pip install "sklearn_influence[plot]"
    plt = None
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained")
    actual, floor = check.actual, check.noise_floor
    for ax, predicted in zip(axes, (first_order, check.predicted)):
        LeaveOneOutDisplay(predicted=predicted, actual=actual, noise_floor=floor).plot(ax=ax)
        ax.set_xlabel("actual change of the query's loss (nats)")
    axes[0].set_title(f"first order, −influence/n (Pearson {pearson_first:.3f})")
    axes[0].set_ylabel("predicted change (nats)")
    axes[1].set(title=f"Newton step (Pearson {check.pearson:.3f})", ylabel="")
    plt.show()
