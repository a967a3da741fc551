"""Turning nearest neurons into class decisions: k-nearest voting, channel voting, tie rule.

A *voter* is one nearest-neuron search: the whole image, or one colour channel under channel voting.
Neighbour arrays are shaped (n, V, k): n queries, V voters, k nearest neurons per voter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["vote_weights", "tally_votes", "decide"]


def vote_weights(distances: np.ndarray, weights: str = "uniform") -> np.ndarray:
    """Weight of each neighbour's vote, same shape as ``distances``.

    ``"uniform"``: 1 each. ``"distance"``: 1/d; a query that coincides with a neuron (d = 0) of a voter
    gives that neuron's vote weight 1 and the voter's other neighbours 0, as in scikit-learn.
    """
    if weights == "uniform":
        return np.ones_like(distances, dtype=np.float64)
    if weights != "distance":
        raise ValueError(f"unknown weights {weights!r}; choose 'uniform' or 'distance'")
    d = distances.astype(np.float64)
    exact = d == 0
    with np.errstate(divide="ignore"):
        w = 1.0 / d
    has_exact = exact.any(axis=-1, keepdims=True)
    return np.where(has_exact, exact.astype(np.float64), w)


def tally_votes(neighbor_classes: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """Sum the vote weights per class: (n, V, k) class indices and weights -> (n, n_classes) scores."""
    n = len(neighbor_classes)
    flat = (np.arange(n)[:, None, None] * n_classes + neighbor_classes).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=n * n_classes).reshape(n, n_classes)


def decide(scores: np.ndarray, neighbor_classes: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Class index with the highest score per query, (n,).

    Tie rule: among the tied classes, the one with the nearest neuron (smallest distance over all voters);
    if that ties too, the lowest class index.
    """
    n, n_classes = scores.shape
    nearest = np.full((n, n_classes), np.inf)
    flat = (np.arange(n)[:, None, None] * n_classes + neighbor_classes).ravel()
    np.minimum.at(nearest.ravel(), flat, distances.astype(np.float64).ravel())
    tied = scores >= scores.max(axis=1, keepdims=True) - 1e-12 * np.abs(scores).max(axis=1, keepdims=True)
    return np.where(tied, nearest, np.inf).argmin(axis=1)
