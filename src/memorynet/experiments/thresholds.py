"""Choosing a growth threshold from the training data itself.

A threshold in absolute distance units means nothing across data sets and preprocessings, so experiments
give a *quantile* instead: the threshold is that quantile of the nearest same-label distances within a
warm-up sample drawn from the training set (each sample's distance to the closest other sample of its
label). Growth with such a threshold adds a neuron for inputs farther from the memory than that share of
typical within-class neighbour distances.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ..models.thresholds import quantile_threshold

__all__ = ["threshold_from_quantile"]


def threshold_from_quantile(X: np.ndarray, y: np.ndarray, quantile: float, distance: str = "l2", *,
                            p: float = 2.0, n_warmup: int = 2000, random_state=None) -> float:
    """The ``quantile`` of leave-one-out nearest same-label distances in a warm-up sample of (X, y).

    ``X`` is (n, D) or image-shaped float input, ``y`` (n,) labels; ``n_warmup`` rows are drawn without
    replacement (all of them if fewer). Returns a threshold in units of ``distance``.
    """
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    y = np.asarray(y)
    rows = check_random_state(random_state).permutation(len(X))[:n_warmup]
    threshold = quantile_threshold(X[rows], y[rows], quantile, distance, p)
    if threshold is None:
        raise ValueError("the warm-up sample needs at least two samples of some label")
    return threshold
