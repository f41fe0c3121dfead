"""
Koh & Liang's Figure 3: influence of a hinge-loss SVM through the smooth hinge.
===============================================================================

A linear SVM (``LinearSVC(loss="hinge")``) is trained on scikit-learn's digits, 1 vs 7. Its
hinge loss is not twice differentiable, so influence is computed at the fitted weights
with the smooth hinge ``τ log(1 + exp((1 − s)/τ))`` at several temperatures τ
(``InfluenceEstimator(..., smoothing=τ)``), and with τ = 0 (the subgradient: the hinge's
gradient, and a Hessian with no data curvature at all — the penalty only). Each
prediction of the change of the test point's hinge loss when a training row is removed is
compared with an actual refit without that row, for the 100 training rows each τ ranks
most influential, on the test point closest to the decision boundary. Two regularisation
strengths are shown: C = 0.1 (many support vectors) and C = 1 (almost separable).

Refits: ``LinearSVC(loss="hinge", tol=1e-10, max_iter=10**6)``. Its dual coordinate
descent visits rows in a random order; the noise floor printed below is how much the test
loss moves between two full-data fits that differ only in that order.

Usage: ``python examples/plot_smooth_hinge.py [--small]`` (``--small``: 30 rows per τ).
Writes ``plot_smooth_hinge.png`` (the C = 0.1 panels) when matplotlib is installed.
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.svm import LinearSVC

from sklearn_influence import InfluenceEstimator

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="30 rows per temperature (a smoke run)")
args = parser.parse_args()
n_top = 30 if args.small else 100
TEMPERATURES = (0.0, 0.001, 0.01, 0.1)

digits = load_digits()
keep = np.isin(digits.target, [1, 7])
X, y = digits.data[keep] / 16.0, digits.target[keep]
order = np.random.default_rng(0).permutation(len(y))
train, test = order[:330], order[330:]
X_train, y_train = X[train], y[train]
signs_train = np.where(y_train == 7, 1.0, -1.0)


def fit_svm(C, X, y, random_state=0):
    svm = LinearSVC(loss="hinge", C=C, tol=1e-10, max_iter=10**6, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return svm.fit(X, y)


def subgradient_prediction(svm, x_query, sign):
    """τ = 0: the hinge's subgradient, and a Hessian with no data curvature: H = I / C
    (liblinear penalises the intercept like a coefficient at intercept_scaling = 1)."""
    X_tilde = np.c_[X_train, np.ones(len(y_train))]
    active = signs_train * svm.decision_function(X_train) < 1
    gradients = -(signs_train * active)[:, None] * X_tilde
    query_active = sign * svm.decision_function(x_query)[0] < 1
    query_gradient = -sign * query_active * np.r_[x_query[0], 1.0]
    return svm.C * (gradients @ query_gradient)  # s_i g_qᵀ H⁻¹ g_i, the first-order leave-one-out


def experiment(C):
    svm = fit_svm(C, X_train, y_train)
    margins = svm.decision_function(X[test]) * np.where(y[test] == 7, 1, -1)
    j = int(np.argmin(np.abs(margins)))  # the test point closest to the boundary
    x_query, y_query = X[test[[j]]], y[test[[j]]]
    sign = 1.0 if y_query[0] == 7 else -1.0

    def hinge_loss(model):
        return max(0.0, 1.0 - sign * model.decision_function(x_query)[0])

    base = hinge_loss(svm)
    noise = abs(hinge_loss(fit_svm(C, X_train, y_train, random_state=1)) - base)
    print(
        f"\nC = {C:g}: {len(train)} training rows, {np.sum(signs_train * svm.decision_function(X_train) <= 1 + 1e-6)} "
        f"support vectors; query margin {margins[j]:.3f}; optimiser noise floor {noise:.1e}"
    )
    print(f"{'temperature':>15} {'Pearson, first order':>21} {'Pearson, Newton':>16}")
    actual_cache, panels = {}, {}
    for temperature in TEMPERATURES:
        if temperature == 0:
            candidates = {"influence": subgradient_prediction(svm, x_query, sign)}
        else:
            inf = InfluenceEstimator(FrozenEstimator(svm), smoothing=temperature).fit(X_train, y_train)
            candidates = {m: inf.leave_one_out(x_query, y_query, method=m)[0] for m in ("influence", "newton")}
        scores = {}
        for method, predicted in candidates.items():
            top = np.argsort(-np.abs(predicted))[:n_top]
            for i in top:
                if i not in actual_cache:
                    rows = np.arange(len(y_train)) != i
                    actual_cache[i] = hinge_loss(fit_svm(C, X_train[rows], y_train[rows])) - base
            actual = np.array([actual_cache[i] for i in top])
            scores[method] = np.corrcoef(predicted[top], actual)[0, 1]
            if method == "influence":
                panels[temperature] = (predicted[top], actual, scores[method])
        label = "0 (subgradient)" if temperature == 0 else f"{temperature:g}"
        newton = f"{scores['newton']:>16.3f}" if "newton" in scores else f"{'-':>16}"
        print(f"{label:>15} {scores['influence']:>21.3f} {newton}")
    return panels


panels = {C: experiment(C) for C in (0.1, 1.0)}

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("\nmatplotlib is not installed: skipping the figure (pip install 'sklearn_influence[plot]').")
else:
    fig, axes = plt.subplots(1, len(TEMPERATURES), figsize=(4 * len(TEMPERATURES), 4))
    for ax, (temperature, (predicted, actual, r)) in zip(axes, panels[0.1].items()):
        ax.scatter(actual, predicted, s=10)
        limit = np.max(np.abs(np.r_[actual, predicted])) * 1.05
        ax.plot([-limit, limit], [-limit, limit], color="grey", lw=0.5)
        ax.set_title(f"τ = {temperature:g}  (Pearson {r:.2f})")
        ax.set_xlabel("actual change in test loss")
    axes[0].set_ylabel("predicted change (first order)")
    fig.suptitle("Linear SVM (hinge), digits 1 vs 7, C = 0.1")
    fig.tight_layout()
    fig.savefig("plot_smooth_hinge.png", dpi=100)
    print("\nSaved plot_smooth_hinge.png")
