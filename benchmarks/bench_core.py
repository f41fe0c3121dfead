"""Core engine benchmark: influence for m test points, against the BLAS floor, refits and statsmodels.

For each (n, p): binary logistic regression on synthetic Gaussian data, m = 100 queries.

Columns (seconds unless stated; everything measured in the same run, on the same data):

* ``model fit``: scikit-learn's own fit (newton-cholesky, tol=1e-10), for scale.
* ``ours``: ``InfluenceEstimator(FrozenEstimator(model)).fit`` (decode, gradients, XᵀDX,
  Cholesky) plus ``influence(X_query, y_query)`` — the overhead on top of the model fit.
* ``ours cg``: the same with ``solver="cg"`` (matrix-free: no XᵀDX, no factorisation; all
  100 query systems iterated together).
* ``floor``: the bare BLAS work any exact method needs: ``Xᵀ diag(d) X`` and the
  (m×p)·(p×n) product, as plain numpy (``X.T @ (X * d[:, None])`` and ``V @ X.T``).
* ``ours/floor``: the ratio of the wall-clock medians (all BLAS threads), ours and the floor
  alternating five times (target: ≤ 1.5 at n = 100,000, p = 100).
* ``1-thread``: the same ratio in process CPU time with BLAS held to one thread
  (``threadpoolctl.threadpool_limits(1)``), medians of five alternating runs: the work
  itself, insensitive to the other jobs of a shared machine and to how well each part
  threads.
* ``peak MB``: tracemalloc peak of ``ours`` (numpy allocations, the m × n result included),
  next to the size of X.
* ``LOO refit``: one refit timed, times n (extrapolated cost of exact leave-one-out).
* ``speed-up``: LOO refit / ours.
* ``statsmodels``: ``GLMInfluence.d_params`` (one-step LOO parameters of every row) of an
  already fitted GLM, next to ours for the same quantity from an already fitted model
  (``InfluenceEstimator(FrozenEstimator(model)).fit(X, y).leave_one_out_params(method="newton")``);
  only where statsmodels runs in a reasonable time (n ≤ 100,000, p ≤ 500).

Usage: ``python benchmarks/bench_core.py [--quick] [--sizes 100000x100 ...] [--floor-only]``
(``--floor-only``: only ours against the floor, skipping CG, refits and statsmodels).
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklearn_influence import InfluenceEstimator


def make_data(n, p, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + m, p))
    w = rng.standard_normal(p) / np.sqrt(p)
    y = (rng.random(n + m) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
    return X[:n], y[:n], X[n:], y[n:]


def timed(fun, repeat=1):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fun()
        best = min(best, time.perf_counter() - start)
    return best, out


def floor_work(X, d, V):
    return X.T @ (X * d[:, None]), V @ X.T


def alternating_medians(first, second, clock, repeat=5):
    """Median times of ``first`` and ``second`` run alternately (after one warm-up each) on ``clock``."""
    times = ([], [])
    first(), second()
    for _ in range(repeat):
        for fun, out in zip((first, second), times):
            start = clock()
            fun()
            out.append(clock() - start)
    return float(np.median(times[0])), float(np.median(times[1]))


def run(n, p, m, with_statsmodels, floor_only=False):
    X, y, Xq, yq = make_data(n, p, m)
    estimator = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=100)
    t_model, model = timed(lambda: clone(estimator).fit(X, y))

    def ours():
        inf = InfluenceEstimator(FrozenEstimator(model), solver="exact").fit(X, y)
        return inf.influence(Xq, yq)

    proba = model.predict_proba(X)[:, 1]
    d, V = proba * (1 - proba), np.random.default_rng(1).standard_normal((m, p))
    floor = lambda: floor_work(X, d, V)  # noqa: E731
    t_ours, t_floor = alternating_medians(ours, floor, time.perf_counter)
    with threadpool_limits(1):
        cpu_ours, cpu_floor = alternating_medians(ours, floor, time.process_time)
    row = dict(n=n, p=p, model_fit=t_model, ours=t_ours, floor=t_floor, one_thread=cpu_ours / cpu_floor)
    if floor_only:
        return row
    tracemalloc.start()
    ours()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unconverged CG would make the timing meaningless
        t_cg, _ = timed(lambda: InfluenceEstimator(FrozenEstimator(model), solver="cg").fit(X, y).influence(Xq, yq))

    keep = np.arange(n) != 0
    t_refit, _ = timed(lambda: clone(estimator).fit(X[keep], y[keep]))
    row.update(ours_cg=t_cg, peak_mb=peak, x_mb=X.nbytes / 2**20, loo_refit=t_refit * n)
    if with_statsmodels:
        import statsmodels.api as sm

        # both sides start from a fitted unpenalised model: only the influence computation is timed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sm.GLM(y, np.c_[np.ones(n), X], family=sm.families.Binomial()).fit(tol=1e-10)
            row["statsmodels"], _ = timed(lambda: result.get_influence().d_params)
        fitted = clone(estimator).set_params(C=np.inf).fit(X, y)
        row["ours_d_params"], _ = timed(
            lambda: InfluenceEstimator(FrozenEstimator(fitted)).fit(X, y).leave_one_out_params(method="newton")
        )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument("--sizes", nargs="*", help="sizes as NxP, e.g. 100000x100")
    parser.add_argument("--floor-only", action="store_true", help="only ours against the floor")
    args = parser.parse_args()
    sizes = [(10_000, 100), (20_000, 2_000), (100_000, 100), (1_000_000, 100)]
    if args.quick:
        sizes = [(2_000, 20), (10_000, 100)]
    if args.sizes:
        sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes]
    m = 100
    header = (
        f"{'n':>9} {'p':>5} {'model fit':>9} {'ours':>7} {'floor':>7} {'ours/floor':>10} {'1-thread':>8} "
        f"{'ours cg':>7} {'peak MB':>8} {'X MB':>7} {'LOO refit':>10} {'speed-up':>9} "
        f"{'statsmodels':>11} {'ours(d_params)':>14}"
    )
    if args.floor_only:
        header = header[: header.index("ours cg")].rstrip()
    print(f"binary logistic regression, m = {m} queries; times in seconds (medians)\n{header}")
    for n, p in sizes:
        row = run(n, p, m, with_statsmodels=n <= 100_000 and p <= 500, floor_only=args.floor_only)
        line = (
            f"{n:>9} {p:>5} {row['model_fit']:>9.3f} {row['ours']:>7.3f} {row['floor']:>7.3f} "
            f"{row['ours'] / row['floor']:>10.2f} {row['one_thread']:>8.2f}"
        )
        if not args.floor_only:
            sm_cols = (
                f"{row['statsmodels']:>11.3f} {row['ours_d_params']:>14.3f}"
                if "statsmodels" in row
                else f"{'-':>11} {'-':>14}"
            )
            line += (
                f" {row['ours_cg']:>7.3f} {row['peak_mb']:>8.1f} {row['x_mb']:>7.1f} "
                f"{row['loo_refit']:>10.1f} {row['loo_refit'] / row['ours']:>9.0f} {sm_cols}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
