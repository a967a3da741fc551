"""Streaming through ``partial_fit`` with checkpoints that survive being killed at any moment.

The checkpoint is a model file (``memorynet.models.persistence``) whose metadata records the stream's identity and
position. Restarted with the same stream, :func:`stream_fit` resumes from the last checkpoint and ends with a
model identical to an uninterrupted run: the stream is cut into the same chunks, and learning is deterministic.
Any memorynet model streams: an estimator, or a preset pipeline (its fixed preprocessing is applied per chunk).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from .persistence import load_model, save_model

__all__ = ["stream_fit", "learn_chunk", "chunks", "chunked_score"]


def _estimator(model):
    return model[-1] if isinstance(model, Pipeline) else model


def learn_chunk(model, X, y, classes=None):
    """``partial_fit`` of an estimator, or of a (fixed preprocessing, estimator) pipeline's estimator on the
    preprocessed chunk. Returns ``model``."""
    if isinstance(model, Pipeline):
        model[-1].partial_fit(model[:-1].transform(X), y, classes=classes)
    else:
        model.partial_fit(X, y, classes=classes)
    return model


def chunks(X, y, size: int, start: int = 0):
    """``(start, stop, images, labels)`` of ``X``, ``y`` from ``start`` on, ``size`` samples at a time: slices of
    arrays, or, when ``y`` is ``None``, ``X.labelled_chunk(start, stop)`` of a source read chunk by chunk."""
    for first in range(start, len(X), size):
        stop = min(first + size, len(X))
        yield (first, stop, *(X.labelled_chunk(first, stop) if y is None else (X[first:stop], y[first:stop])))


def chunked_score(model, X, y, size: int = 2000) -> float:
    """Accuracy of ``model`` on ``X``, ``y`` (arrays, or a source with ``y`` ``None``), ``size`` images at a time."""
    correct = total = 0
    for _, _, images, labels in chunks(X, y, size):
        if len(labels):
            correct += int(np.sum(model.predict(images) == labels))
            total += len(labels)
    if not total:
        raise ValueError("no test image could be read")
    return correct / total


def stream_fit(model, X, y, checkpoint: str | os.PathLike, *, every: int, classes=None, identity: dict | None = None,
               metadata: dict | None = None, progress: bool = True):
    """Feed (X, y) to ``model`` (estimator or pipeline) in chunks of ``every`` samples, checkpointing after each.

    ``X`` and ``y`` are arrays; or ``X`` is a source read chunk by chunk (``len(X)`` samples,
    ``X.labelled_chunk(start, stop) -> (images, labels)``, every label in ``X.y``, e.g.
    :class:`memorynet.io.user_data.FolderImages`: a folder larger than memory) and ``y`` is ``None``. If
    ``checkpoint`` exists it must come from the same stream (same ``identity``, e.g. data set, seed and
    parameters) and learning resumes at its position; otherwise ``model`` starts the stream. ``metadata`` is
    stored in the checkpoint beside the stream position. ``classes`` (every label of the stream) defaults to the
    labels' unique values. Returns the fitted model.
    """
    if every < 1:
        raise ValueError(f"checkpoint interval must be at least 1 sample, got {every}")
    checkpoint = Path(checkpoint)
    identity = identity or {}
    position = 0
    if checkpoint.exists():
        saved, saved_meta = load_model(checkpoint)
        if saved_meta.get("stream") != identity or type(_estimator(saved)) is not type(_estimator(model)) \
                or isinstance(saved, Pipeline) != isinstance(model, Pipeline):
            raise ValueError(f"checkpoint {checkpoint} belongs to another stream or configuration (other data, "
                             "seed, length, interval or model parameters); delete it or choose another path")
        if isinstance(model, Pipeline):
            _estimator(saved).set_params(verbose=_estimator(model).verbose)
        model, position = saved, saved_meta.get("position", _estimator(saved).n_samples_seen_)
        if type(position) is not int or not 0 <= position <= len(X) or position % every and position != len(X):
            raise ValueError(f"checkpoint {checkpoint} is at sample {position}, which this stream of {len(X)} "
                             f"samples in chunks of {every} never checkpoints; delete it to start again")
    classes = np.unique(X.y if y is None else y) if classes is None else classes
    bar = tqdm(total=len(X), initial=position, unit="img", desc="stream", disable=not progress)
    for start, stop, images, labels in chunks(X, y, every, position):
        if len(labels):  # a chunk of a source can be empty when every file in it was skipped
            learn_chunk(model, images, labels, classes)
        save_model(model, checkpoint, {**(metadata or {}), "stream": identity, "position": stop})
        bar.update(stop - start)
    bar.close()
    return model
