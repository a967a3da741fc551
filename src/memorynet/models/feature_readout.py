"""Models made of an unlabelled feature stage and a readout (prototype codes): banks of prototypes learnt without
labels describe each image, and a :class:`~memorynet.models.readout.StreamingLDA` over those descriptions decides.

:class:`FeatureReadoutEstimator` holds what such a model does beyond the shared machinery of
:class:`~memorynet.models.base.MemoryEstimator`: its memories carry no labels (``memory_view()["labels"]`` is
``None``), its per-class evidence is the readout's discriminant, a new class is new readout statistics, a lesson
teaches the readout alone, and merging joins the readouts' statistics exactly.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils.extmath import softmax
from sklearn.utils.validation import check_is_fitted

from ..engine.bank import NeuronBank
from ..engine.rule import OnePassRule
from .base import MemoryEstimator, unchanged_on_error

__all__ = ["FeatureReadoutEstimator", "PREDICT_CHUNK"]

PREDICT_CHUNK = 1000  # images described and scored together at prediction


class FeatureReadoutEstimator(MemoryEstimator):
    """The shared part of the models with an unlabelled feature stage and a readout (not an estimator by itself).

    Subclasses set ``readout_`` (a :class:`~memorynet.models.readout.StreamingLDA` on class indices) when they
    begin and implement :meth:`_features`.
    """

    labelled_memories = False

    def _default_rule(self, n_labels: int, position: int) -> OnePassRule:
        return self._one_pass_rule()(n_labels)  # unlabelled: one label, every prototype competes for every input

    def _metric(self) -> tuple[str, float]:
        return "l2", 2.0  # the prototypes' distance (fixed)

    def _neuron_labels(self, bank: NeuronBank) -> None:
        return None

    def _features(self, images: np.ndarray) -> np.ndarray:
        """(n, n_features) float32: what the readout sees of validated ``images`` (n, C, H, W)."""
        raise NotImplementedError

    def _onnx_features(self, g, images: str) -> str:
        """What the readout sees of ``images`` (N, C, H, W), (N, n_features) float32, in ONNX graph ``g``."""
        raise NotImplementedError(f"{type(self).__name__} has no ONNX form of its features")

    def _ready_readout(self):
        """The readout, set to this model's shrinkage; a ValueError if it has learnt from no image."""
        if not hasattr(self.readout_, "counts_"):
            raise ValueError(f"the readout has learnt from no image: the first {self.sequential_prefix} images only "
                             f"teach the feature stage, and {self.n_samples_seen_} were seen; fit on more images")
        self.readout_.shrinkage = self.shrinkage
        return self.readout_

    def _readout_scores(self, X) -> np.ndarray:
        """(n, n_classes) linear discriminants of the readout (``-inf`` for classes it has not learnt). The
        discriminant is solved first; then the images are described and scored ``PREDICT_CHUNK`` at a time, so the
        codes of one chunk, never those of the whole input, are in memory (and never beside the solve)."""
        images = self._images(X)
        readout = self._ready_readout()
        readout.discriminant()
        return np.concatenate([readout.decision_function(self._features(images[rows]).astype(np.float64))
                               for rows in gen_batches(len(images), PREDICT_CHUNK)])

    def _onnx_evidence(self, g, images: str) -> str:
        readout = self._ready_readout()
        weights, bias = readout.discriminant()
        return g.linear(self._onnx_features(g, images), weights, np.where(readout.counts_ == 0, -np.inf, bias))

    def _onnx_scores(self, g, images: str) -> tuple[str, str]:
        scores = self._onnx_evidence(g, images)
        return g.softmax_of_scores(scores), g.op("ArgMax", scores, axis=1, keepdims=0)

    def _class_evidence(self, X) -> tuple[np.ndarray, str, bool]:
        return self._readout_scores(X), "linear discriminant", True

    def _class_weights(self, position: int) -> np.ndarray:
        """The readout's mean feature of each class over the bank's neurons (a class not learnt yet: zeros)."""
        n = len(self.banks_[position])
        if not hasattr(self.readout_, "counts_"):
            return np.zeros((len(self.classes_), n))
        width = self.readout_.means_.shape[1] // len(self.banks_)
        return np.maximum(self.readout_.means_[:, position * width:position * width + n], 0.0)

    def class_sizes(self) -> tuple[np.ndarray, str]:
        check_is_fitted(self)
        counts = self.readout_.counts_ if hasattr(self.readout_, "counts_") else np.zeros(len(self.classes_), int)
        return counts.copy(), "images"

    def decision_function(self, X) -> np.ndarray:
        """(n, n_classes): the linear discriminant of each class (``-inf`` for classes the readout has not seen);
        with two classes, scikit-learn's (n,): the second class's discriminant less the first's."""
        scores = self._readout_scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X) -> np.ndarray:
        """The class with the largest discriminant, (n,)."""
        scores = self._readout_scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """The linear discriminant's class posteriors (equal priors): a softmax of the discriminants."""
        return softmax(self._readout_scores(X), copy=False)

    # ------------------------------------------------------------------------------------------------------------
    # Teach

    @unchanged_on_error
    def add_classes(self, labels) -> np.ndarray:
        """Declare new class labels on a fitted model, so that ``partial_fit`` or :meth:`teach` can teach them.
        Returns the new ``classes_``. The feature stage carries no labels and stays as it is; the readout gains
        empty statistics for each new class (never predicted until taught)."""
        labels = self._new_labels(labels)
        classes = np.union1d(self.classes_, labels)
        self.readout_.insert_classes(len(classes), np.searchsorted(classes, self.classes_))
        self.classes_ = classes
        return classes

    @unchanged_on_error
    def teach(self, X, y) -> dict:
        """A lesson: the readout learns the images ``X`` as the classes ``y`` at once, declaring labels the model
        does not know yet (:meth:`add_classes`); the feature stage does not move, so what the readout remembers of
        earlier images stays valid. A few images teach a new class.

        Returns ``{"new_classes": [...], "class_images": {label: images the readout holds of it}}``."""
        check_is_fitted(self)
        if not hasattr(self.readout_, "counts_"):
            raise ValueError("the readout has learnt from no image yet: fit the model before teaching it")
        y = np.asarray(y)
        images = self._images(X)
        new = [label for label in np.unique(y) if label not in self.classes_]
        if new:
            self.add_classes(new)
        indices = self._class_indices(y.astype(self.classes_.dtype, copy=False))
        self.readout_.partial_fit(self._features(images), indices)
        self.n_samples_seen_ += len(images)
        taught = {label.item() if hasattr(label, "item") else label: int(self.readout_.counts_[i])
                  for i, label in zip(np.unique(indices), self.classes_[np.unique(indices)])}
        return {"new_classes": [label.item() if hasattr(label, "item") else label for label in new],
                "class_images": taught}

    # ------------------------------------------------------------------------------------------------------------
    # Merge

    def _merge_state(self, other, ancestor) -> None:
        """The readouts' statistics joined exactly (an ancestor must not have taught its readout yet)."""
        if ancestor is not None and hasattr(ancestor.readout_, "counts_"):
            raise ValueError("the ancestor's readout has learnt already: shards must split the stream before the "
                             f"readout starts (within the first {self.sequential_prefix} images)")
        if hasattr(other.readout_, "counts_"):
            self.readout_.merge(other.readout_)
