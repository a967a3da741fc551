"""What every experiment shares, said once: the validation split, the registry of model kinds, the summary of runs
over seeds, and the results writer and reader.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from ..models.parameters import parameter_defaults
from ..models.presets import MODEL_KINDS
from .peers import RandomFeatureLDA, StreamingLDA

__all__ = ["VALIDATION_SIZE", "validation_split_indices", "KINDS", "make_estimator", "summarize", "write_results",
           "write_report", "keep_rows", "read_results"]

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


def write_results(path: str | Path, payload: dict, indent: int = 1, sort_keys: bool = True) -> Path:
    """Write ``payload`` as JSON atomically (the old file survives any failure), creating its folder; returns
    the path. ``sort_keys=False`` keeps the payload's own key order."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys).encode()
    return atomic_write(Path(path), lambda fh: fh.write(text))


def keep_rows(path: str | Path, result: dict, key: Callable[[dict], Hashable], flag: str = "quick") -> dict:
    """``result`` with the rows of the results file at ``path`` (if there) that it does not measure again
    (``key`` names a row), first; refused when one of them comes from a reduced run (``flag``) and the other not."""
    path = Path(path)
    if not path.exists():
        return result
    old = json.loads(path.read_text())
    if bool(old.get(flag)) != bool(result.get(flag)):
        raise ValueError(f"{path} holds {'reduced' if old.get(flag) else 'full'} rows; keeping them would mix "
                         "reduced and full runs (write elsewhere with --out)")
    again = {key(r) for r in result["rows"]}
    return {**result, "rows": [r for r in old["rows"] if key(r) not in again] + result["rows"]}


def write_report(out: str | Path, name: str, result: dict, table: str, sort_keys: bool = True) -> Path:
    """A benchmark's results: ``<out>/<name>.json`` and its Markdown ``table`` in ``<out>/<name>.md`` (both
    atomically), the table printed; returns the JSON path."""
    path = write_results(Path(out) / f"{name}.json", result, sort_keys=sort_keys)
    atomic_write(Path(out) / f"{name}.md", lambda fh: fh.write(table.encode()))
    print(table)
    return path


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number a results file may hold")


def _accuracies_in_range(value) -> bool:
    """Whether every ``accuracy`` anywhere in ``value`` is a number in [0, 1]."""
    if isinstance(value, dict):
        return all((isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1) if k == "accuracy"
                   else _accuracies_in_range(v) for k, v in value.items())
    return all(_accuracies_in_range(v) for v in value) if isinstance(value, list) else True


def read_results(path: str | Path, required: tuple[str, ...] = ()) -> dict | None:
    """A results file to resume from, or None when there is none. A file that is not one (bad JSON, nested too
    deep, NaN, an accuracy outside [0, 1], a ``required`` key missing) is set aside under a new name, never merged
    or overwritten, and a line on stderr names both files."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text(), parse_constant=_refuse_constant)
        problem = None if isinstance(result, dict) else "not a JSON object"
        problem = problem or next((f"no {key!r}" for key in required if key not in result), None)
        problem = problem or (None if _accuracies_in_range(result) else "an accuracy outside [0, 1]")
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:80]}"
    if problem is None:
        return result
    aside = path.with_name(f"{path.stem}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    os.replace(path, aside)
    print(f"memorynet: {path} is not a memorynet results file ({problem}); set aside as {aside}, starting afresh",
          file=sys.stderr)
    return None
