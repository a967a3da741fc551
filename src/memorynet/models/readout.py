"""Streaming readouts learnt in one pass from accumulated statistics, with closed-form predictions: nearest class
mean and streaming linear discriminant analysis. :class:`~memorynet.PrototypeCodeClassifier` learns its readout
with :class:`StreamingLDA`; the experiments also run both as baselines on raw rows (n, D).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import on_device, tiled_scatter
from .tiled_solve import solve_shrunk

__all__ = ["StreamingClassifier", "NearestClassMean", "StreamingLDA"]

COLUMN_BLOCK = 2048  # columns of a chunk summed in float64 together
ROW_BLOCK = 128  # rows of a chunk centred in float64 together


class StreamingClassifier(ClassifierMixin, BaseEstimator):
    """``fit`` = a fresh start, then the same step as ``partial_fit``; classes declared on the first call."""

    _parameter_constraints: dict = {}

    def fit(self, X, y):
        for attribute in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attribute)
        return self.partial_fit(X, y, classes=np.unique(y))

    def partial_fit(self, X, y, classes=None):
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32))  # float32 kept as it is
        if first:
            self._validate_params()
            self.classes_ = np.unique(y if classes is None else classes)
            self._start(X.shape[1])
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"labels {np.unique(y[unknown]).tolist()} were not declared on the first partial_fit "
                             "call (classes=...)")
        self._learn(X, np.searchsorted(self.classes_, y))
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


class NearestClassMean(StreamingClassifier):
    """Running mean of every class; predicts the class whose mean is nearest (L2). Classes not yet seen are never
    predicted."""

    def _start(self, n_features: int) -> None:
        self.means_ = np.zeros((len(self.classes_), n_features))
        self.counts_ = np.zeros(len(self.classes_), dtype=np.int64)

    def _class_sums(self, X, idx) -> tuple[np.ndarray, np.ndarray]:
        """(counts, float64 sums) of each class's rows; float32 rows are summed in float64 a block of columns at a
        time (never a float64 copy of the whole chunk)."""
        counts = np.bincount(idx, minlength=len(self.classes_))
        members = np.eye(len(counts))[idx].T
        sums = np.empty((len(counts), X.shape[1]))
        for columns in gen_batches(X.shape[1], COLUMN_BLOCK):
            sums[:, columns] = members @ X[:, columns]
        return counts, sums

    def _learn(self, X, idx) -> None:
        self._add_to_means(*self._class_sums(X, idx))

    def _add_to_means(self, counts: np.ndarray, sums: np.ndarray) -> None:
        """Pool a chunk's class ``counts`` and ``sums`` into the running means."""
        total = self.counts_ + counts
        self.means_ = (self.means_ * self.counts_[:, None] + sums) / np.maximum(total, 1)[:, None]
        self.counts_ = total

    def discriminant(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights (D, C), bias (C,)) of the linear scores ``X @ weights + bias``: here the negative squared
        distance to each class mean, less the constant ``|x|^2``."""
        return 2 * self.means_.T, -(self.means_ ** 2).sum(axis=1)

    def decision_function(self, X) -> np.ndarray:
        """The linear score of each class, ``X @ weights + bias`` (:meth:`discriminant`; ``-inf`` for classes not
        seen yet)."""
        weights, bias = self.discriminant()
        scores = X @ weights + bias
        scores[:, self.counts_ == 0] = -np.inf
        return scores


class StreamingLDA(NearestClassMean):
    """Streaming linear discriminant analysis (Hayes & Kanan 2020): running class means and a running shared
    within-class covariance, updated exactly chunk by chunk; predicts with the closed-form linear discriminant.

    Parameters
    ----------
    shrinkage : float, default=1e-4
        The covariance used is ``(1 - shrinkage) * S + shrinkage * I``.
    chunk_precision : {"float64", "float32"}, default="float64"
        Precision of the running scatter (its lower square tiles, packed: ``scatter_tiles_``, updated in place by
        rank-k products per chunk; :mod:`memorynet.models.tiled_scatter`). ``"float32"`` is about twice as fast
        and half the memory, for wide features (relative error of a few 1e-6 after tens of chunks); ``"float64"``
        is exact to rounding.
    device : str or None, default=None
        A PyTorch device (``"cuda"``, ``"cpu"``): the chunks' rank-k updates are computed there into a square
        scatter that is added to the packed tiles when they are read, and the discriminant is solved there in
        float64 (:mod:`memorynet.models.on_device`); ``None``: on the host with BLAS.
    """

    _parameter_constraints: dict = {"shrinkage": [Interval(Real, 0, 1, closed="both")],
                                    "chunk_precision": [StrOptions({"float64", "float32"})], "device": [None, str]}

    def __init__(self, shrinkage: float = 1e-4, chunk_precision: str = "float64", device: str | None = None):
        self.shrinkage = shrinkage
        self.chunk_precision = chunk_precision
        self.device = device

    def _start(self, n_features: int) -> None:
        super()._start(n_features)
        self.scatter_tiles_ = tiled_scatter.zeros(n_features, self.chunk_precision)
        self._solved = None

    @property
    def scatter_tiles_(self) -> np.ndarray:
        """The running scatter's packed lower tiles (:mod:`.tiled_scatter`), with what the device holds added."""
        pending = self.__dict__.get("_pending")
        if pending is not None:
            on_device.fold(self._scatter_tiles, pending)
            self._pending = None
        return self._scatter_tiles

    @scatter_tiles_.setter
    def scatter_tiles_(self, tiles: np.ndarray) -> None:
        self._scatter_tiles, self._pending = tiles, None

    def __getstate__(self):
        if hasattr(self, "_scatter_tiles"):
            self.scatter_tiles_  # noqa: B018 (folds the device's part: a saved readout holds no device tensor)
        return super().__getstate__()

    def _learn(self, X, idx) -> None:
        counts, sums = self._class_sums(X, idx)
        present = counts > 0
        chunk_means = sums / np.maximum(counts, 1)[:, None]
        # pooled within-class scatter: the chunk's own (rows centred on their chunk class means), plus the shift
        # between its class means and the old ones; both as symmetric rank-k updates of the packed tiles
        old = self.counts_[present]
        shift = (chunk_means[present] - self.means_[present]) * np.sqrt(old * counts[present]
                                                                         / (old + counts[present]))[:, None]
        if self.device is None:
            self._add_scatter(X, idx, chunk_means, shift)
        else:
            if self.__dict__.get("_pending") is None:
                self._pending = on_device.new_scatter(X.shape[1], self.chunk_precision, self.device)
            on_device.add_chunk(self._pending, X, chunk_means, idx, shift)
        self._add_to_means(counts, sums)
        self._solved = None

    def _add_scatter(self, X, idx, chunk_means: np.ndarray, shift: np.ndarray) -> None:
        """The chunk's scatter added to the packed tiles on the host."""
        centred = tiled_scatter.zero_rows(len(X), self.scatter_tiles_)  # the padding's columns stay 0
        for rows in gen_batches(len(X), ROW_BLOCK):  # in float64, rounded to the scatter's precision
            np.subtract(X[rows], chunk_means[idx[rows]], out=centred[rows, :X.shape[1]])
        tiled_scatter.add_rank(self.scatter_tiles_, centred)
        del centred
        tiled_scatter.add_rank(self.scatter_tiles_, shift)

    def scatter(self) -> np.ndarray:
        """The pooled within-class scatter matrix (float64, symmetric)."""
        return tiled_scatter.unpack(self.scatter_tiles_, self.n_features_in_)

    def restore(self, classes: np.ndarray, means: np.ndarray, counts: np.ndarray, scatter: np.ndarray) -> None:
        """Take up the statistics of an earlier stream (``means_``, ``counts_`` and the scatter: its packed tiles
        ``scatter_tiles_``, or a square matrix whose upper triangle holds it, as :meth:`scatter` gives it)."""
        self._validate_params()
        self.classes_, self.n_features_in_ = classes, means.shape[1]
        self.means_, self.counts_, self._solved = means, counts, None
        self.scatter_tiles_ = (np.array(scatter, dtype=self.chunk_precision) if scatter.ndim == 3
                               else tiled_scatter.pack(scatter, self.chunk_precision))

    def merge(self, other: StreamingLDA) -> None:
        """Take in the statistics ``other`` learnt from other images of the same classes, exactly: counts added,
        means pooled, scatters added with the between-means term ``n1 n2 / (n1 + n2) (m1 - m2)(m1 - m2)^T``."""
        check_is_fitted(other)
        if not hasattr(self, "counts_"):  # nothing learnt here yet: a copy of the other's statistics
            self._validate_params()
            self.classes_, self.n_features_in_ = other.classes_.copy(), other.n_features_in_
            self.means_, self.counts_, self._solved = other.means_.copy(), other.counts_.copy(), None
            self.scatter_tiles_ = np.array(other.scatter_tiles_, dtype=self.chunk_precision)
            return
        if not np.array_equal(self.classes_, other.classes_) or self.n_features_in_ != other.n_features_in_:
            raise ValueError("only readouts of the same classes and features can be merged")
        total = self.counts_ + other.counts_
        shift = (other.means_ - self.means_) * np.sqrt(self.counts_ * other.counts_ / np.maximum(total, 1))[:, None]
        self.scatter_tiles_ += np.asarray(other.scatter_tiles_, dtype=self.chunk_precision)
        tiled_scatter.add_rank(self.scatter_tiles_, shift)
        self.means_ = (self.means_ * self.counts_[:, None] + other.means_ * other.counts_[:, None]) \
            / np.maximum(total, 1)[:, None]
        self.counts_, self._solved = total, None

    def insert_classes(self, n_classes: int, positions: np.ndarray) -> None:
        """Grow to ``n_classes`` class indices, the known ones moving to ``positions``; new classes have no
        statistics yet (never predicted until taught)."""
        if not hasattr(self, "counts_"):
            return
        means = np.zeros((n_classes, self.means_.shape[1]))
        counts = np.zeros(n_classes, dtype=np.int64)
        means[positions], counts[positions] = self.means_, self.counts_
        self.classes_, self.means_, self.counts_, self._solved = np.arange(n_classes), means, counts, None

    def covariance(self) -> np.ndarray:
        """The shrunk shared covariance ``(1 - shrinkage) * scatter / n + shrinkage * I``."""
        covariance = self.scatter() * self._scale()
        covariance.flat[::len(covariance) + 1] += self.shrinkage
        return covariance

    def _scale(self) -> float:
        return (1 - self.shrinkage) / max(int(self.counts_.sum()), 1)

    def discriminant(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights (D, C), bias (C,)) of the linear discriminants, solved once per data and shrinkage."""
        if self._solved is None or self._solved[0] != self.shrinkage:  # new data or another shrinkage
            if self.device is None:
                weights = solve_shrunk(self.scatter_tiles_, self.n_features_in_, self._scale(), self.shrinkage,
                                       self.means_.T)
            else:  # the tiles and what the device holds, added there (no round trip of the device's part)
                weights = on_device.solve_shrunk(self._scatter_tiles, self.__dict__.get("_pending"),
                                                      self._scale(), self.shrinkage, self.means_.T, self.device)
            self._solved = (self.shrinkage, weights, -0.5 * np.einsum("cd,dc->c", self.means_, weights))
        return self._solved[1], self._solved[2]
