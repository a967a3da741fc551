"""The Memory Network classifier (Ruiz & Gupta 2024): state and orchestration of one-pass learning."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from . import kernels, voting

__all__ = ["MemoryNetworkClassifier"]

_MAX_ABS_INPUT = 1e15  # (1e15)^2 times any realistic feature count stays below float32's 3.4e38


def _first_per_group(mask: np.ndarray, groups: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Of the positions where ``mask`` holds, the first ``room[g]`` of each group g, in order, (n,) bool."""
    picked = np.flatnonzero(mask)
    order = np.argsort(groups[picked], kind="stable")
    sorted_groups = groups[picked][order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.empty(len(picked), dtype=np.intp)
    rank[order] = np.arange(len(picked)) - starts  # position of each pick within its group
    out = np.zeros(len(mask), dtype=bool)
    out[picked[rank < room[groups[picked]]]] = True
    return out


class MemoryNetworkClassifier(ClassifierMixin, BaseEstimator):
    """A bank of neuron memories learnt in one pass, without backpropagation or convolutions.

    Training (one pass, batch by batch, every batch against the memory as it stood at the batch's start):
    each input is compared with the neurons of its own label; while the memory has room it becomes a new
    neuron (always without ``threshold``; with one, only when its nearest same-label neuron is farther than
    ``threshold`` or its label has none); otherwise the nearest same-label neuron moves to the running mean
    ``r <- (c r + x) / (c + 1)``, ``c <- c + 1`` (k hits in one batch: ``(c r + sum x) / (c + k)``).
    Prediction: the label of the nearest neuron, or a vote of the ``n_neighbors`` nearest, optionally per
    colour channel (``channel_voting``).

    Parameters
    ----------
    max_neurons : int, default=10000
        Memory budget: the most neurons the bank may hold.
    threshold : float or None, default=None
        Growth threshold in units of ``distance``; ``None`` grows on every input until the memory is full.
    distance : {"l2", "l1", "cosine", "lp"}, default="l2"
        Distance function: squared Euclidean, Manhattan, ``1 - cosine similarity``, or Minkowski with ``p``.
    p : float, default=2.0
        Exponent of the ``"lp"`` distance (ignored by the others).
    n_neighbors : int, default=1
        Neurons that vote on each prediction (per voter under channel voting).
    weights : {"uniform", "distance"}, default="uniform"
        Vote weight of each neighbour: 1, or the inverse of its distance.
    channel_voting : bool, default=False
        Each colour channel finds its own nearest neurons using only that channel and votes; the class with
        the most votes wins; ties go to the class with the nearest neuron (then the lowest class index).
    batch_size : int, default=1024
        Inputs learnt in parallel against the same memory state; 1 is strictly sequential online learning.
    image_shape : tuple (C, H, W) or None, default=None
        Shape of one image; ``None`` infers it from 3-D/4-D input, else treats rows as (1, 1, D).
    new_label_policy : {"reserve", "error"}, default="reserve"
        What keeps a full memory from meeting a label without a neuron. ``"reserve"`` keeps one free slot
        per declared class until that class has a neuron (growth of other classes stops short of them);
        ``"error"`` reserves nothing and raises ``ValueError`` when it happens.
    class_budget : {"shared", "balanced"}, default="shared"
        ``"shared"``: classes fill the memory first come, first served; ``"balanced"``: each class may hold at
        most its share ``max_neurons // n_classes`` (the remainder to the first classes).
    consolidate : bool, default=False
        With a ``threshold``: when there is no room for a novel input (farther than the threshold from its
        label's neurons), merge the two closest neurons of its label (counter-weighted mean) and store the input
        in the freed slot, instead of averaging it into its nearest neuron. Merges are chosen per batch from the
        memory after the batch's updates, as disjoint closest pairs.
    shuffle : bool, default=True
        Whether ``fit`` visits the training samples in a random order (``partial_fit`` keeps the stream's order).
    random_state : int, RandomState or None, default=None
        Seed of the shuffle.
    search_backend : {"numpy", "faiss", "torch"}, default="numpy"
        Engine of the nearest-neuron searches: NumPy/BLAS, FAISS exact search (``memorynet[faiss]``), or
        PyTorch (on the GPU when present). All give the same neighbours up to exact ties.
    verbose : bool, default=False
        Show a progress bar over batches.

    Attributes
    ----------
    memories_ : ndarray (n_neurons_, C, H, W) float32
        The latent representation of each neuron.
    labels_ : ndarray (n_neurons_,)
        The class label of each neuron.
    counters_ : ndarray (n_neurons_,) int64
        How many training inputs each neuron has absorbed.
    n_neurons_ : int
        Neurons in use.
    classes_ : ndarray (n_classes,)
        Known class labels, sorted.
    image_shape_ : tuple (C, H, W)
        Shape of one input image.
    n_features_in_ : int
        C * H * W.
    n_samples_seen_ : int
        Training inputs absorbed so far (the stream position).
    """

    _parameter_constraints: dict = {
        "max_neurons": [Interval(Integral, 1, None, closed="left")],
        "threshold": [None, Interval(Real, 0, None, closed="left")],
        "distance": [StrOptions(set(kernels.METRICS))],
        "p": [Interval(Real, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "weights": [StrOptions({"uniform", "distance"})],
        "channel_voting": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [None, tuple, list],
        "new_label_policy": [StrOptions({"reserve", "error"})],
        "class_budget": [StrOptions({"shared", "balanced"})],
        "consolidate": ["boolean"],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "search_backend": [StrOptions({"numpy", "faiss", "torch"})],
        "verbose": ["verbose"],
    }

    def __init__(self, max_neurons: int = 10000, *, threshold: float | None = None, distance: str = "l2",
                 p: float = 2.0, n_neighbors: int = 1, weights: str = "uniform", channel_voting: bool = False,
                 batch_size: int = 1024, image_shape: tuple[int, int, int] | None = None,
                 new_label_policy: str = "reserve", class_budget: str = "shared", consolidate: bool = False,
                 shuffle: bool = True, random_state=None,
                 search_backend: str = "numpy", verbose: bool = False):
        self.max_neurons = max_neurons
        self.threshold = threshold
        self.distance = distance
        self.p = p
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.channel_voting = channel_voting
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.new_label_policy = new_label_policy
        self.class_budget = class_budget
        self.consolidate = consolidate
        self.shuffle = shuffle
        self.random_state = random_state
        self.search_backend = search_backend
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------------------------
    # Learned state (views of the bank; only the first n_neurons_ rows are in use)

    @property
    def memories_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._bank[: self.n_neurons_].reshape(self.n_neurons_, *self.image_shape_)

    @property
    def labels_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[self._bank_class[: self.n_neurons_]]

    @property
    def counters_(self) -> np.ndarray:
        check_is_fitted(self)
        return self._bank_count[: self.n_neurons_]

    # ------------------------------------------------------------------------------------------------------------
    # Input handling

    def _flatten(self, X):
        """Accept (n, D), (n, H, W) or (n, C, H, W); return (rows, the image shape the input implies)."""
        ndim = getattr(X, "ndim", None)
        if ndim is None and not hasattr(X, "__array__") and not hasattr(X, "tocsr"):
            X = np.asarray(X)
            ndim = X.ndim
        if ndim in (3, 4):
            shape = X.shape[1:] if ndim == 4 else (1, *X.shape[1:])
            return np.asarray(X).reshape(len(X), -1), tuple(int(s) for s in shape)
        return X, None

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        X, implied = self._flatten(X)
        X = validate_data(self, X, reset=reset, dtype=np.float32, order="C")
        largest = max(float(X.max()), -float(X.min())) if X.size else 0.0  # no |X| temporary
        if largest > _MAX_ABS_INPUT:
            raise ValueError(f"input values reach {largest:.3g}; squared distances would overflow float32 "
                             f"beyond ±{_MAX_ABS_INPUT:g}: scale the input (e.g. memorynet.scale_pixels)")
        if reset:
            shape = self.image_shape if self.image_shape is not None else implied or (1, 1, X.shape[1])
            shape = tuple(int(s) for s in shape)
            if len(shape) != 3 or int(np.prod(shape)) != X.shape[1]:
                raise ValueError(f"image_shape={shape} does not match the {X.shape[1]} features per sample; "
                                 "give (C, H, W) with C * H * W equal to the number of features")
            self.image_shape_ = shape
        elif implied is not None and implied != self.image_shape_:
            raise ValueError(f"images of shape {implied} given to a model fitted on images of shape "
                             f"{self.image_shape_}; resize or reshape them to match")
        return X

    def _class_indices(self, y) -> np.ndarray:
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y contains labels {np.unique(y[unknown]).tolist()} that are not among "
                             f"classes_={self.classes_.tolist()}; pass every class to the first partial_fit "
                             "call (classes=...) or call fit")
        return np.searchsorted(self.classes_, y)

    # ------------------------------------------------------------------------------------------------------------
    # Training

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Learn from (X, y) in exactly one pass, starting from an empty memory. Returns ``self``."""
        X = self._validate_X(X, reset=True)
        X, y = validate_data(self, X, y, reset=False, dtype=np.float32)
        check_classification_targets(y)
        self._start(np.unique(y), X.shape[1])
        order = check_random_state(self.random_state).permutation(len(X)) if self.shuffle else None
        self._learn(X, self._class_indices(y), order)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Continue the single pass on a new chunk of the stream, in the order given. Returns ``self``.

        ``classes`` (every label the stream will carry) is needed on the first call unless ``y`` already
        holds them all; it is how ``new_label_policy="reserve"`` knows which slots to keep.
        """
        first = not hasattr(self, "classes_")
        X = self._validate_X(X, reset=first)
        X, y = validate_data(self, X, y, reset=False, dtype=np.float32)
        check_classification_targets(y)
        if first:
            self._start(np.unique(y if classes is None else classes), X.shape[1])
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={np.unique(classes).tolist()} differs from the classes of the first "
                             f"partial_fit call {self.classes_.tolist()}")
        self._learn(X, self._class_indices(y))
        return self

    def _start(self, classes: np.ndarray, n_features: int) -> None:
        if len(classes) > self.max_neurons:
            raise ValueError(f"max_neurons={self.max_neurons} is smaller than the number of classes "
                             f"({len(classes)}); every class needs at least one neuron")
        self.classes_ = classes
        self.n_neurons_ = 0
        self.n_samples_seen_ = 0
        capacity = min(self.max_neurons, 1024)
        self._bank = np.empty((capacity, n_features), dtype=np.float32)
        self._bank_class = np.empty(capacity, dtype=np.intp)
        self._bank_count = np.empty(capacity, dtype=np.int64)

    def _learn(self, X: np.ndarray, classes: np.ndarray, order: np.ndarray | None = None) -> None:
        """One pass over X in ``order`` (default: as given); batches are gathered one at a time, not copied whole."""
        batches = range(0, len(X), self.batch_size)
        for start in tqdm(batches, desc="one pass", unit="batch", disable=not self.verbose, leave=False):
            rows = slice(start, start + self.batch_size) if order is None else order[start:start + self.batch_size]
            self._learn_batch(X[rows], classes[rows])

    def _class_room(self) -> np.ndarray:
        """Free slots per class under ``class_budget="balanced"``, (n_classes,)."""
        n_classes = len(self.classes_)
        share = np.full(n_classes, self.max_neurons // n_classes)
        share[: self.max_neurons % n_classes] += 1
        return share - np.bincount(self._bank_class[: self.n_neurons_], minlength=n_classes)

    def _grow_mask(self, eligible: np.ndarray, classes: np.ndarray, represented: np.ndarray) -> np.ndarray:
        """Which inputs of the batch become new neurons, in batch order, within the free slots."""
        if self.class_budget == "balanced":
            return _first_per_group(eligible, classes, self._class_room())
        free = self.max_neurons - self.n_neurons_
        grow = np.zeros(len(classes), dtype=bool)
        if self.new_label_policy == "reserve":
            novel = np.flatnonzero(eligible & ~represented[classes])
            _, first = np.unique(classes[novel], return_index=True)
            grow[novel[first]] = True  # first input of each unrepresented class takes its reserved slot
            free -= int((~represented).sum())
        grow[np.flatnonzero(eligible & ~grow)[: max(free, 0)]] = True
        return grow

    def _consolidation_mask(self, eligible: np.ndarray, grow: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Novel inputs with no room that will replace a merged pair: at most half of their label's neurons."""
        if not self.consolidate or self.threshold is None:
            return np.zeros(len(classes), dtype=bool)
        neurons = np.bincount(self._bank_class[: self.n_neurons_], minlength=len(self.classes_))
        return _first_per_group(eligible & ~grow & (neurons[classes] > 0), classes, neurons // 2)

    def _learn_batch(self, x: np.ndarray, classes: np.ndarray) -> None:
        n0 = self.n_neurons_
        bank, bank_class = self._bank[:n0], self._bank_class[:n0]
        represented = np.bincount(bank_class, minlength=len(self.classes_)) > 0
        metric = dict(metric=self.distance, p=self.p, backend=self.search_backend)
        if self.threshold is None:
            eligible = np.ones(len(x), dtype=bool)
        else:
            dist, target = kernels.nearest_same_label(x, classes, bank, bank_class, **metric)
            eligible = dist > self.threshold
        grow = self._grow_mask(eligible, classes, represented)
        placed = self._consolidation_mask(eligible, grow, classes)
        stay = np.flatnonzero(~grow & ~placed)
        if self.threshold is None:
            target = np.full(len(x), -1, dtype=np.intp)
            target[stay] = kernels.nearest_same_label(x[stay], classes[stay], bank, bank_class, **metric)[1]
        # Labels with no neuron at the batch's start join the nearest neuron grown from this batch.
        orphan = stay[target[stay] < 0]
        if orphan.size:
            born = np.flatnonzero(grow)
            _, j = kernels.nearest_same_label(x[orphan], classes[orphan], x[born], classes[born], **metric)
            if (j < 0).any():
                label = self.classes_[classes[orphan[j < 0][0]]].item()
                raise ValueError(f"the memory is full ({self.max_neurons} neurons) and label {label!r} has no "
                                 "neuron yet; raise max_neurons, or use new_label_policy='reserve' with every "
                                 "class declared up front")
            target[orphan] = n0 + j
        self._append(x[grow], classes[grow])
        if stay.size:
            rows, memories, counts = kernels.scatter_mean_update(self._bank, self._bank_count, target[stay],
                                                                 x[stay])
            self._bank[rows], self._bank_count[rows] = memories, counts
        if placed.any():
            self._merge_and_place(x[placed], classes[placed])
        self.n_samples_seen_ += len(x)

    def _merge_and_place(self, x: np.ndarray, classes: np.ndarray) -> None:
        """Merge the closest disjoint same-label pairs (counter-weighted) and store ``x`` in the freed slots."""
        n = self.n_neurons_
        for label in np.unique(classes):
            newcomers = x[classes == label]
            rows = np.flatnonzero(self._bank_class[:n] == label)
            D = kernels.pairwise_distances(self._bank[rows], self._bank[rows], self.distance, p=self.p)
            keep, drop = kernels.closest_disjoint_pairs(D, len(newcomers))
            keep, drop = rows[keep], rows[drop]
            c_keep, c_drop = self._bank_count[keep], self._bank_count[drop]
            self._bank[keep] = ((self._bank[keep] * c_keep[:, None] + self._bank[drop] * c_drop[:, None])
                                / (c_keep + c_drop)[:, None])
            self._bank_count[keep] = c_keep + c_drop
            self._bank[drop], self._bank_count[drop] = newcomers, 1

    def _append(self, x: np.ndarray, classes: np.ndarray) -> None:
        n0, n1 = self.n_neurons_, self.n_neurons_ + len(x)
        if n1 > len(self._bank):  # grow the buffers geometrically, never past max_neurons
            capacity = min(self.max_neurons, max(n1, 2 * len(self._bank)))
            self._bank = np.resize(self._bank, (capacity, self._bank.shape[1]))
            self._bank_class = np.resize(self._bank_class, capacity)
            self._bank_count = np.resize(self._bank_count, capacity)
        self._bank[n0:n1], self._bank_class[n0:n1], self._bank_count[n0:n1] = x, classes, 1
        self.n_neurons_ = n1

    @staticmethod
    def preset(name: str, random_state=None):
        """An unfitted pipeline (preprocessing -> memory) for a named configuration: ``"paper"``,
        ``"mnist-best"``, ``"cifar10-best"`` (see ``memorynet.presets``); it takes raw 0-255 images."""
        from .presets import preset

        return preset(name, random_state)

    # ------------------------------------------------------------------------------------------------------------
    # Persistence (format and checks: memorynet.persistence)

    def save(self, path, metadata: dict | None = None):
        """Write the fitted model to ``path`` (a pickle-free ``.mnet`` file), atomically. Returns the path."""
        from .persistence import save_model

        check_is_fitted(self)
        return save_model(self, path, metadata)

    @classmethod
    def load(cls, path) -> MemoryNetworkClassifier:
        """Read a model written by :meth:`save`, verifying format version, checksum, dtypes and values."""
        from .persistence import load_model

        return load_model(path, cls)[0]

    def _restore(self, memories, classes_idx, counters, classes, image_shape, n_samples_seen) -> None:
        """Install learned state read from a verified model file."""
        self.classes_ = classes
        self.image_shape_ = image_shape
        self.n_features_in_ = int(np.prod(image_shape))
        self.n_neurons_ = len(memories)
        self.n_samples_seen_ = n_samples_seen
        self._bank = np.array(memories, dtype=np.float32, order="C")
        self._bank_class = classes_idx.astype(np.intp)
        self._bank_count = counters.astype(np.int64)

    # ------------------------------------------------------------------------------------------------------------
    # Inference

    def _voters(self) -> list[slice]:
        """Feature slices that each search for nearest neurons: one per channel, or the whole image."""
        channels, pixels = self.image_shape_[0], int(np.prod(self.image_shape_[1:]))
        if self.channel_voting and channels > 1:
            return [slice(c * pixels, (c + 1) * pixels) for c in range(channels)]
        return [slice(None)]

    def _neighbors(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Class indices and distances of each voter's nearest neurons, each (n, V, k)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        bank = self._bank[: self.n_neurons_]
        found = [kernels.nearest_neurons(X[:, s], bank[:, s], self.n_neighbors, self.distance, p=self.p,
                                         backend=self.search_backend) for s in self._voters()]
        distances = np.stack([d for d, _ in found], axis=1)
        indices = np.stack([i for _, i in found], axis=1)
        return self._bank_class[indices], distances

    def _scores(self, neighbor_classes: np.ndarray, distances: np.ndarray) -> np.ndarray:
        return voting.tally_votes(neighbor_classes, voting.vote_weights(distances, self.weights),
                                  len(self.classes_))

    def predict(self, X) -> np.ndarray:
        """Label of the nearest neuron (or the vote winner), (n,)."""
        neighbor_classes, distances = self._neighbors(X)
        scores = self._scores(neighbor_classes, distances)
        return self.classes_[voting.decide(scores, neighbor_classes, distances)]

    def predict_proba(self, X) -> np.ndarray:
        """Share of the (weighted) votes each class receives, (n, n_classes), rows summing to 1.

        Votes come from the ``n_neighbors`` nearest neurons of every voter (the image, or each channel under
        ``channel_voting``). With the defaults (one neighbour, one voter) this is one-hot: the Memory Network
        gives no calibrated probabilities, only how its nearest neurons voted.
        """
        scores = self._scores(*self._neighbors(X))
        return scores / scores.sum(axis=1, keepdims=True)
