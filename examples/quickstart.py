"""
Quickstart: which training rows drove one breast-cancer prediction?
===================================================================

Fits a logistic regression on scikit-learn's breast cancer data, picks the test patient
the model gets most wrong, asks which training patients pushed it there, and checks the
answers against actual refits of the model with
:func:`~sklearn_influence.validate_leave_one_out`. Runs in a few seconds.

The numbers come in two units:

- ``influence`` is Koh & Liang's :math:`\\mathcal{I}_{\\mathrm{up,loss}} = -n\\, g_j^\\top H^{-1} g_i`:
  ``n`` times the derivative of the query's loss with respect to the training row's
  weight. It ranks rows (positive: the row is harmful to the query), but it is a rate
  per unit of weight in the *mean* objective, not a change you will observe.
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
print(f"Fitted on {n} patients in {time.perf_counter() - start:.2f} s; test accuracy {inf.score(X_test, y_test):.3f}")

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
print(f"First-order leave-one-out = −influence / n: largest difference {np.abs(loo_first + influence / n).max():.1e}")

# The truth: refit without each of the 20 rows with the largest predicted effect, plus 10 at random.
start = time.perf_counter()
check = validate_leave_one_out(inf, X_train, y_train, x_query, y_query, method="newton", random_state=0)
print(f"\nValidated against {len(check.rows)} refits without one row each ({time.perf_counter() - start:.2f} s):")
print(f"  Pearson(Newton step, refits) = {check.pearson:.4f}, slope {check.slope:.3f}")
print(f"  Pearson(first order, refits) = {np.corrcoef(loo_first[check.rows], check.actual)[0, 1]:.4f}")
print(
    f"  largest |Newton − refit| = {np.abs(check.predicted - check.actual).max():.1e} nats "
    f"(largest |refit| = {np.abs(check.actual).max():.2f} nats; a refit on all rows moves the loss by "
    f"{check.noise_floor:.1e})"
)
refit = dict(zip(check.rows, check.actual))

print(
    "\ninfluence = n · d(query loss)/d(row weight): a rate for ranking rows (> 0: harmful)."
    "\nThe other columns: how the query's loss changes, in nats, if the row is dropped (> 0: helpful)."
)


def table(title, rows):
    print(f"\n{title}")
    print(f"{'':>19} {'I_up,loss':>10}  {'-- loss change if dropped (nats) --':>35}")
    print(f"{'train row':>9} {'label':>9} {'influence':>10}  {'first order':>13} {'Newton':>10} {'refit':>10}")
    for i in rows:
        print(
            f"{train[i]:>9} {names[y_train[i]]:>9} {influence[i]:>10.2f}  "
            f"{loo_first[i]:>13.4f} {loo_newton[i]:>10.4f} {refit.get(i, np.nan):>10.4f}"
        )


table("Most harmful training patients (dropping them lowers the query's loss):", np.argsort(loo_newton)[:5])
table("Most helpful training patients (dropping them raises the query's loss):", np.argsort(-loo_newton)[:5])

suspects = train[np.argsort(-inf.self_influence())[:5]]  # n g_iᵀH⁻¹g_i ≥ 0, in the units of influence
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
    first_order = loo_first[check.rows]
    LeaveOneOutDisplay(predicted=first_order, actual=check.actual, noise_floor=check.noise_floor).plot(ax=axes[0])
    LeaveOneOutDisplay(predicted=check.predicted, actual=check.actual, noise_floor=check.noise_floor).plot(ax=axes[1])
    axes[0].set_title(f"first order, −influence/n (Pearson {np.corrcoef(first_order, check.actual)[0, 1]:.3f})")
    axes[1].set_title(f"Newton step (Pearson {check.pearson:.3f})")
    axes[1].set_ylabel("")
    for ax in axes:
        ax.set_xlabel("actual change of the query's loss (nats)")
    axes[0].set_ylabel("predicted change (nats)")
    plt.show()
