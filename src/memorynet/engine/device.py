"""Learning on a PyTorch device (a CUDA GPU when present, else the CPU): the one-pass rule with the bank on the device.

For the length of a learning pass (:meth:`DeviceOnePassRule.steps`) the bank's memories live on the device
(:class:`DeviceBank`): every batch's same-label search (:class:`DeviceSearcher`: class by class, with the rows of
each class read from the host's copy of the classes, the answers downloaded once), its running-mean updates and its
merges of pairs are computed there, and the memories never come back to the host until the pass ends, when the rows
it changed are copied into the host bank once (whose searchers are then told, once). What crosses per batch is the
batch's inputs (to the device) and each input's nearest neuron (its row, to the host). The host keeps the integers
the rule's decisions read: each neuron's class and counter, from which the growth, class-budget and consolidation
decisions are taken by the same code as on the CPU (:class:`~memorynet.engine.rule.OnePassRule`), so both engines
learn the same memory; only float32 rounding of the products (and float64 sums in another order) differs, so a
near-tie may pick another neuron.

``pip install torch`` (a CUDA build for a GPU).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .bank import BankError, NeuronBank
from .rule import Batch, OnePassRule
from .searchers import Searcher, TorchSearcher, _import

__all__ = ["DeviceBank", "DeviceSearcher", "DeviceOnePassRule", "default_device"]


def default_device(device: str | None = None) -> str:
    """``device``, or ``"cuda"`` when PyTorch sees a CUDA device, else ``"cpu"``."""
    torch = _import("torch")
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


class DeviceBank(NeuronBank):
    """A copy of a host bank whose memories (with their squared norms) live on a torch device; classes and counters
    stay on the host, where the rule's decisions and the searches' class lists read them. Made for one learning pass:
    :meth:`write_back` copies what the pass changed into the host bank."""

    def __init__(self, bank: NeuronBank, n_inputs: int, device: str):
        self._torch = torch = _import("torch")
        self.device = device
        self.n_features, self.capacity, self.size = bank.n_features, bank.capacity, 0
        self._observers = []
        rows = min(self.capacity, len(bank) + n_inputs)  # a pass grows a bank by at most one row per input
        self._memories = torch.empty((rows, self.n_features), dtype=torch.float32, device=device)
        self.sq_norms = torch.empty(rows, dtype=torch.float32, device=device)
        self._classes, self._counters = np.empty(rows, dtype=np.intp), np.empty(rows, dtype=np.int64)
        self._changed = np.zeros(rows, dtype=bool)
        self.append(bank.memories, bank.classes, bank.counters)
        self._changed[:] = False
        self._host_size = self.size

    @property
    def memories(self):
        """(n, D) float32 tensor on the device: the memories in use."""
        return self._memories[: self.size]

    def _tensor(self, array: np.ndarray):
        return self._torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def _index(self, rows):
        """``rows`` (a slice, or host row indices) as an index of the device tensors."""
        return rows if isinstance(rows, slice) else self._tensor(np.asarray(rows, dtype=np.int64))

    def reserve(self, n: int) -> None:
        """The rows of the pass were reserved when the bank was made; refuse more (never reached by a pass)."""
        if min(self.capacity, self.size + n) > len(self._classes):
            raise BankError(f"a device bank holds the {len(self._classes)} rows its pass reserved; cannot add {n} "
                            f"to {self.size}")

    def _write(self, rows, memories) -> None:
        values = memories if isinstance(memories, self._torch.Tensor) else self._tensor(memories)
        index = self._index(rows)
        self._memories[index] = values
        self.sq_norms[index] = (values * values).sum(dim=1)

    def _notify(self, rows) -> None:
        self._changed[rows] = True
        super()._notify(rows)

    def memory_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._memories[self._index(rows)].cpu().numpy()

    def absorb(self, targets: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None) -> None:
        """The running-mean update of :meth:`NeuronBank.absorb` on the device, summed and divided in float64."""
        if not len(x):
            return
        torch = self._torch
        rows, inverse = np.unique(targets, return_inverse=True)
        hits = np.bincount(inverse, weights=weights, minlength=len(rows)).astype(np.int64)
        inputs = self._tensor(x).double()
        if weights is not None:
            inputs *= self._tensor(weights.astype(np.float64))[:, None]
        sums = torch.zeros((len(rows), self.n_features), dtype=torch.float64, device=self.device)
        sums.index_add_(0, self._tensor(inverse.astype(np.int64)), inputs)
        counts = self._counters[rows]
        before = self._tensor(counts.astype(np.float64))[:, None]
        after = self._tensor((counts + hits).astype(np.float64))[:, None]
        means = (self._memories[self._index(rows)].double() * before + sums) / after
        self.update_rows(rows, means.float(), counts + hits)

    def merge_rows(self, keep: np.ndarray, drop: np.ndarray) -> None:
        """Each ``drop`` row merged into its ``keep`` row on the device (counter-weighted mean, in float64)."""
        c_keep, c_drop = self._counters[keep], self._counters[drop]
        weight_keep, weight_drop = (self._tensor(c.astype(np.float64))[:, None] for c in (c_keep, c_drop))
        merged = ((self._memories[self._index(keep)].double() * weight_keep
                   + self._memories[self._index(drop)].double() * weight_drop) / (weight_keep + weight_drop))
        self.update_rows(keep, merged.float(), c_keep + c_drop)

    def write_back(self, bank: NeuronBank) -> None:
        """Copy the rows this pass changed into ``bank`` (the host bank it was made from): changed rows replaced,
        new rows appended; ``bank``'s searchers are told once."""
        changed = np.flatnonzero(self._changed[: self._host_size])
        if len(changed):
            bank.replace_rows(changed, self.memory_rows(changed), self._classes[changed], self._counters[changed])
        if self.size > self._host_size:
            new = slice(self._host_size, self.size)
            bank.append(self._memories[new].cpu().numpy(), self._classes[new], self._counters[new])


class DeviceSearcher(TorchSearcher):
    """The searches of a :class:`DeviceBank`, on its own device tensors (no copy of the bank)."""

    def __init__(self, metric: str = "l2", p: float = 2.0):
        Searcher.__init__(self, metric, p)
        self._torch = _import("torch")

    def attach(self, bank: DeviceBank) -> DeviceSearcher:
        self.bank, self.device = bank, bank.device
        bank.attach(self)
        return self

    def rows_changed(self, rows) -> None:
        """Nothing to do: the searches read the bank's own tensors."""

    @property
    def _memories(self):
        """The bank's memories (unit rows for the cosine: the searches' products want them so)."""
        memories = self.bank.memories
        return self._torch.nn.functional.normalize(memories, dim=1) if self.metric == "cosine" else memories

    @property
    def _classes(self):
        return self._to_device(self.bank.classes.astype(np.int64))

    @property
    def _sq_norms(self):
        return self.bank.sq_norms


@dataclass(frozen=True)
class DeviceOnePassRule(OnePassRule):
    """:class:`~memorynet.engine.rule.OnePassRule` with each pass on a torch ``device`` (default: CUDA when
    present, else the CPU): the bank is copied there at the pass's start and back at its end."""

    device: str | None = None

    def steps(self, bank: NeuronBank, searcher: Searcher, stream: Iterable[Batch], n_inputs: int) -> Iterator[None]:
        on_device = DeviceBank(bank, n_inputs, default_device(self.device))
        device_searcher = DeviceSearcher(searcher.metric, searcher.p).attach(on_device)
        for x, classes, weights in stream:
            self.learn_batch(on_device, device_searcher, x, classes, weights)
            yield
        on_device.write_back(bank)
