"""Searchers: nearest-neuron search over one :class:`~memorynet.engine.bank.NeuronBank`, behind one interface.

A searcher is attached to a bank (:meth:`Searcher.attach`) and is told of every row the bank appends or changes,
so engines with state of their own stay up to date incrementally instead of being rebuilt per call:

- ``"numpy"`` (:class:`NumpySearcher`): the BLAS kernels of :mod:`memorynet.engine.kernels`, with every class's neurons
  kept as a contiguous block for training's same-label searches.
- ``"faiss"`` (:class:`FaissSearcher`): one exact FAISS index per class that lives across batches (rows appended
  with ``add``, changed rows overwritten in place), plus a whole-bank index built once for prediction;
  ``pip install 'memorynet[faiss]'``.
- ``"int8"`` (:class:`Int8Searcher`): the NumPy searcher whose squared-L2 nearest-neuron and per-class searches
  (prediction) go through int8 matrix products with a certified shortlist re-ranked exactly (``"auto"``: the
  nearest-neuron search only)
  (:mod:`memorynet.engine.quantized`); needs PyTorch and a CPU with int8 dot-product instructions.
- ``"auto"``: ``"int8"`` for banks of :data:`memorynet.engine.quantized.MIN_NEURONS` or more where the machine has it
  (it pays there), else ``"numpy"``.
- ``"torch"`` (:class:`TorchSearcher`): the bank mirrored on the GPU when one is present (else the CPU); only
  appended or changed rows are copied to the device.

:class:`CountingSearcher` wraps any of them and counts the multiply-adds of the distances it computes.
Every searcher returns the NumPy searcher's neighbours up to exact ties, in the same distance units.

Interface (``X`` float32 (n, D); class indices are the bank's):
``nearest(X, k, features)`` -> (distances, rows), each (n, k), nearest first, ``features`` an optional column
slice (channel voting); ``nearest_same_label(X, x_classes)`` -> (distances, rows), each (n,), ``inf`` / ``-1`` for
a class with no neuron; ``nearest_per_class(X, n_classes)`` -> (n, n_classes) distances, ``inf`` where a class
has no neuron.
"""

from __future__ import annotations

import numpy as np

from . import kernels, quantized
from .bank import NeuronBank

__all__ = ["SEARCH_BACKENDS", "Searcher", "NumpySearcher", "Int8Searcher", "FaissSearcher", "TorchSearcher",
           "CountingSearcher", "make_searcher"]

SEARCH_BACKENDS = ("numpy", "auto", "int8", "faiss", "torch")


def _import(name: str):
    try:
        return __import__(name)
    except ImportError as exc:
        extra = "pip install 'memorynet[faiss]'" if name == "faiss" else "pip install torch"
        raise ImportError(f"search_backend={name!r} needs the {name} package: {extra}") from exc


