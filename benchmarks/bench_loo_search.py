"""LeaveOneOutSearchCV against GridSearchCV: a 20-candidate grid at n = 2,000, p = 50 (issue 13).

For ridge and L2 logistic regression, in one run: the time of ``LeaveOneOutSearchCV`` (leave-one-out
from one fit per candidate; without and with warm starts along the grid, which apply to the logistic
fits; ridge's grid varies only ``alpha`` and takes the shared-SVD path), of ``GridSearchCV(cv=5)``,
and of ``GridSearchCV(cv=LeaveOneOut())``
extrapolated from ``--folds`` leave-one-out folds per candidate (n refits per candidate would take
hours), plus the agreement of the chosen candidates and the largest gap between the Newton and the
refit leave-one-out scores on those folds. Then jackknife+ intervals for ridge from one fit against n refits
by hand, with their empirical coverage on held-out data (MAPIE is not a dependency; its refit-based
jackknife+ is the hand-computed one here).

Each time is the best of ``--repeat`` runs (the machine is shared). ``--threads`` limits the BLAS and
OpenMP thread pools for every contender alike (default 1: on a loaded 2-core machine threaded BLAS and
scikit-learn's OpenMP loss loops spin, up to 50x slower; 0 keeps the libraries' defaults).

``--table`` also prints the user guide's accuracy table on bundled data sets (logistic regression and
``SmoothHingeClassifier`` on breast cancer, ``Ridge`` and ``PoissonRegressor`` on diabetes): each candidate's
Newton leave-one-out score against ``GridSearchCV`` with leave-one-out refits, 5-fold and 10-fold, and the
gap between the block-Newton K-fold scores and ``GridSearchCV``'s on the same folds.

``--kfold-gap`` prints only the user guide's K-fold log-loss gap table (logistic regression, breast cancer).

Run: ``python benchmarks/bench_loo_search.py [--n 2000] [--p 50] [--folds 20] [--repeat 3] [--threads 1] [--table]``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import GridSearchCV, KFold, LeaveOneOut, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils import _safe_indexing
from threadpoolctl import threadpool_limits

from sklearn_influence import (
    LeaveOneOutSearchCV,
    SmoothHingeClassifier,
    loo_predict,
    loo_predict_interval,
    loo_predict_proba,
)


def _refit_folds(estimator, grid, X, y, rows):
    """Time of ``len(rows)`` leave-one-out refits per candidate, and their held-out predictions."""
    start = time.perf_counter()
    held_out = []
    for params in grid:
        model = estimator.set_params(**params)
        keep = np.ones(len(X), dtype=bool)
        out = []
        for i in rows:
            keep[i] = False
            model.fit(X[keep], y[keep])
            keep[i] = True
            out.append(
                model.predict_proba(X[i : i + 1])[0]
                if hasattr(model, "predict_proba")
                else model.predict(X[i : i + 1])[0]
            )
        held_out.append(np.array(out))
    return time.perf_counter() - start, held_out


def _best_time(function, repeat):
    """Shortest wall time of ``repeat`` calls, and the last call's result."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(n, p, n_folds, repeat=3):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p))
    beta = rng.standard_normal(p) / np.sqrt(p)
    y_reg = X @ beta + rng.standard_normal(n)
    y_cls = (X @ beta + 0.5 * rng.standard_normal(n) > 0).astype(int)
    rows = rng.choice(n, n_folds, replace=False)
    cases = [
        ("ridge", Ridge(), {"alpha": np.logspace(-3, 3, 20)}, y_reg, "neg_mean_squared_error"),
        (
            "logistic",
            LogisticRegression(solver="newton-cholesky", tol=1e-10),
            {"C": np.logspace(-3, 2, 20)},
            y_cls,
            make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1]),
        ),
    ]
    print(
        f"n = {n}, p = {p}, 20 candidates; best of {repeat} runs; "
        f"leave-one-out refits extrapolated from {n_folds} folds per candidate"
    )
    header = (
        f"{'model':9} {'LOOSearchCV cold':>17} {'warm':>7} {'GridCV 5-fold':>14} {'5-fold / ours':>14}"
        f" {'GridCV LOO (extrap.)':>21} {'LOO / ours':>11}"
    )
    print(header + f" {'same best':>9} {'max |Newton - refit| on folds':>30}")
    for name, estimator, grid, y, scoring in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            t_cold, _ = _best_time(
                lambda: LeaveOneOutSearchCV(estimator, grid, scoring=scoring, warm_start=False).fit(X, y), repeat
            )
            t_ours, ours = _best_time(lambda: LeaveOneOutSearchCV(estimator, grid, scoring=scoring).fit(X, y), repeat)
        t_five, five = _best_time(lambda: GridSearchCV(estimator, grid, scoring=scoring, cv=KFold(5)).fit(X, y), repeat)
        t_refits, held_out = _refit_folds(estimator, list(ours.cv_results_["params"]), X, y, rows)
        t_loo = t_refits * n / n_folds
        gap = 0.0
        for params, refit in zip(ours.cv_results_["params"], held_out):
            model = estimator.set_params(**params)
            newton = (loo_predict_proba if name == "logistic" else loo_predict)(model, X, y)
            gap = max(gap, float(np.abs(_safe_indexing(newton, rows) - refit).max()))
        # the best candidate by the refits' leave-one-out score would need all n refits; compare with 5-fold's
        same = ours.best_index_ == five.best_index_
        print(
            f"{name:9} {t_cold:16.3f}s {t_ours:6.3f}s {t_five:13.3f}s {t_five / t_ours:13.1f}x"
            f" {t_loo:20.0f}s {t_loo / t_ours:10.0f}x {str(same):>9} {gap:30.2e}"
        )


