"""Reading images that users hand to a model (``memorynet predict``): ``.npy`` arrays and ``.png`` files; and
showing a memory as an image (``display_image``).

Every size is checked from the file's own header before anything is decoded or allocated, and a file whose
contents do not match its name is refused with a message that says what it is.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .formats import read_npy_header

__all__ = ["MAX_IMAGE_PIXELS", "MAX_ARRAY_BYTES", "read_png", "read_npy", "read_images", "display_image"]

MAX_IMAGE_PIXELS = 4096 * 4096  # one image; a model's images are far smaller
MAX_ARRAY_BYTES = 1 << 31
_PNG = b"\x89PNG\r\n\x1a\n"
_SIGNATURES = {b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"PK\x03\x04": "a zip archive (.npz?)",
               b"\x93NUMPY": "a NumPy .npy array", _PNG: "a PNG image"}


def _what(head: bytes) -> str:
    for signature, name in _SIGNATURES.items():
        if head.startswith(signature):
            return name
    return "text" if head[:64].isascii() else "unknown data"


def read_png(path: str | Path) -> np.ndarray:
    """One PNG image as raw intensities 0-255, (1, C, H, W) float; size checked from the header first."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(33)
    if not head.startswith(_PNG) or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG image (it holds {_what(head)}); give .png images or .npy arrays")
    width, height = struct.unpack(">II", head[16:24])
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path}: a {width} x {height} image, over the {MAX_IMAGE_PIXELS} pixels accepted; "
                         "resize it to the model's image size")
    from matplotlib.image import imread

    try:
        image = imread(path)  # floats in [0, 1] for PNG
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: damaged PNG image ({exc})") from exc
    image = image[..., :3] if image.ndim == 3 else image
    array = np.round(image * 255)
    return array.transpose(2, 0, 1)[None] if array.ndim == 3 else array[None, None]


def read_npy(path: str | Path) -> np.ndarray:
    """A numeric ``.npy`` array; its header's size is checked against the file before it is read."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(8)
        if not head.startswith(b"\x93NUMPY"):
            raise ValueError(f"{path}: not a .npy array (it holds {_what(head)}); save one array with numpy.save")
        fh.seek(0)
        try:
            shape, dtype, declared = read_npy_header(fh)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"{path}: damaged .npy header ({type(exc).__name__})") from exc
        offset = fh.tell()
    if dtype.hasobject or dtype.kind not in "uifb":
        raise ValueError(f"{path}: expected a numeric array, got dtype {dtype}")
    held = path.stat().st_size - offset
    if declared > MAX_ARRAY_BYTES or declared != held:
        raise ValueError(f"{path}: header declares shape {shape} ({declared} bytes) but the file holds {held} "
                         "bytes of data")
    return np.load(path, allow_pickle=False)


def display_image(memory: np.ndarray) -> np.ndarray:
    """(C, H, W) -> something imshow draws: gray (H, W) or RGB (H, W, 3) stretched to [0, 1]."""
    img = memory[0] if memory.shape[0] == 1 else np.moveaxis(memory[:3], 0, -1)
    low, high = float(img.min()), float(img.max())
    return (img - low) / (high - low) if high > low else np.zeros_like(img)


def read_images(paths: list[str]) -> list[tuple[str, np.ndarray]]:
    """(name, images in raw intensities) for each ``.npy`` or ``.png`` path."""
    out = []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix not in (".npy", ".png"):
            raise ValueError(f"{path}: give .npy arrays (n, C, H, W) or .png images")
        out.append((path, read_npy(path) if suffix == ".npy" else read_png(path)))
    return out
