"""The design matrix ``X̃ = [X, 1]`` of a linear model, never materialised.

Every product the influence computations need goes through this class, so dense and
sparse ``X`` share one code path and the intercept column is never appended to a copy
of ``X``.

float32 ``X`` stays float32 (no float64 copy of it is ever made). Only the products whose
output is a result of size n_queries × n_train (:meth:`LinearDesign.dot_transposed`, used
by ``influence`` and ``top_influences``) run in float32, where a relative error of ~1e-7
per entry is harmless; everything that feeds a solve or a Newton step (predictions, the
gradient, the Hessian, Hessian-vector products, quadratic forms) upcasts one chunk at a
time and accumulates in float64, because CG to 1e-10, stationarity checks and the Newton
denominators ``1 − s a h`` would not survive float32 rounding.

Sparse ``X`` times a block of dense vectors is a gather (``X V``: every stored entry reads
one row of ``V``) or a scatter (``Xᵀ U``: every entry updates one row of the output) over
an operand with ``n_features`` rows. With 100 vectors and 50,000 features that operand
is 40 MB, beyond the caches, and every entry costs a memory round trip; the vectors are
therefore taken a few at a time (:func:`sparse_matmul`), so that the randomly accessed
part stays within :data:`SPARSE_CACHE_BYTES`: one product pair with 100 vectors on
100,000 × 50,000 counts takes 0.68–0.74 s against scipy's 2.0–2.2 s (single thread).
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from scipy.linalg import blas
from sklearn import get_config
from sklearn.utils import gen_batches

#: Size of the randomly accessed dense operand of one sparse product (a few MB: the L2/L3 caches).
SPARSE_CACHE_BYTES = 4 * 2**20
#: Bytes of the reused float64 chunk of scaled rows in :meth:`LinearDesign.sandwich`: within the L2
#: cache, so BLAS reads the scaled rows from there, not from memory (1-8 MB measured alike on 100,000 × 100).
GRAM_CHUNK_BYTES = 2 * 2**20
#: Multiply-adds below which a sparse product stays on one thread: below ~0.1 s of work, starting a
#: pool and slicing X cost more than the second core gains (measured on 20,000 × 10,000 counts).
_THREADED_MIN_WORK = 10**8


class LinearDesign:
    """Design matrix ``X̃`` of shape (n_samples, n_columns), ``X̃ = [X, 1]`` with intercept.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Feature matrix. Sparse input must be CSR (row slicing) and stays sparse.
    fit_intercept : bool
        Whether a constant column of ones is appended.
    n_jobs : int, default=None
        Threads for the sparse products (:func:`sparse_matmul`), resolved by
        :func:`joblib.effective_n_jobs` at each product (so a pickled design adapts to the
        machine it is loaded on); dense products use BLAS's own threads.
    """

    def __init__(self, X, fit_intercept, n_jobs=None):
        self.X = X
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs

    @property
    def n_threads(self):
        """Threads of the next sparse product."""
        return effective_n_jobs(self.n_jobs)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    @property
    def n_columns(self):
        return self.X.shape[1] + int(self.fit_intercept)

    def take(self, rows):
        """Design restricted to ``rows`` (a slice or an integer array)."""
        return LinearDesign(self.X[rows], self.fit_intercept, self.n_jobs)

    @property
    def dtype(self):
        """float32 for float32 ``X``, else float64: the dtype of result-sized products."""
        return np.float32 if self.X.dtype == np.float32 else np.float64

    def _float64_chunks(self):
        """``(rows, X[rows] as float64)`` over chunks (one view when ``X`` is already float64)."""
        if self.X.dtype == np.float64:
            yield slice(0, self.n_samples), self.X
            return
        for rows in row_chunks(self.n_samples, 8 * self.X.shape[1]):
            yield rows, self.X[rows].astype(np.float64)

    def dot(self, V):
        """``X̃ Vᵀ`` for ``V`` of shape (r, n_columns); returns (n_samples, r), in float64."""
        p = self.n_features
        if self.X.dtype == np.float64:
            out = sparse_matmul(self.X, V[:, :p].T, self.n_threads) if sp.issparse(self.X) else self.X @ V[:, :p].T
        else:
            out = np.empty((self.n_samples, V.shape[0]))
            for rows, X in self._float64_chunks():
                out[rows] = sparse_matmul(X, V[:, :p].T, self.n_threads) if sp.issparse(X) else X @ V[:, :p].T
        if self.fit_intercept:
            out += V[:, p]
        return out

    def dot_transposed(self, V, out=None):
        """``V X̃ᵀ`` of shape (r, n_samples) for ``V`` of shape (r, n_columns), into ``out`` if given.

        Computed in :attr:`dtype` (float32 for float32 ``X``): this is the result-sized product.
        For dense C-ordered ``X`` with an intercept, the result is first filled with the
        intercept column and the BLAS product adds ``V X̃ᵀ`` to it (``gemm`` with β = 1, on
        the Fortran-ordered transposes): the fill is the result's first touch, and no second
        read-modify-write pass over the result is needed.
        """
        p = self.n_features
        coef = V[:, :p].astype(self.dtype, copy=False)
        if sp.issparse(self.X):
            # written through the transposed view of out: no second result-sized array
            out = sparse_matmul(self.X, coef.T, self.n_threads, None if out is None else out.T).T
        elif self._intercept_into_gemm(V.shape[0], out):
            if out is None:
                out = np.empty((V.shape[0], self.n_samples), dtype=self.dtype)
            out[...] = V[:, p:]
            gemm = blas.get_blas_funcs("gemm", dtype=self.dtype)
            gemm(1.0, self.X.T, coef.T, beta=1.0, c=out.T, trans_a=True, overwrite_c=True)  # outᵀ += X coefᵀ
            return out
        else:
            out = np.matmul(coef, self.X.T, out=out)
        if self.fit_intercept:
            out += V[:, p:].astype(out.dtype, copy=False)
        return out

    def _intercept_into_gemm(self, n_rows, out):
        """Whether :meth:`dot_transposed` can add ``V X̃ᵀ`` onto the intercepts in place with BLAS ``gemm``.

        Needs an intercept, ``X`` C-ordered in :attr:`dtype` and a C-ordered ``out`` (their
        transposes are then Fortran-ordered, which the BLAS wrapper takes without a copy).
        """
        return (
            self.fit_intercept
            and n_rows > 0
            and self.n_samples > 0
            and self.n_features > 0
            and self.X.dtype == self.dtype
            and self.X.flags.c_contiguous
            and (out is None or (out.flags.c_contiguous and out.dtype == self.dtype))
        )

    def tdot(self, A):
        """``X̃ᵀ A`` transposed for ``A`` of shape (n_samples, r); returns (r, n_columns), in float64."""
        coef_part = np.zeros((A.shape[1], self.X.shape[1]))
        for rows, X in self._float64_chunks():
            coef_part += (sparse_matmul(X.T, A[rows], self.n_threads) if sp.issparse(X) else X.T @ A[rows]).T
        if not self.fit_intercept:
            return coef_part
        return np.hstack([coef_part, A.sum(axis=0)[:, None]])

    def sandwich(self, weights):
        """``X̃ᵀ diag(weights) X̃`` of shape (n_columns, n_columns).

        Dense ``X``: one pass over cache-sized row chunks (:meth:`_scaled_chunks`). With
        non-negative weights each chunk is scaled to ``diag(√w) X̃`` (intercept column
        included) and added by a symmetric rank-k update (BLAS ``syrk``: half the
        multiply-adds of a general product, and no n × p weighted copy of ``X``); signed
        weights (off-diagonal blocks of a multinomial Hessian, a non-convex loss) take a
        general product per chunk. Sparse ``X``: sparse products over chunks bounded by
        ``working_memory``.
        """
        weights = np.asarray(weights, dtype=float)
        if sp.issparse(self.X):
            return self._sparse_sandwich(weights)
        q = self.n_columns
        if np.all(weights >= 0):
            root = np.sqrt(weights)
            upper = np.zeros((q, q), order="F")
            for _, scaled in self._scaled_chunks(root):
                # syrk on the Fortran-ordered transpose of the C-ordered chunk: no copy, C += scaledᵀ scaled
                upper = blas.dsyrk(1.0, scaled.T, beta=1.0, c=upper, overwrite_c=True)
            return np.triu(upper) + np.triu(upper, 1).T
        gram = np.zeros((q, q))
        for rows, plain in self._scaled_chunks(None):
            gram += plain.T @ (plain * weights[rows, None])
        return gram

    def _scaled_chunks(self, scale):
        """``(rows, diag(scale[rows]) X̃[rows])`` over row chunks, as float64 (``scale=None``: ``X̃[rows]``).

        Dense ``X`` only. Every chunk is written into one reused buffer of about
        :data:`GRAM_CHUNK_BYTES`, so it is still in the cache when the BLAS product reads it,
        but of at least ``n_columns`` rows, so that a product into an ``n_columns²`` output
        does enough work per call; ``working_memory`` caps both. Each yielded chunk is
        overwritten by the next.
        """
        X, p = self.X, self.n_features
        rows_per_chunk = max(GRAM_CHUNK_BYTES // (8 * self.n_columns), self.n_columns)
        chunks = list(row_chunks(self.n_samples, 8 * self.n_columns, max_rows=rows_per_chunk))
        if not chunks:
            return
        buffer = np.empty((chunks[0].stop - chunks[0].start, self.n_columns))
        for rows in chunks:
            chunk = buffer[: rows.stop - rows.start]
            if scale is None:
                chunk[:, :p] = X[rows]
            else:
                np.multiply(X[rows], scale[rows, None], out=chunk[:, :p])
            if self.fit_intercept:
                chunk[:, p] = 1.0 if scale is None else scale[rows]
            yield rows, chunk

    def _sparse_sandwich(self, weights):
        """:meth:`sandwich` for sparse ``X``: sparse products over chunks bounded by ``working_memory``."""
        X, p = self.X, self.X.shape[1]
        xtdx = np.zeros((p, p))
        for rows in row_chunks(self.n_samples, 8 * p):
            chunk, w = X[rows].astype(np.float64, copy=False), weights[rows]
            xtdx += (chunk.T @ chunk.multiply(w[:, None]).tocsr()).toarray()
        if not self.fit_intercept:
            return xtdx
        out = np.empty((p + 1, p + 1))
        out[:p, :p] = xtdx
        out[:p, p] = out[p, :p] = self.tdot(weights[:, None])[0, :p]
        out[p, p] = weights.sum()
        return out

    def squared_column_sums(self, weights):
        """``Σ_i weights_i X̃_ic²`` for every column c: the diagonal of ``sandwich(weights)``."""
        X = self.X
        diag = np.zeros(X.shape[1])
        for rows in row_chunks(self.n_samples, 8 * X.shape[1]):
            chunk = X[rows].astype(np.float64, copy=False)
            squares = chunk.multiply(chunk) if sp.issparse(chunk) else chunk * chunk
            diag += np.asarray(squares.T @ weights[rows]).ravel()
        if self.fit_intercept:
            diag = np.append(diag, weights.sum())
        return diag

    def squared_row_norms(self):
        """``||x̃_i||²`` for every row."""
        X = self.X
        if sp.issparse(X):
            norms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        else:
            norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        return norms + float(self.fit_intercept)

    def dense(self):
        """``X̃`` as a dense array (only ever called on one chunk)."""
        X = self.X.toarray() if sp.issparse(self.X) else self.X
        if self.fit_intercept:
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        return np.asarray(X, dtype=float)


def sparse_matmul(X, dense, n_threads=1, out=None):
    """``X @ dense`` for sparse ``X`` (CSR or CSC) and dense ``dense`` of shape (n, r).

    A CSR product gathers rows of ``dense`` (``X.shape[1]`` of them), a CSC product
    scatters into rows of the output (``X.shape[0]``). When that randomly accessed operand
    is well beyond :data:`SPARSE_CACHE_BYTES`, the columns of ``dense`` are taken in blocks
    whose operand fits in it. With ``n_threads`` > 1 (scipy releases the GIL in sparse
    products) a CSR product splits its rows among the threads, each reading its share of
    ``X``; a CSC product splits the column blocks. Same result as ``X @ dense``.

    Parameters
    ----------
    X : sparse matrix of shape (m, n)
        CSR or CSC (other formats are converted to CSR).
    dense : ndarray of shape (n, r)
        Dense right factor.
    n_threads : int, default=1
        Threads (used only when the product is large enough to pay for them).
    out : ndarray of shape (m, r), default=None
        Where to write the product (any memory layout); a new array when ``None``.

    Returns
    -------
    product : ndarray of shape (m, r)
        ``X @ dense``.
    """
    if X.format not in ("csr", "csc"):
        X = X.tocsr()
    r = dense.shape[1]
    threads = min(n_threads, X.shape[0] if X.format == "csr" else r) if X.nnz * r >= _THREADED_MIN_WORK else 1
    if threads <= 1:
        return _blocked_product(X, dense, out)
    if out is None:
        out = np.empty((X.shape[0], r), dtype=np.result_type(X.dtype, dense.dtype))
    if X.format == "csr":
        edges = np.linspace(0, X.shape[0], threads + 1).astype(int)
        jobs = [(X[a:b], dense, out[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    else:
        edges = np.linspace(0, r, threads + 1).astype(int)
        jobs = [(X, dense[:, a:b], out[:, a:b]) for a, b in zip(edges[:-1], edges[1:])]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda job: _blocked_product(*job), jobs))
    return out


def _blocked_product(X, dense, out=None):
    """``X @ dense`` (into ``out`` if given), in column blocks when the random operand exceeds the caches."""
    random_rows = X.shape[1] if X.format == "csr" else X.shape[0]
    r = dense.shape[1]
    if dense.itemsize * random_rows * r <= 4 * SPARSE_CACHE_BYTES:
        if out is None:
            return np.asarray(X @ dense)
        out[...] = X @ dense
        return out
    if out is None:
        out = np.empty((X.shape[0], r), dtype=np.result_type(X.dtype, dense.dtype))
    step = max(1, SPARSE_CACHE_BYTES // (dense.itemsize * max(random_rows, 1)))
    for start in range(0, r, step):
        out[:, start : start + step] = X @ np.ascontiguousarray(dense[:, start : start + step])
    return out


def row_chunks(n_rows, bytes_per_row, max_rows=None):
    """Slices over ``n_rows`` rows bounded by scikit-learn's ``working_memory`` config (and by ``max_rows``)."""
    if n_rows == 0:
        return iter(())
    budget = get_config()["working_memory"] * 2**20  # MiB
    chunk = int(budget // max(int(bytes_per_row), 1))
    if max_rows is not None:
        chunk = min(chunk, max_rows)
    return gen_batches(n_rows, min(max(chunk, 1), max(n_rows, 1)))
