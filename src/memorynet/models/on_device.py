"""The prototype-code model's heavy arithmetic on a PyTorch device: its triangle codes, and its streaming
discriminant's rank-k updates and solve.

:func:`triangle_codes` is :func:`memorynet.models.prototype_codes.triangle_codes` computed on the device.
:class:`~memorynet.models.readout.StreamingLDA` with ``device`` set keeps the scatter that its chunks add as a square
matrix on the device (:func:`add_chunk`: the chunk's rows centred on their class means, and the shift of the class
means, both as products there), and adds it into its packed host tiles only when something on the host reads them
(:func:`fold`: tile by tile, no host copy of the square). Its discriminant is solved on the device in float64
(:func:`solve_shrunk`: a Cholesky factor of the unpacked shrunk matrix), the same system the host's tiled solver
refines to float64.
"""

from __future__ import annotations

import numpy as np

from ..engine.searchers import _import
from .tiled_scatter import block, padded_side, tile_count

__all__ = ["triangle_codes", "new_scatter", "add_chunk", "fold", "solve_shrunk"]


def triangle_codes(patches: np.ndarray, prototypes: np.ndarray, width: int, device: str) -> np.ndarray:
    """(n, ``width``) float32: ``max(0, mean_k(z) - z_k)``, ``z_k`` the Euclidean distance from each patch to
    prototype ``k``, computed on ``device``; columns beyond the prototypes are zero."""
    torch = _import("torch")
    codes = np.zeros((len(patches), width), dtype=np.float32)
    if len(prototypes):
        X = torch.from_numpy(np.ascontiguousarray(patches)).to(device)
        M = torch.from_numpy(np.ascontiguousarray(prototypes)).to(device)
        squared = (M * M).sum(dim=1)[None, :] - 2.0 * (X @ M.T) + (X * X).sum(dim=1, keepdim=True)
        z = squared.clamp_min_(0.0).sqrt_()
        codes[:, :len(prototypes)] = (z.mean(dim=1, keepdim=True) - z).clamp_min_(0.0).cpu().numpy()
    return codes


def new_scatter(n: int, precision: str, device: str):
    """A zero (n, n) scatter on ``device`` in ``precision`` ("float32" or "float64")."""
    torch = _import("torch")
    return torch.zeros((n, n), dtype=getattr(torch, precision), device=device)


def add_chunk(scatter, X: np.ndarray, chunk_means: np.ndarray, idx: np.ndarray, shift: np.ndarray) -> None:
    """``scatter += C^T C + shift^T shift`` on its device, ``C`` the rows of ``X`` (n, D) less their class's chunk
    mean (``chunk_means[idx]``, centred in float64, then rounded to the scatter's precision)."""
    torch = _import("torch")
    device, dtype = scatter.device, scatter.dtype
    means = torch.from_numpy(chunk_means).to(device)
    rows = torch.from_numpy(np.ascontiguousarray(X)).to(device)
    centred = (rows.double() - means[torch.from_numpy(idx.astype(np.int64)).to(device)]).to(dtype)
    scatter.addmm_(centred.T, centred)
    between = torch.from_numpy(np.ascontiguousarray(shift)).to(device=device, dtype=dtype)
    scatter.addmm_(between.T, between)


def fold(tiles: np.ndarray, scatter) -> None:
    """``tiles += scatter`` (the packed lower tiles of :mod:`.tiled_scatter` and a symmetric device matrix), one
    tile copied from the device at a time."""
    n, side = len(scatter), tiles.shape[1]
    for i in range(tile_count(tiles)):
        rows = slice(i * side, min((i + 1) * side, n))
        for j in range(i + 1):
            part = scatter[rows, j * side:min((j + 1) * side, n)]
            part = (part.tril() if i == j else part).cpu().numpy()
            block(tiles, i, j)[:part.shape[0], :part.shape[1]] += part


def solve_shrunk(tiles: np.ndarray, pending, scale: float, ridge: float, rhs: np.ndarray,
                 device: str) -> np.ndarray:
    """The float64 solution of ``(scale * S + ridge * I) x = rhs``, ``S`` the symmetric (n, n) matrix whose packed
    lower ``tiles`` are given plus ``pending`` (a symmetric device matrix not folded into them yet, or ``None``),
    factored and solved on ``device``; ``rhs`` (n, k); returns (n, k) float64."""
    torch = _import("torch")
    n, side = len(rhs), tiles.shape[1]
    full = torch.zeros((padded_side(tiles),) * 2, dtype=torch.float64, device=device)
    if tiles.any():  # a fresh pass's tiles are zero: only the device's part counts
        for i in range(tile_count(tiles)):
            for j in range(i + 1):
                part = torch.from_numpy(np.ascontiguousarray(block(tiles, i, j))).to(device=device,
                                                                                     dtype=torch.float64)
                full[i * side:(i + 1) * side, j * side:(j + 1) * side] = part.tril() if i == j else part
    matrix = full[:n, :n]
    matrix += matrix.tril(-1).T  # the upper triangle from the lower
    if pending is not None:
        matrix += pending.to(torch.float64)
    matrix *= scale
    matrix.diagonal().add_(ridge)
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info):
        raise np.linalg.LinAlgError(f"the shrunk covariance is not positive definite (leading minor {int(info)} of "
                                    "the device's Cholesky factor); raise shrinkage")
    b = torch.from_numpy(np.ascontiguousarray(rhs, dtype=np.float64)).to(device)
    return torch.cholesky_solve(b, factor).cpu().numpy()
