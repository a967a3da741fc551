"""Explicit input preprocessing: nothing here happens unless the user, an experiment or a preset asks for it.

Every transform maps uint8-valued images ``X`` (n, C, H, W) with maximum intensity ``pixel_max`` to float32
images (n, C', H, W); they are fixed, position-independent operations with no learned weights.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from numbers import Real

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval

__all__ = ["ImagePreprocessor", "scale_pixels", "raw_pixels", "standardize_images", "grayscale",
           "local_contrast_normalize", "difference_of_gaussians", "opponent_colors", "deskew", "shear_moments",
           "TRANSFORMS", "apply", "check_chain"]

DESKEW_CHUNK = 4096  # images deskewed together (the sampling coordinates of a chunk are 3 x its pixels, float64)
PARALLEL_CHUNK = 2048  # images one thread preprocesses at a time


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


def _blur(X: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every channel of every image, (n, C, H, W): a fixed retina-like local operation."""
    return gaussian_filter(X, sigma=(0, 0, sigma, sigma), mode="reflect")


def local_contrast_normalize(X: np.ndarray, pixel_max: float = 255.0, sigma: float = 2.0) -> np.ndarray:
    """Local contrast normalisation: subtract the Gaussian-weighted local mean, divide by the local standard
    deviation (floored at its image mean, so flat regions are not blown up); per image and channel."""
    X = scale_pixels(X, pixel_max)
    centred = X - _blur(X, sigma)
    local_std = np.sqrt(_blur(centred**2, sigma))
    floor = local_std.mean(axis=(2, 3), keepdims=True)
    return centred / np.maximum(local_std, np.maximum(floor, 1e-4))


def difference_of_gaussians(X: np.ndarray, pixel_max: float = 255.0, centre: float = 1.0,
                            surround: float = 2.0) -> np.ndarray:
    """Retinal centre-surround response: a narrow Gaussian blur minus a wide one, per channel."""
    X = scale_pixels(X, pixel_max)
    return _blur(X, centre) - _blur(X, surround)


