"""Nearest-neuron search (squared L2, k = 1) through int8 matrix products, a certified shortlist and an exact
re-ranking.

Bank and queries are centred on the bank's mean (distances do not change) and quantised to int8 with one scale
each, ``v ~ s q``; PyTorch's int8 product (``torch._int_mm``: AMX / AVX512-VNNI kernels on x86) gives
``acc = qx . qm`` in int32, and ``|m|^2 - 2 s_x s_m acc`` approximates the score ``|m|^2 - 2 x.m`` (the squared
distance less ``|x|^2``). With the quantisation residuals ``ex = x - s_x qx`` and ``em = m - s_m qm``,

    |x.m - s_x s_m qx.qm| <= |ex| |m| + |s_x qx| |em|        (Cauchy-Schwarz; residual norms computed per row)

so, adding the rounding of the integer norms and of float32 arithmetic, every neuron that can be the nearest has an
approximate score within a certified slack of the best one. A first cut uses each query's slack with the bank's
largest norms, tile by tile; a second, per pair, the pair's own norms. The shortlist (about three neurons per
query on MNIST) is re-ranked by exact float64 distances, ties to the lower row: the result is the exact nearest
neuron, so it equals :func:`memorynet.engine.kernels.nearest_one_l2`'s wherever float32 ranks the neurons right.

Tiles are 512 queries x 4096 neurons (the int8 kernels' fastest shape here; 8 MiB of int32): one product, one
subtraction, one pass of block minima, then only the 128-neuron blocks that can hold a candidate are read.
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

__all__ = ["int8_instructions", "int8_available", "Int8Bank", "nearest_one_l2_int8", "MIN_NEURONS"]

MIN_NEURONS = 8192  # banks from this size use the int8 path under search_backend="auto" (measured: it pays there)
_TILE_QUERIES, _TILE_NEURONS, _BLOCK = 512, 4096, 128
_RERANK_CHUNK = 1024
_MAX_ACC = 2**30  # int32 accumulators and integer norms stay below this, else the float32 path answers
_UNIT_ROUNDOFF = 2.0**-24


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


def _quantise(A: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int8 codes of ``A`` at ``scale``, and upper bounds of the norms of the residuals and of the dequantised
    rows, each raised to cover the float32 rounding of ``A`` itself (a centred copy) and of the sums."""
    codes = np.clip(np.rint(A * np.float32(1.0 / scale)), -127, 127).astype(np.int8)
    dequantised = codes.astype(np.float32)
    dequantised *= np.float32(scale)
    residual = A - dequantised
    norms = np.sqrt(row_sq_norms(A).astype(np.float64))
    return (codes, np.sqrt(row_sq_norms(residual).astype(np.float64)) * (1 + 1e-3) + 1e-6 * norms,
            np.sqrt(row_sq_norms(dequantised).astype(np.float64)) * (1 + 1e-3))


@dataclass(frozen=True)
class Int8Bank:
    """A bank's int8 codes (a torch tensor) after centring on its mean, their scale, and per row the bounds the
    shortlist needs. Centring changes no distance and halves the range the codes must cover."""

    centre: np.ndarray  # (D,) float32
    codes: object  # torch.int8 (m, D), codes of M - centre
    scale: float
    norms: np.ndarray  # upper bounds of |m - centre|, (m,) float64
    residuals: np.ndarray  # upper bounds of |m - centre - scale * codes|, (m,) float64
    plain_norms: np.ndarray  # upper bounds of |m|, for the float32 rounding of the exact scores

    @classmethod
    def build(cls, M: np.ndarray, m_norms: np.ndarray) -> Int8Bank:
        import torch

        centre = M.mean(axis=0, dtype=np.float64).astype(np.float32) if len(M) else np.zeros(M.shape[1], np.float32)
        centred = M - centre
        scale = (float(np.abs(centred).max()) / 127 if M.size else 1.0) or 1.0
        codes, residuals, _ = _quantise(centred, scale)
        norms = np.sqrt(row_sq_norms(centred).astype(np.float64)) * (1 + 1e-3)
        return cls(centre, torch.from_numpy(codes), scale, norms, residuals,
                   np.sqrt(m_norms.astype(np.float64)) * (1 + 1e-3))


