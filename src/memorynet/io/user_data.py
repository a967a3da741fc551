"""Labelled data of one's own, from a path: a folder of class folders of images, an ``.npz`` (or an ``.npy`` pair)
of arrays, or a table of feature vectors with a label column (CSV or Parquet).

Every reader returns :class:`LabelledArrays`: images (n, C, H, W) (a table's rows as 1 x 1 x D images), labels as
indices into the sorted class names, and where each row came from. Files are read in sorted order (class folder,
then file name), so a seed gives a model the same arrays on every machine. Bad input stops with one line that names
the file and the fix, unless ``skip_bad`` asks to skip and count it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .formats import read_npy_header
from .inputs import IMAGE_SUFFIXES, MAX_ARRAY_BYTES, UnreadableImage, decode_image, image_files, read_npy

__all__ = ["TABLE_SUFFIXES", "IMAGE_SUFFIXES", "decode_image", "LabelledArrays", "UserDataError",
           "read_image_folder", "read_arrays", "read_table", "read_labelled", "train_test"]

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


def _check_classes(names: list[str], counts: list[int], where: str) -> None:
    if len(names) < 2:
        raise UserDataError(f"{where}: {len(names)} class(es) found ({', '.join(names) or 'none'}); a classifier "
                            "needs at least 2 (one folder of images per class)")
    empty = [n for n, c in zip(names, counts) if c == 0]
    if empty:
        raise UserDataError(f"{where}: class folder(s) {', '.join(empty)} hold no image ({', '.join(IMAGE_SUFFIXES)}); "
                            "add images or remove the folder")


def read_image_folder(folder: str | Path, size: tuple[int, int] | None = None, *, channels: int | None = None,
                      skip_bad: bool = False, progress: bool = True) -> LabelledArrays:
    """A folder of class folders of images (the ImageFolder convention): class names are the sorted folder names.

    Without ``size``, every image must have the size of the first one (else an error names the file and says to
    pass a size); with it, each is resized. Channels follow the first image unless ``channels`` is given."""
    folder = Path(folder)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    files = {c: image_files(folder / c) for c in classes}
    _check_classes(classes, [len(files[c]) for c in classes], str(folder))
    images, labels, sources, skipped = [], [], [], []
    todo = [(k, path) for k, c in enumerate(classes) for path in files[c]]
    for k, path in tqdm(todo, desc="images", unit="file", disable=not progress, leave=False):
        try:
            image = decode_image(path, size, channels)
            if images and image.shape != images[0].shape:
                raise UserDataError(f"{path}: {image.shape[1]} x {image.shape[2]} x {image.shape[0]} channel(s), "
                                    f"unlike {sources[0]} ({images[0].shape[1]} x {images[0].shape[2]} x "
                                    f"{images[0].shape[0]}); pass a size to resize to (--image-size H W)")
        except (UserDataError, UnreadableImage):
            if not skip_bad:
                raise
            skipped.append(str(path))
            continue
        channels = image.shape[0]
        images.append(image)
        labels.append(k)
        sources.append(str(path))
    _check_classes(classes, list(np.bincount(labels, minlength=len(classes))), f"{folder} (after skipping)")
    return LabelledArrays(np.stack(images), np.array(labels, dtype=np.int64), tuple(classes), sources, 255.0,
                          skipped)


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
                  progress: bool = True) -> LabelledArrays:
    """Labelled data from a folder of class folders, an ``.npz``/``.npy``, or a CSV/Parquet table."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        return read_image_folder(path, size, skip_bad=skip_bad, progress=progress)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return read_arrays(path, labels, npz_keys)
    if suffix in TABLE_SUFFIXES:
        return read_table(path, label_column)
    raise UserDataError(f"{path}: give a folder of class folders of images, an .npz or .npy, or a .csv or .parquet "
                        "table")


def train_test(train: LabelledArrays, test: LabelledArrays | None = None, *, test_fraction: float = 0.2,
               seed: int = 0) -> tuple[LabelledArrays, LabelledArrays]:
    """(train, test): ``test`` with its labels renumbered to ``train``'s classes, or a stratified, seeded split of
    ``train`` keeping ``test_fraction`` of every class for testing."""
    if test is not None:
        unknown = sorted(set(test.class_names) - set(train.class_names))
        if unknown:
            raise UserDataError(f"the test data has classes the training data lacks: {', '.join(unknown[:5])}")
        if test.X.shape[1:] != train.X.shape[1:]:
            raise UserDataError(f"test images {test.X.shape[1:]} differ from training images {train.X.shape[1:]}; "
                                "give both the same size (--image-size H W)")
        y = np.searchsorted(train.class_names, np.array(test.class_names))[test.y]
        return train, LabelledArrays(test.X, y, train.class_names, test.sources, test.pixel_max, test.skipped)
    if not 0 < test_fraction < 1:
        raise UserDataError(f"the test fraction must lie between 0 and 1 (exclusive), got {test_fraction}")
    from sklearn.model_selection import train_test_split

    try:
        fit_rows, test_rows = train_test_split(np.arange(len(train.y)), test_size=test_fraction, random_state=seed,
                                               stratify=train.y)
    except ValueError as exc:
        raise UserDataError(f"cannot keep {test_fraction} of every class for testing ({exc}); give more images per "
                            "class, another --test-fraction, or --test-data") from exc
    fit_rows, test_rows = np.sort(fit_rows), np.sort(test_rows)
    part = lambda rows, skipped: LabelledArrays(train.X[rows], train.y[rows], train.class_names,  # noqa: E731
                                                [train.sources[i] for i in rows], train.pixel_max, skipped)
    return part(fit_rows, train.skipped), part(test_rows, [])
