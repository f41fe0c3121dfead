"""Mislabel detection: self-influence against cleanlab's label quality scores, at a fixed inspection budget.

cleanlab is an optional benchmark dependency only, installed in a separate environment:
``python3 -m venv /tmp/bench-cleanlab && /tmp/bench-cleanlab/bin/pip install -q -e . cleanlab``
(run from the repository root). Usage: ``/tmp/bench-cleanlab/bin/python benchmarks/bench_cleanlab.py [--small]``
(``--small``: 3 seeds instead of 20).

Protocol (that of ``examples/plot_mislabeled.py``, per seed): a random 400-row training split
of the standardised data (the rest is the test set), 10 % of the training labels flipped (binary:
to the other class; multiclass: to a uniformly drawn other class), the model
``LogisticRegression(C=1.0, tol=1e-10, max_iter=1000)``. A person checks a budget of 5 %–30 % of
the training rows in the order of a ranking, restores the true label of every flipped row among
them, and the model is refit. Rankings:

* ``self-influence``: ``n g_iᵀ H⁻¹ g_i`` of ``InfluenceEstimator(model).fit(X, y)``, highest first;
* ``training loss``: the per-row log loss of the model fitted on all the (noisy) training rows,
  highest first (in-sample: cleanlab's ``self_confidence`` score ``p_i[y_i]`` from these in-sample
  probabilities would give exactly this ranking);
* ``cleanlab (CV)``: ``cleanlab.rank.get_label_quality_scores`` (default ``self_confidence``) of
  out-of-sample probabilities from ``cross_val_predict`` with 5 stratified folds, as cleanlab
  recommends, lowest first: 5 extra fits of the model;
* ``random``: a random order (the seed's generator, as in the example).

Tables (mean ± standard deviation over seeds): fraction of the flipped labels found, and test
accuracy after fixing, per budget; then the same paired by seed (the strategies see the same
flips, so per-seed differences are far less noisy than the spread across seeds): mean
difference ± its standard error and the seeds won/tied/lost by the first strategy. Then
cleanlab's own decision: how many rows ``cleanlab.filter.find_label_issues`` (default
``filter_by="prune_by_noise_rate"``, same out-of-sample probabilities) flags, their precision and
recall, the test accuracy after checking exactly those rows, and for comparison the precision of
each ranking's top k at that seed's count k. Last, wall time per strategy and seed (seconds, best
of 3 runs after one untimed warm-up pass, the refits that evaluate a budget excluded; mean ± std
and median, as other load on the machine skews the mean): self-influence =
``InfluenceEstimator.fit`` (the model fit included) plus ``self_influence()``; training loss =
one fit plus ``predict_proba``; cleanlab = the 5 fold fits plus the scores (and, separately,
``find_label_issues``).

Data sets: scikit-learn's bundled breast cancer (binary, 30 features; the example's data: the
self-influence, training loss and random columns reproduce the example's numbers) and digits
(10 classes, 64 features), so the conclusion rests on more than one data set.
"""

import argparse
import sys
import time

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator

INSTALL = "python3 -m venv /tmp/bench-cleanlab && /tmp/bench-cleanlab/bin/pip install -q -e . cleanlab"
try:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
except ImportError:
    print(
        "cleanlab is not installed: this benchmark compares against it. Install it in a separate "
        f"environment (from the repository root):\n    {INSTALL}\nthen run "
        "/tmp/bench-cleanlab/bin/python benchmarks/bench_cleanlab.py"
    )
    sys.exit(0)

N_TRAIN = 400
BUDGETS = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30])
STRATEGIES = ("self-influence", "training loss", "cleanlab (CV)", "random")
MODEL = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000)
DATASETS = {"breast cancer (binary)": load_breast_cancer, "digits (10 classes)": load_digits}