def nearest_one_l2_int8(X: np.ndarray, M: np.ndarray, m_norms: np.ndarray,
                        bank: Int8Bank) -> tuple[np.ndarray, np.ndarray] | None:
    """The exact nearest row of ``M`` for each row of ``X`` as (n, 1) squared distances and indices, ties to the
    lower row; ``bank`` is ``Int8Bank.build(M, m_norms)``. Returns ``None`` when the integer ranges would
    overflow for these queries (then use the float32 path)."""
    import torch

    n, width = X.shape
    if n == 0:
        return np.empty((0, 1), np.float32), np.empty((0, 1), np.intp)
    centred = X - bank.centre
    x_scale = (float(np.abs(centred).max()) / 127 if width else 1.0) or 1.0
    unit = 2.0 * x_scale * bank.scale  # one accumulator step, in score units
    centred_norms = bank.norms**2
    if width * 127 * 127 >= _MAX_ACC or float(centred_norms.max(initial=0.0)) / unit >= _MAX_ACC:
        return None
    codes, x_residual, x_hat = _quantise(centred, x_scale)
    x_norms = np.sqrt(row_sq_norms(X).astype(np.float64)) * (1 + 1e-3)

    def error(q, m):
        """|true score - approximate score| for queries ``q`` and bank rows ``m``: quantisation (x.m counts
        twice), the integer norms' rounding, and room for the float32 path's rounding, so that its answer is
        on the shortlist too. ``m=None``: the bank's largest bounds."""
        norm, residual, plain = ((bank.norms.max(initial=0.0), bank.residuals.max(initial=0.0),
                                  bank.plain_norms.max(initial=0.0)) if m is None else
                                 (bank.norms[m], bank.residuals[m], bank.plain_norms[m]))
        return (2.0 * (x_residual[q] * norm + x_hat[q] * residual) + unit
                + 4.0 * width * _UNIT_ROUNDOFF * (2.0 * x_norms[q] * plain + plain**2))

    slack = np.ceil(2.0 * error(slice(None), None) / unit).astype(np.int64) + 1
    integer_norms = torch.from_numpy(np.rint(centred_norms / (1 + 1e-3) ** 2 / unit).astype(np.int32))
    queries = torch.from_numpy(codes)
    m = len(M)
    best = np.full(n, _MAX_ACC, dtype=np.int64)
    found_q, found_m, found_score = [], [], []
    for q0 in range(0, n, _TILE_QUERIES):
        q1 = min(n, q0 + _TILE_QUERIES)
        tile_best, tile_slack = best[q0:q1], slack[q0:q1]
        for m0 in range(0, m, _TILE_NEURONS):
            m1 = min(m, m0 + _TILE_NEURONS)
            scores = torch.sub(integer_norms[m0:m1], torch._int_mm(queries[q0:q1], bank.codes[m0:m1].T))
            if (m1 - m0) % _BLOCK:
                scores = torch.nn.functional.pad(scores, (0, -(m1 - m0) % _BLOCK), value=_MAX_ACC)
            blocks = scores.view(q1 - q0, -1, _BLOCK)
            minima = blocks.amin(dim=2).numpy()
            np.minimum(tile_best, minima.min(axis=1), out=tile_best)
            limit = tile_best + tile_slack  # the running best only falls: a superset of the final shortlist
            pair_q, pair_b = np.nonzero(minima <= limit[:, None])
            values = blocks.numpy()[pair_q, pair_b]
            hit_pair, hit_col = np.nonzero(values <= limit[pair_q, None])
            found_q.append(pair_q[hit_pair] + q0)
            found_m.append(pair_b[hit_pair] * _BLOCK + hit_col + m0)
            found_score.append(values[hit_pair, hit_col])
    owners, rows, approx = (np.concatenate(found) for found in (found_q, found_m, found_score))
    keep = (approx <= (best + slack)[owners]) & (rows < m)  # the padding of a last, partial block is no neuron
    owners, rows, approx = owners[keep], rows[keep], approx[keep] * unit
    # the same cut with each pair's own bound: any pair's approx + its error bounds the best true score above
    pair_error = error(owners, rows)
    ceiling = np.full(n, np.inf)
    np.minimum.at(ceiling, owners, approx + pair_error)
    keep = approx - pair_error <= ceiling[owners]
    owners, rows = owners[keep], rows[keep]
    exact = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _RERANK_CHUNK):  # exact distances, a cache-sized chunk at a time
        part = slice(start, start + _RERANK_CHUNK)
        difference = X[owners[part]].astype(np.float64) - M[rows[part]]
        exact[part] = np.einsum("ij,ij->i", difference, difference)
    order = np.lexsort((rows, exact, owners))  # by query, then distance, then row: ties to the lower row
    first = order[np.r_[True, owners[order][1:] != owners[order][:-1]]]
    return exact[first].astype(np.float32)[:, None], rows[first].astype(np.intp)[:, None]
