"""
Fixing mislabelled training data (Koh & Liang §5.4): which rows should a person check first?
============================================================================================

10 % of the training labels of scikit-learn's breast cancer data are flipped. A person can
check a fraction of the training rows; rows are checked in the order of (a) self-influence
``n g_iᵀ H⁻¹ g_i``, (b) training loss, (c) at random. For each budget (5 %–30 % of the data) the
script reports the fraction of flipped labels found and the test accuracy after fixing them
and refitting, averaged over seeds (mean ± standard deviation).

Usage: ``python examples/plot_mislabeled.py [--small]`` (``--small``: 3 seeds).
Writes ``plot_mislabeled.png`` when matplotlib is installed.
"""

import argparse

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_influence import (
    InfluenceEstimator,
    MislabelCurveDisplay,
    mislabel_detection_curve,
    rank_mislabel_candidates,
)

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="3 seeds (a smoke run)")
args = parser.parse_args()
seeds = range(3 if args.small else 20)
budgets = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30])
strategies = ("self-influence", "training loss", "random")

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
model = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000)
found = {s: np.empty((len(seeds), len(budgets))) for s in strategies}
accuracy = {s: np.empty((len(seeds), len(budgets))) for s in strategies}
clean_accuracy = []

for a, seed in enumerate(seeds):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    train, test = order[:400], order[400:]
    y_train = y[train].copy()
    flipped = rng.choice(len(train), size=len(train) // 10, replace=False)
    y_train[flipped] = 1 - y_train[flipped]
    is_flipped = np.zeros(len(train), dtype=bool)
    is_flipped[flipped] = True
    clean_accuracy.append(clone(model).fit(X[train], y[train]).score(X[test], y[test]))

    inf = InfluenceEstimator(model).fit(X[train], y_train)
    rankings = {
        "self-influence": rank_mislabel_candidates(inf, by="self_influence"),
        "training loss": rank_mislabel_candidates(inf, by="training_loss"),
        "random": rng.permutation(len(train)),
    }
    for strategy, ranking in rankings.items():
        found[strategy][a] = mislabel_detection_curve(ranking, is_flipped, budgets)
        for b, budget in enumerate(budgets):
            checked = ranking[: int(round(budget * len(train)))]
            fixed = y_train.copy()
            fixed[checked[is_flipped[checked]]] = y[train][checked[is_flipped[checked]]]
            accuracy[strategy][a, b] = clone(model).fit(X[train], fixed).score(X[test], y[test])

print(
    f"{len(seeds)} seeds; 400 training rows, 40 flipped labels; test accuracy without flips "
    f"{np.mean(clean_accuracy):.3f}"
)
print(f"{'checked':>8} " + " ".join(f"{s + ' (found)':>24}" for s in strategies))
for b, budget in enumerate(budgets):
    cells = " ".join(f"{found[s][:, b].mean():>16.3f} ± {found[s][:, b].std():.3f}" for s in strategies)
    print(f"{budget:>8.0%} {cells}")
print(f"{'checked':>8} " + " ".join(f"{s + ' (accuracy)':>24}" for s in strategies))
for b, budget in enumerate(budgets):
    cells = " ".join(f"{accuracy[s][:, b].mean():>16.3f} ± {accuracy[s][:, b].std():.3f}" for s in strategies)
    print(f"{budget:>8.0%} {cells}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: skipping the figure (pip install 'sklearn_influence[plot]').")
else:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    MislabelCurveDisplay(fractions=budgets, found=found).plot(ax=axes[0])
    for strategy in strategies:
        axes[1].errorbar(
            budgets * 100, accuracy[strategy].mean(0), yerr=accuracy[strategy].std(0), label=strategy, capsize=3
        )
    axes[1].set(xlabel="training data checked (%)", ylabel="test accuracy after fixing")
    axes[1].axhline(np.mean(clean_accuracy), color="grey", lw=0.5, ls="--")
    fig.tight_layout()
    fig.savefig("plot_mislabeled.png", dpi=100)
    print("Saved plot_mislabeled.png")
