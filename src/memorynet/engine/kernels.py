"""Numeric kernels: distances, nearest-neuron search and the running-mean update.

Every function is pure (arrays in, arrays out, no hidden state). Inputs are float32 row matrices
``X`` (n, D) and neuron banks ``M`` (m, D). Distance matrices are built block by block so that the
working set stays within scikit-learn's ``working_memory`` setting (``sklearn.set_config``), never n x m at once.

Distances (``metric``):
- ``"l2"``: squared Euclidean, ``|x|^2 - 2 x.m + |m|^2`` with one BLAS product per block, clipped at 0;
- ``"cosine"``: ``1 - cos(x, m)``, one BLAS product on unit rows (a zero row counts as orthogonal to all);
- ``"l1"``: sum of absolute differences; ``"lp"``: Minkowski ``(sum |x - m|^p)^(1/p)`` (SciPy ``cdist``).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial.distance import cdist
from sklearn import get_config
from sklearn.utils import gen_batches

__all__ = ["METRICS", "pairwise_distances", "nearest_neurons", "nearest_other_of_label", "nearest_one_l2",
           "nearest_same_label", "nearest_per_class", "scatter_mean_update", "three_way_mean", "merge_costs",
           "closest_disjoint_pairs", "row_sq_norms", "unit_rows"]

METRICS = ("l2", "l1", "cosine", "lp")


def row_sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared L2 norm of each row, (n,) float32."""
    return np.einsum("ij,ij->i", X, X)


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (a zero row stays zero), float32."""
    norms = np.sqrt(row_sq_norms(X))
    norms[norms == 0] = 1.0
    return X / norms[:, None]


def pairwise_distances(X: np.ndarray, M: np.ndarray, metric: str = "l2", *, p: float = 2.0) -> np.ndarray:
    """Distances between every row of ``X`` (n, D) and every row of ``M`` (m, D), as (n, m) float32."""
    if metric == "l2":
        D = _l2_scores(X, M, row_sq_norms(M))
        D += row_sq_norms(X)[:, None]
        return np.maximum(D, 0.0, out=D)
    if metric == "cosine":
        D = unit_rows(X) @ unit_rows(M).T
        return np.subtract(1.0, D, out=D)
    if metric == "l1":
        return cdist(X, M, metric="cityblock").astype(np.float32)
    if metric == "lp":
        return cdist(X, M, metric="minkowski", p=p).astype(np.float32)
    raise ValueError(f"unknown distance {metric!r}; choose one of {', '.join(METRICS)}")


def _blocks(n_rows: int, n_cols: int):
    """Row blocks of an (n_rows, n_cols) float32 distance matrix that fit in the working memory."""
    budget = get_config()["working_memory"] * 2**20  # MiB -> bytes
    rows = int(min(max(n_rows, 1), max(1, budget // (8 * max(n_cols, 1)))))  # D and its argmin temporaries
    return gen_batches(n_rows, rows)


def _l2_scores(X: np.ndarray, M: np.ndarray, m_norms: np.ndarray) -> np.ndarray:
    """``|m|^2 - 2 x.m`` (n, m): squared L2 distance less the row constant ``|x|^2``, so same argmin.

    One BLAS product with ``-2 X`` and one pass to add the norms: the fewest passes over the n x m block.
    """
    scores = (X * np.float32(-2.0)) @ M.T
    scores += m_norms[None, :]
    return scores


_TILE_QUERIES, _TILE_NEURONS = 2048, 8192  # a 64 MiB score tile: big enough for BLAS, small enough to stay hot
_CLASS_TILE_QUERIES, _CLASS_TILE_NEURONS = 512, 4096  # per-class minima (measured: fastest for D of 100-200)
_MEAN_TILE_BYTES = 1 << 19  # running means: float64 rows of this size at a time (measured: 2-3x faster)


def nearest_one_l2(X: np.ndarray, M: np.ndarray, m_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest row of ``M`` (squared L2, ``m_norms`` its rows' squared norms) for each row of ``X``, as (n, 1)
    distances and indices; tile by tile over queries *and* neurons, keeping a running best, so the pass after
    each BLAS product runs on a cache-sized tile. Ties go to the lower index."""
    n = len(X)
    best = np.full(n, np.inf, dtype=np.float32)
    index = np.zeros(n, dtype=np.intp)
    for q0 in range(0, n, _TILE_QUERIES):
        queries = X[q0:q0 + _TILE_QUERIES] * np.float32(-2.0)
        b, i = best[q0:q0 + _TILE_QUERIES], index[q0:q0 + _TILE_QUERIES]  # views, updated in place
        for m0 in range(0, len(M), _TILE_NEURONS):
            scores = queries @ M[m0:m0 + _TILE_NEURONS].T
            scores += m_norms[None, m0:m0 + _TILE_NEURONS]
            j = scores.argmin(axis=1)
            value = scores[np.arange(len(scores)), j]
            better = value < b  # strict: an earlier tile keeps a tie
            b[better], i[better] = value[better], j[better] + m0
    distances = np.maximum(best + row_sq_norms(X), 0.0)
    return distances[:, None], index[:, None]


