"""Reading images that users hand to a model (``memorynet predict``): ``.npy`` arrays and image files (PNG, JPEG,
BMP, GIF, TIFF, decoded with Pillow), from files, folders and globs; and showing a memory as an image
(``display_image``).

Every size is checked from the file's own header before anything is decoded or allocated, and a file whose
contents do not match its name is refused with a message that says what it is.
"""

from __future__ import annotations

import glob
import os
import struct
import warnings
from pathlib import Path

import numpy as np

from .formats import read_npy_header

__all__ = ["MAX_IMAGE_PIXELS", "MAX_ARRAY_BYTES", "IMAGE_SUFFIXES", "UnreadableImage", "decode_image", "image_files",
           "read_png", "read_npy", "input_files", "read_images", "display_image"]

MAX_IMAGE_PIXELS = 4096 * 4096  # one image; a model's images are far smaller
MAX_ARRAY_BYTES = 1 << 31
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
_PNG = b"\x89PNG\r\n\x1a\n"
_SIGNATURES = {b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"PK\x03\x04": "a zip archive (.npz?)",
               b"\x93NUMPY": "a NumPy .npy array", _PNG: "a PNG image"}


def _what(head: bytes) -> str:
    for signature, name in _SIGNATURES.items():
        if head.startswith(signature):
            return name
    return "text" if head[:64].isascii() else "unknown data"


class UnreadableImage(ValueError):
    """An image file that cannot be decoded, or is too large; the message names the file."""


def _pillow():
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow itself refuses twice this (decompression bombs)
    return Image, UnidentifiedImageError


def decode_image(path: str | Path, size: tuple[int, int] | None = None, channels: int | None = None) -> np.ndarray:
    """One image file as raw intensities (C, H, W) uint8: grey (C = 1) or RGB (C = 3; palettes and alpha taken to
    RGB), the first frame of an animation, resized to ``size`` = (H, W) when given (bilinear). ``channels`` forces
    grey or RGB. The pixel count is checked from the header before decoding."""
    Image, Unidentified = _pillow()
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise UnreadableImage(f"{path}: a {width} x {height} image, over the {MAX_IMAGE_PIXELS} pixels "
                                        "accepted; resize it first")
                image.seek(0)
                grey = image.mode in ("1", "L", "LA", "I", "I;16", "F") if channels is None else channels == 1
                if channels not in (None, 1, 3):
                    raise UnreadableImage(f"{path}: images have 1 (grey) or 3 (RGB) channels, not {channels}")
                image = image.convert("L" if grey else "RGB")
                if size is not None and image.size != (size[1], size[0]):
                    image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"{path}: over the {MAX_IMAGE_PIXELS} pixels accepted ({exc}); resize it "
                              "first") from exc
    except (Unidentified, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImage(f"{path}: not a readable image ({type(exc).__name__}: {exc}); remove it, or pass "
                            "--skip-bad to skip such files") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (any depth, links to folders not followed), sorted by path."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return found


def read_png(path: str | Path) -> np.ndarray:
    """One PNG image as raw intensities 0-255, (1, C, H, W); its header checked before decoding."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(33)
    if not head.startswith(_PNG) or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG image (it holds {_what(head)}); give .png images or .npy arrays")
    width, height = struct.unpack(">II", head[16:24])
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path}: a {width} x {height} image, over the {MAX_IMAGE_PIXELS} pixels accepted; "
                         "resize it to the model's image size")
    return decode_image(path)[None]


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


def input_files(inputs: list[str]) -> list[Path]:
    """Files named by ``inputs``: files as given, folders searched for images (any depth), globs expanded; in
    order, each once. A name that matches nothing is an error."""
    out: dict[Path, None] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = image_files(path)
        elif path.exists():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        if not found:
            raise FileNotFoundError(f"{item}: no such file, or a folder or glob with no image in it")
        out.update(dict.fromkeys(found))
    return list(out)


def read_images(inputs: list[str], shape: tuple[int, int, int] | None = None, *, skip_bad: bool = False,
                pixel_max: float = 255.0):
    """(path, images (n, C, H, W) in raw intensities) for each file of ``inputs`` (files, folders, globs):
    ``.npy`` arrays as they are (one image, (n, H, W) or (n, C, H, W)), image files decoded to the model's
    ``shape`` (C, H, W) (grey or RGB, resized) and their 0-255 intensities scaled to ``pixel_max``. With
    ``skip_bad``, unreadable files are skipped."""
    for path in input_files(inputs):
        try:
            if path.suffix.lower() == ".npy":
                images = read_npy(path)
                if images.size == 0:
                    raise ValueError(f"{path}: an empty array {images.shape}; it holds no image to label")
                if shape is not None and images.shape == tuple(shape):
                    images = images[None]  # a single image
                elif shape is not None and shape[0] == 1 and images.ndim in (2, 3) and images.shape[-2:] == shape[1:]:
                    images = images.reshape(-1, 1, *shape[1:])
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                images = decode_image(path, None if shape is None else shape[1:],
                                      None if shape is None else shape[0])[None] * (pixel_max / 255.0)
            else:
                raise ValueError(f"{path}: give image files ({', '.join(IMAGE_SUFFIXES)}) or .npy arrays")
        except ValueError:
            if not skip_bad:
                raise
            continue
        yield str(path), images
