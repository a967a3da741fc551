"""The one-pass learning rule of the Memory Network, working on a bank and a searcher (no scikit-learn).

For each batch, every input against the memory as it stood at the batch's start: growth while there is room
(always without a threshold; with one, only for inputs farther than the threshold from their label's nearest
neuron), the new-label policy and the class budget decide which inputs may grow; the others move their nearest
same-label neuron to the running mean ``(c r + sum x) / (c + k)``; with ``consolidate``, a novel input with no room
frees a slot by merging two of its label's neurons. Under the ``"fair"`` class budget, an input of a class below
its share that finds no room takes a slot that a class above its share frees by merging two of its neurons. A merge
takes the pair that loses least by Ward's criterion (the closest, weighted by their counters), so a class thinned
by merges keeps its neurons where its inputs are dense: the order in which classes arrive, announced or not,
barely changes what the memory holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from . import kernels
from .bank import NeuronBank
from .searchers import Searcher

__all__ = ["LearningRule", "OnePassRule", "NoRoomForClass", "merge_closest_pairs", "batch_rows"]


class NoRoomForClass(ValueError):
    """The memory is full and a class has no neuron yet (``new_label_policy="error"``); ``class_index`` names it."""

    def __init__(self, class_index: int, capacity: int):
        self.class_index, self.capacity = class_index, capacity
        super().__init__(f"the memory is full ({capacity} neurons) and class index {class_index} has no neuron "
                         "yet; raise max_neurons, or use new_label_policy='reserve' with every class declared up "
                         "front")


Batch = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]  # inputs (b, D), class indices (b,), weights (b,)


def batch_rows(n: int, batch_size: int, order: np.ndarray | None = None) -> Iterator[slice | np.ndarray]:
    """The rows of each batch of ``batch_size`` of ``n`` inputs taken in ``order`` (default: as given): a slice,
    or that part of ``order``."""
    for start in range(0, n, batch_size):
        yield slice(start, start + batch_size) if order is None else order[start:start + batch_size]


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


class LearningRule:
    """What an estimator asks of a learning rule: learn batches of labelled inputs into a bank.

    A rule implements :meth:`learn_batch`; :meth:`learn` (one pass over the data, batch by batch) comes with it. The
    estimators make their rule from ``learning_rule`` (a factory called with the number of labels), else use
    :class:`OnePassRule`: see the guide page "Extending memorynet".
    """

    def learn(self, bank: NeuronBank, searcher: Searcher, X: np.ndarray, classes: np.ndarray, batch_size: int,
              order: np.ndarray | None = None, progress: bool = False, weights: np.ndarray | None = None) -> None:
        """One pass over ``X`` (n, D) with class indices ``classes`` (n,), in ``order`` (default: as given).

        Batches are gathered one at a time, never the whole shuffled data at once. ``weights`` (n,) int: an input
        of weight w counts as w identical inputs (how banks are merged: a neuron enters as its counter's worth).
        """
        stream = ((X[rows], classes[rows], None if weights is None else weights[rows])
                  for rows in batch_rows(len(X), batch_size, order))  # gathered one batch at a time
        steps = self.steps(bank, searcher, stream, len(X))
        for _ in tqdm(steps, total=-(-len(X) // batch_size), desc="one pass", unit="batch", disable=not progress,
                      leave=False):
            pass

    def steps(self, bank: NeuronBank, searcher: Searcher, stream: Iterable[Batch], n_inputs: int) -> Iterator[None]:
        """The pass of :meth:`learn` over the batches of ``stream`` (``n_inputs`` inputs in all), one per step: a
        generator that learns a batch each time it is advanced, so passes over independent banks can be
        interleaved on threads (:func:`memorynet.engine.schedule.run_interleaved`)."""
        bank.reserve(n_inputs)  # the pass grows the bank by at most one row per input: one allocation, no copies
        for x, classes, weights in stream:
            self.learn_batch(bank, searcher, x, classes, weights)
            yield

    def learn_batch(self, bank: NeuronBank, searcher: Searcher, x: np.ndarray, classes: np.ndarray,
                    weights: np.ndarray | None = None) -> None:
        """Learn one batch ``x`` (b, D) with class indices ``classes`` (b,) into ``bank`` (``searcher`` is
        attached to it); ``weights`` (b,) int or None: an input of weight w counts as w identical inputs."""
        raise NotImplementedError


@dataclass(frozen=True)
class OnePassRule(LearningRule):
    """Growth, threshold, new-label policy, class budget, consolidation and running-mean update.

    ``n_classes`` is the number of declared classes (class indices 0..n_classes-1); the bank's ``capacity`` is the
    memory budget. See :class:`memorynet.MemoryNetworkClassifier` for the meaning of each option.
    """

    n_classes: int
    threshold: float | None = None
    new_label_policy: str = "reserve"
    class_budget: str = "shared"
    consolidate: bool = False

    def learn_batch(self, bank: NeuronBank, searcher: Searcher, x: np.ndarray, classes: np.ndarray,
                    weights: np.ndarray | None = None) -> None:
        """Learn one batch ``x`` (b, D), class indices ``classes`` (b,), against the bank as it stands now;
        ``weights`` (b,) int, default 1: an input of weight w counts as w identical inputs.

        Raises :class:`NoRoomForClass` (bank unchanged) when the memory is full and a label has no neuron yet under
        ``new_label_policy="error"``.
        """
        represented = bank.class_counts(self.n_classes) > 0
        if self.threshold is None:
            eligible = np.ones(len(x), dtype=bool)
        else:
            distance, target = searcher.nearest_same_label(x, classes)
            eligible = distance > self.threshold
        grow = self._grow_mask(bank, eligible, classes, represented)
        placed = self._consolidation_mask(bank, eligible, grow, classes)
        claimed = self._claim_mask(bank, eligible, grow | placed, classes)
        stay = np.flatnonzero(~grow & ~placed & ~claimed)
        if self.threshold is None:
            target = np.full(len(x), -1, dtype=np.intp)
            target[stay] = searcher.nearest_same_label(x[stay], classes[stay])[1]
        # Labels with no neuron at the batch's start join the nearest neuron born in this batch, once it is placed.
        orphan, settled = stay[target[stay] < 0], stay[target[stay] >= 0]
        stranded = orphan[~np.isin(classes[orphan], classes[grow | claimed])]
        if stranded.size:
            raise NoRoomForClass(int(classes[stranded[0]]), bank.capacity)
        w = (lambda rows: 1) if weights is None else (lambda rows: weights[rows])  # noqa: E731
        bank.append(x[grow], classes[grow], w(grow))
        bank.absorb(target[settled], x[settled], None if weights is None else weights[settled])
        if placed.any():
            self._merge_and_place(bank, searcher, x[placed], classes[placed], w(placed))
        if claimed.any():
            self._reclaim(bank, searcher, x[claimed], classes[claimed], w(claimed))
        if orphan.size:  # disjoint from the rows moved above: their labels' neurons were all born in this batch
            bank.absorb(searcher.nearest_same_label(x[orphan], classes[orphan])[1], x[orphan],
                        None if weights is None else weights[orphan])

    def _class_room(self, bank: NeuronBank) -> np.ndarray:
        """Each class's share of the capacity less its neurons, (n_classes,) (negative: above its share)."""
        share = np.full(self.n_classes, bank.capacity // self.n_classes)
        share[: bank.capacity % self.n_classes] += 1
        return share - bank.class_counts(self.n_classes)

    def _grow_mask(self, bank: NeuronBank, eligible: np.ndarray, classes: np.ndarray,
                   represented: np.ndarray) -> np.ndarray:
        """Which inputs of the batch become new neurons, in batch order, within the free slots."""
        if self.class_budget in ("balanced", "fair"):  # shares sum to the capacity, unless classes were added later
            room = self._class_room(bank)
            grow = _first_per_group(eligible, classes, room)
            if self.class_budget == "fair":  # room no class below its share still needs goes to any input
                spare = bank.free - int(np.maximum(room, 0).sum())
                grow[np.flatnonzero(eligible & ~grow)[: max(spare, 0)]] = True
            grow[np.flatnonzero(grow)[bank.free:]] = False
            return grow
        free = bank.free
        grow = np.zeros(len(classes), dtype=bool)
        if self.new_label_policy == "reserve":
            novel = np.flatnonzero(eligible & ~represented[classes])
            _, first = np.unique(classes[novel], return_index=True)
            grow[novel[first]] = True  # first input of each unrepresented class takes its reserved slot
            free -= int((~represented).sum())
        grow[np.flatnonzero(eligible & ~grow)[: max(free, 0)]] = True
        return grow

    def _consolidation_mask(self, bank: NeuronBank, eligible: np.ndarray, grow: np.ndarray,
                            classes: np.ndarray) -> np.ndarray:
        """Novel inputs with no room that will replace a merged pair: at most half of their label's neurons."""
        if not self.consolidate or self.threshold is None:
            return np.zeros(len(classes), dtype=bool)
        neurons = bank.class_counts(self.n_classes)
        return _first_per_group(eligible & ~grow & (neurons[classes] > 0), classes, neurons // 2)

    def _claim_mask(self, bank: NeuronBank, eligible: np.ndarray, taken: np.ndarray,
                    classes: np.ndarray) -> np.ndarray:
        """``class_budget="fair"``: inputs of classes below their share that found no room (in batch order), as many
        as the classes above their share can free by merging disjoint pairs."""
        if self.class_budget != "fair":
            return np.zeros(len(classes), dtype=bool)
        room = self._class_room(bank)
        short = room - np.bincount(classes[taken], minlength=self.n_classes)
        claims = _first_per_group(eligible & ~taken, classes, np.maximum(short, 0))
        claims[np.flatnonzero(claims)[self._givable(bank, room).sum():]] = False
        return claims

    def _givable(self, bank: NeuronBank, room: np.ndarray) -> np.ndarray:
        """Neurons each class can free for others, (n_classes,): its excess over its share, at most half of its
        neurons (disjoint pairs)."""
        return np.minimum(np.maximum(-room, 0), bank.class_counts(self.n_classes) // 2)

    def _reclaim(self, bank: NeuronBank, searcher: Searcher, x: np.ndarray, classes: np.ndarray,
                 weights: np.ndarray | int) -> None:
        """Store ``x`` in slots freed by merging the closest disjoint pairs of the classes most above their share
        (counter-weighted means)."""
        weights = np.broadcast_to(weights, len(x))
        givable, start = self._givable(bank, self._class_room(bank)), 0
        for donor in np.argsort(-givable, kind="stable"):
            n = min(int(givable[donor]), len(x) - start)
            if n == 0:
                break
            freed = merge_closest_pairs(bank, int(donor), n, searcher.metric, searcher.p)
            rows = slice(start, start + n)
            bank.replace_rows(freed, x[rows], classes[rows], weights[rows])
            start += n

    @staticmethod
    def _merge_and_place(bank: NeuronBank, searcher: Searcher, x: np.ndarray, classes: np.ndarray,
                         weights: np.ndarray | int) -> None:
        """Merge the closest disjoint same-label pairs (counter-weighted) and store ``x`` in the freed slots."""
        weights = np.broadcast_to(weights, len(x))
        for label in np.unique(classes):
            newcomers, counters = x[classes == label], weights[classes == label]
            freed = merge_closest_pairs(bank, int(label), len(newcomers), searcher.metric, searcher.p)
            bank.replace_rows(freed, newcomers, np.full(len(freed), label), counters)


def merge_closest_pairs(bank: NeuronBank, class_index: int, n_pairs: int, metric: str, p: float) -> np.ndarray:
    """Merge the ``n_pairs`` cheapest disjoint pairs of the class's neurons by Ward's criterion (the closest,
    weighted by their counters: :func:`kernels.merge_costs`), each into its first neuron by the counter-weighted
    mean; returns the rows of the second neurons, now spare (to be replaced or removed)."""
    rows = np.flatnonzero(bank.classes == class_index)
    members = bank.memory_rows(rows)
    costs = kernels.merge_costs(kernels.pairwise_distances(members, members, metric, p=p), bank.counters[rows])
    keep, drop = kernels.closest_disjoint_pairs(costs, n_pairs)
    bank.merge_rows(rows[keep], rows[drop])
    return rows[drop]
