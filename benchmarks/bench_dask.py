"""Influence beyond one machine: logistic regression on a Dask array larger than the workers' memory (issue 15).

Data: ``n × p`` standard normal features generated lazily by Dask (``--n`` rows, default
20,000,000 × 100 = 16 GB in float64) in row blocks of ``--chunk`` rows, and binary labels
drawn from a logistic model. The workers' total memory limit (``--workers`` ×
``--memory-limit``) is below the data's size, so the arrays can only be held by spilling
to disk or by regenerating blocks per pass.

The wrapped model is dask-ml's ``LogisticRegression(solver="newton")`` (unpenalised, fitted
on the Dask arrays; an optional dependency of this script only), then frozen:
``InfluenceEstimator(FrozenEstimator(model))`` so that ``fit`` times the influence pass alone.
Phases, each timed in the same run:

* ``fit``: gradient, stationarity check and Hessian in one tree-reduced pass, Cholesky on the client;
* ``top_influences``: the 10 most harmful and helpful rows for each of ``--queries`` queries
  (per-block top-k merged in a tree; the queries × n matrix never exists);
* ``self_influence``: all n values, computed into one numpy array on the client;
* ``bare pass``: ``X.sum(axis=0)`` and ``y.sum()``, the floor of any pass over the blocks
  (producing them: here generating them, in practice reading them); each phase is also
  given as a multiple of it.

Against one machine: the same three phases in numpy (``InfluenceEstimator(FrozenEstimator(model))``
with the scikit-learn model fitted on the first ``--numpy-n`` rows, default 1,000,000), and the
ratio of seconds per million rows (Dask / numpy). Scaling: the Dask phases are run on 1 and 2
workers (``--workers``). ``peak worker MB`` is the largest total memory of the workers' processes
during the phase (``distributed.diagnostics.MemorySampler``), next to the limit.

Usage: ``python benchmarks/bench_dask.py [--n 20000000] [--p 100] [--chunk 250000]
[--memory-limit 4GiB] [--workers 1 2] [--queries 100] [--numpy-n 1000000]``. A quick run:
``--n 4000000 --memory-limit 1GiB`` (3.2 GB of data on 2 × 1 GiB).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_influence import InfluenceEstimator


def _data(n, p, chunk, seed=0):
    import dask.array as da

    state = da.random.RandomState(seed)
    theta = np.random.default_rng(seed).normal(size=p) / np.sqrt(p)
    X = state.standard_normal((n, p), chunks=(chunk, p))
    probability = 1.0 / (1.0 + np.exp(-(X @ theta)))
    y = (state.random_sample(n, chunks=chunk) < probability).astype(np.int64)
    return X, y, theta


def _queries(p, m, theta, seed=1):
    rng = np.random.default_rng(seed)
    X_query = rng.normal(size=(m, p))
    y_query = (rng.random(m) < 1.0 / (1.0 + np.exp(-(X_query @ theta)))).astype(np.int64)
    return X_query, y_query


def _phases(estimator, X, y, X_query, y_query, compute):
    """Seconds of fit, top_influences and self_influence (computed)."""
    times = {}
    start = time.perf_counter()
    estimator.fit(X, y)
    times["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    top = estimator.top_influences(X_query, y_query, k=10)
    compute(top)
    times["top_influences"] = time.perf_counter() - start
    start = time.perf_counter()
    compute(estimator.self_influence())
    times["self_influence"] = time.perf_counter() - start
    return times


def _compute(result):
    """Bring a (possibly lazy) result to the client."""
    import dask

    if isinstance(result, dict):  # top_influences' Bunch of lazy arrays
        return dict(zip(result, dask.compute(*result.values())))
    return dask.compute(result)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000_000)
    parser.add_argument("--p", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--memory-limit", default="4GiB")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--numpy-n", type=int, default=1_000_000)
    args = parser.parse_args()

    import dask
    from dask_ml.linear_model import LogisticRegression as DaskLogisticRegression
    from distributed import Client, LocalCluster
    from distributed.diagnostics import MemorySampler

    X, y, theta = _data(args.n, args.p, args.chunk)
    X_query, y_query = _queries(args.p, args.queries, theta)
    gigabytes = X.nbytes / 1e9
    print(f"data: {args.n:,} × {args.p} float64 = {gigabytes:.1f} GB in blocks of {args.chunk:,} rows")

    # numpy on one machine: the first numpy-n rows
    X_slice, y_slice = dask.compute(X[: args.numpy_n], y[: args.numpy_n], scheduler="threads")
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10).fit(X_slice, y_slice)
    numpy_times = _phases(
        InfluenceEstimator(FrozenEstimator(model)), X_slice, y_slice, X_query, y_query, lambda result: result
    )
    del X_slice, y_slice

    rows = []
    fitted = None
    for workers in sorted(args.workers, reverse=True):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, memory_limit=args.memory_limit, dashboard_address=":0"
        )
        with Client(cluster) as client:
            limit_mb = sum(w["memory_limit"] for w in client.scheduler_info()["workers"].values()) / 2**20
            if fitted is None:  # the model is fitted once, on the most workers
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fitted = DaskLogisticRegression(solver="newton", tol=1e-8, max_iter=20).fit(X, y)
                print(
                    f"dask-ml LogisticRegression(solver='newton') fit on {workers} workers: "
                    f"{time.perf_counter() - start:.1f} s"
                )
            sampler = MemorySampler()
            times = {}
            estimator = InfluenceEstimator(FrozenEstimator(fitted))
            start = time.perf_counter()
            dask.compute(X.sum(axis=0), y.sum())  # the floor of any pass: produce every block once
            bare = time.perf_counter() - start
            with sampler.sample("all"):
                times = _phases(estimator, X, y, X_query, y_query, _compute)
            times["bare pass"] = bare
            peak = sampler.to_pandas().max().iloc[0] / 2**20
            rows.append((workers, times, peak, limit_mb, estimator.relative_gradient_norm_))
        cluster.close()

    print()
    print(
        "| phase | numpy, 1 machine, s (n = {:,}) | s per M rows | ".format(args.numpy_n)
        + " | ".join(f"Dask {w} worker(s), s | s per M rows | Dask / numpy" for w, *_ in rows)
        + " |"
    )
    print("| --- | ---: | ---: | " + " | ".join("---: | ---: | ---:" for _ in rows) + " |")
    for phase in ("fit", "top_influences", "self_influence"):
        per_numpy = numpy_times[phase] / (args.numpy_n / 1e6)
        cells = [f"{numpy_times[phase]:.2f}", f"{per_numpy:.3f}"]
        for _, times, *_ in rows:
            per = times[phase] / (args.n / 1e6)
            cells += [f"{times[phase]:.1f}", f"{per:.3f}", f"{per / per_numpy:.2f}"]
        print(f"| {phase} | " + " | ".join(cells) + " |")
    for workers, times, *_ in rows:
        ratios = ", ".join(f"{phase} {times[phase] / times['bare pass']:.1f}×" for phase in list(times)[:3])
        print(
            f"{workers} worker(s): one bare pass over the blocks (producing them: {times['bare pass']:.1f} s); {ratios}"
        )
    for workers, times, peak, limit_mb, gradient in rows:
        print(
            f"{workers} worker(s): peak worker memory {peak:,.0f} MB of a {limit_mb:,.0f} MB limit "
            f"(data {X.nbytes / 2**20:,.0f} MB); relative gradient norm {gradient:.1e}"
        )
    if len(rows) == 2:
        (w2, t2, *_), (w1, t1, *_) = rows
        total = {w: sum(t.values()) for w, t in ((w1, t1), (w2, t2))}
        print(f"speed-up from {w1} to {w2} workers (all phases): {total[w1] / total[w2]:.2f}×")


if __name__ == "__main__":
    main()
