"""A growth threshold for data of any scale: ``threshold="quantile:q"`` (or ``"auto"``), learnt in the pass.

A threshold in distance units means nothing to someone with data of their own. Given as a quantile instead, each
bank's threshold is that quantile of the leave-one-out nearest same-label distances among the first images of the
pass (up to :data:`WARMUP_IMAGES`, what the bank sees of them: the whole image, or its patch at a position), taken
when the pass reaches them and saved with the model (``threshold_``). ``"auto"`` is ``"quantile:0.1"``: on the
validation splits of the threshold experiment (``docs/data/threshold.json``) that quantile scored above no
threshold on both MNIST and CIFAR-10, and best of all quantiles on MNIST.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..engine import kernels

__all__ = ["AUTO_QUANTILE", "WARMUP_IMAGES", "parse_threshold", "quantile_threshold"]

AUTO_QUANTILE = 0.1
WARMUP_IMAGES = 2000

_FORMS = "a distance (a number >= 0), 'quantile:q' with q in [0, 1] (e.g. 'quantile:0.1'), 'auto' or None"


def parse_threshold(value) -> tuple[str, float] | None:
    """``None``, ``("distance", t)`` or ``("quantile", q)`` for a ``threshold`` parameter; ``ValueError`` naming the
    accepted forms otherwise."""
    if value is None:
        return None
    if isinstance(value, Real) and not isinstance(value, bool):
        if not value >= 0:
            raise ValueError(f"the 'threshold' parameter must be {_FORMS}; got {value!r}")
        return "distance", float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "quantile", AUTO_QUANTILE
        if text.startswith("quantile:"):
            try:
                q = float(text.split(":", 1)[1])
            except ValueError:
                q = float("nan")
            if 0 <= q <= 1:
                return "quantile", q
    raise ValueError(f"the 'threshold' parameter must be {_FORMS}; got {value!r}")


def quantile_threshold(rows: np.ndarray, labels: np.ndarray, quantile: float, metric: str = "l2",
                       p: float = 2.0) -> float | None:
    """The ``quantile`` of the leave-one-out nearest same-label distances among ``rows`` (n, width) labelled
    ``labels`` (n,); ``None`` while no label has two rows."""
    nearest = kernels.nearest_other_of_label(rows, labels, metric, p=p)
    return float(np.quantile(nearest, quantile)) if len(nearest) else None
