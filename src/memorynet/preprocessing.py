"""Explicit input preprocessing: nothing here happens unless the user, an experiment or a preset asks for it.

Every transform maps uint8-valued images ``X`` (n, C, H, W) with maximum intensity ``pixel_max`` to float32
images (n, C', H, W); they are fixed, position-independent operations with no learned weights.
"""

from __future__ import annotations

import numpy as np

__all__ = ["scale_pixels", "raw_pixels", "standardize_images", "grayscale", "TRANSFORMS", "apply"]


def scale_pixels(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """Raw pixel intensities in [0, pixel_max] -> float32 in [0, 1] (shape unchanged)."""
    if pixel_max <= 0:
        raise ValueError(f"pixel_max must be positive, got {pixel_max}")
    return np.asarray(X, dtype=np.float32) / np.float32(pixel_max)


def raw_pixels(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """The intensities as they are, as float32 (no scaling)."""
    return np.asarray(X, dtype=np.float32)


def standardize_images(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """Per-image standardisation: each image minus its mean, divided by its standard deviation."""
    X = scale_pixels(X, pixel_max)
    axes = tuple(range(1, X.ndim))
    std = X.std(axis=axes, keepdims=True)
    return (X - X.mean(axis=axes, keepdims=True)) / np.maximum(std, 1e-6)


def grayscale(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """Mean over the colour channels, scaled to [0, 1]: (n, C, H, W) -> (n, 1, H, W)."""
    return scale_pixels(X, pixel_max).mean(axis=1, keepdims=True)


TRANSFORMS = {"scale": scale_pixels, "raw": raw_pixels, "standardize": standardize_images,
              "grayscale": grayscale}


def apply(name: str, X: np.ndarray, pixel_max: float) -> np.ndarray:
    """Apply the named transform (a key of ``TRANSFORMS``)."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown preprocessing {name!r}; choose one of {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name](X, pixel_max)
