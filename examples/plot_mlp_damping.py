"""
Influence for a non-convex model: a small MLP on digits, with a damped Hessian.
===============================================================================

Koh & Liang show that influence stays informative for non-convex models when the Hessian
is damped (H + λI) and the "actual" leave-one-out effect is measured the way one can for a
network: retrain *from the trained weights* without the row, for a fixed budget, and compare
with the same retraining on the full data (so that the drift of continued training cancels).

Here: ``MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-2, solver="lbfgs", tol=1e-12)`` on scikit-learn's
digits (1,000 training images, pixels / 16). For one test image and each damping λ (on the
scale of the mean objective, as in the paper; ``damping = n·λ`` on the library's sum form), the 100
training rows with the largest predicted effect are removed one at a time; each removal is
followed by 100 warm-started L-BFGS iterations from θ̂ (tol=1e-12, so that L-BFGS
does not stop at once on the small gradient one row leaves), and so is a baseline on the full data.
The table reports the Pearson correlation of predicted and actual changes of the test loss.

Usage: ``python examples/plot_mlp_damping.py [--small]`` (``--small``: 10 rows, 2 dampings).
Writes ``plot_mlp_damping.png`` when matplotlib is installed.
"""

import argparse
import warnings
from copy import deepcopy

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier

from sklearn_influence import InfluenceEstimator

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="10 rows and two dampings (a smoke run)")
args = parser.parse_args()
n_top = 10 if args.small else 100
# λ on the scale of the *mean* objective, as in the paper; InfluenceEstimator's damping is on
# the sum-form objective, so it is n·λ.
lambdas = (0.001, 0.01) if args.small else (0.0001, 0.001, 0.01, 0.1)
RETRAIN_ITERATIONS = 100

X, y = load_digits(return_X_y=True)
X = X / 16.0
order = np.random.default_rng(0).permutation(len(y))
train, test = order[:1000], order[1000:]
X_train, y_train = X[train], y[train]
warnings.simplefilter("ignore", ConvergenceWarning)
mlp = MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-2, solver="lbfgs", max_iter=2000, tol=1e-12, random_state=0)
mlp.fit(X_train, y_train)
n_params = sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_)

test_loss = -np.log(mlp.predict_proba(X[test])[np.arange(len(test)), y[test]])
j = int(np.argsort(test_loss)[-10])  # a test image the network finds hard, but not its worst outlier
x_query, y_query = X[test[[j]]], y[test[[j]]]


def query_loss(model):
    return -np.log(model.predict_proba(x_query)[0, y_query[0]])


def retrain(rows):
    model = deepcopy(mlp).set_params(warm_start=True, max_iter=RETRAIN_ITERATIONS)
    return model.fit(X_train[rows], y_train[rows])


baseline = query_loss(retrain(np.arange(len(y_train))))
print(
    f"MLP with {n_params} parameters, test accuracy {mlp.score(X[test], y[test]):.3f}; "
    f"query: test image #{test[j]} (digit {y_query[0]}), loss {query_loss(mlp):.3f}, "
    f"after {RETRAIN_ITERATIONS} more iterations on the full data {baseline:.3f}"
)
print(f"{'λ (mean)':>9} {'damping = nλ':>12} {'Pearson':>8} {'rows':>5}")
actual_cache, panels = {}, {}
for lam in lambdas:
    damping = lam * len(y_train)
    inf = InfluenceEstimator(FrozenEstimator(mlp), damping=damping).fit(X_train, y_train)
    predicted = inf.leave_one_out(x_query, y_query)[0]
    top = np.argsort(-np.abs(predicted))[:n_top]
    for i in top:
        if i not in actual_cache:
            actual_cache[i] = query_loss(retrain(np.arange(len(y_train)) != i)) - baseline
    actual = np.array([actual_cache[i] for i in top])
    r = np.corrcoef(predicted[top], actual)[0, 1]
    panels[lam] = (predicted[top], actual, r)
    print(f"{lam:>9g} {damping:>12g} {r:>8.3f} {len(top):>5}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: skipping the figure (pip install 'sklearn_influence[plot]').")
else:
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for ax, (lam, (predicted, actual, r)) in zip(np.atleast_1d(axes), panels.items()):
        ax.scatter(actual, predicted, s=10)
        limit = np.max(np.abs(np.r_[actual, predicted])) * 1.05
        ax.plot([-limit, limit], [-limit, limit], color="grey", lw=0.5)
        ax.set_title(f"λ = {lam:g}  (Pearson {r:.2f})")
        ax.set_xlabel("actual change (warm-started retraining)")
    np.atleast_1d(axes)[0].set_ylabel("predicted change")
    fig.tight_layout()
    fig.savefig("plot_mlp_damping.png", dpi=100)
    print("Saved plot_mlp_damping.png")
