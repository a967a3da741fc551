"""Streaming through ``partial_fit`` with checkpoints that survive being killed at any moment.

The checkpoint is a model file (``memorynet.persistence``) whose metadata records the stream's identity and
position. Restarted with the same stream, :func:`stream_fit` resumes from the last checkpoint and ends with a
model identical to an uninterrupted run: the stream is cut into the same chunks, and learning is deterministic.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .persistence import load_model

__all__ = ["stream_fit"]


def stream_fit(model, X: np.ndarray, y: np.ndarray, checkpoint: str | os.PathLike, *, every: int,
               classes=None, identity: dict | None = None, metadata: dict | None = None, progress: bool = True):
    """Feed (X, y) to ``model.partial_fit`` in chunks of ``every`` samples, checkpointing after each chunk.

    If ``checkpoint`` exists it must come from the same stream (same ``identity``, e.g. data set, seed and
    parameters) and learning resumes at its position; otherwise ``model`` starts the stream. ``metadata`` is
    stored in the checkpoint beside the stream position. Returns the fitted model.
    """
    if every < 1:
        raise ValueError(f"checkpoint interval must be at least 1 sample, got {every}")
    checkpoint = Path(checkpoint)
    identity = identity or {}
    position = 0
    if checkpoint.exists():
        saved, saved_meta = load_model(checkpoint, type(model))
        if saved_meta.get("stream") != identity:
            raise ValueError(f"checkpoint {checkpoint} belongs to another stream or configuration (other data, "
                             "seed, length, interval or model parameters); delete it or choose another path")
        model, position = saved, saved.n_samples_seen_
        if position > len(X) or position % every and position != len(X):
            raise ValueError(f"checkpoint {checkpoint} is at sample {position}, which this stream of {len(X)} "
                             f"samples in chunks of {every} never checkpoints; delete it to start again")
    classes = np.unique(y) if classes is None else classes
    bar = tqdm(total=len(X), initial=position, unit="img", desc="stream", disable=not progress)
    for start in range(position, len(X), every):
        stop = min(start + every, len(X))
        model.partial_fit(X[start:stop], y[start:stop], classes=classes)
        model.save(checkpoint, {**(metadata or {}), "stream": identity, "position": stop})
        bar.update(stop - start)
    bar.close()
    return model
