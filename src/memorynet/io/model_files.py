"""The ``.mnet`` container: a pickle-free, checksummed, versioned archive of a header and named arrays.

This module knows the bytes (members, sizes, checksum, versions, array kinds); which estimator the arrays make
is :mod:`memorynet.models.persistence`'s job.

Format version 2: a NumPy ``.npz`` archive, always read with ``allow_pickle=False``, holding

- ``memories`` float32 (N, W): the rows of every bank, bank after bank; ``labels`` int64 (N,) class indices;
  ``counters`` int64 (N,); ``bank_sizes`` int64 (B,): rows of each bank (one bank for the paper model, one per
  position for receptive fields); ``classes`` (n_classes,) int64, float64 or unicode;
- ``header``: uint8 bytes of a UTF-8 JSON object with ``format`` ("memorynet"), ``format_version``,
  ``library_version``, ``estimator`` (class name), ``params`` (every estimator parameter), ``state``
  (``image_shape``, ``n_samples_seen``), ``preprocessing`` (``null``, or ``{"chain", "pixel_max"}`` of the
  :class:`~memorynet.models.preprocessing.ImagePreprocessor` in front of the estimator: the file then holds the whole
  pipeline), ``metadata`` (free JSON) and ``sha256``: the SHA-256 of the header without that field (canonical
  JSON) and of every array (name, dtype, shape and bytes).

Format version 4 adds composite models (:class:`~memorynet.SideBySideClassifier`): the header's ``members`` lists,
for each member, its ``estimator``, ``params``, ``state`` and ``state_arrays``, and each member's arrays are stored
under the prefix ``member<i>_`` (``member0_memories``, ...), beside one ``classes``.

Format version 3 adds, for estimators with learnt state beyond their banks (the readout of
:class:`~memorynet.PrototypeCodeClassifier`), named float32 or float64 arrays ``state_<name>``, listed in the header's
``state_arrays`` and covered by the checksum. Version 1 files (one bank, no ``bank_sizes``, checksum over the arrays
only), version 2 and version 3 files still load.

Loading checks all of it and refuses, with ``ModelFileError`` (a ``ValueError``), anything truncated, corrupted,
of a future format version, or crafted (object arrays, wrong dtypes or shapes, NaN/inf, labels outside the
classes, counters below 1, banks that do not fit the estimator). Writes are atomic: an existing file is replaced
only by a complete new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .formats import library_version, read_npy_header

__all__ = ["FORMAT_VERSION", "STATE_PREFIX", "ModelFileError", "write_model_file", "read_model_file", "read_header",
           "state_names", "member_prefix"]

FORMAT_VERSION = 4
_ARRAYS = {1: ("memories", "labels", "counters", "classes"),
           2: ("memories", "labels", "counters", "bank_sizes", "classes")}
_ARRAYS[3] = _ARRAYS[4] = _ARRAYS[2]
STATE_PREFIX = "state_"  # version 3: the estimator's own arrays, e.g. state_readout_scatter
_BANK_ARRAYS = ("memories", "labels", "counters", "bank_sizes")  # what each member of a composite stores


def member_prefix(index: int) -> str:
    """The prefix of the arrays of member ``index`` of a composite model (version 4)."""
    return f"member{index}_"


class ModelFileError(ValueError):
    """A model file that cannot be trusted: truncated, corrupted, from a future version, or crafted."""


def _digest(arrays: dict[str, np.ndarray], header: dict | None = None) -> str:
    """SHA-256 of the arrays (and, from version 2, of the header less its ``sha256`` field)."""
    digest = hashlib.sha256()
    if header is not None:
        digest.update(json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode())
    for name in _ARRAYS[1] if header is None else _array_names(header):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def state_names(header: dict) -> list[str]:
    """The estimator arrays a version 3 header (or one member of a version 4 header) lists (none before 3)."""
    names = header.get("state_arrays", []) if header.get("format_version", 3) >= 3 else []
    if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise ModelFileError("header field 'state_arrays' must be a list of names")
    return names


def _members(header: dict) -> list[dict] | None:
    """The members a composite header lists (``None`` for one estimator), each checked to be a JSON object."""
    members = header.get("members")
    if members is None:
        return None
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        raise ModelFileError("header field 'members' must be a non-empty list of objects")
    return members


def _array_names(header: dict) -> list[str]:
    """Every array a (version 2 or later) header implies, in the checksum's order."""
    members = _members(header) if header.get("format_version", FORMAT_VERSION) >= 4 else None
    if members is None:
        return [*_ARRAYS[2], *(STATE_PREFIX + n for n in state_names(header))]
    return ["classes", *(member_prefix(i) + n for i, member in enumerate(members)
                         for n in (*_BANK_ARRAYS, *(STATE_PREFIX + s for s in state_names(member))))]


