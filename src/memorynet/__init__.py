"""memorynet: the Memory Network (Ruiz & Gupta 2024), one-pass learning without backpropagation.

The package stands in wings, each importing only those below it: :mod:`memorynet.engine` (banks, kernels,
searchers, the one-pass rule), :mod:`memorynet.io` (data sets, user inputs, the model-file container),
:mod:`memorynet.models` (the estimators, their readout and preprocessing, presets, saving and streaming),
:mod:`memorynet.experiments` (the harness, peers, plots) and :mod:`memorynet.apps` (CLI, web page, Dask).
"""

from .engine.bank import NeuronBank
from .io import datasets
from .io.formats import library_version
from .models import (
                     ImagePreprocessor,
                     LocalReceptiveFieldClassifier,
                     MemoryNetworkClassifier,
                     PrototypeCodeClassifier,
                     SideBySideClassifier,
                     load_model,
                     preset,
                     save_model,
                     scale_pixels,
)
from .models.onnx_export import export_onnx

__version__ = library_version()

__all__ = ["MemoryNetworkClassifier", "LocalReceptiveFieldClassifier", "PrototypeCodeClassifier",
           "SideBySideClassifier", "ImagePreprocessor", "NeuronBank", "load_model", "save_model", "scale_pixels",
           "preset", "datasets", "export_onnx", "__version__"]
