"""memorynet: the Memory Network (Ruiz & Gupta 2024), one-pass learning without backpropagation."""

from importlib.metadata import PackageNotFoundError, version

from .model import MemoryNetworkClassifier
from .preprocessing import scale_pixels
from .receptive_fields import LocalReceptiveFieldClassifier

try:
    __version__ = version("memorynet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["MemoryNetworkClassifier", "LocalReceptiveFieldClassifier", "scale_pixels", "__version__"]