def nearest_neurons(X: np.ndarray, M: np.ndarray, k: int = 1, metric: str = "l2", *,
                    p: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``M`` for each row of ``X``, nearest first.

    Returns ``(distances, indices)``, each (n, k); ``k`` is capped at ``len(M)``. Ties go to the lower index.
    """
    n, m = len(X), len(M)
    k = min(k, m)
    if metric == "l2" and k == 1 and m:
        return nearest_one_l2(X, M, row_sq_norms(M))
    distances = np.empty((n, k), dtype=np.float32)
    indices = np.empty((n, k), dtype=np.intp)
    m_norms = row_sq_norms(M) if metric == "l2" else None
    for rows in _blocks(n, m):
        D = _l2_scores(X[rows], M, m_norms) if metric == "l2" else pairwise_distances(X[rows], M, metric, p=p)
        if k == 1:
            idx = D.argmin(axis=1)[:, None]
        else:
            part = np.argpartition(D, k - 1, axis=1)[:, :k]
            part.sort(axis=1)  # lower index first, so the stable sort below breaks ties by index
            order = np.argsort(np.take_along_axis(D, part, axis=1), axis=1, kind="stable")
            idx = np.take_along_axis(part, order, axis=1)
        indices[rows] = idx
        picked = np.take_along_axis(D, idx, axis=1)
        if metric == "l2":
            picked = np.maximum(picked + row_sq_norms(X[rows])[:, None], 0.0)
        distances[rows] = picked
    return distances, indices


def nearest_other_of_label(X: np.ndarray, labels: np.ndarray, metric: str = "l2", *, p: float = 2.0) -> np.ndarray:
    """Each row's distance to the nearest other row of its label (leave one out), over the labels with at least
    two rows, label by label in sorted order, (m,) float32; rows alone in their label are left out."""
    nearest = [np.zeros(0, dtype=np.float32)]
    for label in np.unique(labels):
        members = X[labels == label]
        if len(members) > 1:
            nearest.append(nearest_neurons(members, members, 2, metric, p=p)[0][:, 1])  # column 0: the row itself
    return np.concatenate(nearest)


def nearest_same_label(X: np.ndarray, x_labels: np.ndarray, M: np.ndarray, m_labels: np.ndarray,
                       metric: str = "l2", *, p: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``X``, the nearest row of ``M`` that carries the same label.

    Returns ``(distances, indices)``, each (n,); rows whose label has no neuron get ``inf`` and ``-1``.
    Only same-label pairs are compared: the cost is the sum over labels of n_label x m_label.
    """
    distances = np.full(len(X), np.inf, dtype=np.float32)
    indices = np.full(len(X), -1, dtype=np.intp)
    if len(M) == 0 or len(X) == 0:
        return distances, indices
    order = np.argsort(m_labels, kind="stable")
    sorted_labels = m_labels[order]
    for label in np.unique(x_labels):
        lo = np.searchsorted(sorted_labels, label, side="left")
        hi = np.searchsorted(sorted_labels, label, side="right")
        if lo == hi:
            continue
        rows = np.flatnonzero(x_labels == label)
        candidates = order[lo:hi]
        d, j = nearest_neurons(X[rows], M[candidates], 1, metric, p=p)
        distances[rows] = d[:, 0]
        indices[rows] = candidates[j[:, 0]]
    return distances, indices


def scatter_mean_update(memories: np.ndarray, counters: np.ndarray, targets: np.ndarray, X: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running-mean update of the neurons ``targets`` (n,) with the inputs ``X`` (n, D).

    A neuron hit by k inputs becomes ``(c * r + sum x) / (c + k)``, exactly the result of k one-by-one
    running-mean updates; with integer ``weights`` (n,) an input of weight w counts as w identical inputs:
    ``(c * r + sum w x) / (c + sum w)``. Returns ``(rows, new_memories, new_counters)`` for the distinct rows hit;
    ``memories`` and ``counters`` are not modified.
    """
    rows, inverse, hits = np.unique(targets, return_inverse=True, return_counts=True)
    values = np.ones(len(targets), dtype=X.dtype) if weights is None else weights.astype(np.float64)
    if weights is not None:
        hits = np.bincount(inverse, weights=weights, minlength=len(rows)).astype(np.int64)
    # Per-row sums as a sparse one-hot (rows x inputs) product: one C loop, ~15x faster than sorting + reduceat.
    one_hot = csr_matrix((values, (inverse, np.arange(len(targets)))), shape=(len(rows), len(targets)))
    sums = one_hot @ X
    counts = counters[rows].astype(np.float64)
    totals = counts + hits
    new = np.empty((len(rows), memories.shape[1]), dtype=memories.dtype)
    step = max(1, _MEAN_TILE_BYTES // (8 * memories.shape[1]))
    for r in range(0, len(rows), step):  # float64 temporaries of a cache-sized tile of rows, not of them all
        tile = slice(r, r + step)
        new[tile] = (memories[rows[tile]] * counts[tile, None] + sums[tile]) / totals[tile, None]
    return rows, new, counters[rows] + hits


def three_way_mean(mine: tuple[np.ndarray, np.ndarray], theirs: tuple[np.ndarray, np.ndarray],
                   base: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Running means of the same neurons learnt apart from a common ``base``, joined exactly: each argument is
    ``(memories (n, D), counters (n,))``; returns ``(memories, counters)`` as if every input either side absorbed
    since the base had been absorbed by one neuron, ``(c1 r1 + c2 r2 - c0 r0) / (c1 + c2 - c0)``."""
    (m1, c1), (m2, c2), (m0, c0) = mine, theirs, base
    counters = c1 + c2 - c0
    sums = (m1 * c1[:, None].astype(np.float64) + m2 * c2[:, None].astype(np.float64)
            - m0 * c0[:, None].astype(np.float64))
    return (sums / counters[:, None]).astype(m1.dtype), counters


def nearest_per_class(X: np.ndarray, M: np.ndarray, m_classes: np.ndarray, n_classes: int, metric: str = "l2", *,
                      p: float = 2.0) -> np.ndarray:
    """Distance from each row of ``X`` to the nearest row of ``M`` of every class, (n, n_classes) float32.

    Classes without a row get ``inf``. Squared L2: tile by tile of queries and neurons; other metrics: block by
    block within the working memory.
    """
    out = np.full((len(X), n_classes), np.inf, dtype=np.float32)
    order = np.argsort(m_classes, kind="stable")
    M_sorted, sorted_classes = M[order], m_classes[order]
    if metric == "l2" and len(M):
        # |m|^2 - 2 x.m per class minimum, an 8 MiB tile of queries x neurons at a time (the passes after each
        # product stay in cache); |x|^2 and the clamp at zero are added to the (n, classes) minima at the end: both
        # are monotonic, so the minima are the same numbers.
        m_norms = row_sq_norms(M_sorted)
        for m0 in range(0, len(M), _CLASS_TILE_NEURONS):
            neurons = slice(m0, m0 + _CLASS_TILE_NEURONS)
            classes, edges = np.unique(sorted_classes[neurons], return_index=True)  # class runs in this tile
            for q0 in range(0, len(X), _CLASS_TILE_QUERIES):
                rows = slice(q0, q0 + _CLASS_TILE_QUERIES)
                minima = np.minimum.reduceat(_l2_scores(X[rows], M_sorted[neurons], m_norms[neurons]), edges, axis=1)
                block = out[rows]  # a view: rows is a slice
                block[:, classes] = np.minimum(block[:, classes], minima, out=minima)
        out += row_sq_norms(X)[:, None]
        return np.maximum(out, 0.0, out=out)
    present, starts = np.unique(sorted_classes, return_index=True)
    for rows in _blocks(len(X), len(M)):
        D = pairwise_distances(X[rows], M_sorted, metric, p=p)
        block = out[rows]  # a view: rows is a slice
        block[:, present] = np.minimum.reduceat(D, starts, axis=1)
    return out


def merge_costs(D: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Ward's cost of merging each pair of neurons, (m, m): their distance ``D`` (squared L2: exactly the growth
    of the summed squared deviations) times ``c_i c_j / (c_i + c_j)`` of their counters. Merging cheapest first
    keeps the neurons' density where the inputs' is: dense regions do not lose every neuron before sparse ones."""
    c = np.asarray(counts, dtype=np.float32)
    return D * (np.outer(c, c) / (c[:, None] + c[None, :]))


def closest_disjoint_pairs(D: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` pairs (i, j), i < j, of a symmetric (m, m) distance matrix, closest first, no index reused.

    Returns ``(keep, drop)`` index arrays. Greedy: the closest pair, then the closest among unused rows, ...;
    only a shortlist of the smallest distances is sorted, widened when it runs out of disjoint pairs.
    """
    m = len(D)
    i, j = np.triu_indices(m, k=1)
    values = D[i, j]
    shortlist = min(len(values), max(8 * k, 64))
    while True:
        candidates = np.argpartition(values, shortlist - 1)[:shortlist] if shortlist < len(values) \
            else np.arange(len(values))
        candidates = candidates[np.argsort(values[candidates], kind="stable")]
        used = np.zeros(m, dtype=bool)
        keep, drop = [], []
        for c in candidates:
            if len(keep) == k:
                break
            a, b = i[c], j[c]
            if not used[a] and not used[b]:
                used[a] = used[b] = True
                keep.append(a)
                drop.append(b)
        if len(keep) == k or shortlist == len(values):
            return np.array(keep, dtype=np.intp), np.array(drop, dtype=np.intp)
        shortlist = min(len(values), 4 * shortlist)  # too many shared rows among the shortlist: widen it