def write_model_file(path: str | os.PathLike, header: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``header`` (JSON, completed with the format fields and the checksum) and ``arrays`` to ``path``
    atomically; an existing file is replaced only by a complete new one."""
    header = {"format": "memorynet", "format_version": FORMAT_VERSION, "library_version": library_version(),
              **header}
    listed = set(_array_names(header))
    if listed != set(arrays):
        raise ValueError(f"the arrays given {sorted(arrays)} are not those the header lists {sorted(listed)}")
    try:
        header["sha256"] = _digest(arrays, header)
        text = json.dumps(header, allow_nan=False)
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable ({exc})") from exc
    except ValueError as exc:
        raise ValueError(f"metadata must be finite JSON values ({exc}): NaN and infinity do not load back") from exc
    _check_header(json.loads(text), header, len(text.encode()))
    header_bytes = np.frombuffer(text.encode(), dtype=np.uint8)
    return atomic_write(Path(path), lambda fh: np.savez(fh, header=header_bytes, **arrays))


MAX_HEADER_BYTES = 1 << 20  # a real header is a few KB
_MAX_JSON_DEPTH = 32


def _as_loaded(value):
    """``value`` as JSON gives it back: tuples become lists (the one change accepted as a round trip)."""
    if isinstance(value, dict):
        return {k: _as_loaded(v) for k, v in value.items()}
    return [_as_loaded(v) for v in value] if isinstance(value, list | tuple) else value


def _check_header(loaded: dict, saved: dict, size: int) -> None:
    """At save, the rules ``_read`` applies at load (size, depth), and that every value loads back as saved."""
    if size > MAX_HEADER_BYTES:
        raise ValueError(f"metadata of {size} bytes is over the {MAX_HEADER_BYTES} bytes a model file's header may "
                         "hold (the file would not load); keep large data out of the metadata")
    if _depth(loaded) > _MAX_JSON_DEPTH:
        raise ValueError(f"metadata nested deeper than {_MAX_JSON_DEPTH} levels (the file would not load); "
                         "flatten it")
    if loaded != _as_loaded(saved):
        changed = sorted(k for k in saved if k not in loaded or loaded[k] != _as_loaded(saved[k]))
        raise ValueError(f"metadata {changed} would not load back as saved (JSON keys are strings: use string "
                         "keys)")


def _check_members(path: Path) -> None:
    """Sizes before any allocation: every member stored uncompressed (as ``np.savez`` writes them), its ``.npy``
    header declaring exactly the bytes the member holds, the JSON header at most ``MAX_HEADER_BYTES``."""
    with zipfile.ZipFile(path) as archive:
        names = [info.filename.removesuffix(".npy") for info in archive.infolist()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ModelFileError(f"{path}: members named {twice} more than once (which copy counts would be a "
                                 "guess); memorynet never writes such a file")
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ModelFileError(f"{path}: member {info.filename} is compressed; memorynet model files never "
                                     "are (a compressed member could expand without bound)")
            if info.filename == "header.npy" and info.file_size > MAX_HEADER_BYTES + 128:
                raise ModelFileError(f"{path}: header of {info.file_size} bytes, over the {MAX_HEADER_BYTES} "
                                     "bytes a model header may have")
            with archive.open(info) as member:
                shape, dtype, data_bytes = read_npy_header(member)
                if dtype.hasobject:
                    raise ModelFileError(f"{path}: member {info.filename} holds Python objects (refused, never "
                                         "unpickled); model files never contain Python objects")
                declared = data_bytes + member.tell()
            if declared != info.file_size:
                raise ModelFileError(f"{path}: member {info.filename} declares an array of shape {shape} "
                                     f"({declared} bytes) but holds {info.file_size} bytes")


def _depth(value, limit: int = _MAX_JSON_DEPTH) -> int:
    """Nesting depth of parsed JSON, counting no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a model file; give the .mnet file written by train --save")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: truncated or corrupted model file (not a complete .npz archive)")
    try:
        _check_members(path)
        with np.load(path, allow_pickle=False) as npz:
            if "header" not in npz.files:
                raise ModelFileError(f"{path}: not a memorynet model (missing header)")
            arrays = {name: npz[name] for name in npz.files}
    except ModelFileError:
        raise
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise ModelFileError(f"{path}: refused ({exc}); model files never contain Python objects") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, NotImplementedError, RuntimeError) as exc:
        # a damaged zip directory can claim encryption, another compression or zip version
        raise ModelFileError(f"{path}: truncated or corrupted model file ({exc})") from exc
    raw = arrays.pop("header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: malformed header")
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: malformed header ({type(exc).__name__}: {exc})") from exc
    if _depth(header) > _MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: header nested deeper than {_MAX_JSON_DEPTH} levels")
    if not isinstance(header, dict) or header.get("format") != "memorynet":
        raise ModelFileError(f"{path}: not a memorynet model file")
    return header, arrays


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a model file (parameters, versions, metadata), after the same checks as loading."""
    return read_model_file(path)[0]


def _upgrade_v1(header: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """A version 1 header and arrays in version 2's shape (one bank of the paper model, no preprocessor)."""
    header = {**header, "estimator": "MemoryNetworkClassifier", "preprocessing": None,
              "state": {"image_shape": header["image_shape"], "n_samples_seen": header["n_samples_seen"]}}
    return header, {**arrays, "bank_sizes": np.array([len(arrays["labels"])], dtype=np.int64)}


