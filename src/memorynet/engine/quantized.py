"""Nearest-neuron search (squared L2: the nearest neuron, or the nearest of every class) through int8 matrix
products, a certified shortlist and an exact re-ranking.

Bank and queries are centred on the bank's mean (distances do not change) and quantised to int8 with one scale
each, ``v ~ s q``; PyTorch's int8 product (``torch._int_mm``: AMX / AVX512-VNNI kernels on x86) gives
``acc = qx . qm`` in int32, and ``|m^|^2 - 2 s_x s_m acc`` (the codes' norms rounded to whole accumulator steps)
is the squared distance between the dequantised vectors ``x^ = s_x qx`` and ``m^ = s_m qm`` less ``|x^|^2``. With
the quantisation residuals ``ex = x - x^`` and ``em = m - m^`` (their norms bounded per row), the triangle
inequality gives

    | |x - m| - |x^ - m^| | <= |ex| + |em|

so every neuron that can be the nearest has a lower bound below the best neuron's upper bound. A first cut uses
each query's residual with the bank's largest, tile by tile against the running best; a second, per pair, the
pair's own. The shortlist (a few neurons per query on MNIST) is re-ranked by exact float64 distances, ties to the
lower row: the result is the exact nearest neuron, so it equals
:func:`memorynet.engine.kernels.nearest_one_l2`'s wherever float32 ranks the neurons right.

The nearest neuron of every class (the class distances of the labelled models) takes the same cuts per query and
class: the codes are laid out class by class in 128-neuron blocks, a running best is kept per class, and the
shortlist holds every neuron that can be its class's nearest; each class's distance is then exact.

Tiles are 512 queries x 4096 neurons (the int8 kernels' fastest shape here; 8 MiB of int32): one product, one
subtraction in place, one pass of block maxima, then only the 128-neuron blocks that can hold a candidate are read.
:func:`int8_available` says whether this machine has the PyTorch build and the CPU instructions that make it pay.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .kernels import row_sq_norms

__all__ = ["int8_instructions", "int8_available", "Int8Bank", "nearest_one_l2_int8", "nearest_per_class_l2_int8",
           "MIN_NEURONS"]

MIN_NEURONS = 8192  # banks from this size use the int8 path under search_backend="auto" (measured: it pays there)
_TILE_QUERIES, _TILE_NEURONS, _BLOCK = 512, 4096, 128
_RERANK_CHUNK = 1024
_QUERY_CHUNK = 2048  # queries per shortlist: bounds the candidates held at once
_MAX_ACC = 2**30  # int32 accumulators and integer norms stay below this, else the float32 path answers


@lru_cache(maxsize=1)
def int8_instructions() -> bool:
    """True where the CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX, read from
    ``/proc/cpuinfo``; Linux on x86-64 only) and ``MEMORYNET_NO_INT8`` is not set; imports nothing."""
    if os.environ.get("MEMORYNET_NO_INT8") or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return False
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("flags")), []))
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


@lru_cache(maxsize=1)
def int8_available() -> bool:
    """True where PyTorch's int8 product is installed and :func:`int8_instructions` holds (imports PyTorch)."""
    if not int8_instructions():
        return False
    try:
        import torch
    except ImportError:
        return False
    return hasattr(torch, "_int_mm")


