"""Jackknife+ intervals from one fit against MAPIE's refit-based ones (issue 13).

For each data set and regressor, in one run: ``loo_predict_interval`` (leave-one-out from one
fit: exact for least squares, one Newton step for a GLM) and MAPIE's
``CrossConformalRegressor(cv=LeaveOneOut())`` (n refits), for jackknife+, jackknife and
jackknife-minmax at confidence 0.9. Columns:

* ``max |Δ bound|``: the largest difference between the two sets of bounds, and the same
  relative to the median interval width;
* ``coverage``: the fraction of held-out rows inside the interval, ours and MAPIE's;
* ``ours s``, ``MAPIE s``, ``speed-up``: wall-clock seconds of fit + intervals for the
  held-out rows, and their ratio (same run, same data).

Data: ``diabetes`` (scikit-learn's bundled data, 442 rows: 300 to fit, the rest held out),
synthetic heavy-tailed regression (Student-t(3) noise, p = 10) and synthetic Poisson counts
(p = 5) with ``--n`` rows to fit and 1,000 held out.

MAPIE (``pip install mapie``) is an optional dependency of this script only; without it the
MAPIE columns are left out and the intervals are compared with n refits by hand instead.

Usage: ``python benchmarks/bench_intervals.py [--n 2000]``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import PoissonRegressor, Ridge
from sklearn.model_selection import LeaveOneOut

from sklearn_influence import loo_predict_interval

METHODS = {"jackknife+": "plus", "jackknife": "base", "jackknife-minmax": "minmax"}


def _mapie_intervals(estimator, X, y, X_query, method, confidence_level):
    from mapie.regression import CrossConformalRegressor

    model = CrossConformalRegressor(
        clone(estimator), confidence_level=confidence_level, method=METHODS[method], cv=LeaveOneOut()
    )
    model.fit_conformalize(X, y)
    return model.predict_interval(X_query)[1][:, :, 0]


def _refit_intervals(estimator, X, y, X_query, method, confidence_level):
    """Barber et al.'s intervals from n refits written out by hand (when MAPIE is absent)."""
    n = len(y)
    keep = np.ones(n, dtype=bool)
    held_out, at_query = np.empty(n), np.empty((n, len(X_query)))
    for i in range(n):
        keep[i] = False
        model = clone(estimator).fit(X[keep], y[keep])
        keep[i] = True
        held_out[i] = model.predict(X[i : i + 1])[0]
        at_query[i] = model.predict(X_query)
    residuals = np.abs(y - held_out)
    alpha = 1 - confidence_level
    upper_rank, lower_rank = int(np.ceil((1 - alpha) * (n + 1))), int(np.floor(alpha * (n + 1)))
    if method == "jackknife+":
        lower = np.sort(at_query - residuals[:, None], axis=0)[lower_rank - 1]
        upper = np.sort(at_query + residuals[:, None], axis=0)[upper_rank - 1]
        return np.column_stack([lower, upper])
    q = np.sort(residuals)[upper_rank - 1]
    if method == "jackknife":
        centre = clone(estimator).fit(X, y).predict(X_query)
        return np.column_stack([centre - q, centre + q])
    return np.column_stack([at_query.min(axis=0) - q, at_query.max(axis=0) + q])


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    yield "diabetes (n=300)", Ridge(alpha=1.0), X[:300], y[:300], X[300:], y[300:]
    X = rng.normal(size=(n + 1000, 10))
    y = X @ rng.normal(size=10) + rng.standard_t(3, size=n + 1000)
    yield f"heavy-tailed (n={n})", Ridge(alpha=1.0), X[:n], y[:n], X[n:], y[n:]
    X = rng.normal(size=(n + 1000, 5)) / 2
    y = rng.poisson(np.exp(1.0 + X @ rng.normal(size=5) / 2)).astype(float)
    poisson = PoissonRegressor(alpha=1e-3, solver="newton-cholesky", tol=1e-10)
    yield f"Poisson counts (n={n})", poisson, X[:n], y[:n], X[n:], y[n:]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--confidence", type=float, default=0.9)
    args = parser.parse_args()
    try:
        import mapie  # noqa: F401

        reference, reference_name = _mapie_intervals, "MAPIE"
    except ImportError:
        reference, reference_name = _refit_intervals, "refits"
    print(f"reference: {reference_name} (leave-one-out, n refits); confidence {args.confidence}\n")
    header = (
        f"| data | model | method | max abs Δ bound | relative to median width | coverage ours | "
        f"coverage {reference_name} | ours s | {reference_name} s | speed-up |"
    )
    print(header)
    print("| " + " | ".join(["---"] * 3 + ["---:"] * 7) + " |")
    for name, estimator, X, y, X_query, y_query in _data(args.n):
        for method in METHODS:
            start = time.perf_counter()
            ours = loo_predict_interval(
                clone(estimator), X_query, X, y, confidence_level=args.confidence, method=method
            )
            ours_time = time.perf_counter() - start
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = reference(estimator, X, y, X_query, method, args.confidence)
            their_time = time.perf_counter() - start
            gap = np.abs(ours - theirs).max()
            width = np.median(theirs[:, 1] - theirs[:, 0])
            cover = [np.mean((y_query >= b[:, 0]) & (y_query <= b[:, 1])) for b in (ours, theirs)]
            print(
                f"| {name} | {type(estimator).__name__} | {method} | {gap:.1e} | {gap / width:.1e} | "
                f"{cover[0]:.3f} | {cover[1]:.3f} | {ours_time:.3f} | {their_time:.2f} | "
                f"{their_time / ours_time:.0f}× |"
            )


if __name__ == "__main__":
    main()
