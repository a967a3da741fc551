"""Optional nearest-neuron search engines behind the same interface as ``kernels.nearest_neurons``.

- ``"faiss"``: exact brute-force search with FAISS (``IndexFlat``; L2, inner product for cosine, L1, Lp);
  install with ``pip install 'memorynet[faiss]'``.
- ``"torch"``: PyTorch on the GPU when one is available, else the CPU; install PyTorch yourself.

Each returns ``(distances, indices)`` (n, k), nearest first, in the same distance units as the NumPy kernels.
Exact ties may be broken differently from NumPy's lowest-index rule.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BACKENDS", "search"]

BACKENDS = ("numpy", "faiss", "torch")


def _import(name: str):
    try:
        return __import__(name)
    except ImportError as exc:
        extra = "pip install 'memorynet[faiss]'" if name == "faiss" else "pip install torch"
        raise ImportError(f"search_backend={name!r} needs the {name} package: {extra}") from exc


def _unit(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(X / norms, dtype=np.float32)


def _faiss(X: np.ndarray, M: np.ndarray, k: int, metric: str, p: float):
    faiss = _import("faiss")
    dim = M.shape[1]
    if metric == "cosine":
        index = faiss.IndexFlatIP(dim)
        index.add(_unit(M))
        similarity, indices = index.search(_unit(X), k)
        return (1.0 - similarity).astype(np.float32), indices
    kinds = {"l2": faiss.METRIC_L2, "l1": faiss.METRIC_L1, "lp": faiss.METRIC_Lp}
    index = faiss.IndexFlat(dim, kinds[metric])
    if metric == "lp":
        index.metric_arg = p
    index.add(np.ascontiguousarray(M, dtype=np.float32))
    distances, indices = index.search(np.ascontiguousarray(X, dtype=np.float32), k)
    if metric == "lp":  # FAISS returns sum |x - m|^p, without the root
        distances = distances ** (1.0 / p)
    return distances.astype(np.float32), indices


def _torch(X: np.ndarray, M: np.ndarray, k: int, metric: str, p: float):
    torch = _import("torch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bank = torch.from_numpy(np.ascontiguousarray(M, dtype=np.float32)).to(device)
    if metric == "cosine":
        bank = torch.nn.functional.normalize(bank, dim=1)
    bank_norms = (bank * bank).sum(dim=1)
    out_d, out_i = [], []
    rows = max(1, (256 << 20) // (4 * max(len(M), 1)))  # ~256 MiB distance blocks
    for start in range(0, len(X), rows):
        block = torch.from_numpy(np.ascontiguousarray(X[start:start + rows], dtype=np.float32)).to(device)
        if metric == "l2":
            D = bank_norms[None, :] - 2.0 * block @ bank.T + (block * block).sum(dim=1, keepdim=True)
            D = D.clamp_min_(0.0)
        elif metric == "cosine":
            D = 1.0 - torch.nn.functional.normalize(block, dim=1) @ bank.T
        else:
            D = torch.cdist(block, bank, p=1.0 if metric == "l1" else p)
        d, i = torch.topk(D, k, dim=1, largest=False, sorted=True)
        out_d.append(d.cpu().numpy())
        out_i.append(i.cpu().numpy())
    return np.concatenate(out_d).astype(np.float32), np.concatenate(out_i).astype(np.intp)


def search(X: np.ndarray, M: np.ndarray, k: int, metric: str, p: float, backend: str):
    """The ``k`` nearest rows of ``M`` for each row of ``X`` with the named backend (not ``"numpy"``)."""
    engines = {"faiss": _faiss, "torch": _torch}
    if backend not in engines:
        raise ValueError(f"unknown search_backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    k = min(k, len(M))
    if len(X) == 0:
        return np.empty((0, k), np.float32), np.empty((0, k), np.intp)
    return engines[backend](X, M, k, metric, p)
