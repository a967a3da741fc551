"""Saving and loading fitted models: which estimator, its parameters, banks and own arrays, and the fixed
preprocessing in front of it, to and from one ``.mnet`` file (the container: :mod:`memorynet.io.model_files`).

The header names the estimator class (every :class:`~memorynet.models.base.MemoryEstimator` subclass registers
itself in :data:`ESTIMATORS`), its ``params``, its ``state`` (``image_shape``, ``n_samples_seen``), the
``preprocessing`` (``null``, or ``{"chain", "pixel_max"}`` of an :class:`~memorynet.ImagePreprocessor`: the file
then holds the whole pipeline) and free JSON ``metadata``. A :class:`~memorynet.SideBySideClassifier` stores every
member the same way (its header's ``members``, their arrays under ``member<i>_``: format version 4). Loading rebuilds
the estimator (each member, then the side-by-side model, which checks that they are the members its parameters
name) and refuses, with ``ModelFileError``, banks that do not fit it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..engine.bank import BankError, NeuronBank
from ..io.model_files import (
    FORMAT_VERSION,
    STATE_PREFIX,
    ModelFileError,
    member_prefix,
    read_header,
    read_model_file,
    state_names,
    write_model_file,
)
from .preprocessing import ImagePreprocessor, check_chain

__all__ = ["FORMAT_VERSION", "ESTIMATORS", "ModelFileError", "SavesToModelFile", "save_model", "load_model", "load_as",
           "read_header"]

ESTIMATORS: dict[str, type] = {}  # class name -> estimator class; filled by memorynet.models.base for every estimator


def _classes_array(classes: np.ndarray) -> np.ndarray:
    kind = classes.dtype.kind
    if kind in "iu":
        return classes.astype(np.int64)
    if kind == "f":
        return classes.astype(np.float64)
    if kind in "US" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return classes.astype(str)
    raise TypeError(f"cannot save class labels of type {classes.dtype}; use integers, floats or strings")


def _json_params(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.RandomState):
            raise TypeError("cannot save a model whose random_state is a RandomState object; use an int or None")
        if callable(value):
            raise TypeError(f"cannot save a model whose {key} is a Python object ({value!r}); use a named option")
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _split_pipeline(model) -> tuple[ImagePreprocessor | None, object]:
    """(preprocessor or None, estimator) of a saved object: an estimator, or a (preprocessor, estimator) pipeline."""
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps]
        if len(steps) != 2 or not isinstance(steps[0], ImagePreprocessor):
            raise TypeError("only a pipeline of an ImagePreprocessor and a memorynet estimator can be saved")
        return steps[0], steps[1]
    return None, model


def _payload(estimator) -> tuple[dict, dict[str, np.ndarray]]:
    """(header fields, arrays) of one memorynet estimator: its class, parameters, state, banks and own arrays."""
    state, banks, own = estimator._export_state()
    exported = [bank.to_arrays() for bank in banks]
    arrays = {"memories": np.concatenate([b["memories"] for b in exported]),
              "labels": np.concatenate([b["classes"] for b in exported]),
              "counters": np.concatenate([b["counters"] for b in exported]),
              "bank_sizes": np.array([len(b["classes"]) for b in exported], dtype=np.int64),
              **{STATE_PREFIX + name: np.asarray(value, dtype=np.float32 if value.dtype == np.float32 else np.float64)
                 for name, value in own.items()}}
    return ({"estimator": type(estimator).__name__, "params": _json_params(estimator.get_params()), "state": state,
             "state_arrays": sorted(own)}, arrays)


def save_model(model, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write the fitted ``model`` (an estimator, or a preprocessor + estimator pipeline) to ``path`` atomically;
    ``metadata`` is stored as JSON beside it. A side-by-side model stores every member."""
    preprocessor, estimator = _split_pipeline(model)
    if type(estimator).__name__ not in ESTIMATORS:
        raise TypeError(f"cannot save a {type(estimator).__name__}; model files hold memorynet estimators")
    if not getattr(estimator, "holds_members", False):
        header, arrays = _payload(estimator)
    else:
        check_is_fitted(estimator)
        parts = [_payload(member) for member in estimator.estimators_]
        header = {"estimator": type(estimator).__name__, "params": _json_params(estimator.get_params()),
                  "state": parts[0][0]["state"], "state_arrays": [], "members": [fields for fields, _ in parts]}
        arrays = {member_prefix(i) + name: value for i, (_, own) in enumerate(parts) for name, value in own.items()}
    arrays["classes"] = _classes_array(estimator.classes_)
    header.update({"preprocessing": None if preprocessor is None else {"chain": preprocessor.chain,
                                                                        "pixel_max": float(preprocessor.pixel_max)},
                   "metadata": metadata or {}})
    return write_model_file(path, header, arrays)


