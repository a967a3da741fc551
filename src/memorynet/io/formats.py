"""Small readers shared by the modules that take files from users: the library version, ``.npy`` headers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import BinaryIO

import numpy as np

__all__ = ["library_version", "read_npy_header"]


def library_version() -> str:
    """The installed memorynet version, or ``0+unknown`` in a source tree that was not installed."""
    try:
        return version("memorynet")
    except PackageNotFoundError:
        return "0+unknown"


def read_npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data bytes the header declares)`` of the ``.npy`` stream ``fh``, read no further than its
    header; raises ``ValueError`` (or ``SyntaxError``) for a damaged header."""
    major_minor = np.lib.format.read_magic(fh)
    reader = np.lib.format.read_array_header_1_0 if major_minor == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(fh, max_header_size=10000)
    return shape, dtype, int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
