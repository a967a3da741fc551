"""A model being looked at and taught through the web page: every read and lesson under one lock.

:class:`LiveModel` holds a fitted pipeline (fixed preprocessing, memory estimator), its class names and the file
it came from. It reads and teaches the model through the models' public protocol only (``memory_view``,
``class_sizes``, ``explain``, ``teach``), so every kind of model is served: labelled memories show their neurons by
class; a feature stage and readout shows its prototypes, and a lesson teaches its readout. Lessons are applied one
at a time (no update is lost when two pages teach at once); reads take the
same lock, so they see the model between lessons, never during one. The last lesson can be undone.
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from ...models.persistence import save_model
from .images import to_display

__all__ = ["LiveModel", "SaveExists"]

_SORTS = ("counter", "-counter", "row")


class SaveExists(ValueError):
    """Saving would replace a file and overwriting was not asked for."""


class LiveModel:
    """A fitted (preprocessing, estimator) pipeline served to the page; ``path`` is where Save writes.

    ``class_names`` name the classes in ``classes_`` order (default: the labels as text).
    """

    def __init__(self, model: Pipeline, path: str | os.PathLike, class_names: list[str] | None = None,
                 metadata: dict | None = None):
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
        sizes, unit = est.class_sizes()
        return [{"index": i, "label": label.item(), "name": name, unit: int(size)}
                for i, (label, name, size) in enumerate(zip(est.classes_, self.class_names, sizes))]

    def info(self) -> dict:
        """What the page shows in its header: the model, its classes and sizes, the budget, the lesson count."""
        with self._lock:
            est = self.estimator
            views = [est.memory_view(p) for p in range(len(est.banks_))]
            return {"estimator": type(est).__name__, "labelled": bool(est.labelled_memories),
                    "preprocessing": self.model[0].chain, "image_shape": list(est.image_shape_),
                    "pixel_max": float(self.model[0].pixel_max), "banks": len(views),
                    "bank_shape": list(views[0]["memories"].shape[1:]),
                    "corners": [list(v["corner"]) for v in views], "budget_per_bank": est.max_neurons,
                    "neurons": est.n_neurons_, "samples_seen": int(est.n_samples_seen_),
                    "classes": self._classes(), "lessons": self.lessons, "can_undo": self._undo is not None,
                    "file": self.path.name}

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
                if view["labels"] is None:
                    raise ValueError("this model's memories carry no labels: show them all (no class index)")
                if not 0 <= label < len(est.classes_):
                    raise ValueError(f"class index {label} out of range: the model has {len(est.classes_)} classes")
                rows = rows[view["labels"] == est.classes_[label]]
            if sort != "row":
                order = np.argsort(view["counters"][rows], kind="stable")
                rows = rows[order[::-1] if sort == "-counter" else order]
            page = rows[offset:offset + limit]
            return {"position": view["position"], "corner": list(view["corner"]),
                    "shape": list(view["memories"].shape[1:]), "total": len(rows), "offset": offset,
                    "neurons": [self._neuron(view, int(r)) for r in page]}

    def _neuron(self, view: dict, row: int, **extra) -> dict:
        if view["labels"] is None:
            index, name = None, "prototype"
        else:
            index = int(np.searchsorted(self.estimator.classes_, view["labels"][row]))
            name = self.class_names[index]
        return {"row": row, "class": index, "name": name, "counter": int(view["counters"][row]),
                "pixels": to_display(view["memories"][row]), **extra}

    def ask(self, image: np.ndarray, position: int | None = None, k: int = 5) -> dict:
        """Prediction for one raw image, the model's evidence for every class and its nearest neurons in bank
        ``position``."""
        with self._lock:
            est = self.estimator
            why = est.explain(self.model[:-1].transform(image), k, position)
            predicted = int(np.searchsorted(est.classes_, why["prediction"][0]))
            view = est.memory_view(why["position"])
            distances, rows = why["nearest"]
            return {"prediction": {"index": predicted, "name": self.class_names[predicted]},
                    "evidence": {"name": why["evidence_name"], "larger_is_better": why["larger_is_better"]},
                    "classes": [{"index": i, "name": n, "evidence": float(e), "score": float(p)}
                                for i, (n, e, p) in enumerate(zip(self.class_names, why["evidence"][0],
                                                                  why["proba"][0]))],
                    "position": why["position"],
                    "nearest": [self._neuron(view, int(r), distance=float(d)) for d, r in zip(distances[0], rows[0])]}

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
        """Learn one raw image under the class ``name`` (an existing class, or a new one), at once, through the
        model's ``teach``: labelled memories grow or move a neuron in every bank (a class below its share of the
        budget gets room), a readout learns the image's features. Returns what changed."""
        name = name.strip()
        if not name or len(name) > 40:
            raise ValueError("a class name needs 1 to 40 characters")
        with self._lock:
            before = (copy.deepcopy(self.estimator), list(self.class_names))
            est = self.estimator
            index, label = self._class_for(name)
            try:
                features = self.model[:-1].transform(image)
                lesson = est.teach(features, np.asarray([label], dtype=est.classes_.dtype))
                if index is None:
                    index = int(np.searchsorted(est.classes_, label))
                    self.class_names.insert(index, name)
            except BaseException:
                self.model.steps[-1] = ("network", before[0])
                self.class_names = before[1]
                raise
            self._undo = before
            self.lessons += 1
            taught = {"class": {"index": index, "name": name, "new": bool(lesson["new_classes"])}}
            if "banks" not in lesson:  # a readout learnt it
                return {**taught, "images": lesson["class_images"][label.item() if hasattr(label, "item")
                                                                    else label],
                        "position": None, "neuron": None}
            return {**taught, **self._changes(before[0], lesson["banks"], position)}

    def _changes(self, before, banks: list[tuple[int, bool]], position: int | None) -> dict:
        """Which neuron grew or moved in each bank, how far it moved, and the one of bank ``position`` in detail."""
        est = self.estimator
        shifts, details = [], {}
        for p, (row, grew) in enumerate(banks):
            shift = None if grew else float(np.linalg.norm(est.memory_view(p)["memories"][row]
                                                            - before.memory_view(p)["memories"][row]))
            if shift is not None:
                shifts.append(shift)
            details[p] = (row, shift)
        view = est.memory_view(position)
        row, shift = details[view["position"]]
        return {"banks_grew": len(banks) - len(shifts), "banks_moved": len(shifts),
                "mean_shift": float(np.mean(shifts)) if shifts else None, "position": view["position"],
                "neuron": self._neuron(view, row, grew=shift is None, shift=shift)}

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