def _banks(path: Path, arrays: dict[str, np.ndarray], capacity: int, n_classes: int,
           inputs_seen: int) -> list[NeuronBank]:
    bounds = np.concatenate([[0], np.cumsum(arrays["bank_sizes"])])
    banks = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        counters = arrays["counters"][lo:hi]
        if int(counters.sum(dtype=np.float64)) > inputs_seen:
            raise ModelFileError(f"{path}: n_samples_seen is smaller than the inputs the counters record")
        try:
            banks.append(NeuronBank.from_arrays(arrays["memories"][lo:hi], arrays["labels"][lo:hi], counters,
                                                capacity=capacity, n_classes=n_classes))
        except BankError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
    return banks


def _estimator(path: Path, entry: dict, arrays: dict[str, np.ndarray], prefix: str, classes: np.ndarray):
    """The fitted estimator a verified header ``entry`` (the file's, or one member's) and its arrays make: those
    under ``prefix`` (``""`` for the file's one estimator, ``member<i>_`` for a member); ``prefix=None``: the
    unfitted side-by-side model itself, whose learnt state is its members'."""
    cls = ESTIMATORS.get(entry["estimator"])
    if cls is None:
        raise ModelFileError(f"{path}: unknown estimator {entry['estimator']!r}; known: {', '.join(ESTIMATORS)}")
    if getattr(cls, "holds_members", False) != (prefix is None):
        raise ModelFileError(f"{path}: a {entry['estimator']} " + ("cannot be a member of another model" if prefix
                                                                   else "needs the members its header lists"))
    params = dict(entry["params"])
    if isinstance(params.get("image_shape"), list):
        params["image_shape"] = tuple(params["image_shape"])
    try:
        model = cls(**params)
        model._validate_params()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid parameters ({exc})") from exc
    if prefix is None:
        return model
    state = entry["state"]
    banks = _banks(path, {n: arrays[prefix + n] for n in ("memories", "labels", "counters", "bank_sizes")},
                   model.max_neurons, len(classes), state["n_samples_seen"] * model._bank_inputs_per_sample())
    try:
        model._import_state(state, classes, banks, {n: arrays[prefix + STATE_PREFIX + n] for n in state_names(entry)})
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    return model


def load_model(path: str | os.PathLike):
    """Read and verify a model file; return ``(model, metadata)``, the model being the estimator, or the
    (preprocessor, estimator) :class:`~sklearn.pipeline.Pipeline` when the file holds one."""
    path = Path(path)
    header, arrays = read_model_file(path)
    classes = arrays["classes"]
    if "members" not in header or header["format_version"] < 4:
        model = _estimator(path, header, arrays, "", classes)
    else:
        model = _estimator(path, header, arrays, None, classes)
        members = [_estimator(path, entry, arrays, member_prefix(i), classes)
                   for i, entry in enumerate(header["members"])]
        try:
            model.adopt(members)
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
    prep = header.get("preprocessing")
    if prep is None:
        return model, header["metadata"]
    try:
        if not isinstance(prep, dict) or set(prep) != {"chain", "pixel_max"}:
            raise ValueError("expected {'chain': ..., 'pixel_max': ...}")
        check_chain(prep["chain"])
        preprocessor = ImagePreprocessor(prep["chain"], prep["pixel_max"]).fit()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid preprocessing ({exc})") from exc
    return Pipeline([("preprocess", preprocessor), ("network", model)]), header["metadata"]


def load_as(cls: type, path: str | os.PathLike):
    """The model of class ``cls`` in the file at ``path`` (:func:`load_model`), or a ModelFileError naming what the
    file holds instead."""
    model = load_model(path)[0]
    if not isinstance(model, cls):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}; read it with "
                             "memorynet.load_model")
    return model


class SavesToModelFile:
    """``save`` and ``load`` of a memorynet estimator through one ``.mnet`` file (mixed into every estimator)."""

    def save(self, path, metadata: dict | None = None):
        """Write the fitted model to ``path`` (a pickle-free ``.mnet`` file), atomically. Returns the path."""
        check_is_fitted(self)
        return save_model(self, path, metadata)

    @classmethod
    def load(cls, path):
        """Read a model of this class written by :meth:`save`, verifying format version, checksum and values."""
        return load_as(cls, path)
