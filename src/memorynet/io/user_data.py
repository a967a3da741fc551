"""Labelled data of one's own, from a path: a folder of class folders of images, an ``.npz`` (or an ``.npy`` pair)
of arrays, or a table of feature vectors with a label column (CSV or Parquet).

Every reader returns :class:`LabelledArrays`: images (n, C, H, W) (a table's rows as 1 x 1 x D images), labels as
indices into the sorted class names, and where each row came from. Files are read in sorted order (class folder,
then file name), so a seed gives a model the same arrays on every machine. Bad input stops with one line that names
the file and the fix, unless ``skip_bad`` asks to skip and count it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .formats import read_npy_header
from .inputs import IMAGE_SUFFIXES, MAX_ARRAY_BYTES, UnreadableImage, decode_image, image_files, read_npy

__all__ = ["TABLE_SUFFIXES", "IMAGE_SUFFIXES", "decode_image", "LabelledArrays", "UserDataError", "FolderImages",
           "open_image_folder", "read_image_folder", "read_arrays", "read_table", "read_labelled", "train_test"]

TABLE_SUFFIXES = (".csv", ".parquet")


class UserDataError(ValueError):
    """Data of one's own that cannot be used as given; the message names the file and the fix."""


@dataclass
class LabelledArrays:
    """Images (n, C, H, W), labels (n,) int64 indices into ``class_names``, the source of each row; ``pixel_max``
    the largest intensity, or None for feature vectors (not intensities)."""

    X: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    sources: list[str]
    pixel_max: float | None
    skipped: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one image (C, H, W)."""
        return self.X.shape[1:]

    def take(self, rows: np.ndarray) -> LabelledArrays:
        """These rows, in the order of ``rows`` (nothing skipped)."""
        return LabelledArrays(self.X[rows], self.y[rows], self.class_names, [self.sources[i] for i in rows],
                              self.pixel_max)

    def relabelled(self, y: np.ndarray, class_names: tuple[str, ...]) -> LabelledArrays:
        """The same images with labels ``y`` indexing ``class_names``."""
        return replace(self, y=y, class_names=class_names)


def _check_classes(names: list[str], counts: list[int], where: str) -> None:
    if len(names) < 2:
        raise UserDataError(f"{where}: {len(names)} class(es) found ({', '.join(names) or 'none'}); a classifier "
                            "needs at least 2 (one folder of images per class)")
    empty = [n for n, c in zip(names, counts) if c == 0]
    if empty:
        raise UserDataError(f"{where}: class folder(s) {', '.join(empty)} hold no image ({', '.join(IMAGE_SUFFIXES)}); "
                            "add images or remove the folder")


class FolderImages:
    """The images of a folder of class folders, decoded on demand: the sorted file list and labels are known at once,
    the pixels are read chunk by chunk (:meth:`labelled_chunk`), so a stream through them holds one chunk at a time.

    Every image is decoded to ``shape`` (C, H, W): the first readable image's, or ``size`` = (H, W) with its channels;
    one of another size is an error naming it (pass a size to resize to), or skipped under ``skip_bad``."""

    def __init__(self, files: list[str], y: np.ndarray, class_names: tuple[str, ...], shape: tuple[int, int, int],
                 size: tuple[int, int] | None, skip_bad: bool, first: str):
        self.files, self.y, self.class_names, self.shape = files, y, class_names, shape
        self.size, self.skip_bad, self._first = size, skip_bad, first
        self.pixel_max, self.skipped = 255.0, []  # files skipped by labelled_chunk so far

    def __len__(self) -> int:
        return len(self.files)

    def take(self, rows: np.ndarray) -> FolderImages:
        """These files, in the order of ``rows`` (a split, a stream's order)."""
        return type(self)([self.files[i] for i in rows], self.y[rows], self.class_names, self.shape, self.size,
                            self.skip_bad, self._first)

    def relabelled(self, y: np.ndarray, class_names: tuple[str, ...]) -> FolderImages:
        """The same files with labels ``y`` indexing ``class_names``."""
        return type(self)(self.files, y, class_names, self.shape, self.size, self.skip_bad, self._first)

    def read(self, start: int = 0, stop: int | None = None, *, progress: bool = False) -> LabelledArrays:
        """Decode the files ``start:stop`` (uint8 images, (k, C, H, W)); unreadable ones stop the read with one line
        naming them, or under ``skip_bad`` are left out and listed in ``skipped``."""
        rows = range(len(self.files))[start:stop]
        need = len(rows) * int(np.prod(self.shape))  # sizes known before any image is decoded
        if need > MAX_ARRAY_BYTES:
            raise UserDataError(f"{len(rows)} images of {' x '.join(map(str, self.shape))} need {need / 2 ** 30:.1f} "
                                f"GiB at once (limit {MAX_ARRAY_BYTES / 2 ** 30:.0f} GiB); resize them (--image-size "
                                "H W) or stream the folder chunk by chunk (memorynet stream --data)")
        X = np.empty((len(rows), *self.shape), dtype=np.uint8)
        kept, skipped = [], []
        for i in tqdm(rows, desc="images", unit="file", disable=not progress, leave=False):
            path = self.files[i]
            try:
                image = decode_image(path, self.size, self.shape[0])
                if image.shape != self.shape:
                    raise UserDataError(f"{path}: {image.shape[1]} x {image.shape[2]} x {image.shape[0]} "
                                        f"channel(s), unlike {self._first} ({self.shape[1]} x {self.shape[2]} x "
                                        f"{self.shape[0]}); pass a size to resize to (--image-size H W)")
            except (UserDataError, UnreadableImage):
                if not self.skip_bad:
                    raise
                skipped.append(str(path))
                continue
            X[len(kept)] = image
            kept.append(i)
        return LabelledArrays(X[:len(kept)], self.y[kept], self.class_names, [self.files[i] for i in kept],
                              self.pixel_max, skipped)

    def labelled_chunk(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of the files ``start:stop`` (the chunk of a stream; skipped files left out and added to
        ``skipped``)."""
        chunk = self.read(start, stop)
        self.skipped += chunk.skipped
        return chunk.X, chunk.y


def open_image_folder(folder: str | Path, size: tuple[int, int] | None = None, *, channels: int | None = None,
                      skip_bad: bool = False) -> FolderImages:
    """A folder of class folders of images (the ImageFolder convention), not yet decoded: class names are the
    sorted folder names, files are taken in sorted order (class folder, then file name).

    Without ``size``, every image must have the size of the first readable one; with it, each is resized. Channels
    follow that first image unless ``channels`` is given."""
    folder = Path(folder)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    files = {c: image_files(folder / c) for c in classes}
    _check_classes(classes, [len(files[c]) for c in classes], str(folder))
    every = [str(path) for c in classes for path in files[c]]  # str: a folder's list, lighter than Paths
    y = np.repeat(np.arange(len(classes), dtype=np.int64), [len(files[c]) for c in classes])
    for path in every:  # the first readable image sets the shape
        try:
            image = decode_image(path, size, channels)
            break
        except UnreadableImage:
            if not skip_bad:
                raise
    else:
        raise UserDataError(f"{folder}: no readable image; check the files or the folder")
    return FolderImages(every, y, tuple(classes), image.shape, size, skip_bad, str(path))


def read_image_folder(folder: str | Path, size: tuple[int, int] | None = None, *, channels: int | None = None,
                      skip_bad: bool = False, progress: bool = True) -> LabelledArrays:
    """A folder of class folders of images, decoded at once (:func:`open_image_folder` says how)."""
    images = open_image_folder(folder, size, channels=channels, skip_bad=skip_bad)
    data = images.read(progress=progress)
    _check_classes(list(images.class_names), list(np.bincount(data.y, minlength=len(images.class_names))),
                   f"{folder} (after skipping)")
    return data


def _as_labels(raw: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels of any type -> (indices into the sorted class names, names as text)."""
    raw = np.asarray(raw)
    if raw.ndim != 1:
        raise UserDataError(f"{where}: labels must be one per row, got shape {raw.shape}")
    if raw.dtype.kind == "f" and np.isnan(raw).any():
        raise UserDataError(f"{where}: {int(np.isnan(raw).sum())} missing labels (NaN); fill or drop those rows")
    classes, y = np.unique(raw, return_inverse=True)
    names = tuple(str(c) for c in classes)
    _check_classes(list(names), list(np.bincount(y)), where)
    return y.astype(np.int64), names


def _as_images(X: np.ndarray, where: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "uif" or X.ndim not in (2, 3, 4) or not len(X):
        raise UserDataError(f"{where}: images must be a non-empty numeric array (n, C, H, W), (n, H, W) or rows "
                            f"(n, D), got {X.dtype} {X.shape}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise UserDataError(f"{where}: NaN or infinite values; fill or drop them")
    return X.reshape(len(X), 1, 1, -1) if X.ndim == 2 else X[:, None] if X.ndim == 3 else X


def _pixel_max(X: np.ndarray) -> float:
    """255 for 8-bit images, else the data's largest value (at least 1)."""
    return 255.0 if X.dtype == np.uint8 else max(float(X.max()), 1.0)


def read_arrays(path: str | Path, labels: str | Path | None = None, keys: tuple[str, str] = ("X", "y")
                ) -> LabelledArrays:
    """An ``.npz`` holding images and labels under ``keys``, or an ``.npy`` of images with ``labels`` the ``.npy``
    of their labels. Sizes are checked from the headers before anything is read."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise UserDataError(f"{path}: no array named {', '.join(missing)} (it holds {', '.join(npz.files)}); "
                                    "name the image and label arrays with --npz-keys IMAGES LABELS")
            for key in keys:  # what each member declares, against what it holds, before anything is allocated
                info = npz.zip.getinfo(f"{key}.npy")
                with npz.zip.open(info) as member:
                    shape, dtype, declared = read_npy_header(member)
                    held = info.file_size - member.tell()
                if dtype.hasobject or declared != held or declared > MAX_ARRAY_BYTES:
                    raise UserDataError(f"{path}: array {key} declares {shape} {dtype} ({declared:.0f} bytes) but "
                                        f"holds {held} bytes (at most {MAX_ARRAY_BYTES}, no Python objects)")
            X, raw = npz[keys[0]], npz[keys[1]]
    else:
        if labels is None:
            raise UserDataError(f"{path}: an .npy of images needs its labels too (--labels LABELS.npy)")
        X, raw = read_npy(path), read_npy(labels)
    if len(raw) != len(X):
        raise UserDataError(f"{path}: {len(X)} images but {len(raw)} labels")
    X = _as_images(X, str(path))
    y, names = _as_labels(raw, str(path))
    return LabelledArrays(X, y, names, [f"{path}[{i}]" for i in range(len(X))], _pixel_max(X))


def read_table(path: str | Path, label_column: str = "label") -> LabelledArrays:
    """A CSV or Parquet table: one row per sample, a label column, every other column a numeric feature."""
    path = Path(path)
    try:
        pandas = importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError("tables need pandas (and pyarrow for Parquet): pip install 'memorynet[tables]'") from exc
    try:
        frame = pandas.read_csv(path) if path.suffix.lower() == ".csv" else pandas.read_parquet(path)
    except (ValueError, OSError, ImportError, pandas.errors.ParserError) as exc:
        raise UserDataError(f"{path}: not a readable table ({type(exc).__name__}: {exc})") from exc
    if label_column not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:8])) + ("..." if len(frame.columns) > 8 else "")
        raise UserDataError(f"{path}: no label column {label_column!r} (columns: {columns}); name it with "
                            "--label-column")
    features = frame.drop(columns=[label_column])
    text = [str(c) for c, kind in features.dtypes.items() if kind.kind not in "uifb"]
    if text:
        raise UserDataError(f"{path}: feature column(s) {', '.join(text[:5])} are not numeric; drop or encode them")
    if features.isna().any().any():
        bad = features.columns[features.isna().any()].tolist()
        raise UserDataError(f"{path}: missing values (NaN) in column(s) {', '.join(map(str, bad[:5]))}; fill or "
                            "drop those rows")
    X = _as_images(features.to_numpy(dtype=np.float32), str(path))
    y, names = _as_labels(frame[label_column].to_numpy(), str(path))
    return LabelledArrays(X, y, names, [f"{path}:{i + 2}" for i in range(len(X))], None)


def read_labelled(path: str | Path, *, labels: str | Path | None = None, size: tuple[int, int] | None = None,
                  label_column: str = "label", npz_keys: tuple[str, str] = ("X", "y"), skip_bad: bool = False,
                  progress: bool = True, lazy: bool = False) -> LabelledArrays | FolderImages:
    """Labelled data from a folder of class folders, an ``.npz``/``.npy``, or a CSV/Parquet table; with ``lazy``, a
    folder is opened, not decoded (:class:`FolderImages`, read chunk by chunk)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        if lazy:
            return open_image_folder(path, size, skip_bad=skip_bad)
        return read_image_folder(path, size, skip_bad=skip_bad, progress=progress)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return read_arrays(path, labels, npz_keys)
    if suffix in TABLE_SUFFIXES:
        return read_table(path, label_column)
    raise UserDataError(f"{path}: give a folder of class folders of images, an .npz or .npy, or a .csv or .parquet "
                        "table")


def train_test(train: LabelledArrays | FolderImages, test: LabelledArrays | FolderImages | None = None, *,
               test_fraction: float = 0.2, seed: int = 0) -> tuple:
    """(train, test): ``test`` with its labels renumbered to ``train``'s classes, or a stratified, seeded split of
    ``train`` keeping ``test_fraction`` of every class for testing (arrays, or a folder's files before decoding:
    the same split either way)."""
    if test is not None:
        unknown = sorted(set(test.class_names) - set(train.class_names))
        if unknown:
            raise UserDataError(f"the test data has classes the training data lacks: {', '.join(unknown[:5])}")
        if test.shape != train.shape:
            raise UserDataError(f"test images {test.shape} differ from training images {train.shape}; give both the "
                                "same size (--image-size H W)")
        return train, test.relabelled(np.searchsorted(train.class_names, np.array(test.class_names))[test.y],
                                      train.class_names)
    if not 0 < test_fraction < 1:
        raise UserDataError(f"the test fraction must lie between 0 and 1 (exclusive), got {test_fraction}")
    from sklearn.model_selection import train_test_split

    try:
        fit_rows, test_rows = train_test_split(np.arange(len(train.y)), test_size=test_fraction, random_state=seed,
                                               stratify=train.y)
    except ValueError as exc:
        raise UserDataError(f"cannot keep {test_fraction} of every class for testing ({exc}); give more images per "
                            "class, another --test-fraction, or --test-data") from exc
    fitted = train.take(np.sort(fit_rows))
    fitted.skipped = train.skipped
    return fitted, train.take(np.sort(test_rows))
