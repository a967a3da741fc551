"""memorynet: the Memory Network (Ruiz & Gupta 2024), one-pass learning without backpropagation."""

from importlib.metadata import PackageNotFoundError, version

from .bank import NeuronBank
from .model import MemoryNetworkClassifier
from .persistence import load_model, save_model
from .preprocessing import ImagePreprocessor, scale_pixels
from .receptive_fields import LocalReceptiveFieldClassifier

try:
    __version__ = version("memorynet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["MemoryNetworkClassifier", "LocalReceptiveFieldClassifier", "ImagePreprocessor", "NeuronBank",
           "load_model", "save_model", "scale_pixels", "__version__"]
