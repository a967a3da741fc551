"""Explicit input preprocessing: nothing here happens unless the user (or a preset) asks for it."""

from __future__ import annotations

import numpy as np

__all__ = ["scale_pixels"]


def scale_pixels(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """Raw pixel intensities in [0, pixel_max] -> float32 in [0, 1] (shape unchanged)."""
    if pixel_max <= 0:
        raise ValueError(f"pixel_max must be positive, got {pixel_max}")
    return np.asarray(X, dtype=np.float32) / np.float32(pixel_max)
