"""
Debugging domain mismatch (Koh & Liang §5.3): a test error traced to a few training rows.
=========================================================================================

A synthetic analogue of the paper's hospital-readmission experiment. Patients have an age,
a child indicator and four clinical measurements; children are rarely readmitted. In the
training data the children were thinned out unevenly: almost only the readmitted ones
were kept, so the model learns that children are at high risk and gets healthy children
at test time wrong.

Influence finds the cause from one wrong prediction: the most harmful training rows for
a misclassified child are the few readmitted training children (labelled with their
patient ids, straight from the DataFrame). Splitting their influence over the parameters
(``g_qᵀ I_up,params``) shows it flows almost entirely through ``is_child``. Refitting
without them fixes the prediction. ``perturbation_influence`` (the derivative of the query
loss with respect to each feature of those rows) ranks ``is_child`` first per unit too, but
units differ between features (one unit of ``is_child`` is the whole difference between a
child and an adult, one unit of ``age`` a year), so that ranking is weaker evidence than the
split of the influence.

Usage: ``python examples/plot_domain_mismatch.py`` (a few seconds).
Needs pandas; writes ``plot_domain_mismatch.png`` when matplotlib is installed.
"""

import argparse

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from sklearn_influence import InfluenceEstimator, TopInfluencesDisplay

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="accepted for uniformity: the script takes seconds")
parser.parse_args()
n_patients = 20_000

rng = np.random.default_rng(0)
is_child = rng.random(n_patients) < 0.05
age = np.where(is_child, rng.uniform(1, 12, n_patients), rng.uniform(18, 90, n_patients))
clinical = rng.normal(size=(n_patients, 4))
logit = -1.0 + 0.03 * (age - 50) + clinical @ np.array([0.5, -0.4, 0.3, 0.0]) - 2.5 * is_child
readmitted = rng.random(n_patients) < 1 / (1 + np.exp(-logit))
patients = pd.DataFrame(
    {
        "age": age,
        "is_child": is_child.astype(float),
        "blood_pressure": clinical[:, 0],
        "glucose": clinical[:, 1],
        "prior_visits": clinical[:, 2],
        "bmi": clinical[:, 3],
    },
    index=pd.Index([f"patient_{i:05d}" for i in range(n_patients)], name="patient"),
)
features = patients  # in their own units: one unit of is_child is the whole child/adult difference

test = rng.random(n_patients) < 0.2
healthy_children = np.flatnonzero(~test & is_child & ~readmitted)
dropped = rng.choice(healthy_children, size=len(healthy_children) - 3, replace=False)  # keep only 3
train = ~test
train[dropped] = False
X_train, y_train = features[train], readmitted[train]
X_test, y_test = features[test], readmitted[test]
print(
    f"children readmitted: {readmitted[is_child].mean():.0%} in the population, "
    f"{y_train[is_child[train]].mean():.0%} of the {is_child[train].sum()} children left in training"
)

model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10)
inf = InfluenceEstimator(model).fit(X_train, y_train)
full = clone(model).fit(features[~test], readmitted[~test])
wrong_children = X_test.index[is_child[test] & ~y_test & (inf.predict(X_test) != y_test)]
print(
    f"test accuracy on children: {inf.score(X_test[is_child[test]], y_test[is_child[test]]):.3f} "
    f"(trained on all children: {full.score(X_test[is_child[test]], y_test[is_child[test]]):.3f}); "
    f"{len(wrong_children)} healthy test children predicted to be readmitted"
)

query = X_test.loc[wrong_children[:1]]
y_query = np.zeros(1, dtype=bool)
print(f"\nquery: {query.index[0]}, predicted readmission probability {inf.predict_proba(query)[0, 1]:.2f}")
k = 5
top = inf.top_influences(query, y_query, k=k)
harmful = top.harmful_indices[0]
table = pd.DataFrame(
    {
        "influence": top.harmful_values[0],
        "is_child": patients["is_child"].to_numpy()[train][harmful].astype(bool),
        "age": patients["age"].to_numpy()[train][harmful].round(1),
        "readmitted": y_train[harmful],
    },
    index=inf.training_index_[harmful],
)
print(f"the {k} most harmful training rows (influence > 0 raises the query's loss):")
print(table.to_string())

# Which feature carries their influence? I_up,loss = g_qᵀ I_up,params splits over the parameters:
# the query's log-loss gradient g_q = (p − y)·[x, 1] times each row's parameter influence.
query_gradient = (inf.predict_proba(query)[0, 1] - y_query[0]) * np.r_[query.to_numpy()[0], 1.0]
carried = inf.influence_params(indices=harmful) * query_gradient
share = pd.Series(carried.sum(axis=0) / carried.sum(), index=[*features.columns, "intercept"])
print("\nshare of these rows' influence carried by each parameter:")
print(share.round(3).to_string())
perturbation = inf.perturbation_influence(query, y_query, indices=harmful)[0]
by_feature = pd.Series(np.abs(perturbation).mean(axis=0), index=features.columns).sort_values(ascending=False)
print("\nmean |I_pert,loss| of these rows per unit of each feature (moving which feature moves the query loss):")
print(by_feature.round(1).to_string())

keep = np.ones(len(X_train), dtype=bool)
keep[harmful[table["is_child"].to_numpy()]] = False
refit = clone(model).fit(X_train[keep], y_train[keep])
print(
    f"\nrefit without the {np.sum(~keep)} harmful training children: readmission probability of "
    f"{query.index[0]} {refit.predict_proba(query)[0, 1]:.2f} (was {inf.predict_proba(query)[0, 1]:.2f})"
)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: skipping the figure (pip install 'sklearn_influence[plot]').")
else:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    TopInfluencesDisplay.from_estimator(inf, query, y_query, k=k, ax=axes[0])
    axes[0].set_title(f"Training rows behind the error on {query.index[0]}")
    axes[1].barh(share.index[::-1], share.to_numpy()[::-1])
    axes[1].set(xlabel="share of the harmful rows' influence", title="The feature it flows through")
    fig.tight_layout()
    fig.savefig("plot_domain_mismatch.png", dpi=100)
    print("Saved plot_domain_mismatch.png")