def _quantise(A: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes of ``A`` at ``scale`` (a float32 value), and upper bounds of the norms of the residuals
    ``A - scale * codes``, raised to cover the float32 rounding of ``A`` itself (a centred copy) and of the sums."""
    codes = np.clip(np.rint(A * np.float32(1.0 / scale)), -127, 127).astype(np.int8)
    dequantised = codes.astype(np.float32)
    dequantised *= np.float32(scale)
    residual = A - dequantised
    return codes, (np.sqrt(row_sq_norms(residual).astype(np.float64)) * (1 + 1e-3)
                   + 1e-6 * np.sqrt(row_sq_norms(A).astype(np.float64)))


def _code_scale(centred: np.ndarray) -> float:
    """One scale for the codes of ``centred`` (its largest magnitude maps to 127), a float32 value."""
    return float(np.float32(float(np.abs(centred).max()) / 127 if centred.size else 1.0)) or 1.0


@dataclass(frozen=True)
class Int8Bank:
    """A bank's int8 codes (a torch tensor) after centring on its mean, their scale, and per row what the
    shortlist needs: the codes' squared norms and a bound on the quantisation residual. Centring changes no
    distance and halves the range the codes must cover.

    The codes are laid out class by class (stable order), each class's run padded with zero codes to whole
    128-neuron blocks, so every block holds one class: the per-class search keeps a running best per class and
    block; the overall search reads the same layout as one group. ``slots`` maps each code row to its bank row
    (-1: padding, never a candidate)."""

    centre: np.ndarray  # (D,) float32
    codes: object  # torch.int8 (slots, D), codes of M - centre, class by class
    scale: float
    slots: np.ndarray  # (slots,) int32, bank row of each code row, -1 for padding
    block_classes: np.ndarray  # (slots / 128,) the class of each block
    code_norms: np.ndarray  # (slots,) int32, |codes|^2 of each code row
    residuals: np.ndarray  # (m,) float32, upper bounds of |m - centre - scale * codes| per bank row

    @classmethod
    def build(cls, M: np.ndarray, classes: np.ndarray | None = None) -> Int8Bank:
        """The codes of bank ``M`` (``classes``: its rows' class indices, default one class)."""
        import torch

        classes = np.zeros(len(M), np.intp) if classes is None else np.asarray(classes)
        centre = M.mean(axis=0, dtype=np.float64).astype(np.float32) if len(M) else np.zeros(M.shape[1], np.float32)
        centred = M - centre
        scale = _code_scale(centred)
        codes, residuals = _quantise(centred, scale)
        del centred
        order = np.argsort(classes, kind="stable")
        present, first, counts = np.unique(classes[order], return_index=True, return_counts=True)
        blocks = -(-counts // _BLOCK)
        starts = np.r_[0, np.cumsum(blocks * _BLOCK)[:-1]].astype(np.intp)
        slots = np.full(int(blocks.sum()) * _BLOCK, -1, dtype=np.int32)
        run = np.repeat(np.arange(len(present)), counts)  # class run of each sorted row
        slots[starts[run] + np.arange(len(order)) - first[run]] = order
        real = slots >= 0
        laid_out = np.zeros((len(slots), M.shape[1]), dtype=np.int8)
        laid_out[real] = codes[slots[real]]
        return cls(centre, torch.from_numpy(laid_out), scale, slots, np.repeat(present, blocks),
                   np.einsum("ij,ij->i", laid_out, laid_out, dtype=np.int32), residuals.astype(np.float32))


@dataclass(frozen=True)
class _Queries:
    """Queries quantised against an :class:`Int8Bank`: codes, the score unit ``u`` of one accumulator step, each
    query's ``|x^|^2 / u`` and its residual bound, and the bank's codes' squared norms in units of ``u``."""

    codes: object  # torch.int8 (n, D)
    unit: float
    norms: np.ndarray  # (n,) float64, |x^|^2 / u
    residuals: np.ndarray  # (n,) float64, upper bounds of |x - centre - scale * codes|
    bank_norms: object  # torch.int32 (slots,): rint(|m^|^2 / u), padding at _MAX_ACC

    def distance_bounds(self, q, gains, residuals) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the true distances (not squared) of queries ``q`` to neurons with integer
        ``gains`` (``acc - rint(|m^|^2 / u)``) and residual bounds ``residuals``:
        ``| |x - m| - |x^ - m^| | <= |ex| + |em|``, and ``|x^ - m^|^2 / u`` is ``norms - gains`` within one step."""
        reach = self.residuals[q] + residuals
        squared = self.norms[q] - gains
        return (np.maximum(np.sqrt(np.maximum(self.unit * (squared - 1), 0.0)) - reach, 0.0),
                np.sqrt(self.unit * (squared + 1)) + reach)

    def floor(self, q, best_gains, reach) -> np.ndarray:
        """The smallest gain a neuron can have and still be nearer than the neuron of gain ``best_gains`` (for
        queries ``q``; ``reach``: their largest ``|ex| + |em|``): below it, its lower bound passes the best's upper."""
        upper = np.sqrt(self.unit * (self.norms[q] - best_gains + 1)) + reach  # the best neuron's, at most
        return np.floor(self.norms[q] - 1 - (upper + reach) ** 2 / self.unit)


def _quantise_queries(X: np.ndarray, bank: Int8Bank) -> _Queries | None:
    """``X`` quantised against ``bank``; ``None`` where the int32 accumulators or integer norms could overflow."""
    import torch

    width = X.shape[1]
    centred = X - bank.centre
    x_scale = _code_scale(centred)
    unit = 2.0 * x_scale * bank.scale  # one accumulator step, in squared-distance units
    largest = bank.scale * float(bank.code_norms.max(initial=0)) / (2.0 * x_scale)
    if width * 127 * 127 >= _MAX_ACC or largest >= _MAX_ACC:
        return None
    codes, residuals = _quantise(centred, x_scale)
    bank_norms = np.where(bank.slots >= 0, np.rint(bank.scale / (2.0 * x_scale) * bank.code_norms),
                          _MAX_ACC).astype(np.int32)
    return _Queries(torch.from_numpy(codes), unit,
                    x_scale / (2.0 * bank.scale) * np.einsum("ij,ij->i", codes, codes, dtype=np.int64),
                    residuals, torch.from_numpy(bank_norms))


def _shortlist(queries: _Queries, bank: Int8Bank, groups: np.ndarray,
               n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query, bank row) pair whose distance bounds let it be the nearest of its query and group
    (``groups``: the group of each block): (queries, groups, rows)."""
    import torch

    n = len(queries.codes)
    reach = queries.residuals + float(bank.residuals.max(initial=0.0))  # each query's largest |ex| + |em|
    # gains acc - rint(|m^|^2 / u): the squared distance |x^ - m^|^2 / u less the query's own |x^|^2 / u, negated
    best = np.full((n, n_groups), -_MAX_ACC, dtype=np.int64)  # running best gain per query and group
    found_q, found_slot, found_gain = [], [], []
    for q0 in range(0, n, _TILE_QUERIES):
        q1 = min(n, q0 + _TILE_QUERIES)
        tile, tile_best = np.arange(q0, q1)[:, None], best[q0:q1]
        for m0 in range(0, len(bank.slots), _TILE_NEURONS):  # whole blocks: the layout pads every class's run
            m1 = min(len(bank.slots), m0 + _TILE_NEURONS)
            gains = torch._int_mm(queries.codes[q0:q1], bank.codes[m0:m1].T).sub_(queries.bank_norms[m0:m1])
            blocks = gains.view(q1 - q0, -1, _BLOCK)
            maxima = blocks.amax(dim=2).numpy()
            tile_groups = groups[m0 // _BLOCK:m1 // _BLOCK]
            edges = np.flatnonzero(np.r_[True, tile_groups[1:] != tile_groups[:-1]])  # a run per group here
            run_groups = tile_groups[edges]
            tile_best[:, run_groups] = np.maximum(tile_best[:, run_groups],
                                                  np.maximum.reduceat(maxima, edges, axis=1))
            # the running best only rises: its floor keeps a superset of the final shortlist
            floor = queries.floor(tile, tile_best, reach[q0:q1, None])[:, tile_groups]
            pair_q, pair_b = np.nonzero(maxima >= floor)
            values = blocks.numpy()[pair_q, pair_b]
            hit_pair, hit_col = np.nonzero(values >= floor[pair_q, pair_b][:, None])
            found_q.append(pair_q[hit_pair] + q0)
            found_slot.append((pair_b[hit_pair] + m0 // _BLOCK) * _BLOCK + hit_col)
            found_gain.append(values[hit_pair, hit_col])
    owners, slots, gain = (np.concatenate(found) for found in (found_q, found_slot, found_gain))
    owner_groups, rows = groups[slots // _BLOCK], bank.slots[slots].astype(np.intp)
    final_floor = queries.floor(np.arange(n)[:, None], best, reach[:, None])
    keep = (rows >= 0) & (gain >= final_floor[owners, owner_groups])
    owners, owner_groups, rows, gain = owners[keep], owner_groups[keep], rows[keep], gain[keep]
    # the same cut with each pair's own bounds: a pair whose lower bound passes its group's best upper bound goes
    lower, upper = queries.distance_bounds(owners, gain, bank.residuals[rows].astype(np.float64))
    key = owners * n_groups + owner_groups
    ceiling = np.full(n * n_groups, np.inf)
    np.minimum.at(ceiling, key, upper)
    keep = lower <= ceiling[key]
    return owners[keep], owner_groups[keep], rows[keep]


def _nearest_in_groups(X: np.ndarray, M: np.ndarray, bank: Int8Bank, groups: np.ndarray,
                       n_groups: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(n, n_groups) squared distances and rows of the exact nearest row of each group for each query (``inf`` and
    -1 for a group without rows), ties to the lower row; ``None`` where the integers could overflow. Queries go
    ``_QUERY_CHUNK`` at a time (each chunk quantised at its own scale: the answers are exact whatever it is)."""
    distances = np.full((len(X), n_groups), np.inf, dtype=np.float32)
    rows_out = np.full((len(X), n_groups), -1, dtype=np.intp)
    for q0 in range(0, len(X) if len(M) else 0, _QUERY_CHUNK):
        chunk = X[q0:q0 + _QUERY_CHUNK]
        queries = _quantise_queries(chunk, bank)
        if queries is None:
            return None
        distances[q0:q0 + len(chunk)], rows_out[q0:q0 + len(chunk)] = _rerank(chunk, M, *_shortlist(
            queries, bank, groups, n_groups), n_groups)
    return distances, rows_out


def _rerank(X: np.ndarray, M: np.ndarray, owners: np.ndarray, owner_groups: np.ndarray, rows: np.ndarray,
            n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The shortlist's exact float64 distances, the nearest per query and group: (n, n_groups) float32 distances
    (``inf`` where a group has no candidate) and rows (-1 there), ties to the lower row."""
    exact = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _RERANK_CHUNK):  # exact distances, a cache-sized chunk at a time
        part = slice(start, start + _RERANK_CHUNK)
        difference = X[owners[part]].astype(np.float64) - M[rows[part]]
        exact[part] = np.einsum("ij,ij->i", difference, difference)
    key = owners * n_groups + owner_groups
    distances = np.full(len(X) * n_groups, np.inf)
    np.minimum.at(distances, key, exact)
    nearest = exact == distances[key]
    rows_out = np.full(len(X) * n_groups, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(rows_out, key[nearest], rows[nearest])  # ties to the lower row
    rows_out[np.isinf(distances)] = -1
    return distances.astype(np.float32).reshape(-1, n_groups), rows_out.reshape(-1, n_groups)


def nearest_one_l2_int8(X: np.ndarray, M: np.ndarray, bank: Int8Bank) -> tuple[np.ndarray, np.ndarray] | None:
    """The exact nearest row of ``M`` for each row of ``X`` as (n, 1) squared distances and indices, ties to the
    lower row; ``bank`` is ``Int8Bank.build(M)`` (any ``classes``). Returns ``None`` when the integer ranges
    would overflow for these queries (then use the float32 path)."""
    return _nearest_in_groups(X, M, bank, np.zeros(len(bank.block_classes), np.intp), 1)


def nearest_per_class_l2_int8(X: np.ndarray, M: np.ndarray, bank: Int8Bank, n_classes: int) -> np.ndarray | None:
    """The squared distance from each row of ``X`` to the nearest row of ``M`` of every class, (n, n_classes)
    float32, exact (``inf`` for a class without rows), as :func:`memorynet.engine.kernels.nearest_per_class`
    up to its float32 rounding; ``bank`` is ``Int8Bank.build(M, classes)``. ``None`` when the integer ranges
    would overflow (then use the float32 path)."""
    found = _nearest_in_groups(X, M, bank, bank.block_classes, n_classes)
    return None if found is None else found[0]
