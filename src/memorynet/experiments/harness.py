"""What every experiment shares, said once: the validation split, the registry of model kinds, the summary of runs
over seeds, and the results writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from ..models.parameters import parameter_defaults
from ..models.presets import MODEL_KINDS
from .peers import RandomFeatureLDA, StreamingLDA

__all__ = ["VALIDATION_SIZE", "validation_split_indices", "KINDS", "make_estimator", "summarize", "write_results"]

VALIDATION_SIZE = 10000
_SPLIT_SEED = 12345

# model kind -> estimator class: the library's models (the presets' registry) and the peers the experiments run
KINDS: dict[str, type] = {**MODEL_KINDS, "lda": StreamingLDA, "random-features": RandomFeatureLDA}


def validation_split_indices(n_train: int, n_validation: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation rows) of a training set of ``n_train`` images: a fixed shuffle (the same split for
    every experiment and run), the last ``n_validation`` (default :data:`VALIDATION_SIZE`) held out."""
    held = VALIDATION_SIZE if n_validation is None else n_validation
    if not 0 < held < n_train:
        raise ValueError(f"cannot hold out {held} validation images from {n_train} training images")
    order = np.random.default_rng(_SPLIT_SEED).permutation(n_train)
    return order[:-held], order[-held:]


def make_estimator(kind: str, params: dict, seed: int | None = None):
    """An unfitted estimator of the model ``kind`` with ``params``, seeded with ``seed`` where it takes one."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    cls = KINDS[kind]
    seeded = {"random_state": seed} if "random_state" in parameter_defaults(cls) else {}
    return cls(**params, **seeded)


def summarize(runs: list[dict], key: Callable[[dict], Hashable], spread: tuple[str, ...] = ("accuracy",),
              medians: tuple[str, ...] = ()) -> list[tuple[list[dict], dict]]:
    """The runs grouped by ``key`` (in first-seen order), each group with its summary over seeds: ``seeds``, the
    (mean, std) of every ``spread`` field and the median of every ``medians`` field."""
    groups: dict[Hashable, list[dict]] = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    out = []
    for members in groups.values():
        stats = {"seeds": len(members)}
        for field in spread:
            values = np.array([m[field] for m in members], dtype=np.float64)
            stats[field] = (float(values.mean()), float(values.std()))
        for field in medians:
            stats[field] = float(np.median([m[field] for m in members]))
        out.append((members, stats))
    return out


def write_results(path: str | Path, payload: dict, indent: int = 1) -> Path:
    """Write ``payload`` as JSON atomically (the old file survives any failure), creating its folder; returns
    the path."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=indent, sort_keys=True).encode()
    return atomic_write(Path(path), lambda fh: fh.write(text))