def run_intervals(n=300, p=20, n_test=2000, level=0.9):
    """Jackknife+ for ridge: from one fit against n refits by hand, with the empirical coverage on held-out data."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n + n_test, p))
    y = X @ (rng.standard_normal(p) / np.sqrt(p)) + rng.standard_t(3, n + n_test)  # heavy-tailed noise
    X_train, y_train, X_test, y_test = X[:n], y[:n], X[n:], y[n:]
    start = time.perf_counter()
    ours = loo_predict_interval(Ridge(alpha=1.0), X_test, X_train, y_train, confidence_level=level)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    refits = [Ridge(alpha=1.0).fit(np.delete(X_train, i, 0), np.delete(y_train, i)) for i in range(n)]
    residuals = np.abs(y_train - np.array([m.predict(X_train[i : i + 1])[0] for i, m in enumerate(refits)]))
    mu = np.array([m.predict(X_test) for m in refits]).T
    k_up, k_low = int(np.ceil(level * (n + 1))), int(np.floor((1 - level) * (n + 1)))
    lower = np.sort(mu - residuals, axis=1)[:, k_low - 1]
    upper = np.sort(mu + residuals, axis=1)[:, k_up - 1]
    t_refit = time.perf_counter() - start
    coverage = np.mean((y_test >= ours[:, 0]) & (y_test <= ours[:, 1]))
    gap = np.abs(ours - np.column_stack([lower, upper])).max()
    print(
        f"\njackknife+ (ridge, n = {n}, p = {p}, t(3) noise, level {level}): one fit {t_ours:.2f}s, "
        f"{n} refits {t_refit:.2f}s; max |bound difference| {gap:.1e}; "
        f"held-out coverage {coverage:.3f} on {n_test} points, mean width {np.mean(ours[:, 1] - ours[:, 0]):.2f}"
    )


def run_table():
    """Newton leave-one-out against GridSearchCV (leave-one-out refits, 5-fold, 10-fold) on bundled data."""
    X_bc, y_bc = load_breast_cancer(return_X_y=True)
    X_bc = StandardScaler().fit_transform(X_bc)
    X_db, y_db = load_diabetes(return_X_y=True)
    X_db_scaled = StandardScaler().fit_transform(X_db)
    log_loss_scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1])
    cases = [
        (
            "breast cancer, log-loss",
            LogisticRegression(tol=1e-10),
            {"C": [0.01, 0.1, 1.0]},
            X_bc,
            y_bc,
            log_loss_scorer,
        ),
        ("breast cancer, accuracy", SmoothHingeClassifier(), {"C": [0.01, 0.1, 1.0]}, X_bc, y_bc, "accuracy"),
        ("diabetes, MSE", Ridge(), {"alpha": [0.01, 0.1, 1.0]}, X_db, y_db, "neg_mean_squared_error"),
        (
            "diabetes, Poisson deviance",
            PoissonRegressor(solver="newton-cholesky", tol=1e-10),
            {"alpha": [0.01, 0.1, 1.0]},
            X_db_scaled,
            y_db,
            "neg_mean_poisson_deviance",
        ),
    ]
    print("\n| data, score | model | candidate | Newton LOO | exact LOO (refits) | 5-fold | 10-fold |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    gaps = []
    for label, model, grid, X, y, scoring in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ours = LeaveOneOutSearchCV(model, grid, scoring=scoring).fit(X, y)
            splitters = {k: (StratifiedKFold if label.startswith("breast") else KFold)(k) for k in (5, 10)}
            newton_kfold = {
                k: LeaveOneOutSearchCV(model, grid, scoring=scoring, cv=cv).fit(X, y) for k, cv in splitters.items()
            }
        exact = GridSearchCV(model, grid, scoring=scoring, cv=LeaveOneOut()).fit(X, y)
        kfold = {k: GridSearchCV(model, grid, scoring=scoring, cv=cv).fit(X, y) for k, cv in splitters.items()}
        name = type(model).__name__
        for i, params in enumerate(ours.cv_results_["params"]):
            ((key, value),) = params.items()
            sign = 1 if scoring == "accuracy" else -1  # losses are shown as losses
            row = [sign * r.cv_results_["mean_test_score"][i] for r in (ours, exact, kfold[5], kfold[10])]
            first = f"| {label} | `{name}` |" if i == 0 else "| | |"
            print(f"{first} {key} = {value:g} | " + " | ".join(f"{v:.6g}" for v in row) + " |")
        best = [int(r.best_index_) for r in (ours, exact, kfold[5], kfold[10])]
        loo_gap = np.max(np.abs(ours.cv_results_["mean_test_score"] / exact.cv_results_["mean_test_score"] - 1))
        fold_gap = {
            k: np.max(
                np.abs(newton_kfold[k].cv_results_["mean_test_score"] / kfold[k].cv_results_["mean_test_score"] - 1)
            )
            for k in (5, 10)
        }
        gaps.append((label, name, best, loo_gap, fold_gap))
    print()
    for label, name, best, loo_gap, fold_gap in gaps:
        print(
            f"{label} ({name}): best index Newton LOO / exact LOO / 5-fold / 10-fold = {best}; "
            f"|Newton LOO / exact LOO - 1| <= {loo_gap:.1e}; block-Newton K-fold vs GridSearchCV on the same folds: "
            f"5-fold {fold_gap[5]:.1e}, 10-fold {fold_gap[10]:.1e}"
        )


def run_kfold_gap():
    """The user guide's K-fold log-loss gap table: block-Newton per fold against ``GridSearchCV``'s refits.

    Logistic regression (``C = 1``, ``newton-cholesky``, ``tol=1e-10``) on breast cancer: pre-scaled ``X`` with
    stratified and unstratified folds, a ``StandardScaler → LogisticRegression`` pipeline on all rows and on
    the first 120.
    """
    from sklearn.pipeline import make_pipeline

    X, y = load_breast_cancer(return_X_y=True)
    Xs = StandardScaler().fit_transform(X)
    model = LogisticRegression(solver="newton-cholesky", tol=1e-10)
    pipeline = make_pipeline(StandardScaler(), model)
    grid, pipeline_grid = {"C": [1.0]}, {"logisticregression__C": [1.0]}
    cases = [
        ("scaled X, StratifiedKFold(5)", model, grid, Xs, y, StratifiedKFold(5)),
        ("scaled X, StratifiedKFold(10)", model, grid, Xs, y, StratifiedKFold(10)),
        ("scaled X, KFold(5)", model, grid, Xs, y, KFold(5)),
        ("pipeline, cv=5", pipeline, pipeline_grid, X, y, 5),
        ("pipeline, cv=10", pipeline, pipeline_grid, X, y, 10),
        ("pipeline, cv=5, first 120 rows", pipeline, pipeline_grid, X[:120], y[:120], 5),
    ]
    print("\n| case | rows | block-Newton log-loss | refits' log-loss | gap |\n| --- | --- | --- | --- | --- |")
    for label, estimator, grid, X_case, y_case, cv in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = LeaveOneOutSearchCV(estimator, grid, scoring="neg_log_loss", cv=cv).fit(X_case, y_case)
            reference = GridSearchCV(estimator, grid, scoring="neg_log_loss", cv=cv).fit(X_case, y_case)
        gap = abs(ours.best_score_ / reference.best_score_ - 1)
        print(f"| {label} | {len(y_case)} | {-ours.best_score_:.5f} | {-reference.best_score_:.5f} | {gap:.1%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--folds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and OpenMP threads; 0: the libraries' default")
    parser.add_argument("--table", action="store_true", help="also print the accuracy table on bundled data")
    parser.add_argument("--kfold-gap", action="store_true", help="only print the K-fold log-loss gap table")
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads or None):
        if args.kfold_gap:
            run_kfold_gap()
            raise SystemExit
        print(f"BLAS / OpenMP threads: {args.threads or 'default'}")
        run(args.n, args.p, args.folds, args.repeat)
        run_intervals()
        if args.table:
            run_table()
