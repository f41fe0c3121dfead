"""Pipelines benchmark: the cost of ``preprocessing="refit"`` over ``"fixed"`` on a mixed-type DataFrame.

Data: n rows (default 100,000), 20 columns generated with numpy: 12 numeric columns with
about 10 % missing values and 8 categorical columns with 3–10 levels (strings). The pipeline
is ``ColumnTransformer([numeric: SimpleImputer(add_indicator=True) → StandardScaler,
categorical: OneHotEncoder(handle_unknown="ignore")])`` followed by ``LogisticRegression``
(binary) or ``Ridge``; m = 100 query rows drawn from the same distribution. Under
``"refit"`` that is 60 statistics: 12 fill values, the means and scales of the 24 scaled
columns (12 imputed, 12 indicators).

Columns (seconds; median of ``--repeat`` runs, every column measured in the same run):

* ``pipeline fit``: ``clone(pipeline).fit(X, y)`` alone — the baseline every ``fit`` below
  includes.
* ``fit``: ``InfluenceEstimator(pipeline, preprocessing=...).fit(X, y)`` (the pipeline's own
  fit, then the decoding; under ``"refit"`` also the transformers' statistics and the
  extra solve ``G = H⁻¹C``).
* ``influence``: ``influence(X_query, y_query)`` (100 × n).
* ``LOO newton``: ``leave_one_out(X_query, y_query, method="newton")`` (100 × n); under
  ``"refit"`` it also takes the pass ``fit`` leaves to the first query that reads the removed
  rows' own terms (``x̃_jᵀG`` for every training row).
* ``self_influence``: ``self_influence()`` (all n rows, exact).
* the ``refit/fixed`` ratio of each (target: ≤ 1.3), ``fit − pipeline fit`` (the influence
  machinery's own share), and ``all four`` (fit and the three queries). ``fit (min)`` is the
  fastest of the runs, the least disturbed by other jobs.
* ``(user)`` rows: the same in user CPU time (``getrusage``): the computation, without the
  kernel's time. NumPy asks for transparent huge pages for large arrays; where the kernel
  compacts memory to provide them (``/sys/kernel/mm/transparent_hugepage/defrag`` =
  ``madvise``), a fresh array's page faults cost 0.05–0.8 s per few hundred MB from one run
  to the next, which swamps wall-clock ratios. ``NUMPY_MADVISE_HUGEPAGE=0`` (an environment
  variable NumPy reads at import) makes them steady: plain 4 KiB pages, the same cost every run.

Usage: ``python benchmarks/bench_pipelines.py [--small] [--n N] [--repeat R] [--threads T] [--no-indicator]
[--profile]``. ``--no-indicator`` drops ``add_indicator`` (36 statistics).
``--threads 1`` limits BLAS/OpenMP to one thread (threadpoolctl): with other jobs on the
machine, single-threaded CPU time is the steadiest comparison. ``--profile`` prints the
cProfile top entries of ``"refit"`` fit + queries.
"""

import argparse
import contextlib
import cProfile
import os
import pstats
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_influence import InfluenceEstimator

N_NUMERIC, N_CATEGORICAL = 12, 8


def make_data(n, m, seed=0):
    """A mixed DataFrame (numeric with ~10 % NaN, string categories), a binary and a continuous target."""
    rng = np.random.default_rng(seed)
    total = n + m
    numeric = rng.standard_normal((total, N_NUMERIC)) * rng.uniform(0.5, 5.0, N_NUMERIC) + rng.uniform(-3, 3, N_NUMERIC)
    levels = rng.integers(3, 11, N_CATEGORICAL)
    codes = np.column_stack([rng.integers(0, k, total) for k in levels])
    effects = [rng.standard_normal(k) for k in levels]
    w = rng.standard_normal(N_NUMERIC) / np.sqrt(N_NUMERIC)
    signal = ((numeric - numeric.mean(0)) / numeric.std(0)) @ w + sum(
        effects[c][codes[:, c]] for c in range(N_CATEGORICAL)
    ) / np.sqrt(N_CATEGORICAL)
    y_class = (rng.random(total) < 1 / (1 + np.exp(-signal))).astype(int)
    y_reg = signal + 0.5 * rng.standard_normal(total)
    numeric[rng.random(numeric.shape) < 0.1] = np.nan
    frame = pd.DataFrame(numeric, columns=[f"x{c}" for c in range(N_NUMERIC)])
    for c in range(N_CATEGORICAL):
        frame[f"c{c}"] = np.array([f"level{v}" for v in range(levels[c])], dtype=object)[codes[:, c]]
    return frame.iloc[:n], y_class[:n], y_reg[:n], frame.iloc[n:], y_class[n:], y_reg[n:]


def make_pipeline_for(model, add_indicator=True):
    numeric = [f"x{c}" for c in range(N_NUMERIC)]
    categorical = [f"c{c}" for c in range(N_CATEGORICAL)]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(add_indicator=add_indicator), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline([("pre", pre), ("model", model)])


def timed(fun):
    """``(wall seconds, user CPU seconds, result)``.

    User CPU time is the process's own computation. It leaves out the kernel's time
    (``sys``): page faults on freshly allocated arrays, which on this shared machine
    (transparent huge pages, compaction) vary from 0.1 s to 0.8 s per few hundred MB from
    one run to the next and swamp the difference being measured.
    """
    start, before = time.perf_counter(), _user_seconds()
    out = fun()
    return time.perf_counter() - start, _user_seconds() - before, out


