"""Local receptive fields: one Memory Network per image position, no weights shared across positions.

Each image is cut into (possibly overlapping) ``patch_size`` x ``patch_size`` patches on a grid of ``stride``.
The patch at each grid position has its own memory bank, trained by the same one-pass rule on that patch alone.
An image is classified by combining the positions: ``"distance"`` sums, over positions, each class's distance
from the patch to that position's nearest neuron of the class, and picks the class with the smallest sum;
``"vote"`` lets each position vote for the label of its nearest neuron.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import kernels, voting
from .model import MemoryNetworkClassifier

__all__ = ["LocalReceptiveFieldClassifier", "patch_grid"]


def patch_grid(height: int, width: int, patch_size: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of the patches; the last row and column are aligned with the image border."""
    def starts(size):
        last = size - patch_size
        return sorted(set(range(0, last + 1, stride)) | {last})
    return [(r, c) for r in starts(height) for c in starts(width)]


class LocalReceptiveFieldClassifier(ClassifierMixin, BaseEstimator):
    """A Memory Network per patch position, combined by summed class distances or votes.

    Parameters
    ----------
    patch_size, stride : int, default=14, 7
        Side of the square patches and the step of their grid, in pixels.
    max_neurons : int, default=2000
        Memory budget of each position.
    combine : {"distance", "vote"}, default="distance"
        How positions are combined (see module docstring).
    image_shape : tuple (C, H, W) or None
        Shape of one image, inferred from 4-D input when None.
    **memory parameters** (``threshold``, ``distance``, ``p``, ``batch_size``, ``class_budget``, ``random_state``,
    ``shuffle``): as in :class:`MemoryNetworkClassifier`, shared by every position's bank; the single pass visits
    the samples in the same order at every position.
    """

    _parameter_constraints: dict = {
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "combine": [StrOptions({"distance", "vote"})],
        **{key: MemoryNetworkClassifier._parameter_constraints[key]
           for key in ("max_neurons", "threshold", "distance", "p", "batch_size", "class_budget", "image_shape",
                       "shuffle", "random_state")},
    }

    def __init__(self, patch_size: int = 14, stride: int = 7, max_neurons: int = 2000, *, combine: str = "distance",
                 threshold: float | None = None, distance: str = "l2", p: float = 2.0, batch_size: int = 1024,
                 class_budget: str = "shared", image_shape=None, shuffle: bool = True, random_state=None):
        self.patch_size = patch_size
        self.stride = stride
        self.max_neurons = max_neurons
        self.combine = combine
        self.threshold = threshold
        self.distance = distance
        self.p = p
        self.batch_size = batch_size
        self.class_budget = class_budget
        self.image_shape = image_shape
        self.shuffle = shuffle
        self.random_state = random_state

    @property
    def n_neurons_(self) -> int:
        """Neurons in use over all positions."""
        check_is_fitted(self)
        return sum(bank.n_neurons_ for bank in self.banks_)

    def _images(self, X, *, reset: bool) -> np.ndarray:
        shape = None
        if getattr(X, "ndim", 2) == 4:
            shape = tuple(X.shape[1:])
            X = np.asarray(X).reshape(len(X), -1)
        X = validate_data(self, X, reset=reset, dtype=np.float32)
        if reset:
            shape = tuple(self.image_shape) if self.image_shape is not None else shape
            if shape is None or int(np.prod(shape)) != X.shape[1]:
                side = int(round(np.sqrt(X.shape[1])))
                if side * side != X.shape[1]:
                    raise ValueError("give image_shape=(C, H, W) or 4-D input: the patches need the image layout")
                shape = (1, side, side)
            if self.patch_size > min(shape[1:]):
                raise ValueError(f"patch_size={self.patch_size} is larger than the {shape[1]}x{shape[2]} images")
            self.image_shape_ = shape
        return X.reshape(len(X), *self.image_shape_)

    def _patches(self, images: np.ndarray, corner: tuple[int, int]) -> np.ndarray:
        r, c = corner
        patch = images[:, :, r:r + self.patch_size, c:c + self.patch_size]
        return np.ascontiguousarray(patch).reshape(len(images), -1)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """One pass over (X, y) at every position. Returns ``self``."""
        images = self._images(X, reset=True)
        _, y = validate_data(self, images.reshape(len(images), -1), y, reset=False)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        order = check_random_state(self.random_state).permutation(len(y)) if self.shuffle else np.arange(len(y))
        images, y = images[order], y[order]
        self.corners_ = patch_grid(self.image_shape_[1], self.image_shape_[2], self.patch_size, self.stride)
        self.banks_ = []
        for corner in self.corners_:
            bank = MemoryNetworkClassifier(self.max_neurons, threshold=self.threshold, distance=self.distance, p=self.p,
                                           batch_size=self.batch_size, class_budget=self.class_budget, shuffle=False)
            self.banks_.append(bank.fit(self._patches(images, corner), y))
        return self

    def _class_scores(self, X) -> np.ndarray:
        """(n, n_classes): summed nearest-neuron distances per class, or vote counts (negated, lower is better)."""
        check_is_fitted(self)
        images = self._images(X, reset=False)
        n_classes = len(self.classes_)
        total = np.zeros((len(images), n_classes))
        for corner, bank in zip(self.corners_, self.banks_):
            patches = self._patches(images, corner)
            neurons = bank._bank[: bank.n_neurons_]
            classes = np.searchsorted(self.classes_, bank.labels_)
            if self.combine == "distance":
                nearest = kernels.nearest_per_class(patches, neurons, classes, n_classes, self.distance, p=self.p)
                total += nearest  # finite: every bank holds every class (new_label_policy="reserve")
            else:
                _, idx = kernels.nearest_neurons(patches, neurons, 1, self.distance, p=self.p)
                total -= voting.tally_votes(classes[idx][:, :, None], np.ones((len(idx), 1, 1)), n_classes)
        return total

    def predict(self, X) -> np.ndarray:
        """The class with the smallest summed distance (or the most votes), (n,)."""
        return self.classes_[self._class_scores(X).argmin(axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Votes: share of positions voting for each class; distances: softmin of the summed distances
        scaled by their spread (a ranking aid, not a calibrated probability)."""
        scores = -self._class_scores(X)
        if self.combine == "vote":
            return scores / scores.sum(axis=1, keepdims=True)
        scores = (scores - scores.max(axis=1, keepdims=True)) / max(float(scores.std()), 1e-12)
        weights = np.exp(scores)
        return weights / weights.sum(axis=1, keepdims=True)
