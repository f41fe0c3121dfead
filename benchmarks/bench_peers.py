"""Peers benchmark: the same influence task in the libraries a user would otherwise pick.

Task: a fitted binary logistic regression (C = 1) or ridge regression (alpha = 1) on synthetic
Gaussian data, 100 query points: the influence of every training row on every query loss.
Every method starts from the same fitted scikit-learn model and is timed (seconds) with its
peak memory (tracemalloc; PyTorch's own allocations are not seen by tracemalloc, so pyDVL's
peak is a lower bound):

* ``ours``: ``InfluenceEstimator(FrozenEstimator(model)).fit(X, y).influence(Xq, yq)``;
* ``pyinfluence``: ``InfluenceFunctions(mode="loss").fit(model, X, y).explain(Xq, yq)``
  (scikit-learn-native, dense);
* ``pyDVL direct`` / ``pyDVL cg``: ``DirectInfluence`` / ``CgInfluence`` on an ``nn.Linear``
  carrying the fitted weights, mean loss, ``regularization`` = the model's L2 strength on the
  mean scale (CPU PyTorch);
* ``statsmodels``: ``GLMInfluence.d_params`` / ``OLSInfluence.dfbeta`` of the unpenalised fit
  (leave-one-out parameters of every row: its closest quantity), then their effect on the
  query losses, linearised;
* ``LOO refit``: one refit timed, times n.

Accuracy (smallest size only): Pearson correlation between each method's predicted change of
the 100 query losses when one of 30 training rows is removed, and the actual change from
refits (signs and scales normalised per method: each library has its own convention).

These libraries are installed only in the benchmark environment, never as dependencies:
``pip install -e . pyinfluence "pydvl[torch]" torch statsmodels``.
Usage: ``python benchmarks/bench_peers.py [--quick]``.
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge

from sklearn_influence import InfluenceEstimator

M = 100


def data(task, n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + M, p))
    w = rng.standard_normal(p) / np.sqrt(p)
    if task == "logistic":
        y = (rng.random(n + M) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
        model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10)
    else:
        y = X @ w + rng.standard_normal(n + M)
        model = Ridge(alpha=1.0, solver="cholesky")
    model.fit(X[:n], y[:n])
    return model, X[:n], y[:n], X[n:], y[n:]


def measure(fun):
    tracemalloc.start()
    start = time.perf_counter()
    result = fun()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak, result


def ours(model, X, y, Xq, yq):
    return InfluenceEstimator(FrozenEstimator(model)).fit(X, y).influence(Xq, yq)


def pyinfluence_scores(model, X, y, Xq, yq):
    from pyinfluence import InfluenceFunctions

    return InfluenceFunctions(mode="loss").fit(model, X, y).explain(Xq, yq)


def pydvl_scores(model, X, y, Xq, yq, solver):
    import torch
    from pydvl.influence.torch import CgInfluence, DirectInfluence
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(2)
    linear = torch.nn.Linear(X.shape[1], 1).double()
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(np.reshape(model.coef_, (1, -1))))
        linear.bias.copy_(torch.as_tensor(np.ravel(model.intercept_)))
    n = X.shape[0]
    if isinstance(model, LogisticRegression):
        loss = torch.nn.functional.binary_cross_entropy_with_logits
        strength = 1.0 / (model.C * n)
    else:
        loss = torch.nn.functional.mse_loss
        strength = 2.0 * model.alpha / n

    def targets(values):
        return torch.as_tensor(np.asarray(values, dtype=float)).reshape(-1, 1)

    loader = DataLoader(TensorDataset(torch.as_tensor(X), targets(y)), batch_size=min(n, 10_000))
    method = DirectInfluence if solver == "direct" else CgInfluence
    model_influence = method(linear, loss, regularization=strength).fit(loader)
    scores = model_influence.influences(torch.as_tensor(Xq), targets(yq), torch.as_tensor(X), targets(y))
    return scores.detach().numpy()


def statsmodels_scores(model, X, y, Xq, yq):
    """Linearised effect of statsmodels' leave-one-out parameter changes on the query losses."""
    import statsmodels.api as sm

    Xc, Xqc = np.c_[np.ones(len(X)), X], np.c_[np.ones(len(Xq)), Xq]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(model, LogisticRegression):
            result = sm.GLM(y, Xc, family=sm.families.Binomial()).fit()
            delta = -result.get_influence().d_params  # after minus before
            residual = 1 / (1 + np.exp(-(Xqc @ result.params))) - yq
        else:
            result = sm.OLS(y, Xc).fit()
            delta = -result.get_influence().dfbeta
            residual = 2 * (Xqc @ result.params - yq)
    return (residual[:, None] * Xqc) @ delta.T  # (n_query, n_train)


