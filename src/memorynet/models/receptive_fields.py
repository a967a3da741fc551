"""Local receptive fields: one neuron bank per image position, no weights shared across positions.

Each image is cut into (possibly overlapping) ``patch_size`` x ``patch_size`` patches on a grid of ``stride``.
The patch at each grid position has its own bank, trained by the same one-pass rule on that patch alone, or with
``patch_jitter`` on every patch of the image whose corner lies that many pixels or fewer from the position's (the
image's own pixels, nothing altered; the bank is still searched with its own position's patch only). An image is
classified by combining the positions: ``"distance"`` sums, over positions, each class's distance from the patch
to that position's nearest neuron of the class, and picks the class with the smallest sum; ``"vote"`` lets the
``n_neighbors`` nearest neurons of each position vote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import effective_n_jobs
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..engine import voting
from ..engine.bank import NeuronBank
from ..engine.rule import Batch, batch_rows
from ..engine.schedule import run_interleaved
from .base import PARAMETER_CONSTRAINTS
from .labelled import LabelledMemoryEstimator

__all__ = ["LocalReceptiveFieldClassifier", "PatchGrid", "patch_grid"]


def patch_grid(height: int, width: int, patch_size: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of the patches (clipped to the image); the last row and column meet the image border."""
    def starts(size):
        last = max(size - patch_size, 0)
        return sorted(set(range(0, last + 1, stride)) | {last})
    return [(r, c) for r in starts(height) for c in starts(width)]


