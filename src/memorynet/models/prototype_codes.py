"""Per-position prototype dictionaries read out by a linear discriminant, all learnt in one pass.

Every patch position of the image has its own dictionary: a neuron bank of ``max_neurons`` prototypes learnt
without labels by the Memory Network's own rule (with one label, the rule grows a prototype per patch while there
is room, then moves the nearest prototype to the running mean: online k-means). Nothing learnt is shared between
positions: a position's dictionary describes the patch at that position only. To learn, though, it takes every
patch of the image whose corner lies within ``patch_jitter`` pixels of its own (the image's own pixels, nothing
altered or made up): an image teaches it up to ``(2 * patch_jitter + 1) ** 2`` patches instead of one, so the
warm-up can be short. Before the dictionaries see them, each position's patches are whitened (ZCA) with the
covariance of that position's patches (the same neighbourhood) in the first ``whiten_images`` images (accumulated
statistics and a closed-form solve, frozen afterwards). A patch is described by its soft "triangle" code
``max(0, mean(z) - z_k)``, ``z_k`` its distance to prototype ``k`` (Coates & Ng 2011): how much closer than average
it is to each prototype. The codes of every position, side by side, feed a streaming linear discriminant (running
class means and a shared covariance; the closed-form solve with ``shrinkage`` at prediction): no gradient anywhere.

The single pass runs in three phases: the first ``whiten_images`` images teach the whitening statistics, the
images up to ``warmup`` the dictionaries, and every later batch is described by the dictionaries and added to the
readout's statistics. By default the dictionaries stop learning when the warm-up ends (``freeze_dictionaries``):
every code the readout sums is then made by the same features, so its statistics after the warm-up do not depend
on the order of the images, and classes learnt early are not forgotten when later ones move the dictionaries. The
warm-up is short by default (1000 images), so that in a stream of one class after another the first class keeps
most of its images for the readout. With ``freeze_dictionaries=False`` each later batch, once described, also
teaches the dictionaries. Either way ``partial_fit`` over a stream builds the same kind of model as ``fit``.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..engine import kernels
from ..engine.bank import NeuronBank
from ..engine.device import default_device
from . import on_device, tiled_scatter
from .base import PARAMETER_CONSTRAINTS
from .feature_readout import FeatureReadoutEstimator
from .readout import StreamingLDA
from .receptive_fields import PatchGrid

__all__ = ["PrototypeCodeClassifier", "triangle_codes", "zca_whitening", "MAX_READOUT_BYTES"]

MAX_READOUT_BYTES = 16 << 30  # the readout's covariance (features^2 float64) may not exceed this


def zca_whitening(sums: np.ndarray, products: np.ndarray, count: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), matrix (d, d)) of the ZCA whitening ``(x - mean) @ matrix`` for rows whose sum is ``sums`` and
    whose sum of outer products is ``products`` over ``count`` rows; ``eps`` is added to every eigenvalue."""
    mean = sums / count
    covariance = products / count - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(covariance)
    return mean, (vectors / np.sqrt(np.maximum(values, 0.0) + eps)) @ vectors.T


def triangle_codes(patches: np.ndarray, prototypes: np.ndarray, width: int) -> np.ndarray:
    """(n, ``width``) float32: ``max(0, mean_k(z) - z_k)`` for the ``len(prototypes)`` prototypes, ``z_k`` the
    Euclidean distance from each patch to prototype ``k``; columns beyond the prototypes (a dictionary still
    growing) are zero."""
    codes = np.zeros((len(patches), width), dtype=np.float32)
    if len(prototypes):
        z = np.sqrt(kernels.pairwise_distances(patches, prototypes))
        codes[:, :len(prototypes)] = np.maximum(z.mean(axis=1, keepdims=True) - z, 0.0)
    return codes


