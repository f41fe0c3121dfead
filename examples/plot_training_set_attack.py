"""
Training-set attack (Koh & Liang §5.2): nudge a few training rows until a test prediction flips.
================================================================================================

Logistic regression on scikit-learn's breast cancer data (standardised features). For each
target, a correctly classified test point, :func:`~sklearn_influence.training_set_attack`
picks the training rows with the largest ``‖I_pert,loss‖₁`` and moves them by sign steps of
``I_pert,loss`` inside a box of half-width ε (in standard deviations of each feature),
refitting after every step of ε/8 (a step that does not raise the target loss is undone and the
step length halved), until the target is misclassified or 16 refits are spent.
The labels are never changed. The script reports the success rate for 1, 3 and 10 attacked
rows and two box sizes, a baseline that attacks randomly chosen rows, and how well
``I_pert,loss`` predicted each step's change of the target's margin (its decision function
signed towards the true class; the loss itself is too flat at confident points for a
linear prediction).

Usage: ``python examples/plot_training_set_attack.py [--small]`` (``--small``: 4 targets).
Writes ``plot_training_set_attack.png`` when matplotlib is installed.
"""

import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator, training_set_attack

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="4 targets (a smoke run)")
args = parser.parse_args()
n_targets = 4 if args.small else 40

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
rng = np.random.default_rng(0)
order = rng.permutation(len(y))
train, test = order[:400], order[400:]
model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=1000)
inf = InfluenceEstimator(model).fit(X[train], y[train])
correct = np.flatnonzero(inf.predict(X[test]) == y[test])
targets = rng.choice(correct, size=n_targets, replace=False)
print(f"{len(train)} training rows; test accuracy {inf.score(X[test], y[test]):.3f}; {n_targets} targets")

configurations = [(rows, epsilon, "influence") for epsilon in (0.5, 1.0) for rows in (1, 3, 10)]
configurations.append((10, 1.0, "random rows"))
success, steps, predicted_steps, actual_steps = {}, {}, [], []
for n_rows, epsilon, choice in configurations:
    outcomes, spent = [], []
    for j in targets:
        Xt, yt = X[test][j : j + 1], y[test][j : j + 1]
        indices = rng.choice(len(train), size=n_rows, replace=False) if choice == "random rows" else None
        result = training_set_attack(
            inf,
            X[train],
            y[train],
            Xt,
            yt,
            epsilon=epsilon,
            n_rows=n_rows,
            indices=indices,
            step_size=epsilon / 8,
            max_steps=16,
        )
        outcomes.append(result.success)
        spent.append(result.n_steps)
        margins, accepted = result.history["target_margin"], result.history["accepted"]
        # each refit starts from the last accepted state (a rejected step is undone)
        start = margins[np.maximum.accumulate(np.where(accepted, np.arange(accepted.size), 0))][:-1]
        predicted_steps.extend(result.history["predicted_target_margin"][1:] - start)
        actual_steps.extend(margins[1:] - start)
    success[n_rows, epsilon, choice] = np.mean(outcomes)
    steps[n_rows, epsilon, choice] = np.mean(spent)

print(f"{'rows':>5} {'epsilon (sd)':>13} {'rows chosen by':>16} {'success':>8} {'mean refits':>12}")
for key in configurations:
    n_rows, epsilon, choice = key
    print(f"{n_rows:>5} {epsilon:>13.1f} {choice:>16} {success[key]:>8.0%} {steps[key]:>12.1f}")
predicted_steps, actual_steps = np.array(predicted_steps), np.array(actual_steps)
print(
    f"Change of the target's margin, I_pert,loss vs refit, per step ({len(actual_steps)} steps): Pearson "
    f"{np.corrcoef(predicted_steps, actual_steps)[0, 1]:.3f}, slope of actual on predicted "
    f"{predicted_steps @ actual_steps / (predicted_steps @ predicted_steps):.3f}"
)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: skipping the figure (pip install 'sklearn_influence[plot]').")
else:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for epsilon in (0.5, 1.0):
        rates = [100 * success[n_rows, epsilon, "influence"] for n_rows in (1, 3, 10)]
        axes[0].plot([1, 3, 10], rates, marker="o", label=f"ε = {epsilon} sd")
    axes[0].plot([10], [100 * success[10, 1.0, "random rows"]], "kx", label="10 random rows, ε = 1 sd")
    axes[0].set(xscale="log", xlabel="training rows attacked", ylabel="targets flipped (%)", ylim=(-3, 103))
    axes[0].legend()
    limit = 1.05 * np.max(np.abs(np.r_[predicted_steps, actual_steps]))
    axes[1].plot([-limit, 0], [-limit, 0], color="0.5", lw=0.8)
    axes[1].scatter(actual_steps, predicted_steps, s=8)
    axes[1].set(xlabel="change of the target's margin per step (refit)", ylabel="predicted by I_pert,loss")
    fig.tight_layout()
    fig.savefig("plot_training_set_attack.png", dpi=100)
    print("Saved plot_training_set_attack.png")
