"""InfluenceEstimator on Dask arrays (``sklearn_influence._dask``).

The reference is the numpy path: the same frozen model, the same estimator, fitted on the
computed arrays (itself proven against refits, finite differences and closed forms in the
other test files). Every quantity on Dask arrays must equal it to 1e-10 relative to the
result's largest entry (float64), on a 2-worker process cluster and on the threaded
scheduler, with dense, sparse and unevenly sized blocks. dask-ml's GLMs have no numpy
reference: their decoding is proven by stationarity, against refits of dask-ml itself, and
against scikit-learn's liblinear, which minimises the same objective.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge, SGDClassifier
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_influence import InfluenceEstimator, rank_mislabel_candidates

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

N, P, N_QUERIES = 2000, 10, 7
RTOL = 1e-10
EVEN, UNEVEN = 500, (700, 300, 450, 550)


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster of processes (one thread each), the default scheduler while the module runs."""
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, memory_limit="1GiB"
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def _data(kind, seed=0):
    """(X, y, sample_weight) for a model family: binary, multinomial (string labels), ridge, poisson."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P))
    X[rng.random(X.shape) < 0.5] = 0.0  # half zeros: the same data as dense or sparse blocks
    signal = X @ rng.normal(size=P) / 2
    weights = rng.uniform(0.5, 2.0, size=N)
    weights[rng.choice(N, 20, replace=False)] = 0.0
    if kind in ("binary", "sgd"):
        y = (signal + rng.logistic(size=N) > 0).astype(int)
    elif kind == "multinomial":
        y = np.array(["a", "b", "c"])[np.digitize(signal + rng.logistic(size=N), [-0.7, 0.7])]
    elif kind == "ridge":
        y = signal + rng.normal(size=N)
    else:
        y = rng.poisson(np.exp(signal / 2))
    return X, y, weights


_MODELS = {
    "binary": lambda: LogisticRegression(C=0.5, tol=1e-12, max_iter=1000),
    "multinomial": lambda: LogisticRegression(C=2.0, tol=1e-12, max_iter=1000),
    "ridge": lambda: Ridge(alpha=3.0),
    "poisson": lambda: PoissonRegressor(alpha=0.01, tol=1e-12, max_iter=1000),
    # a penalty share α per row, also for the rows of weight 0 (first-order leave-one-out's extra term)
    "sgd": lambda: SGDClassifier(loss="log_loss", alpha=0.01, max_iter=50, tol=None, random_state=0),
}


def _as_dask(X, chunks, sparse=False):
    X_dask = da.from_array(X, chunks=(chunks, P))
    if sparse:
        X_dask = X_dask.map_blocks(sp.csr_matrix, dtype=X.dtype, meta=sp.csr_matrix((0, 0), dtype=X.dtype))
    return X_dask


def _pair(kind, chunks=EVEN, sparse=False, dtype=np.float64, weighted=True):
    """(numpy-path estimator, Dask estimator, X, y): one frozen model fitted on the numpy rows."""
    X, y, weights = _data(kind)
    X = X.astype(dtype)
    weights = weights if weighted else None
    X_numpy = sp.csr_matrix(X) if sparse else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _MODELS[kind]().fit(X_numpy, y, sample_weight=weights)
        reference = InfluenceEstimator(FrozenEstimator(model)).fit(X_numpy, y, sample_weight=weights)
        dask_weights = None if weights is None else da.from_array(weights, chunks=chunks)
        estimator = InfluenceEstimator(FrozenEstimator(model)).fit(
            _as_dask(X, chunks, sparse), da.from_array(y, chunks=chunks), sample_weight=dask_weights
        )
    return reference, estimator, X, y


def _check_close(computed, expected, rtol=RTOL):
    assert computed.shape == expected.shape
    assert computed.dtype == expected.dtype
    np.testing.assert_allclose(computed, expected, rtol=0, atol=rtol * np.max(np.abs(expected)))


def _assert_close(lazy, expected, rtol=RTOL):
    assert isinstance(lazy, da.Array)
    _check_close(lazy.compute(), expected, rtol)


def _assert_all_quantities(reference, estimator, X, y, rtol=RTOL, influence_rtol=RTOL):
    """Every quantity of ``estimator`` (lazy, computed together in one call) equals ``reference``'s."""
    Xq, yq = X[:N_QUERIES], y[:N_QUERIES]
    pairs = {  # name: (lazy Dask result, numpy-path result, tolerance)
        "influence": (estimator.influence(Xq, yq), reference.influence(Xq, yq), influence_rtol),
        "leave_one_out": (estimator.leave_one_out(Xq, yq), reference.leave_one_out(Xq, yq), influence_rtol),
        "newton": (
            estimator.leave_one_out(Xq, yq, method="newton"),
            reference.leave_one_out(Xq, yq, method="newton"),
            rtol,
        ),
        "self_influence": (estimator.self_influence(), reference.self_influence(), rtol),
        "influence_params": (estimator.influence_params(), reference.influence_params(), rtol),
    }
    for method in ("influence", "newton"):
        pairs[f"params_{method}"] = (
            estimator.leave_one_out_params(method=method),
            reference.leave_one_out_params(method=method),
            rtol,
        )
    assert pairs["influence"][0].chunks[1] == estimator._dask_fit_.row_chunks  # chunked like the training rows
    assert len(estimator._dask_fit_.row_chunks) > 1
    top, expected_top = estimator.top_influences(Xq, yq, k=5), reference.top_influences(Xq, yq, k=5)
    ranking = rank_mislabel_candidates(estimator)
    assert all(isinstance(lazy, da.Array) for lazy, _, _ in pairs.values())
    computed, computed_top, computed_ranking = dask.compute(
        {name: lazy for name, (lazy, _, _) in pairs.items()}, dict(top), ranking
    )
    for name, (_, expected, tolerance) in pairs.items():
        _check_close(computed[name], expected, tolerance)
    for key in ("harmful_indices", "helpful_indices"):
        np.testing.assert_array_equal(computed_top[key], expected_top[key])
    for key in ("harmful_values", "helpful_values"):
        scale = np.abs(expected_top[key]).max()
        np.testing.assert_allclose(computed_top[key], expected_top[key], rtol=0, atol=influence_rtol * scale)
    np.testing.assert_array_equal(computed_ranking, rank_mislabel_candidates(reference))


