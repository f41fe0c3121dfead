"""Standard errors of predictions: delta method (model-based, HC0 = infinitesimal jackknife, HC3) vs a pairs bootstrap.

Diabetes data (scikit-learn's bundled copy, 442 rows), ``Ridge(alpha=0.1)``, the first five
rows as queries. The bootstrap refits the model on rows drawn with replacement and takes the
standard deviation of each query's prediction; its Monte Carlo error is about
``1/√(2·n_boot)`` relative (1.6 % at 2,000). Prints one table; the user guide quotes it.

Usage: ``python benchmarks/bench_standard_errors.py [--n-boot 2000] [--seed 0]``.
"""

import argparse

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from sklearn_influence import InfluenceEstimator


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap refits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = load_diabetes(return_X_y=True)
    queries = X[:5]
    model = Ridge(alpha=0.1, solver="cholesky")
    inf = InfluenceEstimator(model).fit(X, y)
    rows = {kind: inf.prediction_standard_errors(queries, kind=kind) for kind in ("model", "HC0", "HC3")}
    rng = np.random.default_rng(args.seed)
    predictions = np.empty((args.n_boot, len(queries)))
    for b in range(args.n_boot):
        sample = rng.integers(0, len(y), len(y))
        predictions[b] = Ridge(alpha=0.1, solver="cholesky").fit(X[sample], y[sample]).predict(queries)
    rows = {f"pairs bootstrap ({args.n_boot})": predictions.std(axis=0, ddof=1), **rows}
    print(f"standard errors of the predictions at the first five rows (diabetes, Ridge(alpha=0.1), n = {len(y)})")
    print(f"{'method':28s}" + "".join(f"{f'query {q + 1}':>10s}" for q in range(len(queries))))
    for name, values in rows.items():
        print(f"{name:28s}" + "".join(f"{v:10.2f}" for v in np.asarray(values)))


if __name__ == "__main__":
    main()