def _user_seconds():
    """The process's user CPU time: ``getrusage`` (microseconds) where there is one, else ``os.times`` (ticks)."""
    try:
        import resource
    except ImportError:  # Windows
        return os.times().user
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def measure(pipeline, X, y, Xq, yq, preprocessing):
    times = {}
    wall, user, est = timed(lambda: InfluenceEstimator(clone(pipeline), preprocessing=preprocessing).fit(X, y))
    times["fit"], times["fit_user"] = wall, user
    for key, query in (
        ("influence", lambda: est.influence(Xq, yq)),
        ("loo", lambda: est.leave_one_out(Xq, yq, method="newton")),
        ("self", lambda: est.self_influence()),
    ):
        times[key], times[f"{key}_user"], _ = timed(query)
    return times


def run(name, pipeline, X, y, Xq, yq, repeat):
    base, fixed, refit = [], {}, {}
    for _ in range(repeat):  # alternate the three so that a noisy neighbour hits each alike
        base.append(timed(lambda: clone(pipeline).fit(X, y))[0])
        for store, mode in ((fixed, "fixed"), (refit, "refit")):
            for key, value in measure(pipeline, X, y, Xq, yq, mode).items():
                store.setdefault(key, []).append(value)
    med = {key: float(np.median(v)) for key, v in fixed.items()}, {key: float(np.median(v)) for key, v in refit.items()}
    med[0]["fit_min"], med[1]["fit_min"] = float(np.min(fixed["fit"])), float(np.min(refit["fit"]))
    return name, float(np.median(base)), med[0], med[1]


def profile(pipeline, X, y, Xq, yq, top):
    profiler = cProfile.Profile()
    profiler.enable()
    est = InfluenceEstimator(clone(pipeline), preprocessing="refit").fit(X, y)
    est.influence(Xq, yq)
    est.leave_one_out(Xq, yq, method="newton")
    est.self_influence()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="n = 5,000 and one repeat (a smoke run)")
    parser.add_argument("--n", type=int, default=100_000, help="training rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads (default: all)")
    parser.add_argument(
        "--no-indicator", action="store_true", help="SimpleImputer without add_indicator (36 statistics, not 60)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the 'refit' path of each model")
    args = parser.parse_args()
    limits = threadpool_limits(args.threads) if args.threads else contextlib.nullcontext()
    with limits:
        _run_all(args)


def _run_all(args):
    n, repeat = (5_000, 1) if args.small else (args.n, args.repeat)
    m = 100
    X, y_class, y_reg, Xq, yq_class, yq_reg = make_data(n, m)
    models = [
        (
            "logistic",
            make_pipeline_for(
                LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=100), not args.no_indicator
            ),
            y_class,
            yq_class,
        ),
        ("ridge", make_pipeline_for(Ridge(alpha=1.0), not args.no_indicator), y_reg, yq_reg),
    ]
    print(
        f"n = {n:,}, 20 columns (12 numeric, ~10 % missing; 8 categorical, 3-10 levels), m = {m} queries; "
        f"seconds, median of {repeat}; threads: {args.threads or 'all'}; "
        f"add_indicator={not args.no_indicator} ({36 if args.no_indicator else 60} statistics)"
    )
    header = f"{'model':<9} {'quantity':<15} {'fixed':>8} {'refit':>8} {'refit/fixed':>11}"
    for name, pipeline, y, yq in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            if args.profile:
                profile(pipeline, X, y, Xq, yq, 30)
            name, base, fixed, refit = run(name, pipeline, X, y, Xq, yq, repeat)
        print(f"\n{header}")
        print(f"{name:<9} {'pipeline fit':<15} {base:>8.3f} {base:>8.3f} {'(baseline)':>11}")
        labels = {"fit": "fit", "fit_min": "fit (min)", "influence": "influence", "loo": "LOO newton"}
        labels["self"] = "self_influence"
        for key, label in labels.items():
            print(f"{name:<9} {label:<15} {fixed[key]:>8.3f} {refit[key]:>8.3f} {refit[key] / fixed[key]:>11.2f}")
        for key in ("fit", "influence", "loo", "self"):
            label = f"{labels[key]} (user)"
            ratio = refit[f"{key}_user"] / max(fixed[f"{key}_user"], 1e-9)
            print(f"{name:<9} {label:<22} {fixed[f'{key}_user']:>8.3f} {refit[f'{key}_user']:>8.3f} {ratio:>4.2f}")
        overhead_fixed, overhead_refit = fixed["fit"] - base, refit["fit"] - base
        print(f"{name:<9} {'fit - pipeline':<15} {overhead_fixed:>8.3f} {overhead_refit:>8.3f}")
        for suffix, label in (("", "all four"), ("_user", "all four (user)")):
            quantities = [f"{key}{suffix}" for key in ("fit", "influence", "loo", "self")]
            total_fixed, total_refit = sum(fixed[key] for key in quantities), sum(refit[key] for key in quantities)
            print(f"{name:<9} {label:<15} {total_fixed:>8.3f} {total_refit:>8.3f} {total_refit / total_fixed:>11.2f}")


if __name__ == "__main__":
    main()
