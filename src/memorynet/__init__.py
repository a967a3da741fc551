"""memorynet: the Memory Network (Ruiz & Gupta 2024), one-pass learning without backpropagation."""

from ._formats import library_version
from .bank import NeuronBank
from .model import MemoryNetworkClassifier
from .persistence import load_model, save_model
from .preprocessing import ImagePreprocessor, scale_pixels
from .prototype_codes import PrototypeCodeClassifier
from .receptive_fields import LocalReceptiveFieldClassifier

__version__ = library_version()

__all__ = ["MemoryNetworkClassifier", "LocalReceptiveFieldClassifier", "PrototypeCodeClassifier", "ImagePreprocessor",
           "NeuronBank", "load_model", "save_model", "scale_pixels", "__version__"]
