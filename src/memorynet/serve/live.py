"""A model being looked at and taught through the web page: every read and lesson under one lock.

:class:`LiveModel` holds a fitted pipeline (fixed preprocessing, memory estimator), its class names and the file
it came from. Lessons are applied one at a time (no update is lost when two pages teach at once); reads take the
same lock, so they see the model between lessons, never during one. The last lesson can be undone.
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from ..model import MemoryNetworkClassifier
from ..persistence import save_model
from ..receptive_fields import LocalReceptiveFieldClassifier
from .images import to_display

__all__ = ["LiveModel", "SaveExists"]

_SORTS = ("counter", "-counter", "row")


class SaveExists(ValueError):
    """Saving would replace a file and overwriting was not asked for."""


def check_servable(cls: type) -> None:
    """Refuse (``ValueError``) an estimator class whose memories carry no labels for the page to show."""
    if not issubclass(cls, (MemoryNetworkClassifier, LocalReceptiveFieldClassifier)):
        raise ValueError(f"the page shows labelled memories, which a {cls.__name__} does not keep; serve a paper or "
                         "receptive-field model (presets paper, mnist-rf, cifar10-rf)")


class LiveModel:
    """A fitted (preprocessing, estimator) pipeline served to the page; ``path`` is where Save writes.

    ``class_names`` name the classes in ``classes_`` order (default: the labels as text).
    """

    def __init__(self, model: Pipeline, path: str | os.PathLike, class_names: list[str] | None = None,
                 metadata: dict | None = None):
        check_servable(type(model[-1]))
        self.model = model
        self.path = Path(path)
        labels = model[-1].classes_
        self.class_names = list(class_names) if class_names else [str(label) for label in labels]
        self.metadata = dict(metadata or {})
        self.lessons = 0
        self._undo: tuple | None = None
        self._lock = threading.Lock()

    @property
    def estimator(self):
        return self.model[-1]

    # ------------------------------------------------------------------------------------------------------------
    # Reads

    def _classes(self) -> list[dict]:
        est = self.estimator
        sizes = np.sum([bank.class_counts(len(est.classes_)) for bank in est.banks_], axis=0)
        return [{"index": i, "label": label.item(), "name": name, "neurons": int(size)}
                for i, (label, name, size) in enumerate(zip(est.classes_, self.class_names, sizes))]

    def info(self) -> dict:
        """What the page shows in its header: the model, its classes and sizes, the budget, the lesson count."""
        with self._lock:
            est = self.estimator
            corners, shape = est._bank_layout()
            return {"estimator": type(est).__name__, "preprocessing": self.model[0].chain,
                    "image_shape": list(est.image_shape_), "pixel_max": float(self.model[0].pixel_max),
                    "banks": len(est.banks_), "bank_shape": list(shape), "corners": [list(c) for c in corners],
                    "budget_per_bank": est.max_neurons, "neurons": est.n_neurons_,
                    "samples_seen": int(est.n_samples_seen_), "classes": self._classes(), "lessons": self.lessons,
                    "can_undo": self._undo is not None, "file": self.path.name,
                    "distance": est.distance}

    def memory(self, position: int | None = None, label: int | None = None, sort: str = "-counter",
               offset: int = 0, limit: int = 60) -> dict:
        """The neurons of one bank (optionally of one class index), sorted, a page at a time, as display images."""
        if sort not in _SORTS:
            raise ValueError(f"sort must be one of {', '.join(_SORTS)}, got {sort!r}")
        with self._lock:
            est = self.estimator
            view = est.memory_view(position)
            rows = np.arange(len(view["counters"]))
            if label is not None:
                if not 0 <= label < len(est.classes_):
                    raise ValueError(f"class index {label} out of range: the model has {len(est.classes_)} classes")
                rows = rows[est.banks_[view["position"]].classes == label]
            if sort != "row":
                order = np.argsort(view["counters"][rows], kind="stable")
                rows = rows[order[::-1] if sort == "-counter" else order]
            page = rows[offset:offset + limit]
            classes = est.banks_[view["position"]].classes
            return {"position": view["position"], "corner": list(view["corner"]),
                    "shape": list(view["memories"].shape[1:]), "total": len(rows), "offset": offset,
                    "neurons": [self._neuron(view, classes, int(r)) for r in page]}

    def _neuron(self, view: dict, classes: np.ndarray, row: int, **extra) -> dict:
        return {"row": row, "class": int(classes[row]), "name": self.class_names[int(classes[row])],
                "counter": int(view["counters"][row]), "pixels": to_display(view["memories"][row]), **extra}

    def ask(self, image: np.ndarray, position: int | None = None, k: int = 5) -> dict:
        """Prediction for one raw image, its distance to every class and its nearest neurons in bank ``position``."""
        with self._lock:
            est = self.estimator
            features = self.model[:-1].transform(image)
            predicted = int(np.searchsorted(est.classes_, est.predict(features)[0]))
            distances = est.class_distances(features)[0]
            proba = est.predict_proba(features)[0]
            view = est.memory_view(position)
            d, rows = est.nearest_neurons(features, k, view["position"])
            classes = est.banks_[view["position"]].classes
            return {"prediction": {"index": predicted, "name": self.class_names[predicted]},
                    "classes": [{"index": i, "name": n, "distance": float(dist), "score": float(p)}
                                for i, (n, dist, p) in enumerate(zip(self.class_names, distances, proba))],
                    "position": view["position"],
                    "nearest": [self._neuron(view, classes, int(r), distance=float(dd))
                                for dd, r in zip(d[0], rows[0])]}

    # ------------------------------------------------------------------------------------------------------------
    # Lessons

    def _class_for(self, name: str) -> tuple[int | None, object]:
        """(class index, label) for a class name or label text; index ``None`` and a fresh label for a new one."""
        est = self.estimator
        for i, (label, known) in enumerate(zip(est.classes_, self.class_names)):
            if name in (known, str(label.item())):
                return i, label
        if est.classes_.dtype.kind in "iu":
            return None, int(est.classes_.max()) + 1
        return None, name

    def teach(self, image: np.ndarray, name: str, position: int | None = None) -> dict:
        """Learn one raw image under the class ``name`` (an existing class, or a new one), at once, with
        ``partial_fit``. A class with fewer neurons than its share of the budget grows a neuron (a full bank makes
        room by consolidation); otherwise its nearest neuron moves. Returns what changed."""
        name = name.strip()
        if not name or len(name) > 40:
            raise ValueError("a class name needs 1 to 40 characters")
        with self._lock:
            before = (copy.deepcopy(self.estimator), list(self.class_names))
            est = self.estimator
            index, label = self._class_for(name)
            try:
                new_class = index is None
                if new_class:
                    est.add_classes([label])
                    index = int(np.searchsorted(est.classes_, label))
                    self.class_names.insert(index, name)
                features = self.model[:-1].transform(image)
                share = est.max_neurons // len(est.classes_)
                if all(bank.class_counts(len(est.classes_))[index] < share for bank in est.banks_):
                    est.make_room(1)
                sizes = [len(bank) for bank in est.banks_]
                counters = [bank.counters.copy() for bank in est.banks_]
                est.partial_fit(features, np.asarray([label], dtype=est.classes_.dtype))
            except BaseException:
                self.model.steps[-1] = ("network", before[0])
                self.class_names = before[1]
                raise
            self._undo = before
            self.lessons += 1
            return {"class": {"index": index, "name": name, "new": new_class},
                    **self._changes(features, sizes, counters, position)}

    def _changes(self, features: np.ndarray, sizes: list[int], counters: list[np.ndarray],
                 position: int | None) -> dict:
        """Which neuron grew or moved in each bank, how far it moved, and the one of bank ``position`` in detail."""
        est = self.estimator
        images = est._images(features)
        grew, shifts, details = 0, [], {}
        for p, (bank, size, old) in enumerate(zip(est.banks_, sizes, counters)):
            if len(bank) > size:
                grew += 1
                row, shift = size, None
            else:
                row = int(np.flatnonzero(bank.counters[:size] != old)[0])
                # the running mean moved the neuron by (x - r_new) / c_old
                x = est._bank_rows(images, p)[0]
                shift = float(np.linalg.norm(x - bank.memories[row]) / (bank.counters[row] - 1))
                shifts.append(shift)
            details[p] = (row, shift)
        view = est.memory_view(position)
        row, shift = details[view["position"]]
        neuron = self._neuron(view, est.banks_[view["position"]].classes, row, grew=shift is None, shift=shift)
        return {"banks_grew": grew, "banks_moved": len(shifts),
                "mean_shift": float(np.mean(shifts)) if shifts else None, "position": view["position"],
                "neuron": neuron}

    def undo(self) -> dict:
        """Put back the model as it was before the last lesson (one level)."""
        with self._lock:
            if self._undo is None:
                raise ValueError("there is no lesson to undo")
            estimator, names = self._undo
            self.model.steps[-1] = ("network", estimator)
            self.class_names = names
            self._undo = None
            self.lessons -= 1
            return {"lessons": self.lessons}

    # ------------------------------------------------------------------------------------------------------------
    # Saving

    def save(self, overwrite: bool = False) -> dict:
        """Write the model atomically: over ``path`` only when ``overwrite``; else to ``path`` if it does not exist
        yet, or to the first free ``<stem>-<n><suffix>`` beside it. Returns the file name written."""
        with self._lock:
            target = self.path if overwrite or not self.path.exists() else self._free_name()
            metadata = {**self.metadata, "class_names": self.class_names}
            save_model(self.model, target, metadata)
            return {"file": target.name, "overwritten": overwrite and target == self.path}

    def _free_name(self) -> Path:
        for n in range(1, 10000):
            candidate = self.path.with_name(f"{self.path.stem}-{n}{self.path.suffix}")
            try:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))  # claim the name
            except FileExistsError:
                continue
            return candidate
        raise SaveExists(f"no free file name beside {self.path}; save with overwrite")

    def model_bytes(self) -> bytes:
        """The model file's bytes (for a download), written through the same checked format."""
        import tempfile

        with self._lock, tempfile.TemporaryDirectory() as folder:
            path = save_model(self.model, Path(folder) / self.path.name,
                              {**self.metadata, "class_names": self.class_names})
            return path.read_bytes()