def timed(fun, repeats=3):
    """``fun()`` and its best wall time of ``repeats`` runs (robust to other load on the machine)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fun()
        best = min(best, time.perf_counter() - start)
    return out, best


def warm_up(X, y):
    """One untimed pass of every timed call (imports, caches, BLAS threads), so seed 0 is not slower."""
    rows = np.random.default_rng(0).permutation(len(y))[:N_TRAIN]
    InfluenceEstimator(MODEL).fit(X[rows], y[rows]).self_influence()
    pred_probs = cross_val_predict(clone(MODEL), X[rows], y[rows], cv=5, method="predict_proba")
    get_label_quality_scores(y[rows], pred_probs)
    find_label_issues(y[rows], pred_probs, n_jobs=1)


def run(X, y, seeds):
    """Every measurement of one data set, one row per seed."""
    n_classes = len(np.unique(y))
    found = {s: np.empty((len(seeds), len(BUDGETS))) for s in STRATEGIES}
    accuracy = {s: np.empty((len(seeds), len(BUDGETS))) for s in STRATEGIES}
    seconds = {s: np.empty(len(seeds)) for s in (*STRATEGIES, "find_label_issues")}
    flagged = {key: np.empty(len(seeds)) for key in ("count", "precision", "recall", "accuracy")}
    top_k_precision = {s: np.empty(len(seeds)) for s in STRATEGIES}
    clean_accuracy, noisy_accuracy = np.empty(len(seeds)), np.empty(len(seeds))

    for a, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        train, test = order[:N_TRAIN], order[N_TRAIN:]
        y_true = y[train]
        y_train = y_true.copy()
        flipped = rng.choice(N_TRAIN, size=N_TRAIN // 10, replace=False)
        if n_classes == 2:
            y_train[flipped] = 1 - y_train[flipped]  # no draw: the random ranking matches the example's
        else:
            y_train[flipped] = (y_train[flipped] + rng.integers(1, n_classes, size=len(flipped))) % n_classes
        is_flipped = y_train != y_true
        X_train, X_test, y_test = X[train], X[test], y[test]

        def refit_score(labels):
            return clone(MODEL).fit(X_train, labels).score(X_test, y_test)

        clean_accuracy[a] = refit_score(y_true)
        noisy_accuracy[a] = refit_score(y_train)

        def influence():
            inf = InfluenceEstimator(MODEL).fit(X_train, y_train)
            return inf, inf.self_influence()

        (inf, self_influence), seconds["self-influence"][a] = timed(influence)

        def in_sample_loss():
            proba = clone(MODEL).fit(X_train, y_train).predict_proba(X_train)
            return -np.log(proba[np.arange(N_TRAIN), y_train])

        _, seconds["training loss"][a] = timed(in_sample_loss)  # timed alone: the same loss as inf.loss
        training_loss = inf.loss(X_train, y_train)  # the example's ranking, reproduced exactly

        def cleanlab_scores():
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
            pred_probs = cross_val_predict(clone(MODEL), X_train, y_train, cv=folds, method="predict_proba")
            return pred_probs, get_label_quality_scores(y_train, pred_probs)

        (pred_probs, quality), seconds["cleanlab (CV)"][a] = timed(cleanlab_scores)
        issues, seconds["find_label_issues"][a] = timed(lambda: find_label_issues(y_train, pred_probs, n_jobs=1))
        seconds["random"][a] = 0.0

        rankings = {
            "self-influence": np.argsort(-self_influence, kind="stable"),
            "training loss": np.argsort(-training_loss, kind="stable"),
            "cleanlab (CV)": np.argsort(quality, kind="stable"),
            "random": rng.permutation(N_TRAIN),
        }

        def fix(checked):
            fixed = y_train.copy()
            fixed[checked] = y_true[checked]  # a person restores the true label of every checked row
            return fixed

        for strategy, ranking in rankings.items():
            for b, budget in enumerate(BUDGETS):
                checked = ranking[: int(round(budget * N_TRAIN))]
                found[strategy][a, b] = is_flipped[checked].sum() / is_flipped.sum()
                accuracy[strategy][a, b] = refit_score(fix(checked))

        k = int(issues.sum())
        flagged["count"][a] = k
        flagged["precision"][a] = is_flipped[issues].mean() if k else np.nan
        flagged["recall"][a] = is_flipped[issues].sum() / is_flipped.sum()
        flagged["accuracy"][a] = refit_score(fix(np.flatnonzero(issues)))
        for strategy, ranking in rankings.items():
            top_k_precision[strategy][a] = is_flipped[ranking[:k]].mean() if k else np.nan

    return dict(
        found=found,
        accuracy=accuracy,
        seconds=seconds,
        flagged=flagged,
        top_k_precision=top_k_precision,
        clean_accuracy=clean_accuracy,
        noisy_accuracy=noisy_accuracy,
    )


def cell(values, digits=3):
    return f"{np.nanmean(values):.{digits}f} ± {np.nanstd(values):.{digits}f}"


def table(title, values):
    print(f"{title}\n{'checked':>8} " + " ".join(f"{s:>16}" for s in STRATEGIES))
    for b, budget in enumerate(BUDGETS):
        print(f"{budget:>8.0%} " + " ".join(f"{cell(values[s][:, b]):>16}" for s in STRATEGIES))


PAIRS = (("self-influence", "cleanlab (CV)"), ("self-influence", "training loss"), ("training loss", "cleanlab (CV)"))


def paired(title, values):
    """Per-seed differences of two rankings: mean ± standard error, and seeds won/tied/lost by the first."""
    print(f"{title}\n{'checked':>8} " + " ".join(f"{a + ' − ' + b:>36}" for a, b in PAIRS))
    for b, budget in enumerate(BUDGETS):
        cells = []
        for first, second in PAIRS:
            d = values[first][:, b] - values[second][:, b]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            wins, ties = int(np.sum(d > 1e-12)), int(np.sum(np.abs(d) <= 1e-12))
            cells.append(f"{d.mean():+.3f} ± {se:.3f} ({wins}/{ties}/{len(d) - wins - ties})")
        print(f"{budget:>8.0%} " + " ".join(f"{c:>36}" for c in cells))


def report(name, X, y, r, n_seeds):
    n_flipped = N_TRAIN // 10
    print(
        f"\n=== {name}: {X.shape[1]} features, {N_TRAIN} training rows ({n_flipped} labels flipped), "
        f"{len(y) - N_TRAIN} test rows; {n_seeds} seeds (mean ± std) ==="
    )
    print(
        f"test accuracy: trained on the true labels {cell(r['clean_accuracy'])}, "
        f"on the flipped labels with nothing fixed {cell(r['noisy_accuracy'])}"
    )
    table("fraction of the flipped labels found", r["found"])
    table("test accuracy after fixing them and refitting", r["accuracy"])
    paired("paired differences of the fraction found: mean ± standard error (seeds won/tied/lost)", r["found"])
    paired("paired differences of the test accuracy after fixing: mean ± standard error (won/tied/lost)", r["accuracy"])
    f = r["flagged"]
    print(
        f"cleanlab find_label_issues on its own: flags {cell(f['count'], 1)} rows, precision "
        f"{cell(f['precision'])}, recall {cell(f['recall'])}, test accuracy after checking them "
        f"{cell(f['accuracy'])}"
    )
    print(
        "precision of each ranking's top k, k = that seed's find_label_issues count: "
        + ", ".join(f"{s} {cell(r['top_k_precision'][s])}" for s in STRATEGIES)
    )
    print(
        "wall time per seed (s; mean ± std, median): "
        + ", ".join(
            f"{s} {cell(r['seconds'][s], 4)}, {np.median(r['seconds'][s]):.4f}"
            for s in (*STRATEGIES[:-1], "find_label_issues")
        )
        + " (after the 5 fold fits)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="3 seeds (a smoke run)")
    args = parser.parse_args()
    seeds = range(3 if args.small else 20)
    for name, loader in DATASETS.items():
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        start = time.perf_counter()
        warm_up(X, y)
        results = run(X, y, seeds)
        report(name, X, y, results, len(seeds))
        print(f"(whole data set, refits included: {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
