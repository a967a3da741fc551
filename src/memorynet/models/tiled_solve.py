"""Solving a shrunk scatter's linear system by a Cholesky factorisation in square tiles.

The streaming discriminant keeps its scatter as packed lower tiles (:mod:`.tiled_scatter`; float32 for the
prototype codes). Its weights solve ``(scale * S + ridge * I) x = b`` through the factor ``L L^T`` of that matrix,
computed in place on a copy of the packed tiles, in their precision: every step is one LAPACK or BLAS call on a
tile, and the solve holds one packed copy beyond the scatter.

A float32 factor's solution is refined in float64 against the same float32 scatter (residuals ``b - A x`` computed
tile by tile in float64, corrections solved with the float32 factor) until a correction is lost in the float64
rounding of the solution: the result is the float64 solution. Should the refinement not settle (a matrix too
ill-conditioned for a float32 factor), a float64 factor is made instead.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack

from .tiled_scatter import block, padded_side, tile_count

__all__ = ["solve_shrunk"]

REFINE_STEPS = 10  # corrections tried before falling back to a float64 factor
SETTLED = 1e-12  # a correction this small against the solution (largest entries) ends the refinement


def _shrunk(tiles: np.ndarray, n: int, scale: float, ridge: float, dtype) -> np.ndarray:
    """Packed tiles of ``scale * S + ridge * I`` in ``dtype``; the padding's diagonal is 1 (its rows solve to 0)."""
    out = np.array(tiles, dtype=dtype)
    out *= scale
    p, side = tile_count(out), out.shape[1]
    diagonal = np.arange(side)
    for i in range(p):
        block(out, i, i)[diagonal, diagonal] += ridge
    padding = np.arange(n - (p - 1) * side, side)
    block(out, p - 1, p - 1)[padding, padding] = 1.0
    return out


def _factor(t: np.ndarray) -> None:
    """Right-looking Cholesky ``A = L L^T`` in place on the packed lower tiles, in their precision."""
    (potrf,) = lapack.get_lapack_funcs(("potrf",), dtype=t.dtype)
    trsm, syrk, gemm = blas.get_blas_funcs(("trsm", "syrk", "gemm"), dtype=t.dtype)
    p = tile_count(t)
    for k in range(p):
        _, info = potrf(block(t, k, k), lower=1, clean=1, overwrite_a=1)
        if info:
            raise np.linalg.LinAlgError(f"the shrunk covariance is not positive definite (LAPACK potrf info {info});"
                                        " raise shrinkage")
        for i in range(k + 1, p):
            trsm(1.0, block(t, k, k), block(t, i, k), side=1, lower=1, trans_a=1, overwrite_b=1)
        for i in range(k + 1, p):
            syrk(-1.0, block(t, i, k), beta=1.0, c=block(t, i, i), trans=0, lower=1, overwrite_c=1)
            for j in range(k + 1, i):
                gemm(-1.0, block(t, i, k), block(t, j, k), beta=1.0, c=block(t, i, j), trans_b=1, overwrite_c=1)


def _substitute(t: np.ndarray, rhs: list[np.ndarray]) -> list[np.ndarray]:
    """The solution of ``L L^T x = rhs`` (row blocks, returned in float64), ``L`` from :func:`_factor`, computed
    in the factor's precision."""
    trsm = blas.get_blas_funcs("trsm", dtype=t.dtype)
    x = [np.array(part, dtype=t.dtype, order="F") for part in rhs]
    p = tile_count(t)
    for i in range(p):  # L y = b, top to bottom
        for k in range(i):
            x[i] -= block(t, i, k) @ x[k]
        x[i] = trsm(1.0, block(t, i, i), x[i], side=0, lower=1)
    for i in reversed(range(p)):  # L^T x = y, bottom to top
        for j in range(i + 1, p):
            x[i] -= block(t, j, i).T @ x[j]
        x[i] = trsm(1.0, block(t, i, i), x[i], side=0, lower=1, trans_a=1)
    return [part.astype(np.float64) for part in x]


def _residual(tiles: np.ndarray, scale: float, ridge: float, x: list[np.ndarray],
              rhs: list[np.ndarray]) -> list[np.ndarray]:
    """``rhs - (scale * S + ridge * I) x`` in float64, ``S`` read tile by tile (the padding's rows stay 0)."""
    product = [np.zeros_like(part) for part in x]
    tile = np.empty(tiles.shape[1:], order="F")  # one float64 tile, reused
    for i in range(tile_count(tiles)):
        tile[...] = block(tiles, i, i)
        product[i] += blas.dsymm(1.0, tile, x[i], side=0, lower=1)
        for j in range(i):
            tile[...] = block(tiles, i, j)
            product[i] += tile @ x[j]
            product[j] += tile.T @ x[i]
    return [b - scale * s - ridge * v for b, s, v in zip(rhs, product, x)]


def _refined(factor: np.ndarray, tiles: np.ndarray, scale: float, ridge: float,
             rhs: list[np.ndarray]) -> list[np.ndarray] | None:
    """The float64 solution from the float32 ``factor`` by float64 refinement against ``tiles``; None if it never
    settles."""
    x = _substitute(factor, rhs)
    for _ in range(REFINE_STEPS):
        correction = _substitute(factor, _residual(tiles, scale, ridge, x, rhs))
        x = [v + d for v, d in zip(x, correction)]
        if max(np.abs(d).max() for d in correction) <= SETTLED * max(np.abs(v).max() for v in x):
            return x
    return None


def solve_shrunk(tiles: np.ndarray, n: int, scale: float, ridge: float, rhs: np.ndarray) -> np.ndarray:
    """(n, m) float64: the solution ``x`` of ``(scale * S + ridge * I) x = rhs``, ``S`` the n x n symmetric matrix
    held by the packed ``tiles`` (float32 or float64; :mod:`.tiled_scatter`)."""
    side = tiles.shape[1]
    padded = np.zeros((padded_side(tiles), rhs.shape[1]))
    padded[:n] = rhs
    blocks = [padded[i * side:(i + 1) * side] for i in range(tile_count(tiles))]
    x = None
    if tiles.dtype == np.float32:
        factor = _shrunk(tiles, n, scale, ridge, np.float32)
        try:
            _factor(factor)
            x = _refined(factor, tiles, scale, ridge, blocks)
        except np.linalg.LinAlgError:  # not definite in float32: perhaps in float64
            pass
        del factor
    if x is None:
        factor = _shrunk(tiles, n, scale, ridge, np.float64)
        _factor(factor)
        x = _substitute(factor, blocks)
    return np.concatenate(x)[:n]
