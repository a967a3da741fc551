"""Saving and loading fitted models: a pickle-free, checksummed, versioned ``.mnet`` file.

Format (version 1): a NumPy ``.npz`` archive read with ``allow_pickle=False``, holding

- ``memories`` float32 (n_neurons, C*H*W), ``labels`` int64 (n_neurons,) class indices,
  ``counters`` int64 (n_neurons,), ``classes`` (n_classes,) int64, float64 or unicode;
- ``header``: uint8 bytes of a UTF-8 JSON object with ``format`` ("memorynet"), ``format_version``,
  ``library_version``, ``params`` (every estimator parameter), ``image_shape``, ``n_neurons``,
  ``n_samples_seen``, ``metadata`` (free JSON: preprocessing, stream position, ...) and ``sha256``, the
  SHA-256 of the four arrays (name, dtype, shape and bytes, in that order).

Loading checks all of it and refuses, with ``ModelFileError`` (a ``ValueError``), anything truncated, corrupted,
of a future format version, or crafted (object arrays, wrong dtypes or shapes, NaN/inf, labels outside the
classes, counters below 1). Writes are atomic: an existing file is replaced only by a complete new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ._atomic import atomic_write

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_model", "load_model", "read_header"]

FORMAT_VERSION = 1
_ARRAYS = ("memories", "labels", "counters", "classes")


class ModelFileError(ValueError):
    """A model file that cannot be trusted: truncated, corrupted, from a future version, or crafted."""


def _digest(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in _ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _classes_array(classes: np.ndarray) -> np.ndarray:
    kind = classes.dtype.kind
    if kind in "iub":
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
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def save_model(model, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write the fitted ``model`` to ``path`` atomically; ``metadata`` is stored as JSON beside it."""
    arrays = {"memories": np.ascontiguousarray(model._bank[: model.n_neurons_]),
              "labels": model._bank_class[: model.n_neurons_].astype(np.int64),
              "counters": model._bank_count[: model.n_neurons_].astype(np.int64),
              "classes": _classes_array(model.classes_)}
    header = {"format": "memorynet", "format_version": FORMAT_VERSION, "library_version": _version(),
              "params": _json_params(model.get_params()), "image_shape": list(model.image_shape_),
              "n_neurons": int(model.n_neurons_), "n_samples_seen": int(model.n_samples_seen_),
              "metadata": metadata or {}, "sha256": _digest(arrays)}
    try:
        header_bytes = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable ({exc})") from exc
    path = Path(path)
    return atomic_write(path, lambda fh: np.savez(fh, header=header_bytes, **arrays))


def _version() -> str:
    from . import __version__

    return __version__


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: truncated or corrupted model file (not a complete .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"header", *_ARRAYS} - set(npz.files)
            if missing:
                raise ModelFileError(f"{path}: not a memorynet model (missing {', '.join(sorted(missing))})")
            arrays = {name: npz[name] for name in ("header", *_ARRAYS)}
    except ModelFileError:
        raise
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise ModelFileError(f"{path}: refused ({exc}); model files never contain Python objects") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ModelFileError(f"{path}: truncated or corrupted model file ({exc})") from exc
    raw = arrays.pop("header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: malformed header")
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: malformed header ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != "memorynet":
        raise ModelFileError(f"{path}: not a memorynet model file")
    return header, arrays


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a model file (parameters, versions, metadata), after the same checks as loading."""
    return _check(Path(path), *_read(Path(path)))[0]


def _check(path: Path, header: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: missing or invalid format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written in format version {version} by memorynet "
                             f"{header.get('library_version')}; this memorynet reads up to version "
                             f"{FORMAT_VERSION}: upgrade memorynet")
    required = {"params": dict, "image_shape": list, "n_neurons": int, "n_samples_seen": int, "metadata": dict,
                "sha256": str}
    for key, kind in required.items():
        if not isinstance(header.get(key), kind):
            raise ModelFileError(f"{path}: header field {key!r} missing or not a {kind.__name__}")
    if _digest(arrays) != header["sha256"]:
        raise ModelFileError(f"{path}: checksum mismatch: the arrays were modified or corrupted")
    memories, labels, counters, classes = (arrays[n] for n in _ARRAYS)
    n, shape = header["n_neurons"], header["image_shape"]
    expected = {"memories": (np.float32, 2), "labels": (np.int64, 1), "counters": (np.int64, 1)}
    for name, (dtype, ndim) in expected.items():
        if arrays[name].dtype != dtype or arrays[name].ndim != ndim or len(arrays[name]) != n:
            raise ModelFileError(f"{path}: array {name!r} should be {np.dtype(dtype).name} with {n} rows")
    if classes.ndim != 1 or classes.dtype.kind not in "ifU" or len(classes) == 0:
        raise ModelFileError(f"{path}: array 'classes' must be a non-empty 1-D int, float or string array")
    if len(classes) > 1 and not (classes[1:] > classes[:-1]).all():
        raise ModelFileError(f"{path}: classes must be sorted and distinct")
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape) \
            or memories.shape[1] != int(np.prod(shape)):
        raise ModelFileError(f"{path}: image_shape {shape} does not match memories of width {memories.shape[1]}")
    if not np.isfinite(memories).all():
        raise ModelFileError(f"{path}: memories contain NaN or infinity")
    if n and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ModelFileError(f"{path}: neuron labels outside the {len(classes)} classes")
    if n and counters.min() < 1:
        raise ModelFileError(f"{path}: counters must be at least 1")
    if header["n_samples_seen"] < int(counters.sum()):
        raise ModelFileError(f"{path}: n_samples_seen is smaller than the inputs the counters record")
    return header, arrays


def load_model(path: str | os.PathLike, cls=None):
    """Read and verify a model file; return ``(fitted estimator, metadata)``."""
    from .model import MemoryNetworkClassifier

    cls = cls or MemoryNetworkClassifier
    path = Path(path)
    header, arrays = _check(path, *_read(path))
    params = dict(header["params"])
    if isinstance(params.get("image_shape"), list):
        params["image_shape"] = tuple(params["image_shape"])
    try:
        model = cls(**params)
        model._validate_params()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid parameters ({exc})") from exc
    n = header["n_neurons"]
    if n > model.max_neurons:
        raise ModelFileError(f"{path}: {n} neurons exceed max_neurons={model.max_neurons}")
    model._restore(arrays["memories"], arrays["labels"], arrays["counters"], arrays["classes"],
                   tuple(header["image_shape"]), header["n_samples_seen"])
    return model, header["metadata"]
