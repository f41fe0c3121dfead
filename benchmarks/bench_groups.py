"""Group removal (issue 12): accuracy of ``leave_group_out`` against refits, and its cost at scale.

Usage: ``python benchmarks/bench_groups.py [--small] [--skip-timing] [--skip-accuracy]``.

Accuracy (the user guide's table). Data: ``n = 2,000`` training rows, ``p = 10`` standard normal
features, 500 validation rows from the same model; binary logistic (``y ~ Bernoulli(σ(xᵀw))``),
multinomial logistic (3 classes, Gumbel noise), Poisson (``y ~ Poisson(exp(0.5 xᵀw/|w|))``,
``alpha=0.01``), all converged to ``tol=1e-12``, and ``SmoothHingeClassifier(temperature=0.1)`` (its
own default tolerance 1e-10) on the binary labels; ridge (``alpha=1``) for the exact case. Per model,
group kind and size (1 %, 5 %, 10 %, 25 % of the rows), 10 groups: *random* (uniform rows) or
*coherent* (the top rows along a random direction of feature space: a cohort that pulls the fit one
way). For each group the mean change of the validation loss is predicted by
``leave_group_out(method="influence")`` (first order) and ``method="newton"`` and measured by a refit of
``clone(estimator)`` without the group. Reported: the median over groups of predicted / actual and
Spearman's correlation between predicted and actual across the 10 groups. ``--small``: 5 groups per cell.

Timing. ``n = 100,000``, ``p = 100`` standard normal features, binary logistic regression
(``C=1``, lbfgs, ``tol=1e-8``); 1,000 disjoint groups of 100 rows; 100 query rows. Wall time of
``leave_group_out_params`` and ``leave_group_out`` for all 1,000 groups, against the refits of 5
groups (warm-started from the full fit's coefficients, which favours the refits), extrapolated to
1,000. ``--small``: n = 20,000, 200 groups.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge

from sklearn_influence import InfluenceEstimator, SmoothHingeClassifier


def _models(rng, n, p):
    w = rng.normal(size=p)
    W = rng.normal(size=(p, 3))
    n_all = n + 500
    X = rng.normal(size=(n_all, p))
    cases = {
        "binary logistic": (
            LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000),
            (X @ w + rng.logistic(size=n_all) > 0).astype(int),
        ),
        "multinomial logistic": (
            LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000),
            np.argmax(X @ W + rng.gumbel(size=(n_all, 3)), axis=1),
        ),
        "Poisson": (
            PoissonRegressor(alpha=0.01, tol=1e-12, max_iter=10_000),
            rng.poisson(np.exp(0.5 * X @ w / np.linalg.norm(w))),
        ),
        "smooth hinge τ=0.1": (
            SmoothHingeClassifier(C=1.0, temperature=0.1),
            (X @ w + rng.logistic(size=n_all) > 0).astype(int),
        ),
        "ridge": (Ridge(alpha=1.0), X @ w + rng.normal(size=n_all)),
    }
    return X[:n], X[n:], {name: (est, y[:n], y[n:]) for name, (est, y) in cases.items()}


def _groups(kind, size, count, X, rng):
    if kind == "random":
        return [rng.choice(len(X), size, replace=False) for _ in range(count)]
    return [np.argsort(X @ rng.normal(size=X.shape[1]))[-size:] for _ in range(count)]


def accuracy(small):
    rng = np.random.default_rng(0)
    n, p = 2000, 10
    count = 5 if small else 10
    X, X_val, cases = _models(rng, n, p)
    print("| model | groups | size | median ratio first | median ratio Newton | Spearman first | Spearman Newton |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (estimator, y, y_val) in cases.items():
        inf = InfluenceEstimator(estimator).fit(X, y)
        base = inf.loss(X_val, y_val).mean()
        worst = 0.0
        for kind in ("random", "coherent"):
            for fraction in (0.01, 0.05, 0.10, 0.25):
                groups = _groups(kind, int(fraction * n), count, X, rng)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # the 25 % coherent groups warn, as they should
                    newton = inf.leave_group_out(X_val, y_val, groups).mean(axis=0)
                first = inf.leave_group_out(X_val, y_val, groups, method="influence").mean(axis=0)
                actual = []
                for rows in groups:
                    keep = np.ones(n, dtype=bool)
                    keep[rows] = False
                    refit = InfluenceEstimator(clone(estimator)).fit(X[keep], y[keep])
                    actual.append(refit.loss(X_val, y_val).mean() - base)
                actual = np.array(actual)
                if name == "ridge":
                    worst = max(worst, np.abs(newton - actual).max() / np.abs(actual).max())
                    continue
                print(
                    f"| {name} | {kind} | {fraction:.0%} | {np.median(first / actual):.2f} | "
                    f"{np.median(newton / actual):.3f} | {spearmanr(first, actual)[0]:.3f} | "
                    f"{spearmanr(newton, actual)[0]:.3f} |"
                )
        if name == "ridge":
            print(f"\nridge: largest relative error of Newton against the refits, all cells: {worst:.1e}")


def timing(small):
    rng = np.random.default_rng(1)
    n, p, size = (20_000, 100, 100) if small else (100_000, 100, 100)
    n_groups = n // size
    X = rng.normal(size=(n, p))
    w = rng.normal(size=p) / np.sqrt(p)
    y = (X @ w + rng.logistic(size=n) > 0).astype(int)
    X_query, y_query = X[:100], y[:100]
    estimator = LogisticRegression(C=1.0, tol=1e-8, max_iter=1000)
    start = time.perf_counter()
    inf = InfluenceEstimator(estimator, solver="exact").fit(X, y)
    fit_time = time.perf_counter() - start
    groups = np.repeat(np.arange(n_groups), size)
    rng.shuffle(groups)
    start = time.perf_counter()
    params = inf.leave_group_out_params(groups)
    params_time = time.perf_counter() - start
    start = time.perf_counter()
    inf.leave_group_out(X_query, y_query, groups)
    loss_time = time.perf_counter() - start
    refit_times, errors = [], []
    warm = clone(estimator).set_params(warm_start=True)
    for g in range(5):
        keep = groups != g
        model = clone(warm)
        model.coef_, model.intercept_ = inf.estimator_.coef_.copy(), inf.estimator_.intercept_.copy()
        start = time.perf_counter()
        model.fit(X[keep], y[keep])
        refit_times.append(time.perf_counter() - start)
        actual = np.r_[model.coef_.ravel(), model.intercept_] - inf.params_
        errors.append(np.linalg.norm(params[g] - actual) / np.linalg.norm(actual))
    per_refit = float(np.median(refit_times))
    print(f"\nn = {n:,}, p = {p}, {n_groups:,} groups of {size} rows, binary logistic (exact solver)")
    print(f"InfluenceEstimator.fit (model fit + Hessian): {fit_time:.1f} s")
    print(f"leave_group_out_params, all groups: {params_time:.1f} s")
    print(f"leave_group_out, 100 queries × all groups: {loss_time:.1f} s")
    print(f"one refit per group (warm-started): {per_refit:.2f} s each, × {n_groups:,} = {per_refit * n_groups:.0f} s")
    print(f"Newton vs the 5 refits: relative error of θ̂₋G − θ̂ median {np.median(errors):.1e}, max {max(errors):.1e}")
    print(f"speed-up: {per_refit * n_groups / loss_time:.0f}×")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.skip_accuracy:
        accuracy(args.small)
    if not args.skip_timing:
        timing(args.small)


if __name__ == "__main__":
    main()
