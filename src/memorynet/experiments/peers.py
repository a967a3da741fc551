"""Baselines that users of streaming and continual learning already know, each learning in one pass with
``partial_fit``: nearest class mean, streaming linear discriminant analysis (on the input, or on fixed random
features), an MLP fine-tuned task after task (optionally with a replay buffer), and per-class online k-means.

They exist to be measured beside the Memory Network in the same run (``memorynet reproduce --only continual``
and ``--only fewshot``); they take flat rows (n, D).
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import Interval

from ..models.readout import NearestClassMean, StreamingClassifier, StreamingLDA

__all__ = ["NearestClassMean", "StreamingLDA", "RandomFeatureLDA", "ReplayMLP", "PerClassKMeans"]


class RandomFeatureLDA(StreamingClassifier):
    """Fixed random features and streaming LDA, after RanDumb (Prabhu et al. 2024): random Fourier features of an
    RBF kernel (drawn from ``random_state``; nothing is learnt from data) feed a :class:`StreamingLDA`, chunk by
    chunk.

    Parameters
    ----------
    n_components : int, default=4096
        Random features.
    gamma : float or None, default=None
        The RBF kernel's ``exp(-gamma |x - x'|^2)``; ``None``: ``1 / n_features``.
    shrinkage : float, default=0.01
        As in :class:`StreamingLDA` (may be changed after fitting).
    batch_size : int, default=1000
        Rows mapped and learnt at a time.
    random_state : int, RandomState or None, default=None
        Seed of the random features.
    """

    _parameter_constraints: dict = {"n_components": [Interval(Integral, 1, None, closed="left")],
                                    "gamma": [None, Interval(Real, 0, None, closed="neither")],
                                    "shrinkage": [Interval(Real, 0, 1, closed="both")],
                                    "batch_size": [Interval(Integral, 1, None, closed="left")],
                                    "random_state": ["random_state"]}

    def __init__(self, n_components: int = 4096, gamma: float | None = None, shrinkage: float = 0.01,
                 batch_size: int = 1000, random_state=None):
        self.n_components = n_components
        self.gamma = gamma
        self.shrinkage = shrinkage
        self.batch_size = batch_size
        self.random_state = random_state

    def _start(self, n_features: int) -> None:
        gamma = 1.0 / n_features if self.gamma is None else self.gamma
        self.features_ = RBFSampler(gamma=gamma, n_components=self.n_components,
                                    random_state=self.random_state).fit(np.zeros((1, n_features)))
        self.lda_ = StreamingLDA(self.shrinkage, chunk_precision="float32")

    def _map(self, X):
        """The random features of ``X``, ``batch_size`` rows at a time."""
        for start in range(0, len(X), self.batch_size):
            yield self.features_.transform(X[start:start + self.batch_size])

    def _learn(self, X, idx) -> None:
        for start, features in zip(range(0, len(X), self.batch_size), self._map(X)):
            self.lda_.partial_fit(features, idx[start:start + self.batch_size], classes=np.arange(len(self.classes_)))

    def decision_function(self, X) -> np.ndarray:
        """The linear discriminant of each class over the random features."""
        self.lda_.set_params(shrinkage=self.shrinkage)
        return np.concatenate([self.lda_.decision_function(f) for f in self._map(X)])


class ReplayMLP(StreamingClassifier):
    """A one-hidden-layer MLP trained by backpropagation on each chunk once (one epoch), in mini-batches; with
    ``buffer_size > 0`` every mini-batch is joined by as many images drawn from a reservoir-sampled replay buffer
    (experience replay), one gradient step per joined mini-batch (Adam, scikit-learn's defaults). ``buffer_size=0``
    is plain fine-tuning ("naive")."""

    _parameter_constraints: dict = {"buffer_size": [Interval(Integral, 0, None, closed="left")],
                                    "hidden": [Interval(Integral, 1, None, closed="left")],
                                    "batch_size": [Interval(Integral, 1, None, closed="left")],
                                    "random_state": ["random_state"]}

    def __init__(self, buffer_size: int = 0, hidden: int = 256, batch_size: int = 100, random_state=None):
        self.buffer_size = buffer_size
        self.hidden = hidden
        self.batch_size = batch_size
        self.random_state = random_state

    def _start(self, n_features: int) -> None:
        self.mlp_ = MLPClassifier(hidden_layer_sizes=(self.hidden,), random_state=self.random_state)
        self.buffer_X_ = np.empty((self.buffer_size, n_features))
        self.buffer_y_ = np.empty(self.buffer_size, dtype=np.intp)
        self.seen_ = 0
        self._rng = np.random.default_rng(self.random_state)

    def _learn(self, X, idx) -> None:
        for start in range(0, len(X), self.batch_size):
            xb, yb = X[start:start + self.batch_size], idx[start:start + self.batch_size]
            held = min(self.seen_, self.buffer_size)
            if held:
                pick = self._rng.integers(0, held, len(xb))
                xb, yb = np.concatenate([xb, self.buffer_X_[pick]]), np.concatenate([yb, self.buffer_y_[pick]])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.mlp_.partial_fit(xb, yb, classes=np.arange(len(self.classes_)))
            self._reservoir(X[start:start + self.batch_size], idx[start:start + self.batch_size])

    def _reservoir(self, X, idx) -> None:
        for x, c in zip(X, idx):
            slot = self.seen_ if self.seen_ < self.buffer_size else int(self._rng.integers(0, self.seen_ + 1))
            if slot < self.buffer_size:
                self.buffer_X_[slot], self.buffer_y_[slot] = x, c
            self.seen_ += 1

    def decision_function(self, X) -> np.ndarray:
        return self.mlp_.predict_proba(X)


class PerClassKMeans(StreamingClassifier):
    """``n_prototypes`` per class learnt by scikit-learn's ``MiniBatchKMeans.partial_fit`` on each class's share of
    every chunk (one pass); predicts the class of the nearest prototype. A class whose first chunk holds fewer
    images than prototypes keeps them as prototypes until it has enough."""

    _parameter_constraints: dict = {"n_prototypes": [Interval(Integral, 1, None, closed="left")],
                                    "random_state": ["random_state"]}

    def __init__(self, n_prototypes: int = 100, random_state=None):
        self.n_prototypes = n_prototypes
        self.random_state = random_state

    def _start(self, n_features: int) -> None:
        self.kmeans_ = [MiniBatchKMeans(self.n_prototypes, batch_size=1024, n_init=1, random_state=self.random_state)
                        for _ in self.classes_]
        self.waiting_ = [np.empty((0, n_features)) for _ in self.classes_]

    def _learn(self, X, idx) -> None:
        for c in np.unique(idx):
            rows = X[idx == c]
            if not hasattr(self.kmeans_[c], "cluster_centers_"):
                rows = np.concatenate([self.waiting_[c], rows])
                if len(rows) < self.n_prototypes:
                    self.waiting_[c] = rows
                    continue
                self.waiting_[c] = rows[:0]
            step = max(1024, self.n_prototypes)  # a first block always holds enough rows to start from
            for start in range(0, len(rows), step):
                self.kmeans_[c].partial_fit(rows[start:start + step])

    def prototypes(self) -> tuple[np.ndarray, np.ndarray]:
        """(prototypes (m, D), class index of each)."""
        blocks = [(k.cluster_centers_ if hasattr(k, "cluster_centers_") else w, c)
                  for c, (k, w) in enumerate(zip(self.kmeans_, self.waiting_))]
        return np.concatenate([b for b, _ in blocks]), np.concatenate([np.full(len(b), c) for b, c in blocks])

    def decision_function(self, X) -> np.ndarray:
        centres, owner = self.prototypes()
        distances = (X ** 2).sum(1)[:, None] - 2 * X @ centres.T + (centres ** 2).sum(1)
        scores = np.full((len(X), len(self.classes_)), -np.inf)
        for c in np.unique(owner):
            scores[:, c] = -distances[:, owner == c].min(axis=1)
        return scores
