"""The Dask path's cost against the numpy path on data that fits in memory (issue 15).

Binary logistic regression (scikit-learn, newton-cholesky, tol=1e-10) on synthetic Gaussian
data, n × p, fitted once on the numpy rows and wrapped as ``FrozenEstimator``. The same
steps, timed with the numpy arrays and with the same rows as a Dask array of row blocks:

* ``fit``: ``InfluenceEstimator.fit`` (Dask: persisting the blocks, the one tree-reduced
  pass for gradient / stationarity / Hessian, the Cholesky factor on the client);
* ``top_influences``: the 10 most harmful and helpful rows of each of ``m`` queries
  (Dask: per-block top-k merged in a tree);
* ``self_influence``: every row's self-influence (Dask: computed into memory).

Columns: seconds for numpy, the threaded scheduler and a ``distributed.LocalCluster`` (2
worker processes, one thread each: the numpy and threaded runs may use both cores through
BLAS), and the Dask / numpy ratios, all in the same run; ``equal`` checks the top-k indices
and the largest relative difference of self-influence. Medians of ``--repeats`` runs.

Usage: ``python benchmarks/bench_dask_overhead.py [--sizes 1000000x50 ...] [--blocks 16] [--queries 100]``
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_influence import InfluenceEstimator


def _data(n, p, m, chunks, client, seed=0):
    """(X, y) as numpy, the same rows as Dask arrays held by the cluster's workers, and m queries.

    The rows are generated on the workers and persisted there before any timing (as data read
    from Parquet or Zarr would be); the threaded scheduler reads the numpy arrays in place.
    """
    import dask
    import dask.array as da

    rng = da.random.default_rng(seed)
    X_dask = rng.standard_normal((n, p), chunks=(chunks, p))
    coef = np.random.default_rng(seed).standard_normal(p) / np.sqrt(p)
    y_dask = (X_dask @ coef + rng.logistic(size=n, chunks=chunks) > 0).astype(int)
    X_dask, y_dask = client.persist([X_dask, y_dask])
    X, y = dask.compute(X_dask, y_dask, scheduler=client.get)
    queries = np.random.default_rng(seed + 1).standard_normal((m, p))
    return X, y, X_dask, y_dask, queries, (queries @ coef > 0).astype(int)


def _steps(model, X, y, Xq, yq, compute):
    """(seconds of fit, top_influences, self_influence) and the results."""
    times, start = [], time.perf_counter()
    estimator = InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
    times.append(time.perf_counter() - start)
    start = time.perf_counter()
    top = compute(estimator.top_influences(Xq, yq, k=10).harmful_indices)
    times.append(time.perf_counter() - start)
    start = time.perf_counter()
    self_influence = compute(estimator.self_influence())
    times.append(time.perf_counter() - start)
    return np.array(times), top, self_influence


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["200000x50", "1000000x50"])
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import dask
    import dask.array as da
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)
    schedulers = {"threads": "threads", "2 workers": client}
    print(
        f"{'n x p':>12} {'step':>15} {'numpy s':>8} {'threads s':>9} {'2 workers s':>11} {'thr/np':>7} "
        f"{'2w/np':>6} {'equal':>14}"
    )
    for size in args.sizes:
        n, p = map(int, size.split("x"))
        chunks = -(-n // args.blocks)
        X, y, X_workers, y_workers, Xq, yq = _data(n, p, args.queries, chunks, client)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
        inputs = {
            "threads": (da.from_array(X, chunks=(chunks, p)), da.from_array(y, chunks=chunks)),
            "2 workers": (X_workers, y_workers),
        }
        runs = {"numpy": []}
        for _ in range(args.repeats):
            runs["numpy"].append(_steps(model, X, y, Xq, yq, np.asarray))
            for name, scheduler in schedulers.items():
                with dask.config.set(scheduler=scheduler):
                    runs.setdefault(name, []).append(_steps(model, *inputs[name], Xq, yq, lambda a: a.compute()))
        medians = {name: np.median([run[0] for run in results], axis=0) for name, results in runs.items()}
        _, top, self_influence = runs["numpy"][0]
        for name in schedulers:
            _, dask_top, dask_self = runs[name][0]
            difference = np.abs(dask_self - self_influence).max() / np.abs(self_influence).max()
            assert np.array_equal(dask_top, top), name
        for i, step in enumerate(("fit", "top_influences", "self_influence")):
            numpy_s, threads_s, workers_s = medians["numpy"][i], medians["threads"][i], medians["2 workers"][i]
            print(
                f"{size:>12} {step:>15} {numpy_s:8.3f} {threads_s:9.3f} {workers_s:11.3f} "
                f"{threads_s / numpy_s:7.2f} {workers_s / numpy_s:6.2f} {'top-k, ' + f'{difference:.0e}':>14}"
            )
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