def actual_changes(model, X, y, Xq, yq, rows):
    def loss(fitted):
        if isinstance(fitted, LogisticRegression):
            return -np.log(fitted.predict_proba(Xq)[np.arange(len(yq)), yq])
        return (fitted.predict(Xq) - yq) ** 2

    base = loss(model)
    return np.array([loss(clone(model).fit(np.delete(X, i, 0), np.delete(y, i))) - base for i in rows]).T


METHODS = {
    "ours": ours,
    "pyinfluence": pyinfluence_scores,
    "pyDVL direct": lambda *a: pydvl_scores(*a, solver="direct"),
    "pyDVL cg": lambda *a: pydvl_scores(*a, solver="cg"),
    "statsmodels": statsmodels_scores,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smallest sizes only")
    args = parser.parse_args()
    import pydvl.influence.torch  # noqa: F401  (imports and PyTorch start-up are not timed)
    import pyinfluence  # noqa: F401
    import statsmodels.api  # noqa: F401

    sizes = [(2_000, 20), (2_000, 100), (20_000, 20), (20_000, 100), (20_000, 500), (100_000, 100)]
    if args.quick:
        sizes = sizes[:1]
    print("seconds (peak MB); '-' = skipped (too slow or too large at this size)")
    print(f"{'task':>9} {'n':>7} {'p':>4} " + " ".join(f"{name:>17}" for name in METHODS) + f" {'LOO refit':>10}")
    for task in ("logistic", "ridge"):
        for n, p in sizes:
            model, X, y, Xq, yq = data(task, n, p)
            cells = []
            for name, method in METHODS.items():
                too_slow = {  # minutes to hours: OLSInfluence.dfbeta refits every row (90 s at 2,000 x 100)
                    "statsmodels": n * p > 2_000_000 or (task == "ridge" and n * p > 200_000),
                    "pyDVL cg": n * p > 200_000,
                }
                if too_slow.get(name, False):
                    cells.append(f"{'-':>17}")
                    continue
                try:
                    elapsed, peak, _ = measure(lambda: method(model, X, y, Xq, yq))
                    cells.append(f"{elapsed:>9.3f} ({peak:>5.0f})")
                except Exception as error:  # a peer that cannot do this task: say so and go on
                    cells.append(f"{'error':>17}")
                    print(f"  {name} failed: {type(error).__name__}: {error}")
            start = time.perf_counter()
            clone(model).fit(X[1:], y[1:])
            refit = (time.perf_counter() - start) * n
            print(f"{task:>9} {n:>7} {p:>4} " + " ".join(cells) + f" {refit:>10.1f}", flush=True)

    print("\naccuracy against refits (n = 2,000, p = 20; 30 rows removed, 100 query losses): Pearson")
    for task in ("logistic", "ridge"):
        model, X, y, Xq, yq = data(task, 2_000, 20)
        rows = np.arange(0, 2_000, 67)[:30]
        actual = actual_changes(model, X, y, Xq, yq, rows)
        line = []
        for name, method in METHODS.items():
            scores = method(model, X, y, Xq, yq)[:, rows]
            r = np.corrcoef(scores.ravel(), actual.ravel())[0, 1]
            line.append(f"{name} {abs(r):.4f}{'' if r > 0 else ' (opposite sign convention)'}")
        newton = (
            InfluenceEstimator(FrozenEstimator(model)).fit(X, y).leave_one_out(Xq, yq, method="newton", indices=rows)
        )
        line.append(f"ours newton {np.corrcoef(newton.ravel(), actual.ravel())[0, 1]:.4f}")
        print(f"{task:>9}: " + "; ".join(line))


if __name__ == "__main__":
    main()
