"""MLP benchmark: fit overhead and influence for 100 queries, exact vs CG, over parameter counts and n.

Synthetic data (64 Gaussian features, 10 classes), ``MLPClassifier(hidden_layer_sizes=(h,))``
trained for a few Adam epochs (the benchmark times the influence machinery, not the
network's quality), damping λ = 1 on the mean-objective scale (``damping = n``: a few epochs on
random labels leave a strongly indefinite Hessian).
Columns (seconds, same run, same data):

* ``P``: parameter count; ``fit``: ``InfluenceEstimator(FrozenEstimator(mlp)).fit`` (per-sample
  gradient norms for the stationarity check, the objective's gradient, and for ``exact`` the
  dense Hessian: one autograd Hessian-vector product per parameter, then Cholesky);
* ``influence``: ``influence(X_query, y_query)`` for 100 queries (CG: 100 systems iterated
  together, each Hessian product one autograd pass per vector);
* ``HVP``: one Hessian-vector product, and ``G``: the per-sample gradients of 1,000 rows
  (batched backpropagation), the two building blocks;
* ``CG iters``: iterations to ``cg_tol`` (1e-6 here).

Usage: ``python benchmarks/bench_mlp.py [--quick]``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier

from sklearn_influence import InfluenceEstimator


def run(n, hidden, solver, m=100, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + m, 64))
    y = rng.integers(0, 10, n + m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-2, max_iter=3, random_state=0).fit(X[:n], y[:n])
        inf = InfluenceEstimator(FrozenEstimator(mlp), solver=solver, damping=1.0 * n, cg_tol=1e-6)
        start = time.perf_counter()
        inf.fit(X[:n], y[:n])
        t_fit = time.perf_counter() - start
        start = time.perf_counter()
        inf.influence(X[n:], y[n:])
        t_influence = time.perf_counter() - start
    P = inf.params_.size
    V = rng.standard_normal((1, 1, P))
    start = time.perf_counter()
    inf._objective.hessian_product(inf._design, inf._weights, V, damping=inf.damping)
    t_hvp = time.perf_counter() - start
    start = time.perf_counter()
    inf._design.take(slice(0, 1000)).dense()
    t_grad = time.perf_counter() - start
    iterations = "-"
    if solver == "cg":
        counter = {"calls": 0}
        product = inf._solver.hessian_product

        def counting(block):
            counter["calls"] += 1
            return product(block)

        inf._solver.hessian_product = counting
        inf._solver.solve(inf._gradients(inf._design.take(slice(0, 1)), np.ones((1, 1))))
        iterations = str(counter["calls"])
    return P, t_fit, t_influence, t_hvp, t_grad, iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = parser.parse_args()
    cases = [
        (5_000, 16, "exact"),
        (5_000, 16, "cg"),
        (50_000, 16, "exact"),
        (50_000, 16, "cg"),
        (5_000, 64, "cg"),
        (50_000, 64, "cg"),
        (5_000, 640, "cg"),
    ]
    if args.quick:
        cases = [(2_000, 16, "exact"), (2_000, 16, "cg")]
    print(f"{'n':>7} {'P':>7} {'solver':>6} {'fit':>8} {'influence':>10} {'HVP':>8} {'G(1k rows)':>10} {'CG iters':>8}")
    for n, hidden, solver in cases:
        P, t_fit, t_inf, t_hvp, t_grad, iterations = run(n, hidden, solver)
        print(
            f"{n:>7} {P:>7} {solver:>6} {t_fit:>8.2f} {t_inf:>10.2f} {t_hvp:>8.3f} {t_grad:>10.3f} {iterations:>8}",
            flush=True,
        )


if __name__ == "__main__":
    main()