class PrototypeCodeClassifier(PatchGrid, FeatureReadoutEstimator):
    """Per-position prototype dictionaries (the Memory Network's rule, unlabelled), triangle codes and a streaming
    linear-discriminant readout, learnt in one pass without gradients or weight sharing.

    The parameters not listed here (``patch_size``, ``stride``, ``image_shape``, ``shuffle``, ``random_state``,
    ``n_jobs``, ``learning_rule``) mean what they mean in :class:`LocalReceptiveFieldClassifier` and
    :class:`MemoryNetworkClassifier` (``learning_rule`` is called with one label: the dictionaries are unlabelled).

    Parameters
    ----------
    max_neurons : int, default=128
        Prototypes in each position's dictionary; the readout sees ``positions * max_neurons`` features.
    whiten_images : int, default=400
        The first images of the pass teach only each position's whitening (ZCA) statistics; 0: no whitening,
        else at least 2 and at most ``warmup``.
    whiten_eps : float, default=1.0
        Added to the eigenvalues of the patch covariance before whitening (larger: gentler).
    shrinkage : float, default=0.01
        The readout's covariance is ``(1 - shrinkage) * S + shrinkage * I`` (may be changed after fitting).
    warmup : int, default=1000
        Images at the start of the pass (the whitening images included) that teach the whitening and the
        dictionaries, not the readout; every later image teaches the readout.
    patch_jitter : int, default=3
        Each position's whitening and dictionary learn from the image's patches whose corner lies within this many
        pixels of the position's (rows and columns, clipped to the image); 0: the position's own patch only. The
        dictionary still describes its own position only.
    freeze_dictionaries : bool, default=True
        The dictionaries stop learning when the warm-up ends, so the order of the later images (classes arriving
        one after another) does not change what the readout learns. ``False``: every later image also teaches
        the dictionaries, after it was described (the features drift under the readout's older statistics).
    batch_size : int, default=1000
        Images described and learnt together; every batch is learnt against the dictionaries as they stood at its
        start.
    search_backend : {"auto", "numpy", "int8", "faiss", "torch"} or callable, default="numpy"
        Engine of the dictionaries' nearest-prototype search while learning.
    verbose : bool, default=False
        Progress bars over the positions.

    Attributes
    ----------
    banks_ : list of NeuronBank
        The dictionary of each position (one label), in the order of ``corners_``.
    readout_ : StreamingLDA
        The linear discriminant over the codes, on class indices.
    whitening_ : list of (mean, matrix) or None
        Each position's ZCA whitening once its images are seen (``None`` before, and without whitening).
    corners_, classes_, image_shape_, n_features_in_, n_samples_seen_, n_neurons_ :
        As in :class:`LocalReceptiveFieldClassifier`.
    """

    _parameter_constraints: dict = {
        **{key: PARAMETER_CONSTRAINTS[key] for key in (
            "patch_size", "stride", "max_neurons", "batch_size", "image_shape", "shuffle", "random_state",
            "search_backend", "learning_rule", "n_jobs", "verbose", "patch_jitter")},
        "shrinkage": [Interval(Real, 0, 1, closed="both")],
        "whiten_images": [Interval(Integral, 0, None, closed="left")],
        "whiten_eps": [Interval(Real, 0, None, closed="neither")],
        "warmup": [Interval(Integral, 0, None, closed="left")],
        "freeze_dictionaries": ["boolean"],
    }
    sequential_prefix_attribute = "warmup"  # shards split the stream once whitening and dictionaries are set up
    _empty_banks_allowed = True  # the dictionaries are empty while the first images teach the whitening

    def __init__(self, patch_size: int = 8, stride: int = 4, max_neurons: int = 128, *, whiten_images: int = 400,
                 whiten_eps: float = 1.0, shrinkage: float = 0.01, warmup: int = 1000, patch_jitter: int = 3,
                 freeze_dictionaries: bool = True, batch_size: int = 1000,
                 image_shape=None, shuffle: bool = True, random_state=None, search_backend: str = "numpy",
                 learning_rule=None, n_jobs: int | None = None, verbose: bool = False):
        self.patch_size = patch_size
        self.stride = stride
        self.max_neurons = max_neurons
        self.whiten_images = whiten_images
        self.whiten_eps = whiten_eps
        self.shrinkage = shrinkage
        self.warmup = warmup
        self.patch_jitter = patch_jitter
        self.freeze_dictionaries = freeze_dictionaries
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.shuffle = shuffle
        self.random_state = random_state
        self.search_backend = search_backend
        self.learning_rule = learning_rule
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------------------------
    # Learning

    @property
    def n_codes_(self) -> int:
        """Features the readout sees: positions x prototypes per position."""
        check_is_fitted(self)
        return len(self.banks_) * self.max_neurons

    def _new_banks(self) -> list[NeuronBank]:
        n_features = len(self.corners_) * self.max_neurons
        needed = 8 * n_features ** 2
        if needed > MAX_READOUT_BYTES:
            raise ValueError(f"{len(self.corners_)} positions x {self.max_neurons} prototypes make {n_features} "
                             f"readout features, whose covariance needs {needed / 2 ** 30:.1f} GiB (limit "
                             f"{MAX_READOUT_BYTES / 2 ** 30:.0f} GiB); lower max_neurons or raise stride")
        rows, cols = self._patch_shape()
        return [NeuronBank(self.image_shape_[0] * rows * cols, self.max_neurons) for _ in self.corners_]

    def _begin(self, classes: np.ndarray) -> None:
        if self.whiten_images == 1 or self.whiten_images > self.warmup:
            raise ValueError(f"whiten_images={self.whiten_images} must be 0 (no whitening) or between 2 and "
                             f"warmup={self.warmup}: the whitening images are part of the warm-up")
        super()._begin(classes)
        self.readout_ = self._new_readout()
        width = self.banks_[0].n_features
        self.patch_count_ = 0
        self.patch_sums_ = np.zeros((len(self.banks_), width))
        self.patch_products_ = np.zeros((len(self.banks_), width, width))
        self.whitening_ = None

    def _new_readout(self) -> StreamingLDA:
        """The streaming discriminant over the codes; with ``search_backend="torch"`` its statistics are
        accumulated and its system solved on the torch device (:mod:`memorynet.models.on_device`)."""
        device = default_device() if self.search_backend == "torch" else None
        return StreamingLDA(self.shrinkage, chunk_precision="float32", device=device)

    def _learn_rows(self, X, classes, order):
        images = X.reshape(len(X), *self.image_shape_)
        order = np.arange(len(images)) if order is None else order  # each batch taken in order: no shuffled copy
        classes = classes[order]
        rules, searchers, mixer = self._rules(), self._searchers(), check_random_state(self.random_state)
        # images of this call still in the whitening phase, and in the warm-up
        whitening, warmup = self.whiten_images - self.n_samples_seen_, self.warmup - self.n_samples_seen_
        bounds = sorted({b for b in range(0, len(images), self.batch_size)}
                        | {b for b in (whitening, warmup) if 0 < b < len(images)} | {len(images)})
        for start, stop in zip(bounds[:-1], bounds[1:]):
            batch = images[order[start:stop]]
            if start < whitening:
                self._map_positions(lambda p, batch=batch: self._count_patches(batch, p))
                self.patch_count_ += len(batch)
                continue
            if self.whiten_images and self.whitening_ is None:
                self._set_whitening()

            empty = not all(len(bank) for bank in self.banks_)
            if empty:  # nothing to describe with yet: the dictionaries learn the batch first
                self._teach_dictionaries(batch, rules, searchers, mixer)
            if start >= warmup:
                self.readout_.partial_fit(self._features(batch), classes[start:stop],
                                          classes=np.arange(len(self.classes_)))
            if not empty and not (self.freeze_dictionaries and start >= warmup):
                self._teach_dictionaries(batch, rules, searchers, mixer)

    def _teach_dictionaries(self, images: np.ndarray, rules, searchers, mixer: np.random.RandomState) -> None:
        """Every position's dictionary learns the whitened patches of ``images`` around it, in a random order
        (shifts and images mixed, drawn from ``mixer``)."""
        mixes = [mixer.permutation(len(images) * len(self._neighbourhood(p))) for p in range(len(self.banks_))]

        def learn(p):
            rows = self._whitened(self._neighbourhood_patches(images, p)[mixes[p]], p)
            rules[p].learn(self.banks_[p], searchers[p], rows, np.zeros(len(rows), dtype=np.intp), len(rows))
        self._map_positions(learn, progress=bool(self.verbose))

    def _count_patches(self, images: np.ndarray, position: int) -> None:
        """Add the patches of ``images`` around ``position`` to that position's whitening statistics (each image
        counts once: its patches' sums are divided by how many it gave)."""
        rows = self._neighbourhood_patches(images, position).astype(np.float64)
        share = len(images) / len(rows)
        self.patch_sums_[position] += rows.sum(axis=0) * share
        self.patch_products_[position] += (rows.T @ rows) * share

    def _set_whitening(self) -> None:
        self.whitening_ = [zca_whitening(s, q, self.patch_count_, self.whiten_eps)
                           for s, q in zip(self.patch_sums_, self.patch_products_)]

    def _bank_rows(self, images, position):
        """What the dictionary at ``position`` describes: the patch, whitened once the whitening is known
        (float32)."""
        return self._whitened(super()._bank_rows(images, position), position)

    def _whitened(self, rows: np.ndarray, position: int) -> np.ndarray:
        """Patch rows of ``position`` whitened once the whitening is known, as contiguous float32."""
        if self.whitening_ is not None:
            mean, matrix = self.whitening_[position]
            rows = (rows - mean) @ matrix
        return np.ascontiguousarray(rows, dtype=np.float32)

    def _patch_space(self, rows: np.ndarray, position: int) -> np.ndarray:
        """Whitened rows back to patches: ``rows @ inverse(matrix) + mean``."""
        if self.whitening_ is None:
            return rows
        mean, matrix = self.whitening_[position]
        return np.linalg.solve(matrix.T, rows.T).T + mean

    def _features(self, images: np.ndarray) -> np.ndarray:
        """(n, n_codes_) float32: every position's triangle codes of validated ``images`` (n, C, H, W), on the
        readout's torch device when it has one."""
        device = self.readout_.device
        codes = triangle_codes if device is None else functools.partial(on_device.triangle_codes, device=device)
        parts = self._map_positions(lambda p: codes(self._bank_rows(images, p), self.banks_[p].memories,
                                                    self.max_neurons))
        return np.concatenate(parts, axis=1)

    def _onnx_features(self, g, images: str) -> str:
        shape, parts = self._patch_shape(), []
        for position, corner in enumerate(self.corners_):
            rows = g.patch(images, corner, shape)
            if self.whitening_ is not None:
                rows = g.whiten(rows, *self.whitening_[position])
            parts.append(g.triangle(rows, self.banks_[position].memories, self.max_neurons))
        return g.op("Concat", *parts, axis=1)

    def codes(self, X) -> np.ndarray:
        """(n, n_codes_): the codes the readout sees, position after position."""
        return self._features(self._images(X))

    def _check_mergeable(self, other) -> None:
        super()._check_mergeable(other)
        if other.patch_count_ != self.patch_count_ or not (np.array_equal(other.patch_sums_, self.patch_sums_)
                                                           and np.array_equal(other.patch_products_,
                                                                              self.patch_products_)):
            raise ValueError("the models' whitening differs: shards must share the start of the stream that teaches "
                             f"it (the first whiten_images={self.whiten_images} images; merge(..., ancestor=...))")

    # ------------------------------------------------------------------------------------------------------------
    # Persistence

    _STATE = ("readout_means", "readout_counts", "readout_scatter", "patch_sums", "patch_products", "patch_count")

    def _export_state(self):
        state, banks, _ = super()._export_state()
        lda = self.readout_
        learnt = hasattr(lda, "counts_")  # nothing yet while in the warm-up
        return state, banks, {
            "readout_means": lda.means_ if learnt else np.zeros(0),
            "readout_counts": lda.counts_ if learnt else np.zeros(0),
            "readout_scatter": lda.scatter_tiles_ if learnt else np.zeros(0, dtype=np.float32),  # packed tiles
            "patch_sums": self.patch_sums_, "patch_products": self.patch_products_,
            "patch_count": np.array([self.patch_count_])}

    def _import_state(self, state, classes, banks, arrays):
        if set(arrays) != set(self._STATE):
            raise ValueError(f"a {type(self).__name__} file stores the arrays {sorted(self._STATE)}")
        super()._import_state(state, classes, banks, {})
        self._import_whitening(arrays["patch_sums"], arrays["patch_products"], arrays["patch_count"])
        self.readout_ = self._new_readout()
        means, counts, scatter = arrays["readout_means"], arrays["readout_counts"], arrays["readout_scatter"]
        if not (means.size or counts.size or scatter.size):
            return
        width = self.n_codes_
        layouts = (tiled_scatter.tile_shape(width), (width,) * 2)  # packed tiles, or (older files) a square
        if means.shape != (len(classes), width) or counts.shape != (len(classes),) or scatter.shape not in layouts:
            raise ValueError(f"readout arrays do not fit {len(classes)} classes and {width} code features")
        if (counts < 0).any() or (counts != np.round(counts)).any() or counts.sum() > self.n_samples_seen_:
            raise ValueError("readout counts must be whole, non-negative and at most n_samples_seen")
        self.readout_.restore(np.arange(len(classes)), means, counts.astype(np.int64), scatter)

    def _import_whitening(self, sums: np.ndarray, products: np.ndarray, count: np.ndarray) -> None:
        positions, width = len(self.banks_), self.banks_[0].n_features
        if sums.shape != (positions, width) or products.shape != (positions, width, width) or count.shape != (1,):
            raise ValueError(f"whitening statistics do not fit {positions} positions of width {width}")
        self.patch_count_ = int(count[0])
        if self.patch_count_ != count[0] or not 0 <= self.patch_count_ <= min(self.n_samples_seen_,
                                                                               self.whiten_images):
            raise ValueError("the whitening image count must be whole and at most n_samples_seen and whiten_images")
        self.patch_sums_, self.patch_products_, self.whitening_ = sums, products, None
        if self.whiten_images and self.n_samples_seen_ > self.whiten_images:
            self._set_whitening()
