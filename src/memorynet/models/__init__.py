"""The models: scikit-learn estimators composed from the engine (the paper's :class:`MemoryNetworkClassifier`,
:class:`LocalReceptiveFieldClassifier`, :class:`PrototypeCodeClassifier`; :class:`SideBySideClassifier` keeps several
together), their streaming readout, the fixed preprocessing in front of them, named presets, saving / loading and
checkpointed streaming.
"""

from .memory_network import MemoryNetworkClassifier
from .persistence import load_model, save_model
from .preprocessing import ImagePreprocessor, scale_pixels
from .presets import preset
from .prototype_codes import PrototypeCodeClassifier
from .receptive_fields import LocalReceptiveFieldClassifier
from .side_by_side import SideBySideClassifier

__all__ = ["MemoryNetworkClassifier", "LocalReceptiveFieldClassifier", "PrototypeCodeClassifier",
           "SideBySideClassifier", "ImagePreprocessor", "load_model", "save_model", "scale_pixels", "preset"]
