"""Images sent to the web API: checked for size and format before anything is decoded or allocated.

A request carries one image either as ``pixels`` (intensities 0-255, row-major, channel after channel) or as a
base64 ``png``; both become one raw image (1, C, H, W) of the model's shape in the model's intensity range.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct

import numpy as np

from ...io.inputs import display_image

__all__ = ["MAX_PNG_BYTES", "MAX_PNG_SIDE", "image_from_request", "to_display"]

MAX_PNG_BYTES = 1 << 20  # 1 MiB of PNG is far more than any image a model here reads
MAX_PNG_SIDE = 1024
_PNG = b"\x89PNG\r\n\x1a\n"


def _from_pixels(pixels: list, shape: tuple[int, int, int]) -> np.ndarray:
    channels, height, width = shape
    n = len(pixels)
    if n not in (channels * height * width, height * width):
        grey = f", or {height * width} grey values" if channels > 1 else ""
        raise ValueError(f"pixels holds {n} values; this model reads {channels} x {height} x {width} images "
                         f"({channels * height * width} values{grey})")
    array = np.asarray(pixels, dtype=np.float64)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise ValueError("pixels must be intensities between 0 and 255")
    array = array.reshape(-1, height, width)
    return np.repeat(array, channels, axis=0) if len(array) != channels else array


def _from_png(text: str, shape: tuple[int, int, int]) -> np.ndarray:
    if len(text) > 4 * MAX_PNG_BYTES // 3 + 4:
        raise ValueError(f"png is over {MAX_PNG_BYTES} bytes; send a smaller image")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("png must be base64 text of a PNG file") from None
    if not data.startswith(_PNG) or data[12:16] != b"IHDR" or len(data) < 33:
        raise ValueError("png does not hold a PNG image; send a .png file")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_PNG_SIDE and 0 < height <= MAX_PNG_SIDE):
        raise ValueError(f"a {width} x {height} PNG; at most {MAX_PNG_SIDE} x {MAX_PNG_SIDE} pixels are accepted")
    from PIL import Image  # matplotlib's own image library

    channels, rows, cols = shape
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image = image.convert("L" if channels == 1 else "RGB").resize((cols, rows), Image.Resampling.BOX)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"damaged PNG image ({exc})") from None
    array = np.asarray(image, dtype=np.float64)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return np.repeat(array[:1], channels, axis=0) if channels not in (1, 3) else array


def image_from_request(pixels: list | None, png: str | None, shape: tuple[int, int, int],
                       pixel_max: float) -> np.ndarray:
    """One raw image (1, C, H, W) in the model's intensity range 0..``pixel_max``, from exactly one of
    ``pixels`` (0-255) or ``png`` (base64); raises ``ValueError`` naming what is wrong."""
    if (pixels is None) == (png is None):
        raise ValueError("send the image as exactly one of 'pixels' (0-255 values) or 'png' (base64)")
    array = _from_pixels(pixels, shape) if png is None else _from_png(png, shape)
    return (array * (pixel_max / 255.0))[None]


def to_display(memory: np.ndarray) -> list[int]:
    """A memory (C, h, w) as display intensities 0-255, grey (h*w) or RGB (h*w*3, pixel after pixel)."""
    return np.round(display_image(memory) * 255).astype(np.uint8).ravel().tolist()
