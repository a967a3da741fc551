"""Named, validated configurations: unfitted pipelines of a fixed preprocessing and a memory estimator.

Every value that changes results was chosen on a validation split carved from the training set (``memorynet
reproduce --only rf-validation``, ``--only ablation`` and ``--only frontier``; see the documentation's "Beyond the
paper" and "Accuracy frontier" pages). ``mnist-rf`` and ``cifar10-rf`` are the local receptive-field models;
``mnist-best`` and ``cifar10-best`` whichever model the frontier's validation ranks first;
``n_jobs=-1`` only spreads the positions over every core. A preset takes raw images (intensities
0..``pixel_max``), and its fitted pipeline saves and loads as one model file.
"""

from __future__ import annotations

from collections.abc import Callable

from sklearn.pipeline import Pipeline

from .memory_network import MemoryNetworkClassifier
from .preprocessing import ImagePreprocessor
from .prototype_codes import PrototypeCodeClassifier
from .receptive_fields import LocalReceptiveFieldClassifier
from .side_by_side import MEMBER_KINDS, SideBySideClassifier

__all__ = ["MODEL_KINDS", "PRESETS", "preset", "estimator_class", "adjust", "configuration", "configuration_name"]

# the library's kinds of model, by the name the experiments and results files give them
MODEL_KINDS = {"paper": MemoryNetworkClassifier, "receptive-fields": LocalReceptiveFieldClassifier,
               "codes": PrototypeCodeClassifier, "side-by-side": SideBySideClassifier}
# name: (preprocessing chain, estimator class, its parameters)
PRESETS = {
    "paper": ("scale", MemoryNetworkClassifier, {"max_neurons": 10000}),
    "mnist-rf": ("dog+standardize", LocalReceptiveFieldClassifier,
                 {"patch_size": 14, "stride": 7, "max_neurons": 20000, "n_jobs": -1}),
    # room for every training image (5000 per class, each class's fair share): nothing merges, so the memory and
    # every prediction are the same whatever the order of the classes (validation: as accurate as 5000 neurons)
    "cifar10-rf": ("opponent+standardize", LocalReceptiveFieldClassifier,
                   {"patch_size": 8, "stride": 4, "max_neurons": 50000, "n_jobs": -1}),
    # the best validation accuracy of `memorynet reproduce --only frontier` (its results file names the choice)
    # the receptive fields on deskewed digits; each bank learns the patches within a pixel of its position too, with
    # room for every one of them (nothing merges: the memory is the same whatever the order of the classes)
    "mnist-best": ("deskew+dog+standardize", LocalReceptiveFieldClassifier,
                   {"max_neurons": 610000, "patch_jitter": 1, "patch_size": 10, "stride": 4, "n_jobs": -1}),
    # the dictionary model with receptive fields beside it (a tenth of cifar10-rf's memory), learnt in the same pass
    "cifar10-best": ("standardize", SideBySideClassifier,
                     {"members": [["codes", {"max_neurons": 512, "patch_size": 8, "shrinkage": 0.01, "stride": 4,
                                             "whiten_eps": 1.0}],
                                  ["receptive-fields", {"max_neurons": 5000, "patch_size": 8, "stride": 4}]],
                      "weights": [1.0, 0.3], "n_jobs": -1}),
}


def _preset_entry(name: str) -> tuple:
    """``PRESETS[name]``, or an error that lists the presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset(name: str, random_state=None, pixel_max: float = 255.0, member: str | None = None,
           **overrides) -> Pipeline:
    """An unfitted pipeline for the named preset; feed it raw images (intensities 0..``pixel_max``).

    ``member`` (a kind, e.g. ``"codes"``): of a side-by-side preset, that member alone, on the preset's
    preprocessing, with the side-by-side model's own parameters it takes (``n_jobs``). ``overrides`` replace
    estimator parameters (e.g. ``verbose=True``, ``search_backend="faiss"``).
    """
    chain, cls, params = _preset_entry(name)
    if member is not None:
        cls, params = _member_entry(name, cls, params, member)
    estimator = cls(**{**params, "random_state": random_state, **overrides})
    return Pipeline([("preprocess", ImagePreprocessor(chain, pixel_max)), ("network", estimator)])


def estimator_class(name: str, member: str | None = None) -> type:
    """The estimator class of preset ``name`` (of its ``member`` of that kind, or an error naming its members)."""
    _, cls, params = _preset_entry(name)
    return cls if member is None else _member_entry(name, cls, params, member)[0]


def _member_entry(name: str, cls: type, params: dict, kind: str) -> tuple[type, dict]:
    """The estimator class and parameters of side-by-side preset ``name``'s first member of ``kind``, or an error
    that names the members there are."""
    kinds = [member_kind for member_kind, _ in params.get("members", ())] if cls is SideBySideClassifier else []
    if kind not in kinds:
        raise ValueError(f"preset {name!r} has no {kind!r} member; " + (
            f"its members are {', '.join(kinds)}" if kinds else "only side-by-side presets have members"))
    shared = {k: v for k, v in params.items() if k not in ("members", "weights")}
    member_cls = MEMBER_KINDS[kind]
    takes = member_cls().get_params()
    return member_cls, {**dict(params["members"][kinds.index(kind)][1]),
                        **{k: v for k, v in shared.items() if k in takes}}


def adjust(estimator, change: Callable[[dict], dict]) -> None:
    """Set on ``estimator`` what ``change`` (its parameters -> the parameters to set) asks, or on each member of a
    :class:`SideBySideClassifier` (e.g. a memory budget cut to a tenth for a quick run, whatever the model)."""
    if isinstance(estimator, SideBySideClassifier):
        estimator.set_params(members=[[kind, {**params, **change(MEMBER_KINDS[kind](**params).get_params())}]
                                      for kind, params in estimator.members])
    else:
        estimator.set_params(**change(estimator.get_params()))


def configuration(name: str, overrides: dict | None = None) -> dict:
    """What preset ``name`` is (with estimator parameters ``overrides`` replaced), as a results file records it:
    its preprocessing chain and estimator parameters, less those that never change results."""
    chain, _, params = _preset_entry(name)
    params = {"preprocessing": chain, **params, **(overrides or {})}
    return {k: params[k] for k in sorted(params) if k not in ("n_jobs", "verbose")}


def configuration_name(name: str, recorded: dict) -> str:
    """Preset ``name``, with the values of a ``recorded`` :func:`configuration` that are not the preset's today
    (measured with an override, or before the preset was rebound), e.g. ``"cifar10-best (max_neurons=384)"``."""
    today = configuration(name)
    differ = [f"{k}={v}" for k, v in recorded.items() if today.get(k) != v]
    return name + (f" ({', '.join(differ)})" if differ else "")
