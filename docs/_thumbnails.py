"""Draw the gallery thumbnails of the examples that print tables and make no figure.

sphinx-gallery takes an example's thumbnail from its first figure; an example without one
names a picture with ``# sphinx_gallery_thumbnail_path = "_static/thumbnails/<name>.png"``.
This script draws those pictures from the examples' own experiments: predicted against
actual leave-one-out changes of the query loss. Run it by hand after changing one of them
(``python docs/_thumbnails.py`` from the repository root, a few seconds); the gallery build
does not run it.
"""

import pathlib
import runpy

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "thumbnails"


def scatter(name, title, series):
    """One panel: each ``(label, predicted, actual, color)`` against the diagonal."""
    fig, ax = plt.subplots(figsize=(4, 2.8), dpi=100, layout="constrained")
    values = np.concatenate([np.r_[p, a] for _, p, a, _ in series])
    limit = 1.08 * np.abs(values).max()
    ax.plot([-limit, limit], [-limit, limit], color="0.6", lw=1)
    for label, predicted, actual, color in series:
        ax.scatter(actual, predicted, s=14, color=color, label=label, alpha=0.8)
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit), xlabel="refit", ylabel="predicted", title=title)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.savefig(OUT / f"{name}.png")
    plt.close(fig)


def first_order_vs_newton():
    """The example's hardest cell: n = 160, C = 100, 40 rows removed, 10 queries."""
    from sklearn.base import clone
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from sklearn_influence import InfluenceEstimator

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :8]
    X_query, y_query, X_train, y_train = X[400:410], y[400:410], X[:160], y[:160]
    rows = np.arange(0, 160, 4)[:40]
    estimator = LogisticRegression(C=100.0, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    inf = InfluenceEstimator(estimator).fit(X_train, y_train)
    base = inf.loss(X_query, y_query)
    actual = np.empty((len(y_query), len(rows)))
    for a, i in enumerate(rows):
        keep = np.arange(160) != i
        refit = clone(estimator).fit(X_train[keep], y_train[keep])
        actual[:, a] = -np.log(refit.predict_proba(X_query)[np.arange(len(y_query)), y_query]) - base
    first = inf.leave_one_out(X_query, y_query, method="influence", indices=rows)
    newton = inf.leave_one_out(X_query, y_query, method="newton", indices=rows)
    series = [("first order", first.ravel(), actual.ravel(), "tab:orange")]
    series.append(("Newton", newton.ravel(), actual.ravel(), "tab:blue"))
    scatter("first_order_vs_newton", "leave-one-out, n = 160, C = 100", series)


def custom_probit():
    """The example's own numbers: the 20 most influential rows, predicted and refitted."""
    found = runpy.run_path(str(ROOT / "examples" / "custom_probit.py"))
    top = found["top"]
    series = [("first order", found["predicted"][top], found["actual"], "tab:blue")]
    scatter("custom_probit", "probit (autograd): leave-one-out", series)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    first_order_vs_newton()
    custom_probit()
    print(f"Wrote {sorted(p.name for p in OUT.glob('*.png'))} in {OUT}")
