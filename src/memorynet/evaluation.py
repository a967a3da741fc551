"""Train-then-test runs with timings, as printed by `memorynet train`."""

from __future__ import annotations

import platform
import time

import numpy as np

from .datasets import Dataset
from .preprocessing import scale_pixels

__all__ = ["train_and_evaluate", "timed_fit_predict", "machine_info"]


def machine_info() -> dict:
    """Facts about the machine a figure was measured on."""
    import os

    return {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}


def timed_fit_predict(estimator, X_train, y_train, X_test) -> tuple[np.ndarray, float, float]:
    """Fit on (X_train, y_train), predict X_test; return (predictions, train seconds, predict seconds)."""
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions = estimator.predict(X_test)
    return predictions, train_seconds, time.perf_counter() - start


def train_and_evaluate(estimator, dataset: Dataset, *, transform=scale_pixels) -> dict:
    """Fit ``estimator`` on the training split in one pass and score it on the test split.

    ``transform(X, pixel_max)`` is the preprocessing applied to both splits (default: scale to [0, 1]).
    Returns accuracy, neurons used and wall-clock seconds of training and inference.
    """
    X_train = transform(dataset.X_train, dataset.pixel_max)
    X_test = transform(dataset.X_test, dataset.pixel_max)
    predictions, train_seconds, predict_seconds = timed_fit_predict(estimator, X_train, dataset.y_train, X_test)
    return {
        "dataset": dataset.name,
        "accuracy": float(np.mean(predictions == dataset.y_test)),
        "n_neurons": int(getattr(estimator, "n_neurons_", 0)),
        "n_train": int(len(dataset.y_train)),
        "n_test": int(len(dataset.y_test)),
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
    }