def test_numpy_path_does_not_import_dask():
    code = (
        "import sys, numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "import sklearn_influence\n"
        "from sklearn_influence import InfluenceEstimator, rank_mislabel_candidates\n"
        "X = np.random.default_rng(0).normal(size=(100, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "est = InfluenceEstimator(LogisticRegression()).fit(X, y)\n"
        "est.influence(X[:3], y[:3]); est.top_influences(X[:3], y[:3]); rank_mislabel_candidates(est)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'dask_ml'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("kind", ["binary", "multinomial", "ridge", "poisson"])
def test_every_quantity_equals_numpy_on_a_process_cluster(client, kind):
    _assert_all_quantities(*_pair(kind, chunks=UNEVEN if kind == "binary" else EVEN))


@pytest.mark.parametrize("kind", ["binary", "ridge"])
def test_sparse_blocks_equal_numpy(client, kind):
    reference, estimator, X, y = _pair(kind, chunks=UNEVEN, sparse=True)
    _assert_all_quantities(reference, estimator, X, y)


@pytest.mark.parametrize("kind", ["multinomial", "poisson"])
def test_threaded_scheduler_uneven_unweighted(threads, kind):
    _assert_all_quantities(*_pair(kind, chunks=UNEVEN, weighted=False))


def test_sgd_penalty_shares(threads):
    _assert_all_quantities(*_pair("sgd", chunks=UNEVEN))


def test_float32_blocks(threads):
    """float32 ``X``: influence is a float32 product in both paths (each entry rounded at 2^-24 ≈ 6e-8 of the
    sum of its terms' sizes, a few times the result's scale); everything that feeds a solve is float64."""
    reference, estimator, X, y = _pair("binary", chunks=UNEVEN, dtype=np.float32)
    assert estimator.influence(X[:3], y[:3]).dtype == np.float32
    _assert_all_quantities(reference, estimator, X, y, influence_rtol=1e-6)


def test_conjugate_gradients_on_distributed_hessian_products(client):
    """solver='cg': H is never formed; every product is one pass over the blocks. Equal to the numpy path's CG."""
    X, y, weights = _data("multinomial")
    model = _MODELS["multinomial"]().fit(X, y, sample_weight=weights)
    reference = InfluenceEstimator(FrozenEstimator(model), solver="cg", cg_tol=1e-12).fit(X, y, sample_weight=weights)
    estimator = InfluenceEstimator(FrozenEstimator(model), solver="cg", cg_tol=1e-12).fit(
        _as_dask(X, UNEVEN), da.from_array(y, chunks=UNEVEN), sample_weight=da.from_array(weights, chunks=UNEVEN)
    )
    assert estimator.solver_ == "cg" and "hessian" not in vars(estimator._dask_fit_.fitted)
    Xq, yq = X[:N_QUERIES], y[:N_QUERIES]
    _assert_close(estimator.influence(Xq, yq), reference.influence(Xq, yq))
    _assert_close(estimator.leave_one_out(Xq, yq), reference.leave_one_out(Xq, yq))
    top, expected = estimator.top_influences(Xq, yq, k=4), reference.top_influences(Xq, yq, k=4)
    np.testing.assert_array_equal(top.helpful_indices.compute(), expected.helpful_indices)
    for refused in (
        estimator.self_influence,
        estimator.influence_params,
        lambda: estimator.leave_one_out(Xq, yq, method="newton"),
        lambda: rank_mislabel_candidates(estimator),
    ):
        with pytest.raises(ValueError, match="solver='exact'"):
            refused()
    ranking = rank_mislabel_candidates(estimator, by="training_loss").compute()
    np.testing.assert_array_equal(ranking, rank_mislabel_candidates(reference, by="training_loss"))


def test_ranking_keeps_tied_rows_in_order(threads):
    """Repeated rows tie exactly: the ranking keeps them in position order, as numpy's stable argsort.

    Every block holds the same 100 rows, so that the repeats' scores are computed identically (rows
    at different offsets of blocks of other sizes may differ in the last bit, BLAS tiling them otherwise).
    """
    X, y, _ = _data("binary")
    X, y = np.tile(X[:100], (20, 1)), np.tile(y[:100], 20)
    model = LogisticRegression(tol=1e-12).fit(X, y)
    reference = InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
    estimator = InfluenceEstimator(FrozenEstimator(model)).fit(_as_dask(X, 100), da.from_array(y, chunks=100))
    for by in ("self_influence", "training_loss"):
        expected = rank_mislabel_candidates(reference, by=by)
        assert np.all(np.diff(expected[:20]) > 0)  # the top group: one row repeated 20 times, in order
        np.testing.assert_array_equal(rank_mislabel_candidates(estimator, by=by).compute(), expected)


def test_indices_and_measures(threads):
    reference, estimator, X, y = _pair("multinomial")
    rows = np.array([5, 1999, 3, 700])
    _assert_close(estimator.influence(X[:3], y[:3], indices=rows), reference.influence(X[:3], y[:3], indices=rows))
    _assert_close(estimator.self_influence(indices=rows), reference.self_influence(indices=rows))
    _assert_close(
        estimator.influence(X[:3], measure="predict_proba"), reference.influence(X[:3], measure="predict_proba")
    )
    top = estimator.top_influences(X[:3], y[:3], k=3, indices=rows)
    expected = reference.top_influences(X[:3], y[:3], k=3, indices=rows)
    np.testing.assert_array_equal(top.harmful_indices.compute(), expected.harmful_indices)
    # query rows given as a (small) Dask array are computed
    _assert_close(estimator.influence(da.from_array(X[:3]), y[:3]), reference.influence(X[:3], y[:3]))


def test_measures_on_the_cluster(client):
    """Vector and user-defined measures (pickled to the workers with the query), first order and Newton."""
    anp = pytest.importorskip("autograd.numpy")
    reference, estimator, X, _ = _pair("multinomial")

    def spread(F):
        return anp.max(F, axis=1) - anp.min(F, axis=1)

    lazy, expected = {}, {}
    for measure in ("predict_proba", spread):
        for method in ("influence", "newton"):
            name = f"{getattr(measure, '__name__', measure)}-{method}"
            lazy[name] = estimator.leave_one_out(X[:4], measure=measure, method=method)
            expected[name] = reference.leave_one_out(X[:4], measure=measure, method=method)
    (computed,) = dask.compute(lazy)
    for name, values in expected.items():
        _check_close(computed[name], values)


def test_ridge_newton_leave_one_out_equals_refits(client):
    """Newton leave-one-out is exact for ridge: against refits without the row (not the numpy path)."""
    X, y, weights = _data("ridge")
    model = Ridge(alpha=3.0, solver="cholesky").fit(X, y, sample_weight=weights)
    estimator = InfluenceEstimator(FrozenEstimator(model)).fit(
        da.from_array(X, chunks=(UNEVEN, P)), da.from_array(y, chunks=UNEVEN), sample_weight=weights
    )
    rows = np.array([0, 699, 700, 1999])
    predicted = estimator.leave_one_out(X[:5], y[:5], method="newton", indices=rows).compute()
    predicted_params = estimator.leave_one_out_params(method="newton", indices=rows).compute()
    for column, row in enumerate(rows):
        keep = np.arange(N) != row
        refit = Ridge(alpha=3.0, solver="cholesky").fit(X[keep], y[keep], sample_weight=weights[keep])
        change = (y[:5] - refit.predict(X[:5])) ** 2 - (y[:5] - model.predict(X[:5])) ** 2
        np.testing.assert_allclose(predicted[:, column], change, rtol=1e-8, atol=1e-12)
        params = np.r_[refit.coef_, refit.intercept_] - np.r_[model.coef_, model.intercept_]
        np.testing.assert_allclose(predicted_params[column], params, rtol=1e-8, atol=1e-12)


def _task_counts(estimator, X, y):
    return {
        "influence": len(estimator.influence(X[:3], y[:3]).__dask_graph__()),
        "top": len(estimator.top_influences(X[:3], y[:3]).harmful_indices.__dask_graph__()),
        "self": len(estimator.self_influence().__dask_graph__()),
    }


def test_graph_grows_linearly_and_shares_the_small_matrices(client):
    X, y, _ = _data("binary")
    model = LogisticRegression(tol=1e-12).fit(X, y)
    counts, sizes = [], []
    for n_blocks in (4, 8, 16):
        chunks = N // n_blocks
        estimator = InfluenceEstimator(FrozenEstimator(model)).fit(_as_dask(X, chunks), da.from_array(y, chunks=chunks))
        counts.append(_task_counts(estimator, X, y))
        queries = np.repeat(X[:1], 500, axis=0)  # V = H⁻¹ g_q of 500 × 11: 44 kB if copied into every task
        result = estimator.influence(queries, np.repeat(y[:1], 500))
        graph = result.__dask_graph__()
        payload_keys = [
            key
            for key in graph
            if str(key[0] if isinstance(key, tuple) else key).startswith("sklearn-influence-payload")
        ]
        assert len(payload_keys) == 1  # V: one key, which every block task refers to
        sizes.append(len(pickle.dumps(dict(graph))))
    for name in counts[0]:
        first, second = counts[1][name] - counts[0][name], counts[2][name] - counts[1][name]
        assert 0 < first and second <= 2 * first + 2, (name, counts)  # tasks ∝ blocks, not blocks²
    assert sizes[2] - sizes[1] < 44_000  # eight more blocks add far less than one copy of V each


def test_top_influences_never_holds_the_full_matrix(threads):
    """Every task result of top_influences and of the ranking is far smaller than n_queries × n_train."""
    from dask.callbacks import Callback

    reference, estimator, X, y = _pair("binary", chunks=250)
    n_queries = 40
    largest = []

    class Largest(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            largest.append(getattr(result, "nbytes", 0))

    top = estimator.top_influences(X[:n_queries], y[:n_queries], k=5)
    with Largest():
        (computed,) = dask.compute(dict(top))
    np.testing.assert_array_equal(
        computed["harmful_indices"], reference.top_influences(X[:n_queries], y[:n_queries], k=5).harmful_indices
    )
    assert max(largest) < 8 * n_queries * N / 20  # candidates: 2 sides × 2 × n_queries × k per block and merge
    assert isinstance(top.harmful_indices, da.Array) and top.harmful_indices.shape == (n_queries, 5)


def test_inputs_larger_than_half_the_memory_are_not_persisted(threads, monkeypatch):
    from sklearn_influence._dask import _fit

    X, y, _ = _data("ridge")
    X_dask, y_dask = da.from_array(X, chunks=(EVEN, P)), da.from_array(y, chunks=EVEN)
    assert _fit.should_persist(X_dask, y_dask)
    monkeypatch.setattr(_fit, "_memory_budget", lambda: 2 * (X.nbytes + y.nbytes) - 1)
    assert not _fit.should_persist(X_dask, y_dask)


def test_fit_persists_inputs_and_is_one_pass(threads):
    """The training arrays are computed once in fit (persisted), not again by a query."""
    X, y, _ = _data("ridge")
    model = Ridge().fit(X, y)
    calls = []

    def count(block):
        calls.append(block.shape[0])
        return block

    X_dask = da.from_array(X, chunks=EVEN).map_blocks(count, dtype=X.dtype)
    estimator = InfluenceEstimator(FrozenEstimator(model)).fit(X_dask, da.from_array(y, chunks=EVEN))
    assert sum(calls) == N and estimator._dask_fit_.persisted
    estimator.influence(X[:3], y[:3]).compute()
    estimator.self_influence().compute()
    assert sum(calls) == N
    # larger than memory (here: forced), every pass reads the blocks from their source again
    with dask.config.set({"sklearn_influence.persist": False}):
        estimator = InfluenceEstimator(FrozenEstimator(model)).fit(X_dask, da.from_array(y, chunks=EVEN))
    assert sum(calls) == 2 * N and not estimator._dask_fit_.persisted
    _assert_close(estimator.self_influence(), InfluenceEstimator(FrozenEstimator(model)).fit(X, y).self_influence())
    assert sum(calls) == 3 * N


def test_refusals(threads):
    X, y, _ = _data("binary")
    X_dask, y_dask = da.from_array(X, chunks=EVEN), da.from_array(y, chunks=EVEN)
    with pytest.raises(ValueError, match="FrozenEstimator"):
        InfluenceEstimator(LogisticRegression()).fit(X_dask, y_dask)
    with pytest.raises(ValueError, match="single linear model"):
        InfluenceEstimator(FrozenEstimator(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))).fit(
            X_dask, y_dask
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPRegressor(hidden_layer_sizes=(2,), max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="linear models and GLMs"):
        InfluenceEstimator(FrozenEstimator(mlp), damping=1.0).fit(X_dask, y_dask)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="solver must be 'auto', 'exact' or 'cg'"):
        InfluenceEstimator(FrozenEstimator(model), solver="lissa").fit(X_dask, y_dask)
    balanced = LogisticRegression(class_weight="balanced").fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        InfluenceEstimator(FrozenEstimator(balanced)).fit(X_dask, y_dask)
    estimator = InfluenceEstimator(FrozenEstimator(model)).fit(X_dask, y_dask)
    with pytest.raises(ValueError, match="n_probes"):
        estimator.self_influence(n_probes=10)
    with pytest.raises(NotImplementedError, match="fitted on Dask arrays"):
        estimator.leave_group_out(X[:2], y[:2], np.arange(N) % 3)
    with pytest.raises(ValueError, match="set_output"):
        estimator.set_output(transform="pandas").influence(X[:2], y[:2])
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = dd.from_dask_array(X_dask, columns=[f"f{j}" for j in range(P)])
    named = LogisticRegression().fit(pd.DataFrame(X, columns=[f"g{j}" for j in range(P)]), y)
    with pytest.raises(ValueError, match="not the features the model was fitted on"):
        InfluenceEstimator(FrozenEstimator(named)).fit(frame, y_dask)
    with pytest.raises(ValueError, match="numeric columns only"):
        InfluenceEstimator(FrozenEstimator(model)).fit(frame.assign(f0="a"), y_dask)


def test_dask_dataframe_is_converted(threads):
    """A Dask DataFrame (and Series) is read as a Dask array of its columns; queries may be pandas frames."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, weights = _data("binary")
    columns = [f"f{j}" for j in range(P)]
    frame = pd.DataFrame(X, columns=columns)
    model = _MODELS["binary"]().fit(frame, y, sample_weight=weights)
    reference = InfluenceEstimator(FrozenEstimator(model)).fit(frame, y, sample_weight=weights)
    estimator = InfluenceEstimator(FrozenEstimator(model)).fit(
        dd.from_pandas(frame, npartitions=3), dd.from_pandas(pd.Series(y), npartitions=3), sample_weight=weights
    )
    assert list(estimator.feature_names_in_) == columns
    _assert_close(estimator.influence(frame[:4], y[:4]), reference.influence(frame[:4], y[:4]))
    _assert_close(estimator.self_influence(), reference.self_influence())


def test_numpy_fit_after_dask_fit_forgets_it(threads):
    reference, estimator, X, y = _pair("ridge")
    estimator.fit(X, y, sample_weight=_data("ridge")[2])
    assert isinstance(estimator.influence(X[:2], y[:2]), np.ndarray)
    np.testing.assert_allclose(estimator.influence(X[:2], y[:2]), reference.influence(X[:2], y[:2]))


# --- dask-ml's GLMs -------------------------------------------------------------------------------------------


def _dask_ml_data(kind, chunks=EVEN):
    X, y, _ = _data(kind)
    return X, y, da.from_array(X, chunks=(chunks, P)), da.from_array(y, chunks=chunks)


@pytest.mark.parametrize(
    "name, kind, solver, solver_kwargs",
    [
        ("LogisticRegression", "binary", "lbfgs", {}),  # normalize=True: a full quadratic penalty on the reported β
        ("LogisticRegression", "binary", "lbfgs", {"normalize": False}),
        ("LogisticRegression", "binary", "newton", {}),  # newton drops the penalty, whatever C
        ("LinearRegression", "ridge", "admm", {}),
        ("PoissonRegression", "poisson", "lbfgs", {}),
    ],
)
def test_dask_ml_decoded_objective_is_dask_glm_objective(client, name, kind, solver, solver_kwargs):
    """The decoded sum-form objective, at β = A γ, equals dask-glm's own family loss plus its L2 regularizer at γ
    on dask-glm's own standardised columns (its ``normalize`` decorator maps γ to β), at random points."""
    linear_model = pytest.importorskip("dask_ml.linear_model")
    from dask_glm import families, regularizers, utils

    from sklearn_influence._models._design import LinearDesign

    X, y, X_dask, y_dask = _dask_ml_data(kind)
    model = getattr(linear_model, name)(C=0.05, solver=solver, max_iter=3, solver_kwargs=solver_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few iterations: the decoding does not need more
        estimator = InfluenceEstimator(model).fit(X_dask, y_dask)
    family = {"LogisticRegression": families.Logistic, "LinearRegression": families.Normal}.get(name, families.Poisson)
    strength = 0.0 if solver == "newton" else 1 / 0.05
    X1 = np.c_[X, np.ones(N)]
    captured = {}

    def standardised(Xn, y, gamma):
        captured["Xn"] = np.asarray(Xn)
        return gamma.copy()

    # dask-glm's Poisson loss e^f − y f omits the half deviance's constant y log y − y
    constant = np.sum(xlogy(y, y) - y) if name == "PoissonRegression" else 0.0
    rng = np.random.default_rng(1)
    for _ in range(3):
        gamma = 0.3 * rng.normal(size=P + 1)
        if solver_kwargs.get("normalize", True):
            beta = utils.normalize(standardised)(X1, y, gamma=gamma)
        else:
            beta, captured["Xn"] = gamma, X1
        expected = family.pointwise_loss(gamma, captured["Xn"], y) + strength * regularizers.L2().f(gamma)
        objective = estimator._objective
        moved = type(objective).__new__(type(objective))
        moved.__dict__.update(objective.__dict__, coef=beta[None])
        value = moved.value(LinearDesign(X, True), moved.encode(y), np.ones(N))
        np.testing.assert_allclose(value, expected + constant, rtol=1e-10)


@pytest.mark.parametrize("name, kind", [("LogisticRegression", "binary"), ("PoissonRegression", "poisson")])
def test_dask_ml_newton_fit_is_stationary(client, name, kind):
    linear_model = pytest.importorskip("dask_ml.linear_model")
    _, _, X_dask, y_dask = _dask_ml_data(kind)
    estimator = InfluenceEstimator(getattr(linear_model, name)(solver="newton", tol=1e-10)).fit(X_dask, y_dask)
    assert estimator.relative_gradient_norm_ < 1e-8
    assert estimator.params_.shape == (P + 1,)
    frozen = InfluenceEstimator(FrozenEstimator(estimator.estimator_)).fit(X_dask, y_dask)  # fitted elsewhere
    _assert_close(frozen.self_influence(), estimator.self_influence().compute())


def test_dask_ml_newton_leave_one_out_equals_dask_ml_refits(client):
    """Unpenalised least squares by dask-ml's newton solver: Newton leave-one-out against its own refits."""
    linear_model = pytest.importorskip("dask_ml.linear_model")
    X, y, X_dask, y_dask = _dask_ml_data("ridge", chunks=UNEVEN)
    estimator = InfluenceEstimator(linear_model.LinearRegression(solver="newton")).fit(X_dask, y_dask)
    rows = np.array([3, 1000, 1999])
    predicted = estimator.leave_one_out_params(method="newton", indices=rows).compute()
    loss_change = estimator.leave_one_out(X[:4], y[:4], method="newton", indices=rows).compute()
    before = estimator.estimator_.predict(X[:4])
    for column, row in enumerate(rows):
        keep = np.arange(N) != row
        refit = linear_model.LinearRegression(solver="newton").fit(X[keep], y[keep])
        params = np.r_[refit.coef_, refit.intercept_] - estimator.params_
        np.testing.assert_allclose(predicted[column], params, rtol=1e-7, atol=1e-10)
        change = (y[:4] - refit.predict(X[:4])) ** 2 - (y[:4] - before) ** 2
        np.testing.assert_allclose(loss_change[:, column], change, rtol=1e-7, atol=1e-10)


def test_dask_ml_logistic_equals_liblinear(client):
    """dask-ml's logistic regression without standardisation minimises liblinear's objective (intercept
    penalised, intercept_scaling=1): the same coefficients, and the same influence, to the accuracy of dask-glm's
    L-BFGS (it stops on scipy's default relative decrease, ~2e-9, which leaves ~1e-4 of a row's gradient)."""
    linear_model = pytest.importorskip("dask_ml.linear_model")
    X, y, X_dask, y_dask = _dask_ml_data("binary")
    model = linear_model.LogisticRegression(
        C=0.05, solver="lbfgs", tol=1e-10, max_iter=5000, solver_kwargs={"normalize": False}
    )
    estimator = InfluenceEstimator(model).fit(X_dask, y_dask)
    liblinear = LogisticRegression(C=0.05, solver="liblinear", tol=1e-12, max_iter=10_000).fit(X, y)
    reference = InfluenceEstimator(FrozenEstimator(liblinear)).fit(X, y)
    assert estimator.relative_gradient_norm_ < 1e-3
    np.testing.assert_allclose(estimator.params_, reference.params_, rtol=1e-4)
    expected = reference.influence(X[:5], y[:5])
    np.testing.assert_allclose(
        estimator.influence(X[:5], y[:5]).compute(), expected, atol=1e-4 * np.abs(expected).max()
    )
    expected = reference.self_influence()
    np.testing.assert_allclose(estimator.self_influence().compute(), expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_summary_frame_is_the_numpy_frame_of_the_most_self_influential_rows(threads, kind):
    """A computed pandas frame: the numpy path's rows of largest self-influence, in that order, every column."""
    from sklearn_influence._dask._frames import SUMMARY_ROWS

    reference, estimator, X, y = _pair(kind, chunks=UNEVEN)
    Xq, yq = X[:N_QUERIES], y[:N_QUERIES]
    frame, expected = estimator.summary_frame(Xq, yq), reference.summary_frame(Xq, yq)
    order = np.argsort(-expected["self_influence"].to_numpy(), kind="stable")[:SUMMARY_ROWS]
    assert SUMMARY_ROWS < N and frame.index.name == "training_position"
    np.testing.assert_array_equal(frame.index, order)
    assert list(frame.columns) == list(expected.columns)
    for column in expected.columns:
        values, every = expected[column].to_numpy()[order], np.abs(expected[column].to_numpy())
        scale = every[np.isfinite(every)].max() if np.isfinite(every).any() else 1.0  # leverage: NaN for multinomial
        np.testing.assert_allclose(frame[column], values, rtol=0, atol=RTOL * scale, err_msg=column)