def opponent_colors(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """RGB -> luminance, red-green and blue-yellow opponent channels (as in primate colour vision)."""
    X = scale_pixels(X, pixel_max)
    if X.shape[1] != 3:
        raise ValueError(f"opponent colours need 3 (RGB) channels, got {X.shape[1]}")
    r, g, b = X[:, 0], X[:, 1], X[:, 2]
    return np.stack([(r + g + b) / 3, r - g, (r + g) / 2 - b], axis=1)


def shear_moments(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row centre, column centre, slant), each (n,), of the intensity mass of ``images`` (n, C, H, W) summed over
    channels: the slant is the covariance of the column with the row over the row's variance (0 for an image
    with no mass or a single row of it)."""
    mass = images.sum(axis=1, dtype=np.float64)
    total = mass.sum(axis=(1, 2))
    weight = np.where(total > 0, 1 / np.where(total > 0, total, 1), 0.0)
    rows, cols = np.arange(mass.shape[1], dtype=np.float64), np.arange(mass.shape[2], dtype=np.float64)
    row_mass, col_mass = mass.sum(axis=2), mass.sum(axis=1)
    centre_row, centre_col = row_mass @ rows * weight, col_mass @ cols * weight
    row_offsets = rows - centre_row[:, None]
    row_variance = (row_mass * row_offsets ** 2).sum(axis=1) * weight
    covariance = np.einsum("nhw,nh,w->n", mass, row_offsets, cols) * weight
    slant = np.divide(covariance, row_variance, out=np.zeros_like(covariance), where=row_variance > 1e-12)
    return centre_row, centre_col, slant


def deskew(X: np.ndarray, pixel_max: float = 255.0) -> np.ndarray:
    """Straightened images, scaled to [0, 1]: each image is sheared along its rows until its intensity shows no
    slant (no covariance of column with row) and moved so that its centre of mass is the image centre, sampled
    bilinearly with zeros outside (LeCun et al. 1998's deskewing of digits). The shear of an image is computed
    from that image alone: nothing is learnt."""
    X = scale_pixels(X, pixel_max)
    out = np.empty_like(X)
    n, channels, height, width = X.shape
    for chunk in gen_batches(n, DESKEW_CHUNK):
        centre_row, centre_col, slant = shear_moments(X[chunk])
        # output pixel (r, c) reads the input at (r + dr, c + dc + slant * (r - middle row)), d the shift to the
        # centre of mass
        offsets = np.arange(height, dtype=np.float64)[None, :, None] - (height - 1) / 2
        read_rows = offsets + centre_row[:, None, None] + np.zeros((1, 1, width))
        read_cols = (np.arange(width, dtype=np.float64) - (width - 1) / 2 + centre_col[:, None, None]
                     + slant[:, None, None] * offsets)
        which = np.broadcast_to(np.arange(len(slant), dtype=np.float64)[:, None, None], read_rows.shape)
        for channel in range(channels):
            out[chunk, channel] = map_coordinates(X[chunk, channel], [which, read_rows, read_cols], order=1,
                                                  mode="grid-constant", cval=0.0)
    return out


TRANSFORMS = {"scale": scale_pixels, "raw": raw_pixels, "standardize": standardize_images,
              "grayscale": grayscale, "lcn": local_contrast_normalize, "dog": difference_of_gaussians,
              "opponent": opponent_colors, "deskew": deskew}


def check_chain(name: str) -> list[str]:
    """The steps of a chain ``"a+b"``, after checking that each is a known transform."""
    if not isinstance(name, str):
        raise ValueError(f"preprocessing must be a string such as 'dog+standardize', got {name!r}")
    parts = name.split("+")
    for part in parts:
        if part not in TRANSFORMS:
            raise ValueError(f"unknown preprocessing {part!r}; choose from {', '.join(TRANSFORMS)} (join with '+')")
    return parts


def _chain(steps: list[str], X: np.ndarray, pixel_max: float) -> np.ndarray:
    for i, part in enumerate(steps):
        X = TRANSFORMS[part](X, pixel_max if i == 0 else 1.0)
    return X


def apply(name: str, X: np.ndarray, pixel_max: float) -> np.ndarray:
    """Apply the named transform, or a chain ``"a+b"`` (a first, on raw intensities; then b on its output).

    Every transform acts on each image alone, so the images are taken ``PARALLEL_CHUNK`` at a time on every core
    (the filters release the GIL): the result is the same, bit for bit, as the whole array at once."""
    steps = check_chain(name)
    chunks = list(gen_batches(len(X), PARALLEL_CHUNK))
    if len(chunks) < 2:
        return _chain(steps, X, pixel_max)
    first = _chain(steps, X[chunks[0]], pixel_max)
    out = np.empty((len(X), *first.shape[1:]), dtype=first.dtype)
    out[chunks[0]] = first

    def fill(rows: slice) -> None:
        out[rows] = _chain(steps, X[rows], pixel_max)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(fill, chunks[1:]))
    return out


class ImagePreprocessor(TransformerMixin, BaseEstimator):
    """A fixed preprocessing chain as a scikit-learn transformer: nothing is learnt, ``fit`` only validates.

    It takes images (n, C, H, W), (n, H, W) (one channel) or flat rows (n, D) (a 1 x 1 x D image) and returns
    float32 images (n, C', H, W), or rows (n, C' * D) for flat input.

    Parameters
    ----------
    chain : str, default="scale"
        Transforms joined by ``+`` (see :data:`TRANSFORMS`), applied left to right to raw intensities.
    pixel_max : float, default=255.0
        Largest raw intensity of the input images.
    """

    _parameter_constraints: dict = {"chain": [str], "pixel_max": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, chain: str = "scale", pixel_max: float = 255.0):
        self.chain = chain
        self.pixel_max = pixel_max

    def fit(self, X=None, y=None):
        """Validate the parameters; nothing is learnt. Returns ``self``."""
        self._validate_params()
        check_chain(self.chain)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def transform(self, X) -> np.ndarray:
        """Apply the chain to the images ``X``."""
        check_chain(self.chain)
        X = np.asarray(X)
        if X.dtype.kind not in "uifb" or X.ndim not in (2, 3, 4):
            raise ValueError(f"expected numeric images (n, C, H, W), (n, H, W) or rows (n, D), got {X.dtype} "
                             f"{X.shape}")
        with np.errstate(invalid="ignore"):
            low, high = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
        if np.isnan(low + high) or check_chain(self.chain)[0] != "raw" and (low < 0 or high > self.pixel_max):
            raise ValueError(f"image intensities must lie in 0..pixel_max={self.pixel_max:g}, got {low:g}..{high:g}; "
                             "give raw intensities (0-255 for 8-bit images), or set pixel_max to their maximum")
        flat = X.ndim == 2
        images = X.reshape(len(X), 1, 1, -1) if flat else X.reshape(len(X), -1, *X.shape[-2:])
        out = apply(self.chain, images, float(self.pixel_max))
        return out.reshape(len(X), -1) if flat else out
