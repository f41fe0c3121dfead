"""Scale benchmark: a million dense rows and 50,000 sparse features, time and peak memory.

Each task is shown next to the bare BLAS / sparse work it needs, measured in the same run:

* dense n × p (logistic and ridge), 100 queries: ``fit`` + ``influence`` against
  ``X.T @ (X * d)`` + ``V @ X.T``; ``self_influence`` for every row in one chunked pass
  against ``X @ R`` for the triangular factor (``R = L⁻ᵀ``); ``top_influences(k=10)`` (no
  n_query × n_train matrix) against ``influence``;
* sparse n = 100,000 × p = 50,000 (0.1 % non-zeros, counts), binary logistic, ``solver="cg"``
  (Jacobi with the intercept eliminated), 100 queries solved together: ``fit`` + ``influence``
  against (CG iterations + 1) × scipy's ``X @ V`` + ``X.T @ U`` with 100 vectors (the
  iterations are those of the first, cold solve of the 100 queries); ``influence`` again on
  the same queries (``cg_warm_start=True``); stochastic ``self_influence(n_probes=100)``;
  CG's error against the exact solver, cold and warm, when p ≤ 12,000 (``--quick``, or
  ``--sparse-size 20000 10000``).

Peak memory is tracemalloc's peak of numpy allocations during the task (the results
included), next to the size of X. Usage:
``python benchmarks/bench_scale.py [--quick] [--only {dense,sparse}] [--cg-tol T] [--n-jobs J]
[--sparse-size N P]``.
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge

from sklearn_influence import InfluenceEstimator


def measure(task):
    tracemalloc.start()
    start = time.perf_counter()
    result = task()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak, result


def timed(task):
    start = time.perf_counter()
    task()
    return time.perf_counter() - start


def dense(n, p, m=100):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n + m, p))
    w = rng.standard_normal(p) / np.sqrt(p)
    y_class = (rng.random(n + m) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
    y_reg = X @ w + rng.standard_normal(n + m)
    rows = []
    for name, model, y in [
        ("logistic", LogisticRegression(solver="newton-cholesky", tol=1e-8), y_class),
        ("ridge", Ridge(alpha=1.0, solver="cholesky"), y_reg),
    ]:
        model.fit(X[:n], y[:n])
        Xt, Xq, yt, yq = X[:n], X[n:], y[:n], y[n:]
        t_inf, peak_inf, (inf, _) = measure(lambda: _fit_influence(model, Xt, yt, Xq, yq))
        d = np.full(n, 0.25)
        V = rng.standard_normal((m, p))
        t_floor = timed(lambda: (Xt.T @ (Xt * d[:, None]), V @ Xt.T))
        t_self, peak_self, _ = measure(inf.self_influence)
        R = np.triu(rng.standard_normal((p + 1, p + 1)))
        t_self_floor = timed(lambda: np.c_[Xt, np.ones(n)] @ R)
        t_top, peak_top, _ = measure(lambda: inf.top_influences(Xq, yq, k=10))
        rows.append(
            (
                f"dense {name} {n:,}x{p}",
                Xt.nbytes / 2**20,
                t_inf,
                t_floor,
                peak_inf,
                t_self,
                t_self_floor,
                peak_self,
                t_top,
                peak_top,
            )
        )
    return rows


def _fit_influence(model, X, y, Xq, yq, solver="auto", **params):
    inf = InfluenceEstimator(FrozenEstimator(model), solver=solver, **params).fit(X, y)
    return inf, inf.influence(Xq, yq)


def sparse_wide(n, p, density=1e-3, m=100, cg_tol=1e-10, n_jobs=-1):
    rng = np.random.default_rng(0)
    per_row = rng.poisson(density * p, n + m)  # bag-of-words counts: ~density·p distinct words per row
    rows = np.repeat(np.arange(n + m), per_row)
    words = rng.integers(0, p, rows.size)
    X = sp.csr_matrix((rng.poisson(1.0, rows.size) + 1.0, (rows, words)), shape=(n + m, p))
    w = sp.random(p, 1, density=0.05, random_state=1).toarray().ravel() * 3
    y = (rng.random(n + m) < 1 / (1 + np.exp(-(X @ w - (X @ w).mean())))).astype(int)
    Xt, Xq, yt, yq = X[:n], X[n:], y[:n], y[n:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model = LogisticRegression(C=0.1, tol=1e-8, max_iter=500).fit(Xt, yt)
        t_model = time.perf_counter() - start
        t_inf, peak_inf, (inf, first) = measure(
            lambda: _fit_influence(model, Xt, yt, Xq, yq, solver="cg", cg_tol=cg_tol, cg_warm_start=True, n_jobs=n_jobs)
        )
    iterations = inf._solver.n_iter_  # Hessian products of the cold solve of the 100 queries
    counter = {"products": 0}
    product = inf._solver.hessian_product

    def counting(block):
        counter["products"] += 1
        return product(block)

    inf._solver.hessian_product = counting
    t_again, _, result = measure(lambda: inf.influence(Xq, yq))  # the same queries again: a warm start
    again = counter["products"]
    inf._solver.hessian_product = product
    V = rng.standard_normal((m, p))
    U = rng.standard_normal((n, m))
    pair = timed(lambda: (Xt @ V.T, Xt.T @ U))
    design = inf._design
    ours = timed(lambda: (design.dot(np.c_[V, np.zeros(m)]), design.tdot(U)))
    threads, (n_jobs, design.n_jobs) = design.n_threads, (design.n_jobs, 1)
    ours_serial = timed(lambda: (design.dot(np.c_[V, np.zeros(m)]), design.tdot(U)))
    design.n_jobs = n_jobs
    t_floor = (iterations + 1) * pair
    t_self, peak_self, _ = measure(lambda: inf.self_influence(n_probes=100, random_state=0))
    x_mb = (Xt.data.nbytes + Xt.indices.nbytes + Xt.indptr.nbytes) / 2**20
    error = None
    if p <= 12_000:  # the exact solver fits: relative error of CG against the Cholesky factorisation
        exact = InfluenceEstimator(FrozenEstimator(model), solver="exact").fit(Xt, yt).influence(Xq, yq)
        error = [float(np.abs(r - exact).max() / np.abs(exact).max()) for r in (first, result)]
    return dict(
        t_model=t_model,
        solver=inf.solver_,
        iterations=iterations,
        x_mb=x_mb,
        t_inf=t_inf,
        t_floor=t_floor,
        pair=pair,
        ours=ours,
        ours_serial=ours_serial,
        threads=threads,
        peak_inf=peak_inf,
        t_again=t_again,
        again=again,
        t_self=t_self,
        peak_self=peak_self,
        error=error,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", choices=["dense", "sparse"], help="run one of the two parts")
    parser.add_argument("--cg-tol", type=float, default=1e-10, help="cg_tol of the sparse task")
    parser.add_argument("--n-jobs", type=int, default=-1, help="n_jobs (threads) of the sparse task")
    parser.add_argument(
        "--sparse-size", type=int, nargs=2, metavar=("N", "P"), help="rows and features of the sparse task"
    )
    args = parser.parse_args()
    n_dense, n_sparse, p_sparse = (20_000, 5_000, 2_000) if args.quick else (1_000_000, 100_000, 50_000)
    if args.sparse_size:
        n_sparse, p_sparse = args.sparse_size
    if args.only != "sparse":
        print("dense tasks: seconds (peak MB)")
        header = ["task".rjust(28), "X MB".rjust(7), "fit+influence".rjust(14), "floor".rjust(7)]
        print(" ".join(header + ["self_influence".rjust(15), "floor".rjust(7), "top_influences".rjust(15)]))
        for row in dense(n_dense, 100):
            name, x_mb, t_inf, t_floor, peak_inf, t_self, t_self_floor, peak_self, t_top, peak_top = row
            print(
                f"{name:>28} {x_mb:>7.0f} {t_inf:>7.2f} ({peak_inf:>4.0f}) {t_floor:>7.2f} "
                f"{t_self:>7.2f} ({peak_self:>4.0f}) {t_self_floor:>7.2f} {t_top:>7.2f} ({peak_top:>4.0f})",
                flush=True,
            )
    if args.only == "dense":
        return
    r = sparse_wide(n_sparse, p_sparse, cg_tol=args.cg_tol, n_jobs=args.n_jobs)
    print(
        f"\nsparse {n_sparse:,} x {p_sparse:,}, binary logistic (model fit {r['t_model']:.1f} s), "
        f"solver={r['solver']}, cg_tol={args.cg_tol:g}, n_jobs={args.n_jobs}: {r['iterations']} CG iterations; "
        f"X {r['x_mb']:.0f} MB"
    )
    print(
        f"  one pair of products with 100 vectors (X @ V, X.T @ U): scipy {r['pair']:.3f} s, "
        f"LinearDesign (blocked) {r['ours_serial']:.3f} s, with {r['threads']} threads {r['ours']:.3f} s"
    )
    print(
        f"  fit + influence (100 queries): {r['t_inf']:.2f} s (peak {r['peak_inf']:.0f} MB); "
        f"scipy floor (iterations + 1) x pair {r['t_floor']:.2f} s"
    )
    print(f"  influence again, same queries (warm start): {r['t_again']:.2f} s, {r['again']} Hessian products")
    print(f"  self_influence(n_probes=100) for all rows: {r['t_self']:.2f} s (peak {r['peak_self']:.0f} MB)")
    if r["error"] is not None:
        print(f"  max |CG - exact| / max |exact| of influence: {r['error'][0]:.1e} (cold), {r['error'][1]:.1e} (warm)")


if __name__ == "__main__":
    main()
