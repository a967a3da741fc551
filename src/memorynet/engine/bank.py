"""The neuron bank: storage of neuron memories and their invariants, nothing else.

A bank holds rows of memories (float32, one flattened latent representation per neuron), the class index of each
row and its counter (inputs absorbed). Buffers grow geometrically up to ``capacity``, or in one step by what
a learning pass may add (:meth:`NeuronBank.reserve`), never by more: a bank that has learnt little holds
little, so holding many small banks (one per receptive-field position) is cheap. :meth:`NeuronBank.absorb` is the
running-mean update of the rows a batch hits (the bank's one arithmetic: a memory is the mean of what it absorbed).
Searchers that index the bank are told of every change (:meth:`NeuronBank.attach`), so they can stay up to date
incrementally.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import kernels

__all__ = ["NeuronBank", "BankError"]

_INITIAL_ROWS = 1024


class BankError(ValueError):
    """Arrays that do not form a valid bank (wrong shapes or dtypes, NaN memories, counters below 1, ...)."""


class NeuronBank:
    """Rows of neuron memories (n, D) float32, class indices (n,) intp and counters (n,) int64.

    ``capacity`` is the most rows the bank may hold (the memory budget); ``n_features`` the width D of a row.
    """

    def __init__(self, n_features: int, capacity: int):
        if n_features < 1 or capacity < 1:
            raise BankError(f"a bank needs n_features >= 1 and capacity >= 1, got {n_features} and {capacity}")
        self.n_features = int(n_features)
        self.capacity = int(capacity)
        rows = min(self.capacity, _INITIAL_ROWS)
        self._memories = np.empty((rows, self.n_features), dtype=np.float32)
        self._classes = np.empty(rows, dtype=np.intp)
        self._counters = np.empty(rows, dtype=np.int64)
        self.size = 0
        self._observers: list = []

    def __len__(self) -> int:
        return self.size

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_observers": []}  # searchers hold engine state; they re-attach on demand

    # Views of the rows in use (writing to them bypasses the observers: use the methods below)
    @property
    def memories(self) -> np.ndarray:
        """(n, D) float32 view of the memories in use."""
        return self._memories[: self.size]

    @property
    def classes(self) -> np.ndarray:
        """(n,) class index of each neuron."""
        return self._classes[: self.size]

    @property
    def counters(self) -> np.ndarray:
        """(n,) inputs absorbed by each neuron."""
        return self._counters[: self.size]

    @property
    def free(self) -> int:
        """Rows still available before the bank is full."""
        return self.capacity - self.size

    def raise_capacity(self, capacity: int) -> None:
        """Allow the bank to hold up to ``capacity`` rows (never fewer than it holds or allowed before)."""
        if capacity < self.capacity:
            raise BankError(f"cannot lower the capacity of a bank from {self.capacity} to {capacity}")
        self.capacity = int(capacity)

    def attach(self, observer) -> None:
        """Tell ``observer`` of every change: ``observer.rows_changed(rows)`` after appends, updates and merges.

        The bank holds the observer weakly (a searcher refers to its bank; no reference cycle keeps a dropped
        bank's memory alive)."""
        self._observers.append(weakref.ref(observer))

    def _notify(self, rows: np.ndarray) -> None:
        for ref in self._observers:
            observer = ref()
            if observer is not None:
                observer.rows_changed(rows)

    def class_counts(self, n_classes: int) -> np.ndarray:
        """Neurons per class index, (n_classes,) int."""
        return np.bincount(self.classes, minlength=n_classes)

    def append(self, memories: np.ndarray, classes: np.ndarray, counters: np.ndarray | int = 1) -> np.ndarray:
        """Add new neurons (counter 1, or ``counters``) at the end; returns their row indices. Refuses to exceed
        ``capacity``."""
        n0, n1 = self.size, self.size + len(memories)
        if n1 > self.capacity:
            raise BankError(f"cannot append {len(memories)} neurons to a bank holding {n0} of {self.capacity}")
        self.reserve(len(memories))
        self._write(slice(n0, n1), memories)
        self._classes[n0:n1], self._counters[n0:n1] = classes, counters
        self.size = n1
        rows = np.arange(n0, n1)
        self._notify(rows)
        return rows

    def reserve(self, n: int) -> None:
        """Make room in the buffers for ``n`` more rows (never past ``capacity``) in one step: a pass that will
        grow the bank by up to ``n`` rows then copies nothing as it grows. Buffers still grow at least
        geometrically, so a stream of small reservations costs no more than appends do. Unwritten rows are
        allocated, not touched."""
        need = min(self.capacity, self.size + n)
        if need > len(self._memories):
            rows = min(self.capacity, max(need, 2 * len(self._memories)))
            self._memories = self._grown(self._memories, rows)
            self._classes = self._grown(self._classes, rows)
            self._counters = self._grown(self._counters, rows)

    def _grown(self, buffer: np.ndarray, rows: int) -> np.ndarray:
        """A larger buffer holding the rows in use (only those are copied; the rest is left unwritten)."""
        out = np.empty((rows, *buffer.shape[1:]), dtype=buffer.dtype)
        out[: self.size] = buffer[: self.size]
        return out

    def _write(self, rows: slice | np.ndarray, memories) -> None:
        """Store ``memories`` in ``rows`` of the buffer (the one place memories are written)."""
        self._memories[rows] = memories

    def memory_rows(self, rows: np.ndarray) -> np.ndarray:
        """The memories of ``rows``, (len(rows), D) float32 on the host."""
        return self._memories[rows]

    def update_rows(self, rows: np.ndarray, memories, counters: np.ndarray) -> None:
        """Overwrite the memories and counters of existing ``rows``."""
        self._write(rows, memories)
        self._counters[rows] = counters
        self._notify(rows)

    def absorb(self, targets: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Move each neuron of ``targets`` (n,) to the running mean of its memory and the inputs ``x`` (n, D) it
        absorbs (:func:`~memorynet.engine.kernels.scatter_mean_update`); ``weights`` (n,) int: an input of weight w
        counts as w identical inputs."""
        if len(x):
            rows, memories, counters = kernels.scatter_mean_update(self.memories, self.counters, targets, x, weights)
            self.update_rows(rows, memories, counters)

    def merge_rows(self, keep: np.ndarray, drop: np.ndarray) -> None:
        """Merge each ``drop`` row into its ``keep`` row (counter-weighted mean, counters added); the ``drop`` rows
        keep stale contents until overwritten with :meth:`replace_rows`."""
        c_keep, c_drop = self._counters[keep], self._counters[drop]
        merged = ((self._memories[keep] * c_keep[:, None] + self._memories[drop] * c_drop[:, None])
                  / (c_keep + c_drop)[:, None])
        self.update_rows(keep, merged, c_keep + c_drop)

    def replace_rows(self, rows: np.ndarray, memories: np.ndarray, classes: np.ndarray,
                     counters: np.ndarray | int = 1) -> None:
        """Put new neurons (counter 1, or ``counters``) in existing ``rows``."""
        self._write(rows, memories)
        self._classes[rows], self._counters[rows] = classes, counters
        self._notify(rows)

    def remove_rows(self, rows: np.ndarray) -> None:
        """Delete ``rows``; the rows after them move up (their indices change), so attached observers are detached
        and searchers must be made anew."""
        keep = np.ones(self.size, dtype=bool)
        keep[rows] = False
        n = int(keep.sum())
        self._memories[:n], self._classes[:n], self._counters[:n] = self.memories[keep], self.classes[keep], \
            self.counters[keep]
        self.size = n
        self._observers = []

    def relabel(self, mapping: np.ndarray) -> None:
        """Give every neuron of class index ``i`` the class index ``mapping[i]`` (when classes are inserted)."""
        self._classes[: self.size] = np.asarray(mapping)[self.classes]
        self._notify(np.arange(self.size))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Copies of the rows in use: ``memories`` float32 (n, D), ``classes`` int64, ``counters`` int64."""
        return {"memories": self.memories.copy(), "classes": self.classes.astype(np.int64),
                "counters": self.counters.copy()}

    @classmethod
    def from_arrays(cls, memories: np.ndarray, classes: np.ndarray, counters: np.ndarray, *, capacity: int,
                    n_classes: int) -> NeuronBank:
        """A bank holding the given rows, after :meth:`validate`."""
        memories = np.asarray(memories)
        width = memories.shape[1] if memories.ndim == 2 else 0
        bank = cls(max(width, 1), max(capacity, 1))
        bank.validate_arrays(memories, classes, counters, n_classes)
        bank._memories = np.array(memories, dtype=np.float32, order="C")
        bank._classes = np.asarray(classes).astype(np.intp)
        bank._counters = np.asarray(counters).astype(np.int64)
        bank.size = len(memories)
        return bank

    def validate_arrays(self, memories: np.ndarray, classes: np.ndarray, counters: np.ndarray,
                        n_classes: int) -> None:
        """Raise :class:`BankError` naming the problem unless the arrays form a valid bank for this one."""
        n = len(memories) if np.ndim(memories) else -1
        if memories.dtype != np.float32 or memories.ndim != 2 or memories.shape[1] != self.n_features:
            raise BankError(f"memories must be float32 of shape (n, {self.n_features}), got {memories.dtype} "
                            f"{memories.shape}")
        for name, array in (("classes", classes), ("counters", counters)):
            if array.dtype.kind not in "iu" or array.shape != (n,):
                raise BankError(f"{name} must be integers of shape ({n},), got {array.dtype} {array.shape}")
        if n > self.capacity:
            raise BankError(f"{n} neurons exceed the capacity of {self.capacity}")
        if not np.isfinite(memories).all():
            raise BankError("memories contain NaN or infinity")
        if n and (classes.min() < 0 or classes.max() >= n_classes):
            raise BankError(f"neuron classes outside the {n_classes} classes")
        if n and counters.min() < 1:
            raise BankError("counters must be at least 1")

    def validate(self, n_classes: int) -> None:
        """Check the bank's own invariants (see :meth:`validate_arrays`)."""
        self.validate_arrays(self.memories, self.classes, self.counters, n_classes)