_FIELDS = {"params": dict, "estimator": str, "state": dict}


def _check_fields(path: Path, entry: dict, where: str) -> None:
    """The fields every estimator's entry (the header, or one member of it) has, and its state's values."""
    for key, kind in _FIELDS.items():
        if not isinstance(entry.get(key), kind):
            raise ModelFileError(f"{path}: {where}field {key!r} missing or not a {kind.__name__}")
    state = entry["state"]
    shape = state.get("image_shape")
    if not isinstance(shape, list) or len(shape) != 3 or not all(type(s) is int and s > 0 for s in shape):
        raise ModelFileError(f"{path}: {where}image_shape {shape} must be three positive integers")
    if type(state.get("n_samples_seen")) is not int or state["n_samples_seen"] < 0:
        raise ModelFileError(f"{path}: {where}n_samples_seen must be a non-negative integer")


def _check_banks(path: Path, arrays: dict[str, np.ndarray], prefix: str, own: list[str], n_classes: int) -> None:
    """The banks' arrays (and the estimator's own ones) stored under ``prefix``: kinds, shapes and values."""
    memories, labels, counters, sizes = (arrays[prefix + n] for n in _BANK_ARRAYS)
    n = len(memories) if memories.ndim == 2 else -1
    expected = {"memories": (np.float32, 2), "labels": (np.int64, 1), "counters": (np.int64, 1)}
    for name, (dtype, ndim) in expected.items():
        array = arrays[prefix + name]
        if array.dtype != dtype or array.ndim != ndim or len(array) != n:
            raise ModelFileError(f"{path}: array {prefix + name!r} should be {np.dtype(dtype).name} with {n} rows")
    if sizes.dtype != np.int64 or sizes.ndim != 1 or len(sizes) == 0 or sizes.min() < 0 or sizes.sum() != n:
        raise ModelFileError(f"{path}: {prefix}bank_sizes must be non-negative int64 counts adding up to {n}")
    if not np.isfinite(memories).all():
        raise ModelFileError(f"{path}: {prefix}memories contain NaN or infinity")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ModelFileError(f"{path}: {prefix}neuron labels outside the {n_classes} classes")
    if n and counters.min() < 1:
        raise ModelFileError(f"{path}: {prefix}counters must be at least 1")
    for name in own:
        value = arrays[prefix + STATE_PREFIX + name]
        if value.dtype not in (np.float32, np.float64) or not np.isfinite(value).all():
            raise ModelFileError(f"{path}: array {prefix + name!r} must be finite float32 or float64")


def _check_classes(path: Path, classes: np.ndarray) -> None:
    if classes.ndim != 1 or classes.dtype.kind not in "ifU" or len(classes) == 0:
        raise ModelFileError(f"{path}: array 'classes' must be a non-empty 1-D int, float or string array")
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ModelFileError(f"{path}: classes contain NaN or infinity")
    if len(classes) > 1 and not (classes[1:] > classes[:-1]).all():
        raise ModelFileError(f"{path}: classes must be sorted and distinct")


def _check(path: Path, header: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """Verify version, fields, checksum and array kinds; returns a version 2 header (or later) and arrays."""
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: missing or invalid format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written in format version {version} by memorynet "
                             f"{header.get('library_version')}; this memorynet reads up to version "
                             f"{FORMAT_VERSION}: upgrade memorynet")
    members = _members(header) if version >= 4 else None
    if members is None:
        missing = set(_ARRAYS[version]) - set(arrays)
        if missing:
            raise ModelFileError(f"{path}: not a memorynet model (missing {', '.join(sorted(missing))})")
    required = {1: {"params": dict, "image_shape": list, "n_neurons": int, "n_samples_seen": int, "metadata": dict,
                    "sha256": str}}.get(version, {**_FIELDS, "metadata": dict, "sha256": str})
    for key, kind in required.items():
        if not isinstance(header.get(key), kind):
            raise ModelFileError(f"{path}: header field {key!r} missing or not a {kind.__name__}")
    names = _ARRAYS[1] if version == 1 else _array_names(header)
    if set(arrays) != set(names):
        raise ModelFileError(f"{path}: the arrays stored are not those the header lists")
    if _digest(arrays, header if version > 1 else None) != header["sha256"]:
        raise ModelFileError(f"{path}: checksum mismatch: the file was modified or corrupted")
    if version == 1:
        if len(arrays["labels"]) != header["n_neurons"]:
            raise ModelFileError(f"{path}: array 'labels' should be int64 with {header['n_neurons']} rows")
        header, arrays = _upgrade_v1(header, arrays)
    _check_fields(path, header, "")
    _check_classes(path, arrays["classes"])
    groups = [("", state_names(header))] if members is None else \
        [(member_prefix(i), state_names(member)) for i, member in enumerate(members)]
    for i, member in enumerate(members or []):
        _check_fields(path, member, f"member {i}: ")
    for prefix, own in groups:
        _check_banks(path, arrays, prefix, own, len(arrays["classes"]))
    return header, arrays


def read_model_file(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """The verified header (in version 2's shape or later) and arrays of a model file."""
    return _check(Path(path), *_read(Path(path)))