class PatchGrid:
    """Image layout of a model with one bank per patch position (needs ``patch_size``, ``stride``,
    ``patch_jitter``, ``n_jobs``): the grid of corners, what each bank sees and learns from, and work spread over
    the positions."""

    def _default_image_shape(self, n_features):
        side = int(round(np.sqrt(n_features)))
        return (1, side, side) if side * side == n_features else (1, 1, n_features)

    @property
    def corners_(self) -> list[tuple[int, int]]:
        check_is_fitted(self)
        return patch_grid(self.image_shape_[1], self.image_shape_[2], self.patch_size, self.stride)

    def _bank_layout(self):
        return self.corners_, (self.image_shape_[0], *self._patch_shape())

    def _patch_shape(self) -> tuple[int, int]:
        return min(self.patch_size, self.image_shape_[1]), min(self.patch_size, self.image_shape_[2])

    def _bank_rows(self, images, position):
        return self._patches(images, self.corners_[position])

    def _patches(self, images: np.ndarray, corner: tuple[int, int],
                 rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The patch at ``corner`` of the images (n, C, H, W) at ``rows`` (default: all), as contiguous rows
        (rows, C*h*w); only the patches are copied."""
        (r, c), (height, width) = corner, self._patch_shape()
        patches = images[rows, :, r:r + height, c:c + width]
        return patches.reshape(len(patches), -1)  # a copy in C order (a view only of whole contiguous images)

    def _bank_inputs_per_sample(self) -> int:
        return (2 * self.patch_jitter + 1) ** 2  # an image teaches a bank every patch around its position

    def _neighbourhood(self, position: int) -> list[tuple[int, int]]:
        """The patch corners within ``patch_jitter`` pixels of the corner of ``position`` (rows and columns),
        clipped to the image, each once."""
        (row, col), (rows, cols) = self.corners_[position], self._patch_shape()
        reach = range(-self.patch_jitter, self.patch_jitter + 1)
        return sorted({(min(max(row + dr, 0), self.image_shape_[1] - rows),
                        min(max(col + dc, 0), self.image_shape_[2] - cols)) for dr in reach for dc in reach})

    def _neighbourhood_patches(self, images: np.ndarray, position: int,
                               rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The patches of ``images`` (at ``rows``) at every corner of :meth:`_neighbourhood`, corner after corner:
        (n * corners, C*h*w)."""
        return np.concatenate([self._patches(images, corner, rows) for corner in self._neighbourhood(position)])

    def _threads(self, tasks: int) -> int:
        """Threads for ``tasks`` independent positions: ``n_jobs``, never more than the tasks."""
        return min(effective_n_jobs(self.n_jobs), tasks)

    def _map_positions(self, work, progress: bool = False) -> list:
        """``work(position)`` for every position: on ``n_jobs`` threads, each with a one-thread BLAS (positions are
        independent and NumPy releases the GIL in its kernels), or in order; results in position order."""
        jobs = self._threads(len(self.banks_))
        if jobs == 1:
            return super()._map_positions(work, progress)
        with threadpool_limits(1), ThreadPoolExecutor(jobs) as pool:
            return list(tqdm(pool.map(work, range(len(self.banks_))), total=len(self.banks_), desc="positions",
                             disable=not progress, leave=False))


class LocalReceptiveFieldClassifier(PatchGrid, LabelledMemoryEstimator):
    """A neuron bank per patch position, learnt by the Memory Network's rule, combined by class distances or votes.

    The parameters not listed here (``threshold``, ``distance``, ``p``, ``batch_size``, ``new_label_policy``,
    ``class_budget``, ``consolidate``, ``shuffle``, ``random_state``, ``search_backend``, ``learning_rule``,
    ``verbose``) mean what they mean in :class:`MemoryNetworkClassifier` and are shared by every position's bank;
    the single pass visits the samples in the same order at every position.

    Parameters
    ----------
    patch_size : int, default=14
        Side of the square patches, in pixels. A patch larger than the image is clipped to it (flat ``(n, D)``
        input is a 1 x D image unless it is square or ``image_shape`` is given).
    stride : int, default=7
        Step of the patch grid, in pixels.
    max_neurons : int, default=2000
        Memory budget of each position.
    combine : {"distance", "vote"}, default="distance"
        How positions are combined (see the module docstring).
    n_neighbors : int, default=1
        Nearest neurons that vote at each position (``combine="vote"`` only).
    patch_jitter : int, default=0
        Each position's bank learns, with the image's label, every patch of the image whose corner lies within this
        many pixels of the position's (rows and columns, clipped to the image): an image teaches it up to
        ``(2 * patch_jitter + 1) ** 2`` patches, and ``max_neurons`` must make room for them. The bank is still
        searched with its own position's patch only (a memory of where the patch may lie, not a shared one).
    image_shape : tuple (C, H, W) or None, default=None
        Shape of one image; ``None`` infers it from 3-D/4-D input, else from square flat rows (1, H, H).
    n_jobs : int or None, default=None
        Threads that learn and search the positions at once, each with a one-thread BLAS (``None``: 1 unless in
        a :func:`joblib.parallel_config` context; ``-1``: every core). The results do not depend on it.

    Attributes
    ----------
    banks_ : list of NeuronBank
        One bank per position, in the order of ``corners_``.
    corners_ : list of (row, column)
        Top-left corner of each position's patch.
    classes_, image_shape_, n_features_in_, n_samples_seen_, n_neurons_, threshold_ :
        As in :class:`MemoryNetworkClassifier` (``n_neurons_`` over all positions; ``threshold_`` one per position,
        learnt from the patches each position sees).
    """

    _parameter_constraints: dict = {key: PARAMETER_CONSTRAINTS[key] for key in (
        "patch_size", "stride", "max_neurons", "combine", "n_neighbors", "patch_jitter", "threshold", "distance", "p",
        "batch_size", "new_label_policy", "class_budget", "consolidate", "image_shape", "shuffle", "random_state",
        "search_backend", "learning_rule", "n_jobs", "verbose")}

    def __init__(self, patch_size: int = 14, stride: int = 7, max_neurons: int = 2000, *, combine: str = "distance",
                 n_neighbors: int = 1, patch_jitter: int = 0, threshold: float | str | None = None,
                 distance: str = "l2", p: float = 2.0,
                 batch_size: int = 1024, new_label_policy: str = "reserve", class_budget: str = "fair",
                 consolidate: bool = False, image_shape=None, shuffle: bool = True, random_state=None,
                 search_backend: str = "auto", learning_rule=None, n_jobs: int | None = None,
                 verbose: bool = False):
        self.patch_size = patch_size
        self.stride = stride
        self.max_neurons = max_neurons
        self.combine = combine
        self.n_neighbors = n_neighbors
        self.patch_jitter = patch_jitter
        self.threshold = threshold
        self.distance = distance
        self.p = p
        self.batch_size = batch_size
        self.new_label_policy = new_label_policy
        self.class_budget = class_budget
        self.consolidate = consolidate
        self.image_shape = image_shape
        self.shuffle = shuffle
        self.random_state = random_state
        self.search_backend = search_backend
        self.learning_rule = learning_rule
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _new_banks(self) -> list[NeuronBank]:
        rows, cols = self._patch_shape()
        width = self.image_shape_[0] * rows * cols
        return [NeuronBank(width, self.max_neurons) for _ in self.corners_]

    def _learn_rows(self, X, classes, order):
        images = X.reshape(len(X), *self.image_shape_)
        rules, searchers = self._rules(), self._searchers()
        learning = getattr(self, "_learning_positions", range(len(self.banks_)))
        passes = [rules[p].steps(self.banks_[p], searchers[p], self._patch_batches(images, classes, order, p),
                                 len(images) * len(self._neighbourhood(p))) for p in sorted(learning)]
        jobs = self._threads(len(passes))
        with threadpool_limits(1) if jobs > 1 else contextlib.nullcontext():
            run_interleaved(passes, jobs, len(passes) * -(-len(images) // self.batch_size), bool(self.verbose))

    def _patch_batches(self, images: np.ndarray, classes: np.ndarray, order: np.ndarray | None,
                       position: int) -> Iterator[Batch]:
        """The batches of one position's pass: each batch's patches (around the position: ``patch_jitter``, corner
        after corner) gathered from the images in ``order`` (default: as given) when the pass reaches it, so no
        position's patches are ever copied whole."""
        corners = len(self._neighbourhood(position))
        for rows in batch_rows(len(images), self.batch_size, order):
            yield self._neighbourhood_patches(images, position, rows), np.tile(classes[rows], corners), None

    def fit_positions(self, X, y, positions) -> LocalReceptiveFieldClassifier:
        """``fit``, learning only the banks at ``positions`` (the others stay empty): the unit of model-parallel
        training. The positions are independent, so banks taken from fits of the same estimator and data over
        disjoint positions, put side by side in ``banks_``, make exactly the model ``fit`` makes
        (:func:`memorynet.apps.distributed.fit_positions`). Returns ``self``."""
        self._learning_positions = frozenset(int(p) for p in positions)
        try:
            return self.fit(X, y)
        finally:
            del self._learning_positions

    def _class_scores(self, X) -> np.ndarray:
        """(n, n_classes): summed nearest-neuron distances per class, or vote counts (negated, lower is better)."""
        if self.combine == "distance":
            return self.class_distances(X)
        images, searchers = self._images(X), self._searchers()

        def votes(p):
            _, idx = searchers[p].nearest(self._bank_rows(images, p), self.n_neighbors)
            return voting.tally_votes(self.banks_[p].classes[idx][:, None, :], np.ones((len(idx), 1, idx.shape[1])),
                                      len(self.classes_))
        total = np.zeros((len(images), len(self.classes_)))
        for part in self._map_positions(votes):
            total -= part
        return total

    def predict(self, X) -> np.ndarray:
        """The class with the smallest summed distance (or the most votes), (n,)."""
        scores = self._class_scores(X)
        return self.classes_[scores.argmin(axis=1)]

    def _onnx_distances(self, g, images: str) -> str:
        """The summed class distances (float64) of ``images`` in ONNX graph ``g``, as :meth:`class_distances`."""
        shape, n_classes = self._patch_shape(), len(self.classes_)
        return g.op("Sum", *(g.op("Cast", g.class_distances(g.patch(images, corner, shape), bank.memories,
                                                            bank.classes, n_classes, self.distance), to=11)
                             for corner, bank in zip(self.corners_, self.banks_)))

    def _onnx_evidence(self, g, images: str) -> str:
        return g.op("Neg", self._onnx_distances(g, images))

    def _onnx_scores(self, g, images: str) -> tuple[str, str]:
        if self.combine == "distance":
            total = self._onnx_distances(g, images)
            return g.softmax_of_scores(g.op("Neg", total), spread=True), g.op("ArgMin", total, axis=1, keepdims=0)
        shape, n_classes = self._patch_shape(), len(self.classes_)
        rows = [g.patch(images, corner, shape) for corner in self.corners_]
        votes = g.op("Sum", *(g.tally([g.nearest(g.distances(x, bank.memories, self.distance),
                                                 min(self.n_neighbors, len(bank)))], [bank.classes], n_classes)[0]
                              for x, bank in zip(rows, self.banks_)))
        return g.share(votes), g.op("ArgMax", votes, axis=1, keepdims=0)

    def predict_proba(self, X) -> np.ndarray:
        """Votes: share of the position votes each class receives. Distances: a softmin of each image's summed
        distances, scaled by that image's own spread of them (a ranking aid, not a calibrated probability; it
        never depends on the other images of the batch)."""
        scores = -self._class_scores(X)
        if self.combine == "vote":
            return scores / scores.sum(axis=1, keepdims=True)
        spread = np.maximum(scores.std(axis=1, keepdims=True), 1e-12)
        weights = np.exp((scores - scores.max(axis=1, keepdims=True)) / spread)
        return weights / weights.sum(axis=1, keepdims=True)