class Searcher:
    """Nearest-neuron search over one bank with a fixed distance (``metric``, ``p``)."""

    def __init__(self, metric: str = "l2", p: float = 2.0):
        if metric not in kernels.METRICS:
            raise ValueError(f"unknown distance {metric!r}; choose one of {', '.join(kernels.METRICS)}")
        self.metric, self.p = metric, p
        self.bank: NeuronBank | None = None

    def attach(self, bank: NeuronBank) -> Searcher:
        """Index ``bank`` and follow its changes from now on. Returns ``self``."""
        self.bank = bank
        bank.attach(self)
        self.rows_changed(np.arange(len(bank)))
        return self

    def rows_changed(self, rows: np.ndarray) -> None:
        """The bank appended or changed ``rows`` (called by the bank)."""

    def release_training_index(self) -> None:
        """A training pass is over: free what only training's searches use (made again if another pass comes)."""

    def nearest(self, X: np.ndarray, k: int = 1, features: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def nearest_same_label(self, X: np.ndarray, x_classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def nearest_per_class(self, X: np.ndarray, n_classes: int) -> np.ndarray:
        raise NotImplementedError


_BLOCKS_FROM = 4096  # banks from this many neurons keep per-class blocks (measured: smaller ones gain nothing)


class _Block:
    """One class's neurons as a contiguous block (and their squared norms), in bank-row order; grows by doubling."""

    def __init__(self, n_features: int):
        self.rows = np.empty(0, dtype=np.intp)
        self._memories = np.empty((0, n_features), dtype=np.float32)
        self._norms = np.empty(0, dtype=np.float32)

    @property
    def memories(self) -> np.ndarray:
        return self._memories[: len(self.rows)]

    @property
    def norms(self) -> np.ndarray:
        return self._norms[: len(self.rows)]

    def append(self, rows: np.ndarray, memories: np.ndarray) -> None:
        n0, n1 = len(self.rows), len(self.rows) + len(rows)
        if n1 > len(self._memories):
            size = max(n1, 2 * len(self._memories))
            self._memories = np.concatenate([self._memories[:n0], np.empty((size - n0, memories.shape[1]),
                                                                            np.float32)])
            self._norms = np.concatenate([self._norms[:n0], np.empty(size - n0, np.float32)])
        self._memories[n0:n1], self._norms[n0:n1] = memories, kernels.row_sq_norms(memories)
        self.rows = np.concatenate([self.rows, rows])

    def overwrite(self, slots: np.ndarray, memories: np.ndarray) -> None:
        self._memories[slots], self._norms[slots] = memories, kernels.row_sq_norms(memories)


class NumpySearcher(Searcher):
    """Brute-force search with the BLAS kernels. For training's same-label searches it keeps every class's
    neurons as one contiguous block with their norms, made at the first such search and then updated row by row
    from the bank's changes, so a batch does not gather and measure them again (banks of at least
    ``_BLOCKS_FROM`` neurons; smaller ones are gathered per batch); ``fit`` frees them at its end."""

    def __init__(self, metric: str = "l2", p: float = 2.0):
        super().__init__(metric, p)
        self._blocks: dict[int, _Block] | None = None  # made on the first same-label search (growth needs none)
        self._slot = np.empty(0, dtype=np.intp)  # bank row -> position in its class's block
        self._indexed_class = np.empty(0, dtype=np.intp)  # bank row -> class it was stored under

    def _class_blocks(self) -> dict[int, _Block]:
        if self._blocks is None:
            self._blocks = {}
            self._slot = np.empty(len(self.bank), dtype=np.intp)
            self._indexed_class = np.empty(len(self.bank), dtype=np.intp)
            for c in np.unique(self.bank.classes):
                self._rebuild_class(int(c))
        return self._blocks

    def _rebuild_class(self, c: int) -> None:
        rows = np.flatnonzero(self.bank.classes == c)
        self._blocks[c] = _Block(self.bank.n_features)
        self._blocks[c].append(rows, self.bank.memories[rows])
        self._slot[rows] = np.arange(len(rows))
        self._indexed_class[rows] = c

    def release_training_index(self) -> None:
        """Drop the class blocks (a copy of the bank, grown by doubling): prediction does not read them, and the
        next same-label search makes them again from the bank, in the same bank-row order."""
        self._blocks = None
        self._slot = self._indexed_class = np.empty(0, dtype=np.intp)

    def rows_changed(self, rows):
        if self._blocks is None:
            return
        known, classes = len(self._slot), self.bank.classes
        old, new = rows[rows < known], rows[rows >= known]
        same = classes[old] == self._indexed_class[old]
        moved, kept = old[~same], old[same]
        for c in np.unique(classes[kept]):  # changed memories: overwritten inside their block
            rows_c = kept[classes[kept] == c]
            self._blocks[int(c)].overwrite(self._slot[rows_c], self.bank.memories[rows_c])
        if len(new):  # appended rows (always after every known row): appended to their blocks, in order
            self._slot = np.resize(self._slot, new.max() + 1)
            self._indexed_class = np.resize(self._indexed_class, new.max() + 1)
            for c in np.unique(classes[new]):
                rows_c = new[classes[new] == c]
                block = self._blocks.setdefault(int(c), _Block(self.bank.n_features))
                self._slot[rows_c] = len(block.rows) + np.arange(len(rows_c))
                self._indexed_class[rows_c] = c
                block.append(rows_c, self.bank.memories[rows_c])
        for c in np.unique(np.concatenate([classes[moved], self._indexed_class[moved]])):
            self._rebuild_class(int(c))

    def nearest(self, X, k=1, features=None):
        M = self.bank.memories if features is None else self.bank.memories[:, features]
        return kernels.nearest_neurons(X, M, k, self.metric, p=self.p)

    def nearest_same_label(self, X, x_classes):
        distances = np.full(len(X), np.inf, dtype=np.float32)
        rows_out = np.full(len(X), -1, dtype=np.intp)
        if len(self.bank) < _BLOCKS_FROM:  # a small bank: gathering per batch is cheaper than keeping blocks
            return kernels.nearest_same_label(X, x_classes, self.bank.memories, self.bank.classes, self.metric,
                                              p=self.p)
        if not len(X):
            return distances, rows_out
        blocks = self._class_blocks()
        for c in np.unique(x_classes):
            block = blocks.get(int(c))
            if block is None or not len(block.rows):
                continue
            picked = np.flatnonzero(x_classes == c)
            if self.metric == "l2":
                d, j = kernels.nearest_one_l2(X[picked], block.memories, block.norms)
            else:
                d, j = kernels.nearest_neurons(X[picked], block.memories, 1, self.metric, p=self.p)
            distances[picked], rows_out[picked] = d[:, 0], block.rows[j[:, 0]]
        return distances, rows_out

    def nearest_per_class(self, X, n_classes):
        return kernels.nearest_per_class(X, self.bank.memories, self.bank.classes, n_classes, self.metric, p=self.p)


class Int8Searcher(NumpySearcher):
    """The NumPy searcher, with squared-L2 search through int8 products and a certified shortlist
    (:mod:`memorynet.engine.quantized`) for banks of ``min_neurons`` or more: the nearest neuron (k = 1, all
    features) and, with ``per_class``, the nearest neuron of every class (the labelled models' class distances).

    The bank's int8 codes are made at the first such search and dropped whenever the bank changes. Neighbours
    equal the NumPy searcher's except where two neurons' float32 scores tie within rounding; class distances are
    exact where the NumPy searcher's carry float32 rounding. With ``fallback`` (``search_backend="auto"``, which
    also leaves class distances to NumPy: their shortlist is long on dense or near-duplicate patches)
    PyTorch is imported only when a bank first reaches ``min_neurons``, and the NumPy path answers where it is
    missing; without, a machine that lacks it is an ImportError here.
    """

    def __init__(self, metric: str = "l2", p: float = 2.0, min_neurons: int = 0, fallback: bool = False,
                 per_class: bool = True):
        if not fallback and not quantized.int8_available():
            raise ImportError("search_backend='int8' needs PyTorch (pip install torch; the CPU build is enough) and "
                              "a CPU with AVX512-VNNI, AVX-VNNI or AMX; use search_backend='auto' to fall back to "
                              "'numpy' where they are missing")
        super().__init__(metric, p)
        self.min_neurons = min_neurons
        self.per_class = per_class
        self._codes: quantized.Int8Bank | None = None

    def rows_changed(self, rows):
        super().rows_changed(rows)
        self._codes = None

    def _int8_codes(self) -> quantized.Int8Bank | None:
        """The bank's codes where this search takes the int8 path (squared L2, a bank of ``min_neurons`` or more,
        PyTorch and the instructions here), made at the first call after a change; else ``None``."""
        if self.metric != "l2" or len(self.bank) < max(self.min_neurons, 1) or not quantized.int8_available():
            return None
        if self._codes is None:
            M = self.bank.memories
            self._codes = quantized.Int8Bank.build(M, self.bank.classes)
        return self._codes

    def nearest(self, X, k=1, features=None):
        codes = self._int8_codes() if k == 1 and features is None else None
        found = None if codes is None else quantized.nearest_one_l2_int8(X, self.bank.memories, codes)
        return super().nearest(X, k, features) if found is None else found

    def nearest_per_class(self, X, n_classes):
        codes = self._int8_codes() if self.per_class else None
        found = None if codes is None else quantized.nearest_per_class_l2_int8(X, self.bank.memories, codes,
                                                                                n_classes)
        return super().nearest_per_class(X, n_classes) if found is None else found


class FaissSearcher(Searcher):
    """Exact FAISS search: a flat index per class kept across batches, a whole-bank index built once per state."""

    def __init__(self, metric: str = "l2", p: float = 2.0):
        super().__init__(metric, p)
        self._faiss = _import("faiss")
        self._by_class: dict[int, object] = {}  # class index -> flat index of its neurons
        self._class_rows: dict[int, np.ndarray] = {}  # class index -> bank row of each index entry
        self._slot = np.empty(0, dtype=np.intp)  # bank row -> position in its class's index
        self._indexed_class = np.empty(0, dtype=np.intp)  # bank row -> class it was indexed under
        self._whole: dict[tuple, object] = {}  # feature slice -> whole-bank index, dropped on any change

    def _prepare(self, M: np.ndarray) -> np.ndarray:
        M = np.ascontiguousarray(M, dtype=np.float32)
        return kernels.unit_rows(M) if self.metric == "cosine" else M

    def _new_index(self, dim: int):
        faiss = self._faiss
        if self.metric == "cosine":
            return faiss.IndexFlatIP(dim)
        index = faiss.IndexFlat(dim, {"l2": faiss.METRIC_L2, "l1": faiss.METRIC_L1, "lp": faiss.METRIC_Lp}[self.metric])
        if self.metric == "lp":
            index.metric_arg = self.p
        return index

    def _search(self, index, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # FAISS uses its BLAS path only from 128000 queries on by default; training searches ~100 queries per class
        # and batch, 2.5x slower on the SIMD loop than on BLAS. The setting is global: set it for this call only.
        saved = self._faiss.cvar.distance_compute_blas_threshold
        self._faiss.cvar.distance_compute_blas_threshold = 20
        try:
            distances, found = index.search(self._prepare(X), k)
        finally:
            self._faiss.cvar.distance_compute_blas_threshold = saved
        if self.metric == "cosine":
            distances = 1.0 - distances
        elif self.metric == "lp":  # FAISS returns sum |x - m|^p, without the root
            distances = np.maximum(distances, 0.0) ** (1.0 / self.p)
        return distances.astype(np.float32), found.astype(np.intp)

    def _rebuild_class(self, c: int) -> None:
        rows = np.flatnonzero(self.bank.classes == c)
        index = self._new_index(self.bank.n_features)
        index.add(self._prepare(self.bank.memories[rows]))
        self._by_class[c], self._class_rows[c] = index, rows
        self._slot[rows] = np.arange(len(rows))
        self._indexed_class[rows] = c

    def rows_changed(self, rows):
        self._whole.clear()
        known = len(self._slot)
        classes = self.bank.classes
        old, new = rows[rows < known], rows[rows >= known]
        same = classes[old] == self._indexed_class[old]
        moved, kept = old[~same], old[same]
        for c in np.unique(classes[kept]):  # overwrite the changed vectors inside the index, in place
            rows_c = kept[classes[kept] == c]
            index = self._by_class[int(c)]
            stored = self._faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
            stored[self._slot[rows_c]] = self._prepare(self.bank.memories[rows_c])
        if len(new):
            self._slot = np.resize(self._slot, new.max() + 1)
            self._indexed_class = np.resize(self._indexed_class, new.max() + 1)
            for c in np.unique(classes[new]):
                c = int(c)
                rows_c = new[classes[new] == c]
                if c not in self._by_class:
                    self._by_class[c] = self._new_index(self.bank.n_features)
                    self._class_rows[c] = np.empty(0, dtype=np.intp)
                self._slot[rows_c] = self._by_class[c].ntotal + np.arange(len(rows_c))
                self._indexed_class[rows_c] = c
                self._by_class[c].add(self._prepare(self.bank.memories[rows_c]))
                self._class_rows[c] = np.concatenate([self._class_rows[c], rows_c])
        for c in np.unique(np.concatenate([classes[moved], self._indexed_class[moved]])):
            self._rebuild_class(int(c))

    def nearest(self, X, k=1, features=None):
        k = min(k, len(self.bank))
        key = (None,) if features is None else (features.start, features.stop)
        if key not in self._whole:
            M = self.bank.memories if features is None else self.bank.memories[:, features]
            index = self._new_index(M.shape[1])
            index.add(self._prepare(M))
            self._whole[key] = index
        if len(X) == 0 or k == 0:
            return np.empty((len(X), k), np.float32), np.empty((len(X), k), np.intp)
        return self._search(self._whole[key], X, k)

    def nearest_same_label(self, X, x_classes):
        distances = np.full(len(X), np.inf, dtype=np.float32)
        rows_out = np.full(len(X), -1, dtype=np.intp)
        for c in np.unique(x_classes):
            index = self._by_class.get(int(c))
            if index is None or index.ntotal == 0:
                continue
            picked = np.flatnonzero(x_classes == c)
            d, j = self._search(index, X[picked], 1)
            distances[picked], rows_out[picked] = d[:, 0], self._class_rows[int(c)][j[:, 0]]
        return distances, rows_out

    def nearest_per_class(self, X, n_classes):
        out = np.full((len(X), n_classes), np.inf, dtype=np.float32)
        for c, index in self._by_class.items():
            if index.ntotal and len(X):
                out[:, c] = self._search(index, X, 1)[0][:, 0]
        return out


class TorchSearcher(Searcher):
    """The bank mirrored as a PyTorch tensor on the GPU (when present, else the CPU); changed rows are copied."""

    _BLOCK_BYTES = 256 << 20  # distance blocks of about 256 MiB on the device

    def __init__(self, metric: str = "l2", p: float = 2.0, device: str | None = None):
        super().__init__(metric, p)
        self._torch = torch = _import("torch")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._memories = torch.empty((0, 0), dtype=torch.float32, device=self.device)
        self._classes = torch.empty(0, dtype=torch.int64, device=self.device)
        self._sq_norms = torch.empty(0, dtype=torch.float32, device=self.device)

    def _to_device(self, array: np.ndarray):
        return self._torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def rows_changed(self, rows):
        torch = self._torch
        if self._memories.shape[1] != self.bank.n_features:  # first attachment
            self._memories = self._memories.new_empty((0, self.bank.n_features))
        if len(self.bank) > len(self._memories):  # grow the device copy geometrically
            size = min(self.bank.capacity, max(len(self.bank), 2 * len(self._memories)))
            grown = torch.empty((size, self.bank.n_features), dtype=torch.float32, device=self.device)
            grown[: len(self._memories)] = self._memories
            self._memories = grown
            self._classes = torch.cat([self._classes, self._classes.new_empty(size - len(self._classes))])
            self._sq_norms = torch.cat([self._sq_norms, self._sq_norms.new_empty(size - len(self._sq_norms))])
        if len(rows) == 0:
            return
        index = self._to_device(rows.astype(np.int64))
        memories = self._to_device(self.bank.memories[rows])
        if self.metric == "cosine":
            memories = torch.nn.functional.normalize(memories, dim=1)
        self._memories[index] = memories
        self._classes[index] = self._to_device(self.bank.classes[rows].astype(np.int64))
        self._sq_norms[index] = (memories * memories).sum(dim=1)

    def _distances(self, Q, M, m_sq_norms):
        torch = self._torch
        if self.metric == "l2":
            D = m_sq_norms[None, :] - 2.0 * (Q @ M.T) + (Q * Q).sum(dim=1, keepdim=True)
            return D.clamp_min_(0.0)
        if self.metric == "cosine":
            return 1.0 - torch.nn.functional.normalize(Q, dim=1) @ M.T
        return torch.cdist(Q, M, p=1.0 if self.metric == "l1" else self.p)

    def _blocks(self, n_queries: int, n_neurons: int):
        rows = max(1, self._BLOCK_BYTES // (4 * max(n_neurons, 1)))
        return range(0, n_queries, rows), rows

    def nearest(self, X, k=1, features=None):
        n = len(self.bank)
        k = min(k, n)
        M = self._memories[:n] if features is None else self._memories[:n, features]
        norms = self._sq_norms[:n] if features is None else (M * M).sum(dim=1)
        if self.metric == "cosine" and features is not None:
            M = self._torch.nn.functional.normalize(self._to_device(self.bank.memories[:, features]), dim=1)
        out_d, out_i = np.empty((len(X), k), np.float32), np.empty((len(X), k), np.intp)
        starts, rows = self._blocks(len(X), n)
        for start in starts:
            D = self._distances(self._to_device(X[start:start + rows]), M, norms)
            d, i = self._torch.topk(D, k, dim=1, largest=False, sorted=True)
            out_d[start:start + rows], out_i[start:start + rows] = d.cpu().numpy(), i.cpu().numpy()
        return out_d, out_i

    def nearest_same_label(self, X, x_classes):
        """Class by class, the neurons of each class found from the bank's classes on the host: the queries go to
        the device once and the answers come back once, no step in between waits for the device."""
        torch, n = self._torch, len(self.bank)
        distances = np.full(len(X), np.inf, dtype=np.float32)
        rows_out = np.full(len(X), -1, dtype=np.intp)
        if n == 0 or len(X) == 0:
            return distances, rows_out
        queries, bank_classes = self._to_device(X), self.bank.classes
        found_d = torch.full((len(X),), float("inf"), device=self.device)
        found_rows = torch.full((len(X),), -1, dtype=torch.int64, device=self.device)
        for c in np.unique(x_classes):
            members = np.flatnonzero(bank_classes == c)  # in row order: ties go to the lowest row
            if len(members) == 0:
                continue
            picked, rows = self._to_device(np.flatnonzero(x_classes == c)), self._to_device(members)
            D = self._distances(queries[picked], self._memories[rows], self._sq_norms[rows])
            j = D.argmin(dim=1)
            found_d[picked], found_rows[picked] = D.gather(1, j[:, None])[:, 0], rows[j]
        distances[:], rows_out[:] = found_d.cpu().numpy(), found_rows.cpu().numpy()
        return distances, rows_out

    def nearest_per_class(self, X, n_classes):
        torch = self._torch
        n = len(self.bank)
        out = np.full((len(X), n_classes), np.inf, dtype=np.float32)
        starts, rows = self._blocks(len(X), n)
        for start in starts:
            D = self._distances(self._to_device(X[start:start + rows]), self._memories[:n], self._sq_norms[:n])
            best = torch.full((len(D), n_classes), float("inf"), device=self.device)
            best.scatter_reduce_(1, self._classes[:n].expand(len(D), n), D, reduce="amin")
            out[start:start + rows] = best.cpu().numpy()
        return out


class CountingSearcher(Searcher):
    """Wraps a searcher and counts the multiply-adds (query x neuron x feature) of every distance it computes."""

    def __init__(self, inner: Searcher):
        super().__init__(inner.metric, inner.p)
        self.inner = inner
        self.macs = 0

    def attach(self, bank):
        self.bank = bank
        self.inner.attach(bank)
        return self

    def nearest(self, X, k=1, features=None):
        width = self.bank.n_features if features is None else len(range(self.bank.n_features)[features])
        self.macs += len(X) * len(self.bank) * width
        return self.inner.nearest(X, k, features)

    def nearest_same_label(self, X, x_classes):
        labels, counts = np.unique(x_classes, return_counts=True)
        if len(labels):
            per_class = np.bincount(self.bank.classes, minlength=int(labels.max()) + 1)
            self.macs += int((counts * per_class[labels]).sum()) * self.bank.n_features
        return self.inner.nearest_same_label(X, x_classes)

    def nearest_per_class(self, X, n_classes):
        self.macs += len(X) * len(self.bank) * self.bank.n_features
        return self.inner.nearest_per_class(X, n_classes)

    def release_training_index(self) -> None:
        self.inner.release_training_index()


def make_searcher(backend: str, metric: str = "l2", p: float = 2.0) -> Searcher:
    """A new, unattached searcher of the named backend."""
    if backend == "auto":
        if quantized.int8_instructions():  # PyTorch is imported when a bank first reaches MIN_NEURONS
            return Int8Searcher(metric, p, min_neurons=quantized.MIN_NEURONS, fallback=True, per_class=False)
        return NumpySearcher(metric, p)
    engines = {"numpy": NumpySearcher, "int8": Int8Searcher, "faiss": FaissSearcher, "torch": TorchSearcher}
    if backend not in engines:
        raise ValueError(f"unknown search_backend {backend!r}; choose one of {', '.join(SEARCH_BACKENDS)}")
    return engines[backend](metric, p)
