"""Solving a shrunk scatter's linear system by a Cholesky factorisation in square tiles.

The streaming discriminant keeps its scatter as the upper triangle of a float32 matrix. Its weights solve
``(scale * S + ridge * I) x = b``. A tiled factorisation reads that triangle tile by tile into float64, so only the
upper tiles are ever held (about half of a full float64 copy), and every step is one LAPACK or BLAS call on a
tile: OpenBLAS 0.3.31's Cholesky of a whole matrix of more than about 16000 rows crashes (a segmentation fault),
its calls on tiles of a few thousand rows do not, and they run about twice as fast as the symmetric-indefinite
solve that avoided the crash.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack

__all__ = ["solve_shrunk", "TILE_ROWS"]

TILE_ROWS = 2048  # rows of a tile: large enough for BLAS to run at full speed, far below the crash; the
# diagonal tiles, held whole, add tile / 2 float64 values per row


def _bounds(n: int, tile: int) -> list[slice]:
    return [slice(start, min(start + tile, n)) for start in range(0, n, tile)]


def _upper_tiles(upper: np.ndarray, scale: float, ridge: float, tiles: list[slice]) -> dict:
    """The tiles (i, j), i <= j, of ``scale * upper + ridge * I`` as float64 Fortran arrays (the diagonal tiles'
    lower triangles as ``upper`` holds them: ignored)."""
    out = {}
    for i, rows in enumerate(tiles):
        for j in range(i, len(tiles)):
            block = np.array(upper[rows, tiles[j]], dtype=np.float64, order="F")
            block *= scale
            if i == j:
                block.flat[::len(block) + 1] += ridge
            out[i, j] = block
    return out


def _factor(t: dict, p: int) -> None:
    """Right-looking Cholesky ``A = U^T U`` in place on the upper tiles."""
    for k in range(p):
        t[k, k], info = lapack.dpotrf(t[k, k], lower=0, clean=1, overwrite_a=1)
        if info:
            raise np.linalg.LinAlgError(f"the shrunk covariance is not positive definite (LAPACK dpotrf info {info});"
                                        " raise shrinkage")
        for j in range(k + 1, p):
            t[k, j] = blas.dtrsm(1.0, t[k, k], t[k, j], side=0, lower=0, trans_a=1, overwrite_b=1)
        for i in range(k + 1, p):
            t[i, i] = blas.dsyrk(-1.0, t[k, i], beta=1.0, c=t[i, i], trans=1, lower=0, overwrite_c=1)
            for j in range(i + 1, p):
                t[i, j] = blas.dgemm(-1.0, t[k, i], t[k, j], beta=1.0, c=t[i, j], trans_a=1, overwrite_c=1)


def _substitute(t: dict, p: int, rhs: list[np.ndarray]) -> None:
    """Solve ``U^T U x = rhs`` in place on the row blocks of ``rhs``, ``U`` from :func:`_factor`."""
    for i in range(p):  # U^T y = b, top to bottom
        for k in range(i):
            rhs[i] -= t[k, i].T @ rhs[k]
        rhs[i] = blas.dtrsm(1.0, t[i, i], rhs[i], side=0, lower=0, trans_a=1)
    for i in reversed(range(p)):  # U x = y, bottom to top
        for j in range(i + 1, p):
            rhs[i] -= t[i, j] @ rhs[j]
        rhs[i] = blas.dtrsm(1.0, t[i, i], rhs[i], side=0, lower=0)


def solve_shrunk(upper: np.ndarray, scale: float, ridge: float, rhs: np.ndarray, tile: int = TILE_ROWS) -> np.ndarray:
    """(n, m) float64: the solution ``x`` of ``(scale * S + ridge * I) x = rhs``, ``S`` the symmetric matrix whose
    upper triangle ``upper`` (n, n) holds (any float dtype; its lower triangle is never read)."""
    tiles = _bounds(len(upper), tile)
    t = _upper_tiles(upper, scale, ridge, tiles)
    _factor(t, len(tiles))
    blocks = [np.array(rhs[rows], dtype=np.float64, order="F") for rows in tiles]
    _substitute(t, len(tiles), blocks)
    return np.concatenate(blocks)
