"""Named, validated configurations: unfitted scikit-learn pipelines (fixed preprocessing -> memory).

Every value was chosen on a validation split carved from the training set (``memorynet reproduce --only
ablation`` reports them on the test set once); see the README's "Beyond the paper" section.
"""

from __future__ import annotations

from functools import partial

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from . import preprocessing
from .model import MemoryNetworkClassifier
from .receptive_fields import LocalReceptiveFieldClassifier

__all__ = ["PRESETS", "preset"]

# name: (preprocessing chain, estimator factory); inputs are raw 0-255 images (n, C, H, W).
PRESETS = {
    "paper": ("scale", lambda seed: MemoryNetworkClassifier(10000, random_state=seed)),
    "mnist-best": ("dog+standardize", lambda seed: LocalReceptiveFieldClassifier(14, 7, 20000, random_state=seed)),
    "cifar10-best": ("opponent+standardize",
                     lambda seed: LocalReceptiveFieldClassifier(8, 4, 5000, random_state=seed)),
}


def preset(name: str, random_state=None, pixel_max: float = 255.0) -> Pipeline:
    """An unfitted pipeline for the named preset; feed it raw images (intensities 0..``pixel_max``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    chain, make = PRESETS[name]
    transform = FunctionTransformer(partial(preprocessing.apply, chain, pixel_max=pixel_max))
    return Pipeline([("preprocess", transform), ("network", make(random_state))])
