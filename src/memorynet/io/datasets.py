"""Benchmark data sets in their official formats: loaders, download with checksum, decoded cache.

``load(name, data_dir=None)`` returns a :class:`Dataset` of uint8 images shaped (n, C, H, W).
Pixels are *not* scaled: scaling to [0, 1] is the explicit step :func:`memorynet.models.preprocessing.scale_pixels`
(divide by ``Dataset.pixel_max``).

Data directory resolution: the ``data_dir`` argument, then ``$MEMORYNET_DATA``, then the per-user cache
directory (``$MEMORYNET_CACHE`` or ``$XDG_CACHE_HOME/memorynet`` or ``~/.cache/memorynet``). Files are looked
for in ``<data_dir>/<folder>/`` and in ``<data_dir>/`` itself; when none are there and the data directory is
the cache directory, or ``download=True``, the official archives are downloaded and their checksums verified.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import pickle
import struct
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .atomic import atomic_write

__all__ = ["Dataset", "DataNotFoundError", "DataFormatError", "SOURCES", "DATASETS", "load", "cache_dir",
           "resolve_data_dir", "fetch", "read_idx", "read_cifar10"]

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
_CACHE_FORMAT = 1  # bump when the decoded cache layout changes


class DataNotFoundError(FileNotFoundError):
    """The data files are not in the data directory and could not be downloaded."""


class DataFormatError(ValueError):
    """A data file exists but is not in the expected official format."""


@dataclass(frozen=True)
class Source:
    """One official file: where it is published, its checksum (``"sha256:<hex>"`` or ``"md5:<hex>"``) and a bound
    on its size (a download that grows past it is stopped)."""

    filename: str
    url: str
    checksum: str
    max_bytes: int = 256 << 20


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SOURCES: dict[str, list[Source]] = {
    "mnist": [
        Source("train-images-idx3-ubyte.gz", _MNIST_URL + "train-images-idx3-ubyte.gz",
               "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 32 << 20),
        Source("train-labels-idx1-ubyte.gz", _MNIST_URL + "train-labels-idx1-ubyte.gz",
               "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 1 << 20),
        Source("t10k-images-idx3-ubyte.gz", _MNIST_URL + "t10k-images-idx3-ubyte.gz",
               "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 32 << 20),
        Source("t10k-labels-idx1-ubyte.gz", _MNIST_URL + "t10k-labels-idx1-ubyte.gz",
               "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 1 << 20),
    ],
    # Zalando publishes MD5 sums only; we verify those rather than invent SHA-256 values.
    "fashion-mnist": [
        Source("train-images-idx3-ubyte.gz", _FASHION_URL + "train-images-idx3-ubyte.gz",
               "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", 32 << 20),
        Source("train-labels-idx1-ubyte.gz", _FASHION_URL + "train-labels-idx1-ubyte.gz",
               "md5:25c81989df183df01b3e8a0aad5dffbe", 1 << 20),
        Source("t10k-images-idx3-ubyte.gz", _FASHION_URL + "t10k-images-idx3-ubyte.gz",
               "md5:bef4ecab320f06d8554ea6380940ec79", 32 << 20),
        Source("t10k-labels-idx1-ubyte.gz", _FASHION_URL + "t10k-labels-idx1-ubyte.gz",
               "md5:bb300cfdad3c16e7a12a480ee83cd310", 1 << 20),
    ],
    "cifar10": [
        Source("cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
               "sha256:c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
    ],
}
_FOLDERS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "cifar10": "cifar-10"}
_MNIST_CLASSES = tuple(str(d) for d in range(10))
_FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                    "Bag", "Ankle boot")


@dataclass(frozen=True)
class Dataset:
    """Train/test split of one data set; images are uint8 (n, C, H, W), labels int64 (n,)."""

    name: str
    X_train: np.ndarray  # or, for `stream --data FOLDER`, a user_data.FolderImages read chunk by chunk
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    pixel_max: float
    features: bool = False  # rows of feature vectors (a table), not images of intensities

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.X_train.shape[1:])  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------------------
# Directories


def cache_dir() -> Path:
    """The per-user cache directory (downloads when no data directory is given, decoded arrays)."""
    if os.environ.get("MEMORYNET_CACHE"):
        return Path(os.environ["MEMORYNET_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "memorynet"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$MEMORYNET_DATA``, else :func:`cache_dir`."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("MEMORYNET_DATA"):
        return Path(os.environ["MEMORYNET_DATA"]).expanduser()
    return cache_dir()


# ----------------------------------------------------------------------------------------------------------------
# Download


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_some(response, stop_at: float, timeout: float) -> bytes:
    """Up to 64 KiB that have arrived (not waiting for a full block), waiting at most ``timeout`` seconds and
    never past ``stop_at``: a server that trickles or stalls meets the deadline within a fraction of a second."""
    remaining = stop_at - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:  # the socket's wait, bounded by what is left of the deadline
        sock.settimeout(max(min(timeout, remaining), 0.01))
    return response.read1(1 << 16)


def fetch(source: Source, folder: Path, *, progress: bool = True, timeout: float = 30.0,
          deadline: float = 1800.0) -> Path:
    """Download ``source`` into ``folder``, verify its checksum, and move it into place atomically.

    ``timeout`` bounds each read, ``deadline`` the whole download (seconds: a server that trickles bytes is cut
    off), ``source.max_bytes`` its size (announced or received). A file whose checksum does not match is deleted
    and reported; nothing half-written is left behind; every failure names the URL.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.filename
    algorithm, expected = source.checksum.split(":", 1)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{source.filename}.", suffix=".part")
    tmp = Path(tmp_name)
    stop_at = time.monotonic() + deadline
    try:
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(source.url, timeout=min(timeout, deadline)) as response:
            announced = response.headers.get("Content-Length")
            total = int(announced) if announced else None
            if total is not None and total > source.max_bytes:
                raise DataFormatError(f"{source.url} announces {total} bytes, more than the {source.max_bytes} "
                                      f"{source.filename} can have")
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=source.filename, disable=not progress) as bar:
                for block in iter(lambda: _read_some(response, stop_at, timeout), b""):
                    received += len(block)
                    if received > source.max_bytes:
                        raise DataFormatError(f"{source.url} sent more than the {source.max_bytes} bytes "
                                              f"{source.filename} can have; stopped")
                    if time.monotonic() > stop_at:
                        raise DataNotFoundError(f"could not download {source.url} within {deadline:g} s")
                    out.write(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise DataNotFoundError(f"could not download {source.url}: the connection ended after {received} "
                                        f"of {total} bytes")
            out.flush()
            os.fsync(out.fileno())
        actual = _file_digest(tmp, algorithm)
        if actual != expected:
            raise DataFormatError(
                f"checksum mismatch for {source.url}: expected {algorithm} {expected}, got {actual}; "
                "the download is corrupted or the mirror serves a different file (it was deleted, retry)")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, DataFormatError | DataNotFoundError):
            raise
        if isinstance(exc, TimeoutError) and time.monotonic() >= stop_at - 0.05:
            raise DataNotFoundError(f"could not download {source.url} within {deadline:g} s") from exc
        raise DataNotFoundError(f"could not download {source.url} ({type(exc).__name__}: {exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


# ----------------------------------------------------------------------------------------------------------------
# Official formats


_MAX_IDX_BYTES = 1 << 31  # far above MNIST's 47 MB: a header implying more is refused before reading


def read_idx(path: Path, expected_ndim: int, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read an IDX file (``*-idx3-ubyte`` images or ``*-idx1-ubyte`` labels, optionally gzipped) as uint8.

    The header is read first; then exactly the bytes it implies (never more: a gzip bomb stops there), refused if
    the file holds fewer or more. ``expected_shape`` checks the size of one item (e.g. (28, 28))."""
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gzipped else path.open("rb")) as stream:
            head = stream.read(4)
            if len(head) < 4:
                raise DataFormatError(f"{path}: file too short to be IDX")
            zero, dtype_code, ndim = struct.unpack(">HBB", head)
            if zero != 0 or dtype_code != 0x08 or ndim != expected_ndim:
                raise DataFormatError(f"{path}: bad IDX magic number (expected unsigned-byte data with "
                                      f"{expected_ndim} dimension(s), got type 0x{dtype_code:02x} with {ndim})")
            dims = stream.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DataFormatError(f"{path}: file too short to be IDX")
            shape = struct.unpack(f">{ndim}I", dims)
            size = int(np.prod(shape, dtype=np.float64))
            if size > _MAX_IDX_BYTES:
                raise DataFormatError(f"{path}: header shape {shape} implies {size} bytes, over the "
                                      f"{_MAX_IDX_BYTES} an IDX data set may have")
            if expected_shape is not None and tuple(shape[1:]) != tuple(expected_shape):
                raise DataFormatError(f"{path}: items of shape {tuple(shape[1:])}, expected {expected_shape}")
            data = stream.read(size + 1)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: cannot decompress ({exc}); delete it and download again") from exc
    if len(data) != size:
        raise DataFormatError(f"{path}: {'more' if len(data) > size else 'fewer'} bytes than the header shape "
                              f"{shape} implies (truncated or corrupted file)")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _check_labels(labels: np.ndarray, n_classes: int, where: str) -> np.ndarray:
    if labels.dtype.kind not in "iu":
        raise DataFormatError(f"{where}: labels must be integers, got {labels.dtype}")
    if labels.size and (labels.max() >= n_classes or labels.min() < 0):
        bad = int(labels.max()) if labels.max() >= n_classes else int(labels.min())
        raise DataFormatError(f"{where}: label {bad} outside 0..{n_classes - 1}")
    return labels.astype(np.int64)


def _find(folder_candidates: list[Path], names: list[str]) -> Path | None:
    for folder in folder_candidates:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def _read_mnist_like(folders: list[Path], what: str) -> dict[str, np.ndarray] | None:
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _find(folders, [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte",
                                 f"{prefix}-images.idx3-ubyte"])
        labels = _find(folders, [f"{prefix}-labels-idx1-ubyte.gz", f"{prefix}-labels-idx1-ubyte",
                                 f"{prefix}-labels.idx1-ubyte"])
        if images is None or labels is None:
            return None
        X = read_idx(images, 3, (28, 28))
        y = _check_labels(read_idx(labels, 1), 10, str(labels))
        if len(X) != len(y):
            raise DataFormatError(f"{what}: {len(X)} {split} images but {len(y)} labels")
        arrays[f"X_{split}"] = X[:, None, :, :]
        arrays[f"y_{split}"] = y
    return arrays


def _decode_cifar_records(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    record = 1 + 3 * 32 * 32
    if len(blob) % record:
        raise DataFormatError(f"{where}: {len(blob)} bytes is not a whole number of {record}-byte CIFAR-10 "
                              "records (truncated or corrupted file)")
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(-1, record)
    return rows[:, 1:].reshape(-1, 3, 32, 32), _check_labels(rows[:, 0], 10, where)


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """What pickle protocol 2 calls to rebuild ``bytes`` (``_codecs.encode(text, "latin1")``), and nothing else."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise DataFormatError(f"refusing _codecs.encode with {type(text).__name__} and {encoding!r} in a pickle")
    return text.encode("latin1")


def _checked_frombuffer(buffer, dtype, shape, order) -> np.ndarray:
    """What pickle protocol 5 calls to rebuild an array from its bytes: checked to hold exactly ``shape``."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if dtype.hasobject or size != memoryview(buffer).nbytes:
        raise DataFormatError(f"a pickled array claims {tuple(shape)} {dtype} ({size} bytes) but holds "
                              f"{memoryview(buffer).nbytes} bytes")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Reads the CIFAR-10 python batches (pickle protocols 2 to 5, as numpy writes plain arrays) without letting
    the file run arbitrary code: only array reconstruction, checked, is callable."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}
    _REPLACED = {("_codecs", "encode"): _latin1_bytes, ("numpy.core.numeric", "_frombuffer"): _checked_frombuffer,
                 ("numpy._core.numeric", "_frombuffer"): _checked_frombuffer}

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in self._REPLACED:
            return self._REPLACED[(module, name)]
        if (module, name) not in self._ALLOWED:
            raise DataFormatError(f"refusing to unpickle {module}.{name} from a CIFAR-10 python batch")
        return super().find_class(module, name)


def _decode_cifar_python(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(blob), encoding="bytes").load()
        batch = {key.encode() if isinstance(key, str) else key: value for key, value in batch.items()}
        data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    except DataFormatError:
        raise
    except Exception as exc:  # a truncated or garbage pickle can fail in many ways; all mean a bad file
        raise DataFormatError(f"{where}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataFormatError(f"{where}: 'data' must be uint8 rows of 3072 pixels, got "
                              f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    if labels.shape != (len(data),):
        raise DataFormatError(f"{where}: {len(data)} images but labels of shape {labels.shape}")
    return data.reshape(-1, 3, 32, 32), _check_labels(labels, 10, where)


_MAX_CIFAR_MEMBER = 40 << 20  # one batch: 30.7 MB binary, 31 MB pickled


def read_cifar10(path: Path) -> dict[str, np.ndarray]:
    """Read CIFAR-10 from a ``cifar-10-batches-bin/`` or ``cifar-10-batches-py/`` folder or a tar archive."""
    binary = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    python = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        for name in binary + python:
            if (path / name).is_file():
                if (path / name).stat().st_size > _MAX_CIFAR_MEMBER:
                    raise DataFormatError(f"{path / name}: {(path / name).stat().st_size} bytes, far beyond a "
                                          "CIFAR-10 batch (31 MB)")
                blobs[name] = (path / name).read_bytes()
    else:
        try:
            with tarfile.open(path) as tar:
                for member in tar:  # one header at a time: a member's size is checked before moving past it
                    base = member.name.rsplit("/", 1)[-1]
                    if base in blobs:
                        raise DataFormatError(f"{path}: two members named {base} (which one counts would be a "
                                              "guess); delete the archive and download it again")
                    if member.isfile() and base in binary + python:
                        if member.size > _MAX_CIFAR_MEMBER:
                            raise DataFormatError(f"{path}: member {member.name} of {member.size} bytes, far "
                                                  "beyond a CIFAR-10 batch (31 MB)")
                        blobs[base] = tar.extractfile(member).read()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataFormatError(f"{path}: cannot read the archive ({exc}); delete it and download again") \
                from exc
    for names, decode in ((binary, _decode_cifar_records), (python, _decode_cifar_python)):
        if all(name in blobs for name in names):
            parts = [decode(blobs[name], f"{path}:{name}") for name in names]
            X_train = np.concatenate([p[0] for p in parts[:5]])
            y_train = np.concatenate([p[1] for p in parts[:5]])
            return {"X_train": X_train, "y_train": y_train, "X_test": parts[5][0], "y_test": parts[5][1]}
    raise DataFormatError(f"{path}: no complete set of CIFAR-10 batches (expected {', '.join(binary)})")


_CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _locate_cifar(folders: list[Path]) -> Path | None:
    for folder in folders:
        for name in ("cifar-10-batches-bin", "cifar-10-batches-py"):
            if (folder / name).is_dir():
                return folder / name
        for name in ("cifar-10-binary.tar.gz", "cifar-10-binary.tar.xz", "cifar-10-binary.tar",
                     "cifar-10-python.tar.gz", "cifar-10-python.tar.xz"):
            if (folder / name).is_file():
                return folder / name
    return None


# ----------------------------------------------------------------------------------------------------------------
# Decoded-array cache


def _source_key(paths: list[Path]) -> str:
    digest = hashlib.sha256(str(_CACHE_FORMAT).encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _cached(name: str, paths: list[Path], decode) -> dict[str, np.ndarray]:
    cache_file = cache_dir() / "decoded" / f"{name}-{_source_key(paths)}.npz"
    if cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as npz:
                cached = {key: npz[key] for key in npz.files}
            if set(cached) == {"X_train", "y_train", "X_test", "y_test"}:
                return cached
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError, RuntimeError):
            pass
        cache_file.unlink(missing_ok=True)  # a broken or foreign cache entry is rebuilt, never trusted
    arrays = decode()
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, lambda fh: np.savez(fh, **arrays))
    except OSError:
        pass  # a read-only cache only costs speed
    return arrays


# ----------------------------------------------------------------------------------------------------------------
# Public entry point


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X = bunch.images.astype(np.uint8)[:, None, :, :]
    X_train, X_test, y_train, y_test = train_test_split(X, bunch.target.astype(np.int64), test_size=0.2,
                                                        random_state=0, stratify=bunch.target)
    return Dataset("digits", X_train, y_train, X_test, y_test, tuple(str(d) for d in range(10)), 16.0)


def _missing_message(name: str, folders: list[Path]) -> str:
    expected = ", ".join(s.filename for s in SOURCES[name])
    where = " or ".join(str(f) for f in folders)
    return (f"{name} data not found in {where} (expected {expected}); put the official files there, "
            f"point --data-dir / MEMORYNET_DATA at them, or pass download=True (--download) to fetch them")


def load(name: str, data_dir: str | os.PathLike | None = None, *, download: bool | None = None,
         progress: bool = True) -> Dataset:
    """Load a benchmark data set by name: ``"digits"``, ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"``.

    ``download=None`` downloads only into the cache directory (when no data directory was given);
    ``True`` always downloads missing files; ``False`` never does.
    """
    name = name.lower()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "digits":
        return _load_digits()
    root = resolve_data_dir(data_dir)
    if data_dir is not None and not root.is_dir():
        raise DataNotFoundError(f"data directory {root} does not exist; create it or give an existing one")
    folders = [root / _FOLDERS[name], root]
    if download is None:
        download = data_dir is None and not os.environ.get("MEMORYNET_DATA")
    if name == "cifar10":
        location = _locate_cifar(folders)
        if location is None and download:
            location = fetch(SOURCES[name][0], folders[0], progress=progress)
        if location is None:
            raise DataNotFoundError(_missing_message(name, folders))
        files = [location] if location.is_file() else sorted(location.iterdir())
        arrays = _cached(name, files, lambda: read_cifar10(location))
        classes = _CIFAR_CLASSES
    else:
        candidates = [[s.filename, s.filename[:-3], s.filename[:-3].replace("-idx", ".idx")] for s in SOURCES[name]]
        if download:
            for source, names in zip(SOURCES[name], candidates):
                if _find(folders, names) is None:
                    fetch(source, folders[0], progress=progress)
        paths = [p for names in candidates if (p := _find(folders, names)) is not None]
        if len(paths) < len(candidates):
            raise DataNotFoundError(_missing_message(name, folders))
        arrays = _cached(name, paths, lambda: _read_mnist_like(folders, name))
        classes = _MNIST_CLASSES if name == "mnist" else _FASHION_CLASSES
    return Dataset(name, arrays["X_train"], arrays["y_train"], arrays["X_test"], arrays["y_test"], classes, 255.0)
