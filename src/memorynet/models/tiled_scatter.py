"""A symmetric matrix kept as its lower square tiles, packed in one array: the streaming discriminant's scatter.

Only the tiles on and below the diagonal are stored (about half of the square), tile ``(i, j)``, ``i >= j``, at
index ``i (i + 1) / 2 + j`` as the transpose of a C-ordered block, so that :func:`block` is a Fortran-ordered view:
every rank-k update and every step of a factorisation is one BLAS call on a tile, in place. The side is padded with
zero rows and columns up to a whole number of equal tiles of at most ``TILE_ROWS`` rows. A diagonal tile holds its
lower triangle; its upper triangle is never read.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import blas

__all__ = ["TILE_ROWS", "tile_shape", "zeros", "tile_count", "padded_side", "zero_rows", "block", "add_rank", "pack",
           "unpack"]

TILE_ROWS = 2048  # rows of a tile at most: large enough for BLAS to run at full speed; OpenBLAS 0.3.31's Cholesky
# of a whole matrix of more than about 16000 rows crashes (a segmentation fault), its calls on tiles do not


def tile_shape(n: int, tile: int = TILE_ROWS) -> tuple[int, int, int]:
    """The packed array's shape for an ``n`` x ``n`` matrix: as many equal tiles of at most ``tile`` rows as it
    takes to cover ``n`` with the least padding."""
    per_side = max(1, math.ceil(n / tile))
    side = max(1, math.ceil(n / per_side))
    return per_side * (per_side + 1) // 2, side, side


def zeros(n: int, dtype, tile: int = TILE_ROWS) -> np.ndarray:
    """The packed tiles of an ``n`` x ``n`` zero matrix."""
    return np.zeros(tile_shape(n, tile), dtype=dtype)


def tile_count(tiles: np.ndarray) -> int:
    """Tiles per side of the packed array ``tiles``."""
    return (math.isqrt(8 * len(tiles) + 1) - 1) // 2


def block(tiles: np.ndarray, i: int, j: int) -> np.ndarray:
    """Tile ``(i, j)``, ``i >= j``, as a writeable Fortran-ordered view."""
    return tiles[i * (i + 1) // 2 + j].T


def padded_side(tiles: np.ndarray) -> int:
    """The side of the matrix the packed ``tiles`` cover, padding included."""
    return tile_count(tiles) * tiles.shape[1]


def zero_rows(count: int, tiles: np.ndarray) -> np.ndarray:
    """``count`` zero rows of the padded side, Fortran-ordered in the tiles' precision: what :func:`add_rank` takes
    without a copy."""
    return np.zeros((count, padded_side(tiles)), dtype=tiles.dtype, order="F")


def _padded(rows: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """``rows`` (m, n) as a Fortran array of the tiles' precision with the padded side's zero columns."""
    if rows.shape[1] == padded_side(tiles) and rows.dtype == tiles.dtype and rows.flags.f_contiguous:
        return rows
    out = zero_rows(len(rows), tiles)
    out[:, :rows.shape[1]] = rows
    return out


def add_rank(tiles: np.ndarray, rows: np.ndarray) -> None:
    """``tiles += rows^T rows`` in place, ``rows`` (m, n or the padded side), one BLAS call per tile in the tiles'
    precision."""
    rows = _padded(rows, tiles)
    side, per_side = tiles.shape[1], tile_count(tiles)
    syrk, gemm = blas.get_blas_funcs(("syrk", "gemm"), dtype=tiles.dtype)
    columns = [rows[:, i * side:(i + 1) * side] for i in range(per_side)]
    for i, left in enumerate(columns):
        syrk(1.0, left, beta=1.0, c=block(tiles, i, i), trans=1, lower=1, overwrite_c=1)
        for j in range(i):
            gemm(1.0, left, columns[j], beta=1.0, c=block(tiles, i, j), trans_a=1, overwrite_c=1)


def pack(matrix: np.ndarray, dtype, tile: int = TILE_ROWS) -> np.ndarray:
    """The packed tiles of the symmetric matrix whose upper triangle ``matrix`` (n, n) holds."""
    tiles = zeros(len(matrix), dtype, tile)
    side, n = tiles.shape[1], len(matrix)
    for i in range(tile_count(tiles)):
        rows = slice(i * side, min((i + 1) * side, n))
        for j in range(i + 1):
            columns = slice(j * side, min((j + 1) * side, n))
            part = matrix[columns, rows].T  # the upper triangle's tile (j, i), transposed
            part = np.tril(part) if i == j else part
            block(tiles, i, j)[:part.shape[0], :part.shape[1]] = part
    return tiles


def unpack(tiles: np.ndarray, n: int) -> np.ndarray:
    """The full symmetric matrix (n, n), float64, of the packed ``tiles``."""
    side = tiles.shape[1]
    full = np.zeros((padded_side(tiles),) * 2)
    for i in range(tile_count(tiles)):
        for j in range(i + 1):
            part = np.tril(block(tiles, i, j)) if i == j else block(tiles, i, j)
            full[i * side:(i + 1) * side, j * side:(j + 1) * side] = part
    full += np.tril(full, -1).T
    return full[:n, :n]
