"""Models whose memories carry labels (the paper's model, local receptive fields): every neuron belongs to a class,
learns only from images of its class, and the nearest neurons decide.

:class:`LabelledMemoryEstimator` holds what such a model can do beyond the shared machinery of
:class:`~memorynet.models.base.MemoryEstimator`: measure each image's distance to every class, take new classes
within its budget (consolidation), learn a lesson, explain a prediction and merge with another model by the
learning rule itself (:meth:`~memorynet.models.base.MemoryEstimator.merge`).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..engine.bank import NeuronBank
from ..engine.rule import OnePassRule, merge_closest_pairs
from .base import MemoryEstimator, unchanged_on_error
from .thresholds import WARMUP_IMAGES, parse_threshold, quantile_threshold

__all__ = ["LabelledMemoryEstimator"]


class LabelledMemoryEstimator(MemoryEstimator):
    """The shared part of the models with labelled memories (not an estimator by itself)."""

    labelled_memories = True

    def _default_rule(self, n_labels: int, position: int) -> OnePassRule:
        return self._one_pass_rule()(n_labels, threshold=self._bank_threshold(position),
                                     new_label_policy=self.new_label_policy, class_budget=self.class_budget,
                                     consolidate=self.consolidate)

    # ------------------------------------------------------------------------------------------------------------
    # Growth threshold (in distance units, or a quantile learnt in the pass: models.thresholds)

    def _validate_params(self) -> None:
        super()._validate_params()
        parse_threshold(self.threshold)

    def _bank_threshold(self, position: int) -> float | None:
        """The growth threshold of bank ``position`` in distance units; ``None``: grow on every input (no threshold,
        or a quantile not learnt yet)."""
        spec = parse_threshold(self.threshold)
        if spec is None or spec[0] == "distance":
            return None if spec is None else spec[1]
        return None if self.threshold_ is None else float(self.threshold_[position])

    def _begin(self, classes: np.ndarray) -> None:
        super()._begin(classes)
        self.threshold_ = None

    def _learn(self, X: np.ndarray, classes: np.ndarray, order: np.ndarray | None = None) -> None:
        self._learn_threshold(X, classes, order)
        super()._learn(X, classes, order)

    def _learn_threshold(self, X: np.ndarray, classes: np.ndarray, order: np.ndarray | None) -> None:
        """Under ``threshold="quantile:q"`` or ``"auto"``, until learnt: each bank's threshold, the quantile of the
        leave-one-out nearest same-label distances among the first images of this call in learning order (up to
        ``WARMUP_IMAGES``, as the bank sees them); left unlearnt while no class has two of them."""
        spec = parse_threshold(self.threshold)
        if spec is None or spec[0] == "distance" or self.threshold_ is not None:
            return
        rows = (np.arange(len(X)) if order is None else order)[:WARMUP_IMAGES]
        images, labels, (metric, p) = X[rows].reshape(len(rows), *self.image_shape_), classes[rows], self._metric()
        found = [quantile_threshold(self._bank_rows(images, b), labels, spec[1], metric, p)
                 for b in range(len(self.banks_))]
        if None not in found:
            self.threshold_ = np.array(found)

    def _export_state(self):
        state, banks, own = super()._export_state()
        return state, banks, own if self.threshold_ is None else {**own, "threshold": self.threshold_}

    def _import_state(self, state, classes, banks, arrays):
        arrays = dict(arrays)
        threshold = arrays.pop("threshold", None)
        super()._import_state(state, classes, banks, arrays)
        if threshold is not None and (threshold.shape != (len(banks),)
                                      or not np.all(np.isfinite(threshold) & (threshold >= 0))):
            raise ValueError(f"a threshold array of shape {threshold.shape} for {len(banks)} banks (one finite "
                             "distance >= 0 per bank expected)")
        self.threshold_ = threshold

    def _check_budget(self, classes: np.ndarray) -> None:
        """Refuse a budget that cannot hold ``classes`` (every class needs a neuron of its own)."""
        if len(classes) > self.max_neurons:
            raise ValueError(f"max_neurons={self.max_neurons} is smaller than the number of classes "
                             f"({len(classes)}); every class needs at least one neuron")

    def _neuron_labels(self, bank: NeuronBank) -> np.ndarray:
        return self.classes_[bank.classes]

    # ------------------------------------------------------------------------------------------------------------
    # Explain

    def class_distances(self, X) -> np.ndarray:
        """(n, n_classes): the distance from each image to the nearest neuron of each class, summed over the banks
        (one bank: the paper's model; one per position: receptive fields). ``inf`` for a class without neurons."""
        images = self._images(X)
        searchers = self._searchers()
        parts = self._map_positions(
            lambda p: searchers[p].nearest_per_class(self._bank_rows(images, p), len(self.classes_)))
        total = np.zeros((len(images), len(self.classes_)))
        for part in parts:  # summed in position order, however the parts were computed
            total += part
        return total

    def _class_evidence(self, X) -> tuple[np.ndarray, str, bool]:
        return self.class_distances(X), "distance to the nearest neuron", False

    def _class_weights(self, position: int) -> np.ndarray:
        bank = self.banks_[position]
        weights = np.zeros((len(self.classes_), len(bank)))
        weights[bank.classes, np.arange(len(bank))] = bank.counters
        return weights

    def class_sizes(self) -> tuple[np.ndarray, str]:
        check_is_fitted(self)
        return np.sum([bank.class_counts(len(self.classes_)) for bank in self.banks_], axis=0), "neurons"

    # ------------------------------------------------------------------------------------------------------------
    # Teach

    @unchanged_on_error
    def add_classes(self, labels) -> np.ndarray:
        """Declare new class labels on a fitted model, so that ``partial_fit`` can teach them (few-shot learning of
        a class the stream had not announced). Returns the new ``classes_``.

        Existing neurons keep their labels. The memory budget stays as it is: a bank without a free neuron for each
        new class makes room by merging two neurons (counter-weighted mean; the pair Ward's criterion finds
        cheapest) of its most numerous class.
        """
        labels = self._new_labels(labels)
        classes = np.union1d(self.classes_, labels)
        if len(classes) > self.max_neurons:
            raise ValueError(f"max_neurons={self.max_neurons} cannot hold {len(classes)} classes")
        self.make_room(len(labels))
        mapping = np.searchsorted(classes, self.classes_)
        for bank in self.banks_:
            bank.relabel(mapping)
        self.classes_ = classes
        self._searcher_cache = None  # the searchers' class blocks change with the number of classes
        return classes

    @unchanged_on_error
    def make_room(self, n_neurons: int = 1) -> None:
        """Make sure every bank has ``n_neurons`` free neurons, keeping the budget: a bank with fewer merges
        disjoint pairs of neurons (counter-weighted mean; the cheapest by Ward's criterion) of its most numerous
        class, as many as needed.

        This is consolidation on demand: how a full memory can still grow a neuron for a class it is taught."""
        check_is_fitted(self)
        short = [n_neurons - bank.free for bank in self.banks_]
        for bank, missing in zip(self.banks_, short):  # every check before any bank changes
            if missing > 0 and bank.class_counts(len(self.classes_)).max() < 2 * missing:
                raise ValueError(f"a full bank has too few neurons in any class to free {n_neurons} neurons; "
                                 "ask for fewer at a time")
        for bank, missing in zip(self.banks_, short):
            if missing > 0:
                largest = int(np.argmax(bank.class_counts(len(self.classes_))))
                bank.remove_rows(merge_closest_pairs(bank, largest, missing, self.distance, self.p))
                self._searcher_cache = None  # removed rows renumber the bank: its searchers are made anew

    @unchanged_on_error
    def teach(self, X, y) -> dict:
        """A lesson: learn the images ``X`` as the classes ``y`` at once (``partial_fit``), declaring labels the
        model does not know yet (:meth:`add_classes`). A class with fewer neurons than its share of the budget in
        every bank first gets room for one more (consolidation), so a few images can teach a new class.

        Returns ``{"new_classes": [...], "banks": [(row, grew), ...]}``: for each bank, the row that the last
        image grew or moved."""
        y = np.asarray(y)
        new = [label for label in np.unique(y) if label not in self.classes_]
        if new:
            self.add_classes(new)
        share = self.max_neurons // len(self.classes_)
        for label in np.unique(y):
            index = int(np.searchsorted(self.classes_, label))
            if all(bank.class_counts(len(self.classes_))[index] < share for bank in self.banks_):
                self.make_room(1)
        sizes = [len(bank) for bank in self.banks_]
        counters = [bank.counters.copy() for bank in self.banks_]
        self.partial_fit(X, y.astype(self.classes_.dtype, copy=False))
        changed = [(size, True) if len(bank) > size else
                   (int(np.flatnonzero(bank.counters[:size] != old)[-1]), False)
                   for bank, size, old in zip(self.banks_, sizes, counters)]
        return {"new_classes": [label.item() if hasattr(label, "item") else label for label in new],
                "banks": changed}
